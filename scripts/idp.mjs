// `npm run idp -- <command>`: the dev OpenID Provider that `npm start` runs beside the Worker (scripts/lib/idp.mjs).
//   rotate   adds a new signing key in IDP_DIR (default .dev/idp); the previous one stays published until the
//            tokens it signed have expired. A running IdP signs with the new key from its next request.
//   keys     lists the keys (signing, retired, dropped at the next rotation) as JSON.
//   serve    runs the IdP alone on IDP_PORT (default 8788), for a Worker started some other way.
//   token    `--client ID --secret S [--scope "S1 S2"]`: a token from the running IdP by client credentials
//            (token endpoint from discovery), printed alone on stdout.
import { parseArgs } from "node:util";
import { ensureDeps } from "./lib/deps.mjs";
import {
  accessTokenTtlS,
  DEFAULT_AUDIENCE,
  DEFAULT_IDP_PORT,
  idpDir,
  issuerFor,
  loadKeys,
  publishedKeys,
  rotateKeys,
  startIdp,
} from "./lib/idp.mjs";

ensureDeps();
const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    client: { type: "string" },
    secret: { type: "string" },
    scope: { type: "string" },
    issuer: { type: "string" },
  },
});
const command = positionals[0] ?? "serve";
const dir = idpDir();

if (command === "rotate") {
  const result = await rotateKeys(dir);
  process.stdout.write(`${JSON.stringify({ dir, ...result })}\n`);
} else if (command === "keys") {
  const keys = await loadKeys(dir);
  const published = new Set(publishedKeys(keys, Math.floor(Date.now() / 1000), accessTokenTtlS()));
  const list = keys.map((k) => ({
    kid: k.kid,
    createdAt: new Date(k.createdAt * 1000).toISOString(),
    state: k.retiredAt === null ? "signing" : published.has(k) ? "retired, published" : "expired",
    ...(k.retiredAt === null ? {} : { retiredAt: new Date(k.retiredAt * 1000).toISOString() }),
  }));
  process.stdout.write(`${JSON.stringify({ dir, keys: list }, null, 2)}\n`);
} else if (command === "serve") {
  const idp = await startIdp({
    port: Number(process.env.IDP_PORT ?? DEFAULT_IDP_PORT),
    dir,
    audience: process.env.JWT_AUDIENCE || DEFAULT_AUDIENCE,
  });
  process.stderr.write(
    `[idp] the Worker trusts it with JWT_JWKS_URL=${idp.jwksUrl} JWT_ISSUER=${idp.issuer} JWT_AUDIENCE=${idp.audience}\n`,
  );
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => idp.stop().then(() => process.exit(0)));
  }
} else if (command === "token") {
  if (!values.client || !values.secret) {
    process.stderr.write('usage: npm run idp -- token --client ID --secret SECRET [--scope "S1 S2"]\n');
    process.exit(2);
  }
  const issuer = values.issuer ?? issuerFor(Number(process.env.IDP_PORT ?? DEFAULT_IDP_PORT));
  const discovery = await fetch(`${issuer}/.well-known/openid-configuration`);
  if (!discovery.ok) throw new Error(`no IdP answers at ${issuer} (${discovery.status}); is npm start running?`);
  const { token_endpoint: tokenEndpoint } = /** @type {{ token_endpoint: string }} */ (await discovery.json());
  const body = new URLSearchParams({ grant_type: "client_credentials" });
  if (values.scope) body.set("scope", values.scope);
  const res = await fetch(tokenEndpoint, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(values.client)}:${encodeURIComponent(values.secret)}`).toString("base64")}`,
    },
    body,
  });
  const json = /** @type {{ access_token?: string; error?: string; error_description?: string }} */ (await res.json());
  if (!res.ok || !json.access_token) {
    process.stderr.write(
      `[idp] token endpoint answered ${res.status}: ${json.error} ${json.error_description ?? ""}\n`,
    );
    process.exit(1);
  }
  process.stdout.write(`${json.access_token}\n`);
} else {
  process.stderr.write("usage: npm run idp -- rotate | keys | serve | token --client ID --secret SECRET\n");
  process.exit(2);
}
