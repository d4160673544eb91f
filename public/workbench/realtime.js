// What the workbench's pages share to reach the realtime endpoint (docs/api.md §4.5): a browser cannot put the token
// on a WebSocket upgrade, so each connection first trades it for a realtime ticket (good for one upgrade, 60 s),
// opens the socket with `?ticket=`, and then authenticates it with the token itself in `connection_init`.

export const PROTOCOL = "graphql-transport-ws";

/**
 * A ticket for `path` (`/v1/tenants/<id>` or the operators' `/v1/tenants/*`): `{ ticket }`, or `{ refused }` with a
 * sentence when the token was refused (401/403: retrying cannot help). Throws when the request did not get through
 * (network, 5xx): worth retrying.
 */
export async function realtimeTicket(path, token) {
  const res = await fetch(`${path}/realtime-tickets`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
  });
  if (res.status === 401 || res.status === 403) {
    const body = await res.json().catch(() => null);
    return { refused: `The token was refused (${res.status}): ${body?.error?.message ?? "not allowed"}.` };
  }
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return { ticket: (await res.json()).ticket };
}

/** Opens the graphql-ws socket for `path` with a ticket; `send` writes a message once it is open. */
export function realtimeSocket(path, ticket) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(
    `${scheme}://${location.host}${path}/graphql?ticket=${encodeURIComponent(ticket)}`,
    PROTOCOL,
  );
  const send = (msg) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify(msg));
  return { ws, send };
}
