// Ingest body parsing, without HTTP: NDJSON lines decoded from the bytes one by one.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { gzipSync } from 'node:zlib';
import { isAuditflowError } from '../infra/errors.ts';
import { decodeBody, invalidUtf8At, parseJsonBody, parseNdjsonBody } from '../ingest/request-body.ts';

test('NDJSON: CRLF and blank lines, multi-byte UTF-8 kept whole, a trailing newline or none', () => {
  const lines = [{ a: 'é' }, { b: '🚀 ünïcödé' }, { c: 'a\nb' }];
  const text = `${JSON.stringify(lines[0])}\r\n\r\n  ${JSON.stringify(lines[1])}\n\n${JSON.stringify(lines[2])}`;
  assert.deepEqual(parseNdjsonBody(Buffer.from(text)), lines);
  assert.deepEqual(parseNdjsonBody(Buffer.from(`${text}\n`)), lines);
});

const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

test('NDJSON that is not UTF-8 is refused, naming every bad line, instead of decoded into U+FFFD', () => {
  // Line 0 fine, a blank line (not counted), line 1 a lone 0xFF, line 2 fine, line 3 a truncated é (0xC3 then '"').
  const body = bytes('{"a":"é"}\n\n{"x":"', [0xff], '"}\n{"b":2}\n{"y":"', [0xc3], '"}\n');
  try {
    parseNdjsonBody(body);
    assert.fail('should throw');
  } catch (e) {
    assert.ok(isAuditflowError(e));
    assert.equal(e.code, 'BODY_MALFORMED');
    assert.equal(e.status, 400);
    assert.deepEqual(e.details, [
      { index: 1, path: '/', message: 'line is not valid UTF-8 (at byte 18 of the body)' },
      { index: 3, path: '/', message: 'line is not valid UTF-8 (at byte 36 of the body)' },
    ]);
  }
  // Bad UTF-8 outranks bad JSON on another line: the body is refused as bytes first.
  assert.throws(() => parseNdjsonBody(bytes('{oops\n"', [0xe2, 0x82], '"')), (e: unknown) => isAuditflowError(e) && e.code === 'BODY_MALFORMED' && e.details?.[0]?.index === 1);
});

test('a JSON body that is not UTF-8 is refused with the offset of the first bad byte; after gunzip too', async () => {
  const body = bytes('[{"a":"ok"},{"b":"', [0xed, 0xa0, 0x80], '"}]'); // an encoded surrogate
  const refused = (e: unknown) => isAuditflowError(e) && e.code === 'BODY_MALFORMED' && e.message === 'body is not valid UTF-8 (at byte 18)';
  assert.throws(() => parseJsonBody(body), refused);
  // What decoding used to make of it (U+FFFD for the bad bytes) is valid JSON: refusing is the change.
  assert.equal(parseJsonBody(Buffer.from(body.toString('utf8'))).length, 2);
  const gunzipped = await decodeBody(gzipSync(body), 'gzip', 1 << 20);
  assert.throws(() => parseJsonBody(gunzipped), refused);
});

test('invalidUtf8At: well-formed sequences pass; overlong, surrogate, out-of-range, stray and truncated bytes are found', () => {
  assert.equal(invalidUtf8At(Buffer.from('aé€🚀')), -1);
  const cases: [number[], number][] = [
    [[0x61, 0xc0, 0x80], 1], // overlong NUL
    [[0xc1, 0xbf], 0], // overlong 2-byte
    [[0xe0, 0x80, 0x80], 0], // overlong 3-byte
    [[0xf0, 0x80, 0x80, 0x80], 0], // overlong 4-byte
    [[0x61, 0x62, 0xed, 0xbf, 0xbf], 2], // surrogate
    [[0xf4, 0x90, 0x80, 0x80], 0], // past U+10FFFF
    [[0xf5, 0x80, 0x80, 0x80], 0],
    [[0x80], 0], // stray continuation
    [[0x61, 0xe2, 0x82], 1], // truncated at the end
    [[0xe2, 0x82, 0x61], 0], // truncated by an ASCII byte
  ];
  for (const [b, at] of cases) assert.equal(invalidUtf8At(Buffer.from(b)), at, Buffer.from(b).toString('hex'));
  // Bounds: a range that cuts a sequence is ill-formed inside that range.
  assert.equal(invalidUtf8At(Buffer.from('xé'), 0, 2), 1);
  // Agrees with node's isUtf8 on random bytes biased towards multi-byte leads.
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >>> 16) & 0xff;
  const pool = [0x41, 0x80, 0xbf, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xa0, 0x9f, 0x90];
  for (let n = 0; n < 20_000; n++) {
    const b = Buffer.from(Array.from({ length: 1 + (rnd() % 8) }, () => (rnd() % 3 === 0 ? rnd() : pool[rnd() % pool.length]!)));
    assert.equal(invalidUtf8At(b) === -1, isUtf8(b), b.toString('hex'));
  }
});

test('NDJSON: every bad line is reported with its index, and nothing is returned', () => {
  try {
    parseNdjsonBody(Buffer.from('{"a":1}\n\nnot json\n{"b":2}\n{broken'));
    assert.fail('should throw');
  } catch (e) {
    assert.ok(isAuditflowError(e));
    assert.equal(e.code, 'VALIDATION_FAILED');
    assert.deepEqual(e.details?.map((d) => d.index), [1, 3]);
  }
});

test('JSON: an array, or one object', () => {
  assert.deepEqual(parseJsonBody(Buffer.from('[{"a":"é"},{"b":2}]')), [{ a: 'é' }, { b: 2 }]);
  assert.deepEqual(parseJsonBody(Buffer.from('{"a":1}')), [{ a: 1 }]);
  assert.throws(() => parseJsonBody(Buffer.from('"x"')), (e: unknown) => isAuditflowError(e) && e.code === 'BODY_MALFORMED');
});
