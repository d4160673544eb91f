/**
 * Parses an RFC 3339 date-time into epoch milliseconds, or `null` when it is not one.
 * Stricter than `Date.parse`: calendar fields must exist (no 2026-02-30) and an offset is required.
 * Fractions beyond milliseconds are truncated, since every store keeps millisecond precision.
 * The last text parsed is remembered (a batch's signals often share their `ts`, and validation reads it twice).
 */
export function parseRfc3339(text: string): number | null {
  if (text === lastText) return lastMs;
  const ms = parse(text);
  lastText = text;
  lastMs = ms;
  return ms;
}

let lastText: string | null = null;
let lastMs: number | null = null;

const ZERO = 48;

/** Two ASCII digits at `i` as a number, or -1. */
function two(text: string, i: number): number {
  const a = text.charCodeAt(i) - ZERO;
  const b = text.charCodeAt(i + 1) - ZERO;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function parse(text: string): number | null {
  // YYYY-MM-DDTHH:MM:SS, then an optional .fraction, then Z or ±HH:MM.
  if (text.length < 20) return null;
  const hi = two(text, 0);
  const lo = two(text, 2);
  const month = two(text, 5);
  const day = two(text, 8);
  const hour = two(text, 11);
  const minute = two(text, 14);
  const second = two(text, 17);
  if (hi < 0 || lo < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return null;
  const t = text[10];
  if (text[4] !== "-" || text[7] !== "-" || text[13] !== ":" || text[16] !== ":") return null;
  if (t !== "T" && t !== "t" && t !== " ") return null;
  const year = hi * 100 + lo;
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return null;
  // Date.UTC reads years 0–99 as 1900–1999; the calendar check follows it.
  const daysInMonth =
    month === 2 && isLeap(year < 100 ? 1900 + year : year) ? 29 : (DAYS_IN_MONTH[month - 1] as number);
  if (day < 1 || day > daysInMonth) return null;
  let i = 19;
  let millis = 0;
  if (text[i] === ".") {
    i++;
    const start = i;
    let scale = 100;
    for (; i < text.length; i++) {
      const d = text.charCodeAt(i) - ZERO;
      if (d < 0 || d > 9) break;
      millis += d * scale;
      scale /= 10;
    }
    if (i === start) return null;
    millis = Math.trunc(millis);
  }
  let offsetMinutes = 0;
  const zone = text[i];
  if (zone === "Z" || zone === "z") {
    if (i + 1 !== text.length) return null;
  } else if (zone === "+" || zone === "-") {
    if (i + 6 !== text.length || text[i + 3] !== ":") return null;
    const oh = two(text, i + 1);
    const om = two(text, i + 4);
    if (oh < 0 || om < 0 || oh > 23 || om > 59) return null;
    offsetMinutes = (zone === "-" ? -1 : 1) * (oh * 60 + om);
  } else {
    return null;
  }
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  const ms = utc - offsetMinutes * 60_000;
  return Number.isFinite(ms) ? ms : null;
}

/** Canonical text of an instant: UTC, millisecond precision (`2026-11-27T10:00:00.000Z`). */
export function toIso(ms: number): string {
  if (ms !== lastIsoMs) {
    lastIsoMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

let lastIsoMs = Number.NaN;
let lastIso = "";
