// The workbench: one tenant's live score, recent score history and latest signals over the realtime endpoint
// (docs/api.md §4.5). A tiny graphql-ws client (subprotocol graphql-transport-ws) with persisted subscriptions, pong
// replies for the server's flow control, and resume after a drop with `after` = the last cursor seen.
// No build step and no dependencies: served as-is from Workers static assets.

const PROTOCOL = "graphql-transport-ws";
const EVENTS_OP = "pq_coherence_events_v1";
const SCORE_OP = "pq_tenant_coherence_updates_v1";
const MAX_ROWS = 500;
const MAX_POINTS = 100;
const BACKOFF_MS = [500, 1000, 2000, 4000, 5000];
const TENANT_KEY = "workbench.tenant";
/** Close codes that retrying cannot fix: bad or missing token, wrong tenant or scope, a malformed message. */
const FATAL_CLOSE = new Map([
  [4400, "the server refused a message"],
  [4401, "the token was refused (missing, invalid or expired)"],
  [4403, "the token is not allowed to read this tenant"],
]);

const $ = (id) => document.getElementById(id);
const el = {
  form: $("connect-form"),
  tenant: $("tenant"),
  token: $("token"),
  button: $("connect"),
  conn: $("conn"),
  score: $("score"),
  status: $("status"),
  meta: $("score-meta"),
  chart: $("chart"),
  rows: $("signals"),
};

/** The one live session; `null` when disconnected by the user. */
let session = null;

el.tenant.value = localStorage.getItem(TENANT_KEY) ?? "";
el.form.addEventListener("submit", (e) => {
  e.preventDefault();
  if (session) {
    stop("Disconnected.");
    return;
  }
  const tenant = el.tenant.value.trim();
  localStorage.setItem(TENANT_KEY, tenant); // the tenant only: the token is never stored
  start(tenant, el.token.value.trim());
});

function start(tenant, token) {
  el.rows.replaceChildren();
  showScore(null);
  session = { tenant, token, cursor: null, points: [], attempt: 0, ws: null, timer: null, acks: 0 };
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

/** Tries again after the backoff (a lost connection, or a ticket request that did not get through). */
function retryLater(s, why) {
  const delay = BACKOFF_MS[Math.min(s.attempt, BACKOFF_MS.length - 1)] * (0.75 + Math.random() / 2);
  s.attempt++;
  setConn("reconnecting", `${why}; retrying in ${(delay / 1000).toFixed(1)} s…`);
  s.timer = setTimeout(() => session === s && open(s), delay);
}

/**
 * A browser cannot put the token on a WebSocket upgrade, so each connection first trades it for a realtime ticket
 * (good for one upgrade, 60 s; docs/api.md §4.5) and opens the socket with `?ticket=`; `connection_init` then
 * authenticates the connection with the token itself.
 */
async function open(s) {
  setConn("connecting", s.attempt ? `Reconnecting (attempt ${s.attempt + 1})…` : "Connecting…");
  const path = `/v1/tenants/${encodeURIComponent(s.tenant)}`;
  let ticket;
  try {
    const res = await fetch(`${path}/realtime-tickets`, {
      method: "POST",
      headers: { authorization: `Bearer ${s.token}` },
    });
    if (session !== s) return;
    if (res.status === 401 || res.status === 403) {
      const body = await res.json().catch(() => null);
      stop(`The token was refused (${res.status}): ${body?.error?.message ?? "not allowed"}.`, "error");
      return;
    }
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    ticket = (await res.json()).ticket;
  } catch (err) {
    if (session === s) retryLater(s, `No realtime ticket (${err instanceof Error ? err.message : err})`);
    return;
  }
  if (session !== s) return;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(
    `${scheme}://${location.host}${path}/graphql?ticket=${encodeURIComponent(ticket)}`,
    PROTOCOL,
  );
  s.ws = ws;
  const send = (msg) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify(msg));
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
        // `after` resumes exactly after the last event shown: the server replays what we missed, once.
        send({ id: "events", type: "subscribe", payload: eventsPayload(s) });
        send({
          id: "score",
          type: "subscribe",
          payload: { query: "", id: SCORE_OP, variables: { tenantId: s.tenant } },
        });
        setConn("live", liveText(s));
        break;
      case "ping":
        // Flow control: the server stops sending (and closes with 1013 after 1000 events) until we answer.
        send(msg.payload === undefined ? { type: "pong" } : { type: "pong", payload: msg.payload });
        break;
      case "next":
        if (msg.id === "events") addSignal(s, msg.payload?.data?.coherenceEvents);
        else if (msg.id === "score") addScore(s, msg.payload?.data?.tenantCoherenceUpdates);
        break;
      case "error":
        onSubscriptionError(s, msg.id, msg.payload, send);
        break;
      case "complete":
        setConn("error", `The server ended subscription "${msg.id}".`);
        break;
    }
  };
  ws.onclose = (ev) => {
    if (session !== s || s.ws !== ws) return;
    const fatal = FATAL_CLOSE.get(ev.code);
    if (fatal) {
      stop(`Closed ${ev.code}: ${fatal}.`, "error");
      return;
    }
    retryLater(s, `Connection lost (${ev.code || "no code"})`);
  };
}

// Back online: retry now rather than at the end of the backoff.
window.addEventListener("online", () => {
  if (session && session.ws?.readyState === WebSocket.CLOSED) {
    clearTimeout(session.timer);
    void open(session);
  }
});

function eventsPayload(s) {
  return { query: "", id: EVENTS_OP, variables: { tenantId: s.tenant, after: s.cursor } };
}

function onSubscriptionError(s, id, errors, send) {
  const code = errors?.[0]?.extensions?.code ?? "ERROR";
  const text = errors?.[0]?.message ?? "subscription failed";
  if (id === "events" && (code === "CURSOR_EXPIRED" || code === "BAD_CURSOR")) {
    // The replay window no longer covers our cursor: say so, and go on live from now.
    s.cursor = null;
    send({ id: "events", type: "subscribe", payload: eventsPayload(s) }); // an errored id is free again
    setConn("error", `${code}: signals were missed while disconnected; showing live signals from now on.`);
    return;
  }
  setConn("error", `Subscription "${id}" failed: ${code} (${text}).`);
}

function liveText(s) {
  const resumed = s.acks > 1 ? ` · reconnected ${s.acks - 1}×` : "";
  return `Live: tenant ${s.tenant}${resumed}${s.cursor ? ` · resumed after ${s.cursor}` : ""}`;
}

function setConn(state, text) {
  el.conn.dataset.state = state;
  el.conn.textContent = text;
}

function addSignal(s, sig) {
  if (!sig) return;
  s.cursor = sig.cursor;
  const tr = document.createElement("tr");
  tr.dataset.cursor = sig.cursor;
  for (const v of [sig.id, sig.type, fmt(sig.value), fmt(sig.weight ?? 1), sig.source, sig.ts]) {
    const td = document.createElement("td");
    td.textContent = String(v);
    tr.append(td);
  }
  el.rows.prepend(tr);
  while (el.rows.childElementCount > MAX_ROWS) el.rows.lastElementChild.remove();
}

function addScore(s, view) {
  if (!view) return;
  showScore(view);
  s.points.push(view.status === "UNKNOWN" ? null : view.score);
  if (s.points.length > MAX_POINTS) s.points.shift();
  drawChart(s.points);
}

function showScore(view) {
  const status = view?.status ?? "UNKNOWN";
  el.score.textContent = view ? view.score.toFixed(4) : "–";
  el.status.textContent = status;
  el.score.className = el.status.className = `status-${status}`;
  el.meta.textContent = view ? `${view.signalCount} signals in the window · updated ${view.updatedAt}` : "";
  if (!view) drawChart([]);
}

function fmt(n) {
  return typeof n === "number" ? String(Number(n.toFixed(4))) : String(n);
}

/**
 * Line chart of the last scores on a 0..1 axis, newest at the right edge, with the WARN (0.5) and HEALTHY (0.75)
 * thresholds dashed. UNKNOWN scores are gaps.
 */
function drawChart(points) {
  const ctx = el.chart.getContext("2d");
  const { width: w, height: h } = el.chart;
  const left = 34;
  const pad = 8;
  const y = (v) => h - pad - v * (h - 2 * pad);
  const step = (w - left - pad) / (MAX_POINTS - 1);
  const x = (i) => w - pad - (points.length - 1 - i) * step;
  ctx.clearRect(0, 0, w, h);
  ctx.font = "11px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  for (const t of [0, 0.5, 0.75, 1]) {
    ctx.fillStyle = "#6e7781";
    ctx.fillText(String(t), 4, y(t));
    ctx.strokeStyle = "#d0d7de";
    ctx.setLineDash(t === 0.5 || t === 0.75 ? [4, 4] : []);
    ctx.beginPath();
    ctx.moveTo(left, y(t));
    ctx.lineTo(w, y(t));
    ctx.stroke();
  }
  ctx.setLineDash([]);
  ctx.strokeStyle = ctx.fillStyle = "#0969da";
  ctx.lineWidth = 2;
  ctx.beginPath();
  let pen = false;
  points.forEach((v, i) => {
    if (v === null) {
      pen = false;
      return;
    }
    if (pen) ctx.lineTo(x(i), y(v));
    else ctx.moveTo(x(i), y(v));
    pen = true;
  });
  ctx.stroke();
  points.forEach((v, i) => {
    if (v === null) return;
    ctx.beginPath();
    ctx.arc(x(i), y(v), 2.5, 0, 2 * Math.PI);
    ctx.fill();
  });
}
