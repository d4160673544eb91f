import { describe, expect, it } from "vitest";
import { flaggedLines, logGuardReport } from "../support/log-guard";

describe("log guard", () => {
  it("flags the runtime's cancelled-request and cross-request errors, with ANSI colours stripped", () => {
    const output = [
      '{"ts":"x","level":"info","op":"http","status":200}',
      "\x1b[31m✘ \x1b[41;31m[\x1b[41;97mERROR\x1b[41;31m]\x1b[0m \x1b[1mUncaught Error: Promise will never complete.\x1b[0m",
      "The Workers runtime canceled this request because it detected that your Worker's code had hung and would never generate a response.",
      "Error: Cannot perform I/O on behalf of a different request. I/O objects (such as streams) created in the context of one request handler cannot be accessed from a different request's handler.",
    ].join("\n");
    expect(flaggedLines(output).map((f) => f.line)).toEqual([2, 3, 4]);
    expect(logGuardReport(output)).toContain("3 error line(s)");
  });

  it("flags our unexpected-failure lines and lets expected failures and warnings pass", () => {
    const output = [
      '{"ts":"x","level":"error","op":"unhandled","message":"boom"}',
      '{"ts":"x","level":"warn","op":"http","status":401,"error_code":"UNAUTHENTICATED"}',
      '{"ts":"x","level":"error","op":"budget_alert","threshold":"critical"}',
      '{"ts":"x","level":"error","op":"http","status":503,"error_code":"SERVICE_UNAVAILABLE"}',
      '{"ts":"x","level":"error","op":"alarm","tenant_id":"t","message":"x"}',
    ].join("\n");
    expect(flaggedLines(output).map((f) => f.line)).toEqual([1, 5]);
  });

  it("honours a test's allow-list and reports nothing for a clean log", () => {
    const output = '{"ts":"x","level":"error","op":"alarm","message":"upstream down"}\n';
    expect(logGuardReport(output, [/upstream down/])).toBeNull();
    expect(logGuardReport('{"level":"info","op":"http"}\n[start] ready\n')).toBeNull();
  });
});
