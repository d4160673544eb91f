const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):(\d{2}))$/;

/**
 * Parses an RFC 3339 date-time into epoch milliseconds, or `null` when it is not one.
 * Stricter than `Date.parse`: calendar fields must exist (no 2026-02-30) and an offset is required.
 * Fractions beyond milliseconds are truncated, since every store keeps millisecond precision.
 */
export function parseRfc3339(text: string): number | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return null;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > daysInMonth) return null;
  const millis = m[7] ? Math.trunc(Number(`0${m[7]}`) * 1000) : 0;
  let offsetMinutes = 0;
  if (m[9]) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return null;
    offsetMinutes = (m[9] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  const ms = utc - offsetMinutes * 60_000;
  return Number.isFinite(ms) ? ms : null;
}

/** Canonical text of an instant: UTC, millisecond precision (`2026-11-27T10:00:00.000Z`). */
export function toIso(ms: number): string {
  return new Date(ms).toISOString();
}
