// The workbench: one tenant's live score, why it is what it is (contributions by source and by type), its last
// 24 h on a time axis with the status bands, and the latest signals, over the realtime endpoint (docs/api.md §4.5).
// A tiny graphql-ws client (subprotocol graphql-transport-ws) with persisted subscriptions, pong replies for the
// server's flow control, and resume after a drop with `after` = the last cursor seen; the history comes from
// `pq_tenant_coherence_history_v1` over HTTP. No build step: bundled into the Worker as-is.
// A person signs in at an OpenID Provider (`npm start`'s dev IdP by default) with oauth4webapi (served as it ships,
// scripts/workbench-bundle.mjs): the authorization code flow with PKCE as the public client `workbench`, the
// provider's discovery, silent renewal by the refresh grant before the token expires, and sign-out with the refresh
// token revoked. Pasting a token stays as the advanced option.

import * as oauth from "/workbench/oauth4webapi.js";
import { realtimeSocket, realtimeTicket } from "/workbench/realtime.js";

const EVENTS_OP = "pq_coherence_events_v1";
/** The score with its breakdown, on subscribe and after every change. */
const SCORE_OP = "pq_tenant_coherence_breakdown_updates_v1";
const HISTORY_OP = "pq_tenant_coherence_history_v1";
const MAX_ROWS = 500;
const DAY_MS = 24 * 3_600_000;
/** The chart's spans, in minutes. */
const RANGES = { "1h": 60, "6h": 360, "24h": 1440 };
/** Status bands: colour of the band and of a status-change marker. */
const BANDS = [
  { status: "CRITICAL", from: 0, to: 0.5, fill: "rgba(198, 40, 40, 0.08)", line: "#c62828" },
  { status: "WARN", from: 0.5, to: 0.75, fill: "rgba(178, 107, 0, 0.08)", line: "#b26b00" },
  { status: "HEALTHY", from: 0.75, to: 1, fill: "rgba(26, 127, 55, 0.08)", line: "#1a7f37" },
];
const BACKOFF_MS = [500, 1000, 2000, 4000, 5000];
const TENANT_KEY = "workbench.tenant";
/** An operator's token handed to the overview page in this tab (sessionStorage; overview.js reads it). */
const HANDOVER_KEY = "workbench.token";
const ISSUER_KEY = "workbench.issuer";
/** A sign-in under way (sessionStorage: this tab only): state, PKCE verifier and issuer. */
const SIGN_IN_KEY = "workbench.signIn";
/** Set by a sign-out (this tab): the next sign-in asks the provider for a fresh login. */
const SIGNED_OUT_KEY = "workbench.signedOut";
/** `npm start`'s dev OpenID Provider (scripts/lib/idp.mjs). */
const DEFAULT_ISSUER = "http://127.0.0.1:8788";
const CLIENT_ID = "workbench";
const SIGN_IN_SCOPE = "openid coherence:read";
/** Close codes that retrying cannot fix: bad or missing token, wrong tenant or scope, a malformed message. */
const FATAL_CLOSE = new Map([
  [4400, "the server refused a message"],
  [4401, "the token was refused (missing, invalid or expired)"],
  [4403, "the token is not allowed to read this tenant"],
]);

const $ = (id) => document.getElementById(id);
const el = {
  form: $("connect-form"),
  signIn: $("sign-in-form"),
  signOut: $("sign-out"),
  who: $("who"),
  overviewLink: $("overview-link"),
  advanced: $("advanced"),
  whoText: $("who-text"),
  issuer: $("issuer"),
  tenant: $("tenant"),
  token: $("token"),
  button: $("connect"),
  conn: $("conn"),
  score: $("score"),
  status: $("status"),
  meta: $("score-meta"),
  chart: $("chart"),
  range: $("range"),
  changes: $("status-changes"),
  bySource: $("by-source"),
  byType: $("by-type"),
  filter: $("filter"),
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

el.issuer.value = localStorage.getItem(ISSUER_KEY) ?? DEFAULT_ISSUER;
el.signIn.addEventListener("submit", (e) => {
  e.preventDefault();
  void signIn(el.issuer.value.trim().replace(/\/+$/, ""));
});
el.signOut.addEventListener("click", () => void signOut());
// An operator's way to the overview of all tenants: the page gets the current token for this tab.
el.overviewLink.addEventListener("click", () => {
  if (auth) sessionStorage.setItem(HANDOVER_KEY, el.token.value);
});

/** The workbench as an OAuth client: public (no secret), PKCE, ID tokens signed as the dev IdP signs them. */
const client = { client_id: CLIENT_ID, id_token_signed_response_alg: "ES256" };
const redirectUri = () => `${location.origin}/workbench/`;
/** Plain http is allowed for a provider on loopback only (`npm start`'s dev IdP). */
function httpOptions(issuer) {
  const { protocol, hostname } = new URL(issuer);
  const loopback = hostname === "127.0.0.1" || hostname === "localhost" || hostname === "[::1]";
  return protocol === "http:" && loopback ? { [oauth.allowInsecureRequests]: true } : {};
}

async function discover(issuer) {
  const url = new URL(issuer);
  const res = await oauth.discoveryRequest(url, { algorithm: "oidc", ...httpOptions(issuer) });
  return oauth.processDiscoveryResponse(url, res);
}

/**
 * The signed-in person, in memory only (a reload signs in again; tokens are never stored): the provider's metadata,
 * the access token in use, the refresh token, and the timer that renews the access token before it expires.
 */
let auth = null;

/** Sends the browser to the provider's authorization endpoint (code flow, PKCE S256). */
async function signIn(issuer) {
  try {
    const as = await discover(issuer);
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    sessionStorage.setItem(SIGN_IN_KEY, JSON.stringify({ state, verifier, issuer: as.issuer }));
    localStorage.setItem(ISSUER_KEY, issuer);
    const url = new URL(as.authorization_endpoint);
    url.search = new URLSearchParams({
      client_id: CLIENT_ID,
      response_type: "code",
      redirect_uri: redirectUri(),
      scope: SIGN_IN_SCOPE,
      state,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      // After a sign-out, the provider asks for the password again instead of reusing its session.
      ...(sessionStorage.getItem(SIGNED_OUT_KEY) ? { prompt: "login" } : {}),
    }).toString();
    location.assign(url.href);
  } catch (err) {
    setConn("error", `Sign-in failed: ${describe(err)}`);
  }
}

/** Back from the provider: checks the answer, trades the code for tokens, then connects to the token's tenant. */
async function finishSignIn() {
  const here = new URL(location.href);
  if (!here.searchParams.has("code") && !here.searchParams.has("error")) return;
  const pending = JSON.parse(sessionStorage.getItem(SIGN_IN_KEY) ?? "null");
  sessionStorage.removeItem(SIGN_IN_KEY);
  history.replaceState(null, "", location.pathname);
  if (!pending) {
    setConn("error", "Sign-in failed: the answer does not belong to this sign-in.");
    return;
  }
  try {
    const as = await discover(pending.issuer);
    // State, issuer (RFC 9207) and error answers are checked here; a mismatch throws.
    const params = oauth.validateAuthResponse(as, client, here, pending.state);
    const res = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      oauth.None(),
      params,
      redirectUri(),
      pending.verifier,
      httpOptions(pending.issuer),
    );
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, res);
    sessionStorage.removeItem(SIGNED_OUT_KEY);
    auth = {
      as,
      issuer: pending.issuer,
      refreshToken: null,
      timer: null,
      who: oauth.getValidatedIdTokenClaims(tokens),
    };
    const claims = useTokens(tokens);
    if (typeof claims.tenant === "string" && claims.tenant !== "*") el.tenant.value = claims.tenant;
    localStorage.setItem(TENANT_KEY, el.tenant.value);
    if (el.tenant.value) start(el.tenant.value.trim(), tokens.access_token);
    else {
      // An operator's token names no one tenant: say which one to watch.
      el.advanced.open = true;
      setConn("idle", "Signed in; enter a tenant and connect.");
    }
  } catch (err) {
    auth = null;
    showSignedIn();
    const refused = err instanceof oauth.AuthorizationResponseError;
    setConn("error", `${refused ? "Sign-in refused" : "Sign-in failed"}: ${describe(err)}`);
  }
}

/** Takes a token answer (code or refresh grant): the access token in use, and the renewal before it expires. */
function useTokens(tokens) {
  if (tokens.refresh_token) auth.refreshToken = tokens.refresh_token;
  el.token.value = tokens.access_token;
  if (session) session.token = tokens.access_token;
  const lifeS = typeof tokens.expires_in === "number" ? tokens.expires_in : 300;
  clearTimeout(auth.timer);
  auth.timer = auth.refreshToken
    ? setTimeout(() => void renew(), Math.max(5, lifeS - Math.min(60, lifeS / 10)) * 1000)
    : null;
  const claims = JSON.parse(atob(tokens.access_token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  auth.claims = claims;
  auth.renewals = (auth.renewals ?? -1) + 1;
  showSignedIn();
  return claims;
}

/**
 * Silent refresh: a new access token by the refresh grant, with no page visit. The open socket keeps the token it
 * authenticated with until that expires (the server then closes it, 4401); the workbench reconnects at once with
 * the new one and resumes after its last cursor.
 */
async function renew() {
  const a = auth;
  if (!a?.refreshToken) return;
  try {
    const res = await oauth.refreshTokenGrantRequest(a.as, client, oauth.None(), a.refreshToken, httpOptions(a.issuer));
    const tokens = await oauth.processRefreshTokenResponse(a.as, client, res);
    if (auth === a) useTokens(tokens);
  } catch (err) {
    if (auth !== a) return;
    // Refused (the provider's session or grant is gone): only signing in again helps. Unreachable: try again soon.
    if (err instanceof oauth.ResponseBodyError) {
      a.refreshToken = null;
      showSignedIn(`could not renew the sign-in (${describe(err)}); sign in again before the token expires`);
    } else {
      a.timer = setTimeout(() => void renew(), 5_000);
    }
  }
}

/** Forgets the tokens, revokes the refresh token at the provider, and closes the live view. */
async function signOut() {
  const a = auth;
  auth = null;
  clearTimeout(a?.timer);
  el.token.value = "";
  sessionStorage.removeItem(HANDOVER_KEY);
  sessionStorage.setItem(SIGNED_OUT_KEY, "1");
  stop("Signed out.");
  showSignedIn();
  if (a?.refreshToken && a.as.revocation_endpoint) {
    try {
      const res = await oauth.revocationRequest(a.as, client, oauth.None(), a.refreshToken, httpOptions(a.issuer));
      await oauth.processRevocationResponse(res);
    } catch (err) {
      setConn("error", `Signed out here; the provider did not take the revocation: ${describe(err)}`);
    }
  }
}

function showSignedIn(note) {
  el.who.hidden = auth === null;
  el.signIn.hidden = auth !== null;
  if (!auth) return;
  const name = auth.who?.name ?? auth.claims?.sub ?? "?";
  const expires = auth.claims?.exp ? new Date(auth.claims.exp * 1000).toLocaleTimeString() : "?";
  el.whoText.textContent =
    `Signed in as ${name} (tenant ${auth.claims?.tenant ?? "?"}) · token valid until ${expires}` +
    (auth.renewals ? ` · renewed ${auth.renewals}×` : "") +
    (note ? ` · ${note}` : "");
  el.who.dataset.renewals = String(auth.renewals ?? 0);
  el.overviewLink.hidden = auth.claims?.tenant !== "*";
}

function describe(err) {
  if (err instanceof oauth.AuthorizationResponseError || err instanceof oauth.ResponseBodyError) {
    return err.error_description ?? err.error;
  }
  return err instanceof Error ? err.message : String(err);
}

function start(tenant, token) {
  el.rows.replaceChildren();
  showScore(null);
  session = {
    tenant,
    token,
    cursor: null,
    points: [],
    attempt: 0,
    ws: null,
    timer: null,
    acks: 0,
    filter: null,
    clock: setInterval(() => session && drawChart(session), 30_000),
  };
  setFilter(session, null);
  el.button.textContent = "Disconnect";
  void open(session);
}

function stop(message, state = "idle") {
  if (session) {
    clearTimeout(session.timer);
    clearInterval(session.clock);
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
  const wsToken = s.token;
  ws.onopen = () => send({ type: "connection_init", payload: { authorization: `Bearer ${wsToken}` } });
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
        void loadHistory(s);
        break;
      case "ping":
        // Flow control: the server stops sending (and closes with 1013 after 1000 events) until we answer.
        send(msg.payload === undefined ? { type: "pong" } : { type: "pong", payload: msg.payload });
        break;
      case "next":
        if (msg.id === "events") addSignal(s, msg.payload?.data?.coherenceEvents);
        else if (msg.id === "score") addScore(s, msg.payload?.data?.tenantCoherenceBreakdownUpdates);
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
    if (ev.code === 4401 && s.token !== wsToken) {
      // The token this socket authenticated with expired after a silent renewal: go on with the new one.
      void open(s);
      return;
    }
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
  tr.dataset.source = sig.source;
  if (s.filter !== null && sig.source !== s.filter) tr.hidden = true;
  tr.append(
    cell(shortId(sig.id), sig.id),
    cell(sig.type),
    cell(fmt(sig.value)),
    cell(fmt(sig.weight ?? 1)),
    cell(sig.source),
    cell(localTime(sig.ts), sig.ts),
  );
  el.rows.prepend(tr);
  while (el.rows.childElementCount > MAX_ROWS) el.rows.lastElementChild.remove();
}

function cell(text, title) {
  const td = document.createElement("td");
  td.textContent = String(text);
  if (title !== undefined && title !== text) td.title = title;
  return td;
}

/** Long (derived) ids shortened to their ends; the full id is the cell's title. */
function shortId(id) {
  const text = String(id);
  return text.length > 20 ? `${text.slice(0, 8)}…${text.slice(-6)}` : text;
}

function localTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

function addScore(s, view) {
  if (!view) return;
  showScore(view);
  showBreakdown(s, view);
  const t = Date.parse(view.updatedAt);
  const last = s.points.at(-1);
  if (!last || t >= last.t) {
    s.points.push({ t: Math.max(t, last?.t ?? t), score: view.score, status: view.status, live: true });
    trimPoints(s);
    drawChart(s);
  }
}

/** The last 24 h from the tenant's object (one point a minute that changed it), merged before the live points. */
async function loadHistory(s) {
  try {
    const res = await fetch("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${s.token}` },
      body: JSON.stringify({ id: HISTORY_OP, variables: { tenantId: s.tenant, minutes: 1440 } }),
    });
    const body = await res.json();
    const points = body?.data?.tenantCoherenceHistory?.points;
    if (session !== s || !Array.isArray(points)) return;
    const live = s.points.filter((p) => p.live);
    const firstLive = live[0]?.t ?? Number.POSITIVE_INFINITY;
    const stored = points.map((p) => ({ t: Date.parse(p.at), score: p.score, status: p.status }));
    s.points = [...stored.filter((p) => p.t < firstLive), ...live];
    trimPoints(s);
    drawChart(s);
  } catch {
    // The live points still draw; the history is a nicety.
  }
}

function trimPoints(s) {
  const from = Date.now() - DAY_MS;
  while (s.points.length > 1 && (s.points[1]?.t ?? 0) <= from) s.points.shift();
}

function showScore(view) {
  const status = view?.status ?? "UNKNOWN";
  el.score.textContent = view ? view.score.toFixed(4) : "–";
  el.status.textContent = status;
  el.score.className = el.status.className = `status-${status}`;
  el.meta.textContent = view ? `${view.signalCount} signals in the window · updated ${localTime(view.updatedAt)}` : "";
  if (!view) {
    el.bySource.replaceChildren();
    el.byType.replaceChildren();
    el.changes.replaceChildren();
    el.chart.getContext("2d").clearRect(0, 0, el.chart.width, el.chart.height);
  }
}

/** The contributions, as served: the ones pulling the score down most first. Sources filter the signal table. */
function showBreakdown(s, view) {
  el.bySource.replaceChildren(...(view.bySource ?? []).map((c) => contributionRow(s, c, true)));
  el.byType.replaceChildren(...(view.byType ?? []).map((c) => contributionRow(s, c, false)));
}

function contributionRow(s, c, filterable) {
  const tr = document.createElement("tr");
  tr.dataset.key = c.key;
  const name = document.createElement("td");
  if (filterable) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link";
    button.textContent = shortId(c.key);
    button.title = `Show only signals from ${c.key}`;
    button.setAttribute("aria-pressed", String(s.filter === c.key));
    button.addEventListener("click", () => setFilter(s, s.filter === c.key ? null : c.key));
    name.append(button);
  } else {
    name.textContent = shortId(c.key);
    name.title = c.key;
  }
  const share = cell(`${(c.weightShare * 100).toFixed(1)} %`);
  share.className = "share";
  share.style.setProperty("--share", String(c.weightShare));
  const pull = cell(`${c.pull > 0 ? "+" : ""}${fmt(c.pull)}`);
  pull.className = c.pull < 0 ? "pull-down" : c.pull > 0 ? "pull-up" : "";
  tr.append(name, cell(c.signalCount), share, cell(fmt(c.weightedMean)), pull);
  return tr;
}

function setFilter(s, source) {
  s.filter = source;
  for (const tr of el.rows.children) tr.hidden = source !== null && tr.dataset.source !== source;
  for (const b of el.bySource.querySelectorAll("button")) {
    b.setAttribute("aria-pressed", String(b.closest("tr")?.dataset.key === source));
  }
  el.filter.hidden = source === null;
  el.filter.querySelector("span").textContent = source ?? "";
}

el.filter.querySelector("button").addEventListener("click", () => session && setFilter(session, null));
el.range.addEventListener("change", () => session && drawChart(session));
window.addEventListener("resize", () => session && drawChart(session));

function fmt(n) {
  return typeof n === "number" ? String(Number(n.toFixed(4))) : String(n);
}

/**
 * The score over the chosen span on a time axis (local time), as a step line (a score holds until the next
 * change), over the status bands; each status change is marked and listed under the chart (its text alternative).
 */
function drawChart(s) {
  // Drawn at the canvas's CSS size times the pixel ratio, so labels stay readable from 360 px to wide screens.
  const dpr = window.devicePixelRatio || 1;
  const w = el.chart.clientWidth || 900;
  const h = el.chart.clientHeight || 180;
  if (el.chart.width !== Math.round(w * dpr) || el.chart.height !== Math.round(h * dpr)) {
    el.chart.width = Math.round(w * dpr);
    el.chart.height = Math.round(h * dpr);
  }
  const ctx = el.chart.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const left = 34;
  const right = 8;
  const top = 8;
  const bottom = 22;
  const now = Date.now();
  const spanMs = (RANGES[el.range.value] ?? 60) * 60_000;
  const from = now - spanMs;
  const x = (t) => left + ((Math.max(t, from) - from) / spanMs) * (w - left - right);
  const y = (v) => h - bottom - v * (h - top - bottom);
  ctx.clearRect(0, 0, w, h);
  for (const band of BANDS) {
    ctx.fillStyle = band.fill;
    ctx.fillRect(left, y(band.to), w - left - right, y(band.from) - y(band.to));
  }
  ctx.font = "11px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  ctx.fillStyle = "#6e7781";
  for (const t of [0, 0.5, 0.75, 1]) ctx.fillText(String(t), 4, y(t));
  // Time ticks: every 10 min (1 h), 1 h (6 h) or 3 h (24 h), labelled in local time.
  const tickMs = spanMs <= 3_600_000 ? 600_000 : spanMs <= 6 * 3_600_000 ? 3_600_000 : 3 * 3_600_000;
  ctx.textBaseline = "top";
  ctx.strokeStyle = "#eaeef2";
  let labelEnd = Number.NEGATIVE_INFINITY;
  for (let t = Math.ceil(from / tickMs) * tickMs; t <= now; t += tickMs) {
    ctx.beginPath();
    ctx.moveTo(x(t), top);
    ctx.lineTo(x(t), h - bottom);
    ctx.stroke();
    // Labels that would overlap the previous one (narrow screens) are left out; the grid line stays.
    const label = new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    const width = ctx.measureText(label).width;
    const at = Math.min(x(t) - width / 2, w - right - width);
    if (at < labelEnd + 8) continue;
    ctx.fillText(label, at, h - bottom + 6);
    labelEnd = at + width;
  }
  // The step line, with gaps where the score was UNKNOWN.
  ctx.strokeStyle = "#0969da";
  ctx.lineWidth = 2;
  ctx.beginPath();
  let pen = false;
  s.points.forEach((p, i) => {
    const next = s.points[i + 1]?.t ?? now;
    if (p.status === "UNKNOWN" || next < from) {
      pen = false;
      return;
    }
    if (pen) ctx.lineTo(x(p.t), y(p.score));
    else ctx.moveTo(x(p.t), y(p.score));
    ctx.lineTo(x(next), y(p.score));
    pen = true;
  });
  ctx.stroke();
  ctx.lineWidth = 1;
  // Status changes: a dashed line in the new status's colour, and a list item with the time.
  const changes = [];
  for (let i = 1; i < s.points.length; i++) {
    const prev = s.points[i - 1];
    const p = s.points[i];
    if (p.status === prev.status) continue;
    changes.push({ ...p, from: prev.status });
    if (p.t < from) continue;
    ctx.strokeStyle = BANDS.find((b) => b.status === p.status)?.line ?? "#6e7781";
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    ctx.moveTo(x(p.t), top);
    ctx.lineTo(x(p.t), h - bottom);
    ctx.stroke();
    ctx.setLineDash([]);
  }
  el.chart.dataset.points = String(s.points.length);
  el.changes.replaceChildren(
    ...changes.slice(-10).map((c) => {
      const li = document.createElement("li");
      li.dataset.status = c.status;
      li.textContent = `${new Date(c.t).toLocaleTimeString()}: ${c.from} → ${c.status}`;
      return li;
    }),
  );
}

/**
 * Opened from the overview (`?tenant=`): that tenant is filled in. An operator's token reads the overview only, never
 * one tenant's signals (contract §1), so watching the tenant takes a token of that tenant (a person of it signing
 * in, or a pasted token).
 */
function openFromOverview() {
  const tenant = new URLSearchParams(location.search).get("tenant");
  if (tenant === null || session) return;
  el.tenant.value = tenant;
  el.advanced.open = true;
  setConn(
    "idle",
    `To watch ${tenant}, sign in as one of its people or paste a token for it: operator tokens read the overview only.`,
  );
}

// Last, so every declaration above exists: a page loaded back from the provider finishes its sign-in; one opened
// from the overview connects to its tenant.
void finishSignIn();
openFromOverview();
