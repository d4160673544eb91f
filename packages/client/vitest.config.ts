// The client's unit tests: scripted servers behind an injected fetch (and a local WebSocket server for subscribe),
// fake timers for time. `npx vitest run --config packages/client/vitest.config.ts`; `npm test` runs them as a step.
import { defineConfig } from "vitest/config";

export default defineConfig({
  // Without `root`, vitest resolves `include` against the working directory (the project's own test/ tree).
  root: import.meta.dirname,
  test: { name: "client", include: ["test/**/*.test.ts"], environment: "node" },
});
