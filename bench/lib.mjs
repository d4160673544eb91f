// Helpers shared by the benchmarks: ports, a service in its own process group, readiness, percentiles.
import { freePort } from "../scripts/lib/net.mjs";

export { freePort };

export const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** Stops a service started in its own process group (`{ child, exited }`): SIGTERM, then SIGKILL to what is left. */
export async function stopService(service) {
  if (!service?.child.pid) return;
  const group = -service.child.pid;
  try {
    process.kill(group, "SIGTERM");
  } catch {
    return; // no process of the group is left
  }
  const done = await Promise.race([service.exited.then(() => true), sleep(5000).then(() => false)]);
  // Give workerd a moment after npm itself exits, then make sure nothing of the group is left.
  if (done) await sleep(300);
  try {
    process.kill(group, "SIGKILL");
  } catch {
    // the whole group has exited
  }
}

/** Waits until `GET {base}{path}` (default /healthz) answers 200, failing early if the service exits. */
export async function waitHealthy(base, service, timeoutMs, path = "/healthz") {
  const deadline = Date.now() + timeoutMs;
  let exited = null;
  service.exited.then((e) => {
    exited = e;
  });
  while (Date.now() < deadline) {
    if (exited) throw new Error(`the service exited early (code ${exited.code}, signal ${exited.signal})`);
    try {
      const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`GET ${path} did not answer 200 within ${timeoutMs / 1000} s`);
}

/** The p-th percentile (nearest rank) of an ascending array, or `null` when empty. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}
