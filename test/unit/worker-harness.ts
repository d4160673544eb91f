// Shared by the unit tests that drive the Worker's HTTP app or its adapters in plain Node: the compiled policy,
// tokens signed by a throwaway key, Durable Object namespaces whose stubs are the few RPC methods a test needs
// (fakes behind the object's port, unit tier only), and a loopback HTTP server that records what it was sent.
import { readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { installPolicy } from "../../src/auth/authz";

/** Installs policy/authz.wasm, as the Worker entry does once per isolate. */
export function installCompiledPolicy(): void {
  installPolicy(readFileSync(resolve(import.meta.dirname, "..", "..", "policy", "authz.wasm")));
}

/** A signing key pair: `publicKeyPem` for JWT_PUBLIC_KEY, `sign` for bearer tokens the Worker accepts. */
export async function tokenSigner() {
  const keys = await generateKeyPair("ES256", { extractable: true });
  const publicKeyPem = await exportSPKI(keys.publicKey);
  return {
    publicKeyPem,
    /** A bearer token for `tenant` (`*`: an operator) with the given space-separated scopes. */
    async sign(tenant: string, scope: string): Promise<string> {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ tenant, scope, sub: `test-${tenant}` })
        .setProtectedHeader({ alg: "ES256" })
        .setExpirationTime(now + 300)
        .sign(keys.privateKey);
    },
  };
}

/**
 * A Durable Object namespace binding whose `get` returns `stub(name)`; `names` lists the names asked for.
 * `jurisdiction` returns the same namespace (the production path pins objects to the US jurisdiction).
 */
export function fakeNamespace<Stub extends object>(stub: (name: string) => Stub) {
  const names: string[] = [];
  const ns = {
    names,
    idFromName: (name: string) => ({ name }),
    get: (id: { name: string }) => {
      names.push(id.name);
      return stub(id.name);
    },
    jurisdiction: () => ns,
  };
  return ns;
}

/** The Worker's `env` from string settings and binding fakes (the app reads only what a test provides). */
export function workerEnv(bindings: Record<string, unknown>): Env {
  return bindings as unknown as Env;
}

/** One request as a loopback server received it. */
export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * An HTTP server on 127.0.0.1 that answers each request with `answer(request)` (status and JSON body) and records
 * the requests. `close()` when done.
 */
export async function loopbackServer(answer: (req: Received) => { status: number; body: unknown }) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const r: Received = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      received.push(r);
      const { status, body } = answer(r);
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
