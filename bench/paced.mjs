// Open-loop load at a fixed, evenly spaced rate: one request every 1000/rate ms whether or not earlier ones
// have answered. A cross-check for autocannon's `overallRate`, which sends each connection's share of a
// second back to back at the start of that second.
import http from "node:http";

/**
 * Sends `rate` req/s for `seconds` and resolves with the 2xx latencies (ms, sorted) and failure counts.
 * Latency runs from the moment a request is issued (so waiting for a free socket counts) to the end of
 * its response; `verify` checks each 2xx body.
 */
export function pacedLoad({ url, path, method = "GET", headers = {}, body, rate, seconds, verify, maxSockets = 64 }) {
  const target = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  const payload = body === undefined ? undefined : Buffer.from(body);
  const total = Math.max(1, Math.round(rate * seconds));
  const interval = 1000 / rate;
  const latencies = [];
  const statusCodes = {};
  let errors = 0;
  let mismatches = 0;
  let finished = 0;
  const started = performance.now();

  return new Promise((resolve) => {
    const settle = () => {
      if (++finished < total) return;
      agent.destroy();
      latencies.sort((a, b) => a - b);
      const duration = (performance.now() - started) / 1000;
      const ok2xx = latencies.length;
      let non2xx = 0;
      for (const [code, n] of Object.entries(statusCodes)) if (!code.startsWith("2")) non2xx += n;
      resolve({ duration, ok2xx, non2xx, errors, mismatches, statusCodes, latencies });
    };
    const fire = () => {
      const t0 = performance.now();
      const req = http.request(
        {
          host: target.hostname,
          port: target.port,
          path,
          method,
          agent,
          headers: payload ? { ...headers, "content-length": payload.byteLength } : headers,
          timeout: 30_000,
        },
        (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => {
            const ms = performance.now() - t0;
            const status = res.statusCode ?? 0;
            statusCodes[status] = (statusCodes[status] ?? 0) + 1;
            if (status >= 200 && status < 300) {
              if (verify && !verify(Buffer.concat(chunks).toString("utf8"))) mismatches++;
              latencies.push(ms);
            }
            settle();
          });
          res.on("error", () => {
            errors++;
            settle();
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", () => {
        errors++;
        settle();
      });
      req.end(payload);
    };
    // Schedule against the start instant so timer drift does not lower the rate.
    let sent = 0;
    const tick = () => {
      const due = Math.floor((performance.now() - started) / interval) + 1;
      while (sent < Math.min(due, total)) {
        sent++;
        fire();
      }
      if (sent < total) setTimeout(tick, Math.max(0, started + sent * interval - performance.now()));
    };
    tick();
  });
}
