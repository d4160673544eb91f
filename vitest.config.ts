import { generateKeyPairSync } from "node:crypto";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { COVERAGE_THRESHOLDS } from "./scripts/lib/coverage.mjs";

// A throwaway signing pair for the in-workerd tests: the Worker verifies with the public half,
// tests sign with the private half (passed as a test-only binding).
const testKeys = generateKeyPairSync("ec", {
  namedCurve: "P-256",
  publicKeyEncoding: { type: "spki", format: "pem" },
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
});

export default defineConfig({
  test: {
    projects: [
      {
        resolve: {
          // graphql 16 has no `exports` map: vite resolves its ESM build (`module`) for our code, while Node loads
          // its CommonJS build for graphql-yoga and envelop. Two copies refuse each other's schema ("from another
          // module or realm"), so the unit tests that drive yoga in Node use the one Node loads.
          alias: [{ find: /^graphql$/, replacement: "graphql/index.js" }],
        },
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                ENVIRONMENT: "test",
                DEV_UNPINNED_DURABLE_OBJECTS: "true",
                JWT_PUBLIC_KEY: testKeys.publicKey,
                TEST_SIGNING_KEY: testKeys.privateKey,
              },
              // Every outbound fetch of the Worker under test is answered here: 503, a sink that is down. (A fetch to
              // a closed port would do too, but workerd then logs an "uncaught exception" even though our code
              // catches the rejection — and a run that prints one must not pass.) Requests to the Worker itself
              // (SELF, bindings) do not come here.
              outboundService: () => new Response("down (integration tests' outbound service)", { status: 503 }),
            },
          }),
        ],
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          // The first request through the Worker loads graphql-yoga through vite's module runner (seconds).
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "browser",
          include: ["test/browser/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
        },
      },
    ],
    // `npm test` (and `npm run test:coverage`) runs the unit (Node) and integration (workerd) tiers in one run, so
    // istanbul instruments both and merges them into one report: every line of the Worker and its objects, gated at
    // 80 % overall and 100 % on the score (README, "Tests"). The e2e and browser tiers drive a separate
    // `wrangler dev` process, which istanbul cannot see.
    coverage: {
      provider: "istanbul",
      include: ["src/**/*.ts", "durable-objects/**/*.ts"],
      // Generated files (the workbench's assets as strings) and declarations hold no behaviour to test.
      exclude: ["**/*.generated.ts", "**/*.d.ts"],
      reporter: ["text", "text-summary", "json-summary", "json", "lcov"],
      // ≥ 80 % lines overall, 100 % on src/domain/score.ts (shared with the evidence bundle's report).
      thresholds: COVERAGE_THRESHOLDS,
    },
  },
});
