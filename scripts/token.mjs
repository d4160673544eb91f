// `npm run token -- --tenant T --scope "S1 S2" [--ttl SECONDS] [--nbf SECONDS] [--aud A] [--iss I]`
// Prints one signed dev JWT on stdout and nothing else. It is signed with the dev key, which the dev IdP
// publishes too: when `npm start` runs the IdP (scripts/lib/idp.mjs), `iss` and `aud` default to the IdP's issuer
// (127.0.0.1:IDP_PORT) and the Worker's audience, so the token counts there as one of the IdP's.
import { parseArgs } from "node:util";
import { ensureDeps } from "./lib/deps.mjs";
import { devKeys } from "./lib/dev-jwt.mjs";
import { DEFAULT_AUDIENCE, DEFAULT_IDP_PORT, idpWanted, issuerFor } from "./lib/idp.mjs";
import { explicitSettings, localSettings } from "./lib/settings.mjs";

ensureDeps();
// parseArgs treats "-60" after "--ttl" as an option; join numeric values so `--ttl -60` works.
const argv = [];
for (let i = 2; i < process.argv.length; i++) {
  const arg = process.argv[i];
  const next = process.argv[i + 1];
  if ((arg === "--ttl" || arg === "--nbf") && next !== undefined && /^-\d/.test(next)) {
    argv.push(`${arg}=${next}`);
    i++;
  } else {
    argv.push(arg);
  }
}
const { values } = parseArgs({
  args: argv,
  options: {
    tenant: { type: "string" },
    scope: { type: "string", default: "" },
    ttl: { type: "string", default: "3600" },
    nbf: { type: "string" },
    aud: { type: "string" },
    iss: { type: "string" },
    sub: { type: "string", default: "dev-user" },
  },
});
if (!values.tenant) {
  process.stderr.write('usage: npm run token -- --tenant T --scope "coherence:read coherence:write" [--ttl SECONDS]\n');
  process.exit(2);
}
const ttl = Number(values.ttl);
if (!Number.isFinite(ttl)) {
  process.stderr.write("--ttl must be a number of seconds\n");
  process.exit(2);
}
const { SignJWT, importPKCS8 } = await import("jose");
const keys = await devKeys();
const settings = localSettings(keys.publicPem);
const now = Math.floor(Date.now() / 1000);
const jwt = new SignJWT({ tenant: values.tenant, scope: values.scope })
  .setProtectedHeader({ alg: "ES256", typ: "JWT", kid: keys.kid })
  .setSubject(values.sub)
  .setIssuedAt(now)
  .setExpirationTime(now + ttl);
const viaIdp = idpWanted(explicitSettings());
const iss = values.iss ?? (viaIdp ? issuerFor(Number(process.env.IDP_PORT ?? DEFAULT_IDP_PORT)) : settings.JWT_ISSUER);
const aud = values.aud ?? (viaIdp ? settings.JWT_AUDIENCE || DEFAULT_AUDIENCE : settings.JWT_AUDIENCE);
if (iss) jwt.setIssuer(iss);
if (aud) jwt.setAudience(aud);
if (values.nbf !== undefined) jwt.setNotBefore(now + Number(values.nbf));
process.stdout.write(`${await jwt.sign(await importPKCS8(keys.privatePem, "ES256"))}\n`);
