// ScaiKey's webhook signature (pure: no I/O, the clock passed in).
//
//   X-ScaiKey-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>[,v1=…]
//
// Several `v1=` entries are accepted (while ScaiKey rotates its secret it signs with both); one
// matching our secret is enough. Entries of other schemes (`v0=`, a future `v2=`) are ignored, so
// ScaiKey can add one without breaking us. The HMAC is checked before the timestamp: "out of
// range" is only ever said of an authentic delivery (a replay, or a clock off), never told to
// whoever sends an unsigned one.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { AuditflowError } from '../../infra/errors.ts';

export const SIGNATURE_HEADER = 'x-scaikey-signature';

/** At most this many `v1=` entries are compared: a bound on the work one request can cause. */
const MAX_SIGNATURES = 8;
const HEX_SHA256 = /^[0-9a-f]{64}$/i;

export interface SignatureHeader {
  /** Unix seconds, as signed. */
  timestamp: number;
  /** The text of `t=` exactly as sent: the signed payload starts with it. */
  timestampText: string;
  /** Every well-formed `v1=` entry, decoded (32 bytes each). */
  signatures: Buffer[];
}

const invalid = (why: string) => new AuditflowError('WEBHOOK_SIGNATURE_INVALID', `X-ScaiKey-Signature ${why}`);

/** Parses the header; 401 WEBHOOK_SIGNATURE_MISSING when absent, WEBHOOK_SIGNATURE_INVALID when malformed. */
export function parseSignatureHeader(header: string | string[] | undefined): SignatureHeader {
  if (header === undefined || header === '') throw new AuditflowError('WEBHOOK_SIGNATURE_MISSING', 'the X-ScaiKey-Signature header is required');
  if (Array.isArray(header)) throw invalid('must be sent once');
  let timestampText: string | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw invalid('is malformed: expected t=<unix seconds>,v1=<hex HMAC-SHA256>');
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (timestampText !== undefined) throw invalid('has more than one t=');
      if (!/^\d{1,12}$/.test(value)) throw invalid('t= must be a unix time in seconds');
      timestampText = value;
    } else if (key === 'v1') {
      if (!HEX_SHA256.test(value)) throw invalid('v1= must be 64 hex digits (HMAC-SHA256)');
      if (signatures.length < MAX_SIGNATURES) signatures.push(Buffer.from(value, 'hex'));
    }
  }
  if (timestampText === undefined) throw invalid('has no t=');
  if (signatures.length === 0) throw invalid('has no v1= signature');
  return { timestamp: Number(timestampText), timestampText, signatures };
}

function hmac(secret: string, timestamp: number | string, rawBody: Buffer): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest();
}

/** Hex HMAC-SHA256 of `<t>.<raw body>`: what ScaiKey puts in `v1=`. */
export function scaikeySignature(secret: string, timestamp: number | string, rawBody: Buffer): string {
  return hmac(secret, timestamp, rawBody).toString('hex');
}

/** A complete header value as ScaiKey sends it (tests, and the README's example). */
export function scaikeySignatureHeader(secret: string, timestamp: number, rawBody: Buffer): string {
  return `t=${timestamp},v1=${scaikeySignature(secret, timestamp, rawBody)}`;
}

export interface VerifyOptions {
  secret: string;
  /** How far the signed time may be from ours, either way. */
  toleranceSeconds: number;
  /** Our clock, in milliseconds. */
  nowMs: number;
}

/**
 * Throws a 401 catalogue error unless `header` carries a valid signature of `rawBody` with a
 * timestamp within the tolerance; returns the parsed header.
 */
export function verifyScaikeySignature(header: string | string[] | undefined, rawBody: Buffer, opts: VerifyOptions): SignatureHeader {
  const parsed = parseSignatureHeader(header);
  // Over the timestamp's text as sent: `t=007` signs "007.", not "7.".
  const expected = hmac(opts.secret, parsed.timestampText, rawBody);
  let match = false;
  // Every entry is compared (no early exit): the time taken does not say which one matched.
  for (const s of parsed.signatures) if (timingSafeEqual(s, expected)) match = true;
  if (!match) throw invalid('does not match the body (wrong secret, or the body was changed)');
  const skew = Math.abs(opts.nowMs / 1000 - parsed.timestamp);
  if (skew > opts.toleranceSeconds) {
    throw new AuditflowError('WEBHOOK_TIMESTAMP_OUT_OF_RANGE', `the signature's timestamp is ${Math.round(skew)} s from this server's clock (at most ${opts.toleranceSeconds} s)`);
  }
  return parsed;
}
