// A reference, not a baseline: the hello-world Worker plus the least a route of a tenant's Durable Object costs —
// one RPC to the object, which upserts one SQLite row (as the service counts every request) and answers. Its ratio
// to the hello-world Worker is the ceiling here for any route that touches the tenant object (bench/RESULTS.md).
import { DurableObject } from "cloudflare:workers";

export class Counter extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS hits (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)");
  }

  hit() {
    this.ctx.storage.sql.exec("INSERT INTO hits (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1");
    return { ok: true };
  }
}

export default {
  async fetch(_request, env) {
    const answer = await env.COUNTER.get(env.COUNTER.idFromName("bench")).hit();
    return new Response(answer.ok ? "ok" : "no");
  },
};
