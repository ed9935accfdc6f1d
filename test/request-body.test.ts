// Ingest body parsing, without HTTP: NDJSON lines decoded from the bytes one by one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAuditflowError } from '../infra/errors.ts';
import { parseJsonBody, parseNdjsonBody } from '../ingest/request-body.ts';

test('NDJSON: CRLF and blank lines, multi-byte UTF-8 kept whole, a trailing newline or none', () => {
  const lines = [{ a: 'é' }, { b: '🚀 ünïcödé' }, { c: 'a\nb' }];
  const text = `${JSON.stringify(lines[0])}\r\n\r\n  ${JSON.stringify(lines[1])}\n\n${JSON.stringify(lines[2])}`;
  assert.deepEqual(parseNdjsonBody(Buffer.from(text)), lines);
  assert.deepEqual(parseNdjsonBody(Buffer.from(`${text}\n`)), lines);
  // Same as decoding the whole body first, whatever the bytes (invalid UTF-8 becomes U+FFFD either way).
  const odd = Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0xff, 0xc3]), Buffer.from('"}\n{"y":"\u00e9"}')]);
  assert.deepEqual(parseNdjsonBody(odd), odd.toString('utf8').split('\n').map((l) => JSON.parse(l)));
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
