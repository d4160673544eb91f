// The log guard: reads what the service printed (wrangler dev's output, the only place workerd reports a request
// it cancelled) and names every line that means something went wrong, whatever the test's assertions said.
// Used by the harness (test/support/harness.ts: a service's stop() fails on any), so by the e2e, browser and fuzz
// tests, the bench and the SLO gate.
// Plain erasable TypeScript, so Node scripts (bench/*.mjs) import it too.

/** Runtime and wrangler lines that always mean a failure. */
const RUNTIME_ERRORS: readonly RegExp[] = [
  /Uncaught/,
  /code had hung/,
  /canceled this request/i,
  /Cannot perform I\/O on behalf of a different request/,
  /Promise will never complete/,
  /\[ERROR\]/,
  /✘/,
  /Unhandled ?(promise )?rejection/i,
  /exceeded (its )?CPU time limit/i,
  /Worker exceeded resource limits/i,
];

/**
 * Our own JSON log lines that mean an unexpected failure: an unhandled error (a 500), an object's handler that
 * threw, a usage count that could not be stored. Expected failures (a 4xx, a sink outage a test causes, a
 * budget alert) are logged under other ops and are not flagged here; tests that cause one of these on purpose
 * pass `allow`.
 */
const UNEXPECTED_OPS = new Set([
  "unhandled",
  "alarm",
  "ws_message",
  "ws_error",
  "rearm",
  "rpc",
  "timer",
  "usage_count",
  "config",
]);

/** SGR colour sequences (ESC [ … m), built from a string so the pattern holds no control character literally. */
const ANSI_COLOUR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");

/** A line of service output that marks a failure, with its line number (1-based). */
export interface FlaggedLine {
  line: number;
  text: string;
}

/** Every line of `output` that marks a failure and matches none of `allow`. */
export function flaggedLines(output: string, allow: readonly RegExp[] = []): FlaggedLine[] {
  const out: FlaggedLine[] = [];
  const lines = output.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    // ANSI colours from wrangler's logger would hide the markers.
    const text = (lines[i] ?? "").replace(ANSI_COLOUR, "");
    if (text.trim() === "") continue;
    if (!isFailure(text)) continue;
    if (allow.some((re) => re.test(text))) continue;
    out.push({ line: i + 1, text: text.length > 400 ? `${text.slice(0, 400)}…` : text });
  }
  return out;
}

function isFailure(text: string): boolean {
  const json = text.indexOf("{");
  if (json >= 0 && text.trimEnd().endsWith("}")) {
    try {
      const parsed = JSON.parse(text.slice(json)) as { level?: unknown; op?: unknown };
      if (typeof parsed === "object" && parsed !== null && "op" in parsed) {
        return parsed.level === "error" && typeof parsed.op === "string" && UNEXPECTED_OPS.has(parsed.op);
      }
    } catch {
      // not one of our lines: judge it as text
    }
  }
  return RUNTIME_ERRORS.some((re) => re.test(text));
}

/** A readable report of flagged lines (at most `max` quoted), or `null` when there are none. */
export function logGuardReport(output: string, allow: readonly RegExp[] = [], max = 20): string | null {
  const flagged = flaggedLines(output, allow);
  if (flagged.length === 0) return null;
  const quoted = flagged.slice(0, max).map((f) => `  line ${f.line}: ${f.text}`);
  const more = flagged.length > max ? [`  … and ${flagged.length - max} more`] : [];
  return [`the service printed ${flagged.length} error line(s):`, ...quoted, ...more].join("\n");
}
