// The operators' overview: every tenant's status, score, signals in the window and age of its last signal, worst
// first, live, over ONE subscription on the realtime endpoint's operators' path `/v1/tenants/*/graphql`
// (`pq_tenants_overview_updates_v1`, docs/api.md §4.12.1): a snapshot in pages, then only the rows that changed.
// A tiny graphql-ws client (subprotocol graphql-transport-ws) as in app.js; no build step, no dependencies.
//
// The token (an operator's: tenant `*`, scope coherence:read) comes from, in this order:
//   1. `window.coherenceOverview.connect(token)`, for a sign-in that runs in this page;
//   2. sessionStorage["workbench.token"] at load, for a sign-in elsewhere in this tab (it is read, never written);
//   3. the paste field.
// The token is never written to storage by this page.
import { realtimeSocket, realtimeTicket } from "/workbench/realtime.js";

const OP = "pq_tenants_overview_updates_v1";
const TOKEN_KEY = "workbench.token";
const BACKOFF_MS = [500, 1000, 2000, 4000, 5000];
/** Worst first: the server's order (src/domain/overview.ts STATUS_RANK), then the lower score, then the id. */
const RANK = { CRITICAL: 0, WARN: 1, HEALTHY: 2, UNKNOWN: 3 };
/** Close codes that retrying cannot fix. */
const FATAL_CLOSE = new Map([
  [4400, "the server refused a message"],
  [4401, "the token was refused (missing, invalid or expired)"],
  [4403, "the token may not read the overview (operators only: tenant *, coherence:read)"],
]);

const $ = (id) => document.getElementById(id);
const el = {
  form: $("overview-form"),
  token: $("token"),
  button: $("connect"),
  conn: $("conn"),
  counts: $("counts"),
  table: $("overview"),
  rows: $("rows"),
  empty: $("empty"),
};

/** The one live session; `null` when disconnected. */
let session = null;
/** tenantId → { row, tr } of what is shown. */
const shown = new Map();
/** The order last rendered (tenant ids), to skip moving rows when it did not change. */
let order = [];
let firstPaint = false;

el.form.addEventListener("submit", (e) => {
  e.preventDefault();
  if (session) stop("Disconnected.");
  else connect(el.token.value.trim());
});

el.rows.addEventListener("click", (e) => {
  // A click anywhere on a row opens the tenant, as its link does (which the keyboard reaches).
  const tr = e.target instanceof Element ? e.target.closest("tr") : null;
  const link = tr?.querySelector("a");
  if (link && !(e.target instanceof Element && e.target.closest("a"))) link.click();
});

/** Connects with `token` (the hand-over for a sign-in: call it with a fresh token to reconnect). */
function connect(token) {
  if (!token) {
    setConn("error", "Enter an operator token.");
    return;
  }
  if (session) stop("Reconnecting with a new token.");
  session = { token, ws: null, attempt: 0, timer: null, pending: null, acks: 0 };
  el.button.textContent = "Disconnect";
  void open(session);
}

function stop(message, state = "idle") {
  if (session) {
    clearTimeout(session.timer);
    session.ws?.close(1000, "bye");
    session = null;
  }
  el.button.textContent = "Connect";
  setConn(state, message);
}

window.coherenceOverview = { connect, disconnect: () => stop("Disconnected.") };

function retryLater(s, why) {
  const delay = BACKOFF_MS[Math.min(s.attempt, BACKOFF_MS.length - 1)] * (0.75 + Math.random() / 2);
  s.attempt++;
  setConn("reconnecting", `${why}; retrying in ${(delay / 1000).toFixed(1)} s…`);
  s.timer = setTimeout(() => session === s && open(s), delay);
}

/** Trades the token for a realtime ticket of the operators' path, opens the socket, then subscribes once. */
async function open(s) {
  setConn("connecting", s.attempt ? `Reconnecting (attempt ${s.attempt + 1})…` : "Connecting…");
  const path = "/v1/tenants/*";
  let got;
  try {
    got = await realtimeTicket(path, s.token);
  } catch (err) {
    if (session === s) retryLater(s, `No realtime ticket (${err instanceof Error ? err.message : err})`);
    return;
  }
  if (session !== s) return;
  if (got.refused) {
    stop(got.refused, "error");
    return;
  }
  const { ws, send } = realtimeSocket(path, got.ticket);
  s.ws = ws;
  ws.onopen = () => send({ type: "connection_init", payload: { authorization: `Bearer ${s.token}` } });
  ws.onmessage = (ev) => {
    if (session !== s) return;
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return;
    }
    switch (msg.type) {
      case "connection_ack":
        s.attempt = 0;
        s.acks++;
        s.pending = null;
        send({ id: "overview", type: "subscribe", payload: { query: "", id: OP } });
        setConn("connecting", "Connected; loading the overview…");
        break;
      case "ping":
        // Flow control: the server closes a subscriber that stops answering (it resubscribes for a fresh snapshot).
        send(msg.payload === undefined ? { type: "pong" } : { type: "pong", payload: msg.payload });
        break;
      case "next":
        if (msg.id === "overview") onUpdate(s, msg.payload?.data?.tenantsOverviewUpdates);
        break;
      case "error": {
        const code = msg.payload?.[0]?.extensions?.code ?? "ERROR";
        stop(`The overview was refused: ${code} (${msg.payload?.[0]?.message ?? "subscription failed"}).`, "error");
        break;
      }
      case "complete":
        setConn("error", "The server ended the overview subscription.");
        break;
    }
  };
  ws.onclose = (ev) => {
    if (session !== s || s.ws !== ws) return;
    const fatal = FATAL_CLOSE.get(ev.code);
    if (fatal) stop(`Closed ${ev.code}: ${fatal}.`, "error");
    else retryLater(s, `Connection lost (${ev.code || "no code"})`);
  };
}

/** One message: a snapshot page (the first replaces the picture once the last arrives), or changed rows. */
function onUpdate(s, u) {
  if (!u || !Array.isArray(u.tenants)) return;
  if (u.kind === "SNAPSHOT") {
    s.pending ??= new Map();
    for (const row of u.tenants) s.pending.set(row.tenantId, row);
    if (!u.complete) return;
    const next = s.pending;
    s.pending = null;
    for (const [id, entry] of shown) {
      if (!next.has(id)) {
        entry.tr.remove();
        shown.delete(id);
      }
    }
    for (const row of next.values()) upsert(row);
  } else {
    for (const row of u.tenants) upsert(row);
  }
  render(u);
  setConn("live", `Live: ${shown.size} tenants${s.acks > 1 ? ` · reconnected ${s.acks - 1}×` : ""}`);
}

function worstFirst(a, b) {
  return (RANK[a.status] ?? 4) - (RANK[b.status] ?? 4) || a.score - b.score || (a.tenantId < b.tenantId ? -1 : 1);
}

function upsert(row) {
  const entry = shown.get(row.tenantId);
  if (entry) {
    entry.row = row;
    fill(entry);
    return;
  }
  const tr = document.createElement("tr");
  tr.dataset.tenant = row.tenantId;
  const name = document.createElement("td");
  const link = document.createElement("a");
  link.href = `/workbench/?tenant=${encodeURIComponent(row.tenantId)}`;
  link.textContent = readableId(row.tenantId);
  link.title = row.tenantId;
  name.append(link);
  tr.append(name, td(), td("num"), td("num"), td("num"));
  const created = { row, tr };
  fill(created);
  shown.set(row.tenantId, created);
}

function td(className) {
  const cell = document.createElement("td");
  if (className) cell.className = className;
  return cell;
}

function fill({ row, tr }) {
  const [, status, score, signals, age] = tr.children;
  tr.dataset.status = row.status;
  status.textContent = row.status;
  status.className = `status-${row.status}`;
  score.textContent = String(Number(Number(row.score).toFixed(4)));
  signals.textContent = String(row.signalCount);
  age.dataset.at = row.lastSignalAt ?? "";
  age.title = row.lastSignalAt ? new Date(row.lastSignalAt).toLocaleString() : "no signal in the window";
  age.textContent = ageText(row.lastSignalAt);
}

/** Puts the rows in worst-first order (moving only when the order changed) and updates the counts. */
function render(u) {
  const entries = [...shown.values()].sort((a, b) => worstFirst(a.row, b.row));
  const ids = entries.map((e) => e.row.tenantId);
  if (ids.length !== order.length || ids.some((id, i) => id !== order[i])) {
    el.rows.append(...entries.map((e) => e.tr));
    order = ids;
  }
  el.table.dataset.rows = String(ids.length);
  el.empty.hidden = ids.length > 0;
  const b = u.byStatus ?? {};
  el.counts.textContent =
    `${u.total} tenants · ${b.CRITICAL ?? 0} critical · ${b.WARN ?? 0} warn · ${b.HEALTHY ?? 0} healthy · ` +
    `${b.UNKNOWN ?? 0} unknown · as of ${new Date(u.asOf).toLocaleTimeString()}`;
  if (!firstPaint) {
    firstPaint = true;
    // The first complete picture is on screen after the next frame: a mark for the benchmark (bench/overview.mjs).
    requestAnimationFrame(() => setTimeout(() => performance.mark("overview:first-paint", { detail: ids.length })));
  }
}

function readableId(id) {
  return id.length > 28 ? `${id.slice(0, 14)}…${id.slice(-10)}` : id;
}

function ageText(iso) {
  if (!iso) return "–";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

// Ages move with the clock, not with messages.
setInterval(() => {
  for (const { tr } of shown.values()) {
    const age = tr.children[4];
    const text = ageText(age.dataset.at);
    if (age.textContent !== text) age.textContent = text;
  }
}, 1000);

function setConn(state, text) {
  el.conn.dataset.state = state;
  el.conn.textContent = text;
}

const handedOver = sessionStorage.getItem(TOKEN_KEY);
if (handedOver) connect(handedOver);
