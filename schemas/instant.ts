// RFC 3339 instants (`2026-11-23T08:00:00Z`, `…T08:00:00.123+02:00`), strictly: a calendar date
// that exists (years 1900–2299, ClickHouse DateTime64's range), a time of day, a zone. Engine `Date.parse` alone is too lenient for a compliance
// record (it rolls 2025-02-30 over into March and reads "Dec 1 2025"), and ajv-formats' check
// followed by our own parse cost ~1 µs per event on the ingest hot path; this does both in one.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;
/** Already canonical: `YYYY-MM-DDTHH:MM:SS.mmmZ`, what `toISOString` gives back. */
const CANONICAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysIn(year: number, month: number): number {
  if (month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)) return 29;
  return DAYS[month - 1] ?? 0;
}

/** Milliseconds since the epoch, or null when `s` is not an RFC 3339 instant that exists. */
export function parseInstant(s: string): number | null {
  if (s.length > 64) return null;
  const m = RFC3339.exec(s);
  if (m === null) return null;
  const year = +m[1]!;
  const month = +m[2]!;
  const day = +m[3]!;
  // DateTime64's range: an instant the store cannot hold is refused here, not clamped there.
  if (year < 1900 || year > 2299) return null;
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return null;
  if (+m[4]! > 23 || +m[5]! > 59 || +m[6]! > 59) return null;
  if (m[9] !== undefined && (+m[9] > 23 || +m[10]! > 59)) return null;
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : t;
}

// One-entry memo: ingest validates the field (JSON Schema format) and then normalises the same
// string object straight after; the second call is a pointer comparison.
let lastInput: string | null = null;
let lastOutput: string | null = null;

/** An RFC 3339 instant in, canonical UTC `YYYY-MM-DDTHH:MM:SS.mmmZ` out; null when invalid. */
export function toUtcIso(s: string): string | null {
  if (s === lastInput) return lastOutput;
  const t = parseInstant(s);
  const out = t === null ? null : CANONICAL.test(s) ? s : new Date(t).toISOString();
  lastInput = s;
  lastOutput = out;
  return out;
}

/** The JSON Schema `date-time` format, as ajv calls it. */
export const isInstant = (s: string): boolean => toUtcIso(s) !== null;
