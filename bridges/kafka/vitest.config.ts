// The bridge's unit tests (pure modules, fakes behind its ports). `npx vitest run --config bridges/kafka/vitest.config.ts`
// runs them alone; the project's unit project can include `bridges/kafka/test/**/*.test.ts` as well.
import { defineConfig } from "vitest/config";

export default defineConfig({
  // Without `root`, vitest resolves `include` against the working directory, i.e. the project's own test/ tree.
  root: import.meta.dirname,
  test: { include: ["test/**/*.test.ts"], environment: "node" },
});
