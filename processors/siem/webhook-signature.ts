// Signed webhook deliveries (pure: the clock is passed in).
//
//   POST <url>   Content-Type: application/x-ndjson
//   X-Auditflow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
//   X-Auditflow-Event-Count: <lines in the body>
//
// The body is one forwarded event per line, each ending in `\n`; every line carries the event's
// `id`, which is what a receiver de-duplicates on. The ids are in the body only, never in a
// header: a batch of 500 ids is ~15 KB, past the 8–16 KiB header limits of common servers.
// Every attempt is signed afresh (a retry hours later still passes a receiver's tolerance).
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ForwardedEvent } from './siem-types.ts';

export const SIGNATURE_HEADER = 'X-Auditflow-Signature';
export const EVENT_COUNT_HEADER = 'X-Auditflow-Event-Count';
export const NDJSON = 'application/x-ndjson';
/** What a receiver should allow between our clock and its own, either way. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

export function ndjsonBody(events: readonly ForwardedEvent[]): string {
  let s = '';
  for (const e of events) s += `${JSON.stringify(e)}\n`;
  return s;
}

function hmac(secret: string, t: string, body: string | Uint8Array): Buffer {
  return createHmac('sha256', secret).update(`${t}.`).update(body).digest();
}

/** The header value for a body signed at `unixSeconds`. */
export function signatureHeader(secret: string, unixSeconds: number, body: string | Uint8Array): string {
  const t = String(Math.floor(unixSeconds));
  return `t=${t},v1=${hmac(secret, t, body).toString('hex')}`;
}

export type VerifyResult =
  | { ok: true; timestamp: number }
  | { ok: false; reason: 'missing' | 'malformed' | 'mismatch' | 'expired' };

/**
 * What a receiver does: recompute the HMAC over the raw body bytes exactly as received and compare
 * in constant time with every `v1=` (several are allowed, for a secret rotation), then check that
 * `t` is within the tolerance. The HMAC is checked first, so "expired" is said only of authentic
 * deliveries.
 */
export function verifyWebhookSignature(
  header: string | null | undefined,
  body: string | Uint8Array,
  opts: { secret: string; nowMs: number; toleranceSeconds?: number },
): VerifyResult {
  if (!header) return { ok: false, reason: 'missing' };
  let t: string | undefined;
  const sigs: Buffer[] = [];
  for (const part of header.split(',')) {
    const [k, v, extra] = part.trim().split('=');
    if (extra !== undefined || v === undefined) return { ok: false, reason: 'malformed' };
    if (k === 't' && t === undefined && /^\d{1,12}$/.test(v)) t = v;
    else if (k === 'v1' && /^[0-9a-f]{64}$/i.test(v) && sigs.length < 8) sigs.push(Buffer.from(v, 'hex'));
    else if (k === 't') return { ok: false, reason: 'malformed' };
  }
  if (t === undefined || sigs.length === 0) return { ok: false, reason: 'malformed' };
  const expected = hmac(opts.secret, t, body);
  let match = false;
  for (const s of sigs) match = timingSafeEqual(s, expected) || match; // no early exit
  if (!match) return { ok: false, reason: 'mismatch' };
  const skew = Math.abs(opts.nowMs / 1000 - Number(t));
  if (skew > (opts.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) return { ok: false, reason: 'expired' };
  return { ok: true, timestamp: Number(t) };
}
