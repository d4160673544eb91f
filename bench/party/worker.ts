// Bench-only Worker for bench/realtime.mjs — never deployed. Its config is the project's wrangler.toml with
// `main` pointing here, plus room.toml. It serves the coherence service unchanged (its handlers and Durable
// Object classes, re-exported) and, under /parties/bench-room/<room>, a PartyServer room that does the fan-out
// job without auth, persistence or replay: each POSTed signal is broadcast at once, as one frame shaped like
// the service's graphql-ws `next` message, to every socket connected to the room.
import { type Connection, routePartykitRequest, Server } from "partyserver";
import service from "../../src/index";

// Every Durable Object class (and other named export) of the service, whatever the project adds later.
export * from "../../src/index";

interface BenchEnv extends Env {
  BenchRoom: DurableObjectNamespace<BenchRoom>;
}

interface Signal {
  signalId?: string;
  type?: string;
  source?: string;
  value?: number;
  weight?: number;
  ts?: string;
}

export class BenchRoom extends Server<BenchEnv> {
  static override options = { hibernate: true };
  private seq = 0;

  constructor(ctx: DurableObjectState, env: BenchEnv) {
    super(ctx, env);
    // Same idea as the service's "object_start" line: a new line after idleness means the room hibernated.
    console.log(JSON.stringify({ op: "bench_room_start", sockets: ctx.getWebSockets().length }));
  }

  override onConnect(connection: Connection): void {
    connection.send(JSON.stringify({ type: "connection_ack" }));
  }

  override async onRequest(request: Request): Promise<Response> {
    if (request.method !== "POST") return Response.json({ sockets: this.ctx.getWebSockets().length });
    const body = (await request.json()) as { signals?: Signal[] };
    const signals = Array.isArray(body.signals) ? body.signals : [];
    for (const s of signals) {
      this.seq++;
      const event = {
        id: s.signalId ?? String(this.seq),
        type: s.type,
        value: s.value,
        weight: s.weight ?? 1,
        source: s.source,
        ts: s.ts,
        cursor: `c${this.seq.toString(36).padStart(10, "0")}`,
      };
      this.broadcast(JSON.stringify({ id: "e", type: "next", payload: { data: { coherenceEvents: event } } }));
    }
    return Response.json({ broadcast: signals.length }, { status: 202 });
  }
}

export default {
  // The service's other handlers (e.g. queue consumers) unchanged; only fetch gains the room's route.
  ...service,
  async fetch(request: Request, env: BenchEnv, ctx: ExecutionContext): Promise<Response> {
    if (new URL(request.url).pathname.startsWith("/parties/")) {
      return (await routePartykitRequest(request, env)) ?? Response.json({ error: "no such party" }, { status: 404 });
    }
    return service.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<BenchEnv>;
