// Fast-check arbitraries for hostile inputs, shared by the fuzz tests (test/unit/protocol-fuzz.test.ts,
// test/e2e/fuzz.test.ts): one import point for the generators in this folder.
export * from "./auth";
export * from "./bodies";
export * from "./graphql-paths";
export * from "./http-cases";
export * from "./json";
export * from "./ws-frames";
