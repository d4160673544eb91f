// Code coverage of the unit and workerd integration tiers (`npm run test:coverage`): the thresholds vitest gates
// on (vitest.config.ts imports them from here) and the per-folder table the evidence bundle reports.

/** @typedef {"lines" | "statements" | "functions" | "branches"} Metric */
/** @typedef {{ total: number; covered: number; pct: number }} Figure */
/** @typedef {Record<Metric, Figure>} FileSummary */

/** @type {Metric[]} */
export const METRICS = ["lines", "statements", "functions", "branches"];

/**
 * What `npm test` requires, in vitest's `coverage.thresholds` shape: 80 % of lines over everything instrumented,
 * and every line, statement, function and branch of the score (the number the service exists to compute).
 */
export const COVERAGE_THRESHOLDS = {
  lines: 80,
  "src/domain/score.ts": { lines: 100, functions: 100, branches: 100, statements: 100 },
};

/** @param {number} covered @param {number} total */
const pct = (covered, total) => (total === 0 ? 100 : Math.floor((covered / total) * 10_000) / 100);

/**
 * Per-folder totals of istanbul's `coverage-summary.json` (the `json-summary` reporter), folders sorted by path.
 * @param {Record<string, FileSummary>} summary
 * @param {string} root absolute path the file keys start with
 * @returns {{ folders: Array<{ folder: string; files: number } & Record<Metric, Figure>>; total: Record<Metric, Figure> }}
 */
export function byFolder(summary, root) {
  /** @type {Map<string, { files: number } & Record<Metric, { total: number; covered: number }>>} */
  const sums = new Map();
  for (const [file, figures] of Object.entries(summary)) {
    if (file === "total") continue;
    const rel = file.startsWith(`${root}/`) ? file.slice(root.length + 1) : file;
    const folder = rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : ".";
    const sum = sums.get(folder) ?? {
      files: 0,
      lines: { total: 0, covered: 0 },
      statements: { total: 0, covered: 0 },
      functions: { total: 0, covered: 0 },
      branches: { total: 0, covered: 0 },
    };
    sum.files++;
    for (const m of METRICS) {
      sum[m].total += figures[m].total;
      sum[m].covered += figures[m].covered;
    }
    sums.set(folder, sum);
  }
  /** @param {Record<Metric, { total: number; covered: number }>} s @returns {Record<Metric, Figure>} */
  const figures = (s) => ({
    lines: { ...s.lines, pct: pct(s.lines.covered, s.lines.total) },
    statements: { ...s.statements, pct: pct(s.statements.covered, s.statements.total) },
    functions: { ...s.functions, pct: pct(s.functions.covered, s.functions.total) },
    branches: { ...s.branches, pct: pct(s.branches.covered, s.branches.total) },
  });
  const folders = [...sums.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([folder, s]) => ({ folder, files: s.files, ...figures(s) }));
  /** @type {Record<Metric, { total: number; covered: number }>} */
  const all = {
    lines: { total: 0, covered: 0 },
    statements: { total: 0, covered: 0 },
    functions: { total: 0, covered: 0 },
    branches: { total: 0, covered: 0 },
  };
  for (const f of folders)
    for (const m of METRICS) {
      all[m].total += f[m].total;
      all[m].covered += f[m].covered;
    }
  return { folders, total: figures(all) };
}

/**
 * Each threshold of {@link COVERAGE_THRESHOLDS} against a summary: the figure measured and whether it holds.
 * @param {Record<string, FileSummary>} summary
 * @param {string} root
 * @returns {Array<{ target: string; metric: Metric; minimum: number; pct: number | null; ok: boolean }>}
 */
export function thresholdChecks(summary, root) {
  // The reporter's own total when present: the very figure vitest compares with the global threshold.
  const total = summary.total ?? byFolder(summary, root).total;
  /** @type {Array<{ target: string; metric: Metric; minimum: number; pct: number | null; ok: boolean }>} */
  const checks = [
    { target: "all files", metric: "lines", minimum: COVERAGE_THRESHOLDS.lines, pct: total.lines.pct, ok: false },
  ];
  for (const [target, wants] of Object.entries(COVERAGE_THRESHOLDS)) {
    if (typeof wants === "number") continue;
    // Literal paths only (vitest also takes globs here; this project has none).
    const figures = summary[`${root}/${target}`];
    for (const m of METRICS) {
      const minimum = wants[m];
      if (minimum !== undefined) checks.push({ target, metric: m, minimum, pct: figures?.[m].pct ?? null, ok: false });
    }
  }
  return checks.map((c) => ({ ...c, ok: c.pct !== null && c.pct >= c.minimum }));
}

/**
 * The per-folder table and the thresholds as Markdown (the evidence bundle's tests/coverage.md).
 * @param {Record<string, FileSummary>} summary
 * @param {string} root
 */
export function coverageMarkdown(summary, root) {
  const { folders, total } = byFolder(summary, root);
  /** @param {Figure} f */
  const cell = (f) => `${f.pct.toFixed(2)} % (${f.covered}/${f.total})`;
  const lines = [
    "# Coverage: unit + workerd integration tiers",
    "",
    "| folder | files | lines | statements | functions | branches |",
    "|---|---:|---:|---:|---:|---:|",
    ...folders.map(
      (f) =>
        `| ${f.folder}/ | ${f.files} | ${cell(f.lines)} | ${cell(f.statements)} | ${cell(f.functions)} | ${cell(f.branches)} |`,
    ),
    `| **all** | ${folders.reduce((n, f) => n + f.files, 0)} | ${cell(total.lines)} | ${cell(total.statements)} | ${cell(total.functions)} | ${cell(total.branches)} |`,
    "",
    "| threshold (vitest.config.ts) | minimum | measured | |",
    "|---|---:|---:|---|",
    ...thresholdChecks(summary, root).map(
      (c) =>
        `| ${c.target}: ${c.metric} | ${c.minimum} % | ${c.pct === null ? "not instrumented" : `${c.pct.toFixed(2)} %`} | ${c.ok ? "ok" : "FAIL"} |`,
    ),
  ];
  return `${lines.join("\n")}\n`;
}
