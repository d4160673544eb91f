// How the examples authenticate: OAuth client credentials when OAUTH_ISSUER, OAUTH_CLIENT_ID and
// OAUTH_CLIENT_SECRET are set (the client fetches its token and refreshes it before it expires; `npm start`'s dev
// OpenID Provider is http://127.0.0.1:8788 with the clients of idp/clients.json), else the JWT in COHERENCE_TOKEN.
import type { CoherenceClientOptions } from "@coherence/client";

export function auth(
  env: Record<string, string | undefined> = process.env,
): Pick<CoherenceClientOptions, "token" | "oauth"> {
  if (env.OAUTH_ISSUER && env.OAUTH_CLIENT_ID && env.OAUTH_CLIENT_SECRET) {
    return {
      oauth: {
        issuer: env.OAUTH_ISSUER,
        clientId: env.OAUTH_CLIENT_ID,
        clientSecret: env.OAUTH_CLIENT_SECRET,
        ...(env.OAUTH_SCOPE ? { scope: env.OAUTH_SCOPE } : {}),
        ...(env.OAUTH_RESOURCE ? { resource: env.OAUTH_RESOURCE } : {}),
      },
    };
  }
  if (env.COHERENCE_TOKEN) return { token: env.COHERENCE_TOKEN };
  throw new Error("set OAUTH_ISSUER + OAUTH_CLIENT_ID + OAUTH_CLIENT_SECRET, or COHERENCE_TOKEN");
}
