// Loopback networking helpers shared by the scripts, the benchmarks and the tests. Plain Node.
import { createServer } from "node:net";

/**
 * A free loopback TCP port.
 * @returns {Promise<number>}
 */
export function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
      server.close(() => ok(port));
    });
  });
}
