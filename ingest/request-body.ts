// Ingest bodies: a JSON array, or NDJSON (`Content-Type: application/x-ndjson`), optionally
// gzip-compressed (`Content-Encoding: gzip`). Parsing is pure: bytes in, values or errors out.
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { AuditflowError, type ErrorDetail } from '../infra/errors.ts';

const gunzipAsync = promisify(gunzip);

export async function decodeBody(raw: Buffer, contentEncoding: string | undefined, maxBytes: number): Promise<Buffer> {
  const enc = (contentEncoding ?? 'identity').trim().toLowerCase();
  if (enc === 'identity' || enc === '') return raw;
  if (enc !== 'gzip') throw new AuditflowError('UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${enc} is not supported (use gzip or none)`);
  try {
    // maxOutputLength bounds a decompression bomb.
    return await gunzipAsync(raw, { maxOutputLength: maxBytes });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || code === 'ERR_OUT_OF_RANGE') throw new AuditflowError('BODY_TOO_LARGE', `decompressed body exceeds ${maxBytes} bytes`);
    throw new AuditflowError('BODY_MALFORMED', `body is not valid gzip: ${(e as Error).message}`);
  }
}

/** JSON array (or a single object) → items. */
export function parseJsonBody(body: Buffer): unknown[] {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new AuditflowError('BODY_MALFORMED', `body is not valid JSON: ${(e as Error).message}`);
  }
  if (Array.isArray(v)) return v;
  if (v !== null && typeof v === 'object') return [v];
  throw new AuditflowError('BODY_MALFORMED', 'body must be a JSON array of events (or one event object)');
}

/** NDJSON → items; every bad line is reported with its index (0-based, blank lines skipped). */
export function parseNdjsonBody(body: Buffer): unknown[] {
  const items: unknown[] = [];
  const errors: ErrorDetail[] = [];
  // NOTE: each line is decoded from the bytes on its own (0x0A never occurs inside a UTF-8
  // sequence). Decoding the whole body first made one string of the body's size per request, in
  // V8's large-object space: ~0.2 µs per event more than small strings that die young.
  let start = 0;
  while (start <= body.length) {
    let end = body.indexOf(0x0a, start);
    if (end === -1) end = body.length;
    const line = body.toString('utf8', start, end).trim();
    if (line.length > 0) {
      try {
        items.push(JSON.parse(line));
      } catch (e) {
        errors.push({ index: items.length, path: '/', message: `line is not valid JSON: ${(e as Error).message}` });
        items.push(undefined);
      }
    }
    start = end + 1;
  }
  if (errors.length > 0) throw new AuditflowError('VALIDATION_FAILED', `${errors.length} of ${items.length} lines are not valid JSON; nothing was accepted`, { details: errors.slice(0, 100) });
  return items;
}
