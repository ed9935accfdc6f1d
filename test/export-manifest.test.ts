import { describe, it, expect } from 'vitest';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  canonicalJson, exportKeyId, manifestSha256, parseManifest, serializeManifest, signedBytes, signManifest,
  verifyManifestSignature, type UnsignedManifest,
} from '../processors/export/manifest.ts';
import { RecordCounter } from '../processors/export/part-scan.ts';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');

const unsigned: UnsignedManifest = {
  version: 1,
  export_id: 'exp_0001',
  schedule_id: 'sch_1',
  tenant_id: 'acme',
  created_at: '2026-04-23T20:00:00.000Z',
  query: { from: '2026-04-23T19:00:00.000Z', to: '2026-04-23T20:00:00.000Z', filters: { action: ['read', 'write'], identity_id: 'sa:reporting' }, format: 'jsonl', compression: 'gzip' },
  record_count: 5,
  parts: [
    { key: 'audit/exp_0001/part-0001.jsonl.gz', size_bytes: 120, sha256: 'a'.repeat(64), records: 3 },
    { key: 'audit/exp_0001/part-0002.jsonl.gz', size_bytes: 80, sha256: 'b'.repeat(64), records: 2 },
  ],
  previous_manifest_sha256: 'c'.repeat(64),
};

describe('canonical JSON (RFC 8785)', () => {
  it('writes the RFC 8785 example exactly (numbers, escapes, literals)', () => {
    const input = JSON.parse('{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}');
    expect(canonicalJson(input)).toBe('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}');
  });

  it('sorts keys by UTF-16 code units, as RFC 8785 §3.2.3 does', () => {
    const input = JSON.parse('{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control","\\u00f6":"Latin Small Letter O With Diaeresis"}');
    const keys = Object.keys(JSON.parse(canonicalJson(input)) as object);
    // JSON.parse puts the integer-like key first; compare the written order instead.
    const written = [...canonicalJson(input).matchAll(/"([^"]*)":"[^"]*"/g)].map((m) => JSON.parse(`"${m[1]}"`) as string);
    expect(written.map((k) => k.codePointAt(0))).toEqual([0x0d, 0x31, 0x80, 0xf6, 0x20ac, 0x1f600, 0xfb33]);
    expect(keys).toHaveLength(7);
  });

  it('is the same whatever the insertion order, and has no whitespace', () => {
    const reordered = { previous_manifest_sha256: unsigned.previous_manifest_sha256, parts: unsigned.parts, query: { ...unsigned.query, filters: { identity_id: 'sa:reporting', action: ['read', 'write'] } }, record_count: 5, created_at: unsigned.created_at, tenant_id: 'acme', schedule_id: 'sch_1', export_id: 'exp_0001', version: 1 };
    expect(canonicalJson(reordered)).toBe(canonicalJson(unsigned));
    expect(canonicalJson(unsigned)).not.toMatch(/[\s]/);
    expect(canonicalJson(unsigned).startsWith('{"created_at":"2026-04-23T20:00:00.000Z","export_id":"exp_0001","parts":[{"key":')).toBe(true);
  });

  it('refuses values it could not write unambiguously', () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(/not a JSON number/);
    expect(() => canonicalJson({ n: Infinity })).toThrow(/not a JSON number/);
    expect(() => canonicalJson({ s: 'a\ud800b' })).toThrow(/lone surrogate/);
    expect(() => canonicalJson({ d: new Date(0) })).toThrow(/plain objects/);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(/not a JSON value/);
    expect(canonicalJson({ s: 'a\ud83d\ude00b', gone: undefined })).toBe('{"s":"a😀b"}');
  });
});

describe('signing', () => {
  it('signs the canonical form without the signature, and verifies', () => {
    const m = signManifest(unsigned, privateKey);
    expect(m.signature.alg).toBe('Ed25519');
    expect(Buffer.from(m.signature.value, 'base64')).toHaveLength(64);
    expect(signedBytes(m).toString()).toBe(canonicalJson(unsigned));
    expect(verifyManifestSignature(m, publicKey)).toEqual({ signatureValid: true, keyIdMatches: true, keyId: m.signature.key_id });
    // Round trip through the file's bytes.
    const parsed = parseManifest(serializeManifest(m));
    expect(parsed.ok && verifyManifestSignature(parsed.manifest, publicKey).signatureValid).toBe(true);
  });

  it('a changed field fails the signature', () => {
    const m = signManifest(unsigned, privateKey);
    const changed = [
      { ...m, record_count: 6 },
      { ...m, created_at: '2026-04-23T20:00:00.001Z' },
      { ...m, schedule_id: null },
      { ...m, previous_manifest_sha256: 'd'.repeat(64) },
      { ...m, query: { ...m.query, filters: { ...m.query.filters, action: ['read'] } } },
      { ...m, query: { ...m.query, compression: null } },
      { ...m, parts: [m.parts[0]!, { ...m.parts[1]!, sha256: 'e'.repeat(64) }] },
      { ...m, parts: [m.parts[0]!] },
    ];
    for (const c of changed) expect(verifyManifestSignature(c, publicKey).signatureValid).toBe(false);
    // The signature itself mangled: invalid, not a crash.
    expect(verifyManifestSignature({ ...m, signature: { ...m.signature, value: 'not base64!' } }, publicKey).signatureValid).toBe(false);
    expect(verifyManifestSignature({ ...m, signature: { ...m.signature, value: m.signature.value.slice(4) } }, publicKey).signatureValid).toBe(false);
  });

  it('another key: the signature fails and the key id differs', () => {
    const other = generateKeyPairSync('ed25519');
    const m = signManifest(unsigned, other.privateKey);
    const check = verifyManifestSignature(m, publicKey);
    expect(check.signatureValid).toBe(false);
    expect(check.keyIdMatches).toBe(false);
    expect(verifyManifestSignature(m, other.publicKey).signatureValid).toBe(true);
  });

  it('key_id is the first 16 hex digits of SHA-256 over the SPKI DER, from either half', () => {
    const der = publicKey.export({ type: 'spki', format: 'der' });
    const want = createHash('sha256').update(der).digest('hex').slice(0, 16);
    expect(exportKeyId(publicKey)).toBe(want);
    expect(exportKeyId(privateKey)).toBe(want);
    expect(exportKeyId(createPublicKey(publicKey.export({ type: 'spki', format: 'pem' })))).toBe(want);
    expect(signManifest(unsigned, privateKey).signature.key_id).toBe(want);
  });

  it('refuses a key that is not Ed25519', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => signManifest(unsigned, rsa.privateKey)).toThrow(/Ed25519/);
    expect(() => verifyManifestSignature(signManifest(unsigned, privateKey), rsa.publicKey)).toThrow(/Ed25519/);
  });

  it('the manifest hash is over the bytes as written', () => {
    const bytes = serializeManifest(signManifest(unsigned, privateKey));
    expect(manifestSha256(bytes)).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(bytes.toString()).toBe(canonicalJson(JSON.parse(bytes.toString())));
    expect(bytes.at(-1)).toBe('}'.charCodeAt(0));
  });
});

describe('parseManifest', () => {
  it('names every malformed member', () => {
    const m = signManifest(unsigned, privateKey) as unknown as Record<string, unknown>;
    const bad = { ...m, record_count: -1, tenant_id: '', extra: 1, parts: [{ key: 'a/part-0001.jsonl', size_bytes: 1, sha256: 'ABC', records: 1 }, { key: 'a/part-0001.jsonl', size_bytes: 1, sha256: 'a'.repeat(64), records: 1 }], query: { ...(m['query'] as object), format: 'xml' } };
    const r = parseManifest(Buffer.from(JSON.stringify(bad)));
    expect(r.ok).toBe(false);
    const errors = r.ok ? [] : r.errors;
    expect(errors).toEqual(expect.arrayContaining([
      expect.stringMatching(/^record_count: expected a non-negative integer/),
      expect.stringMatching(/^tenant_id: expected a string/),
      expect.stringMatching(/^extra: not a member/),
      expect.stringMatching(/^parts\[0\]\.sha256: expected a lowercase hex SHA-256/),
      expect.stringMatching(/^parts\[1\]\.key: .* listed twice/),
      expect.stringMatching(/^query\.format: expected "jsonl" or "csv"/),
    ]));
    expect(errors).toHaveLength(6);
    expect(parseManifest(Buffer.from('{"version":2}'))).toEqual({ ok: false, errors: ['version: expected 1, got 2'] });
    expect(parseManifest(Buffer.from('not json')).ok).toBe(false);
  });
});

describe('RecordCounter', () => {
  const count = (text: string, quoted: boolean, chunk = text.length || 1): number => {
    const c = new RecordCounter(quoted);
    const b = Buffer.from(text);
    for (let i = 0; i < b.length; i += chunk) c.push(b.subarray(i, i + chunk));
    return c.end();
  };
  const csv = 'a,b,c\r\n1,"two\r\nlines, and a comma",3\r\n"say ""hi""\n",x,"\r\n"\r\n4,5,6';

  it('counts RFC 4180 records across quoted line breaks and escaped quotes, whatever the chunking', () => {
    for (const chunk of [1, 2, 3, 7, csv.length]) expect(count(csv, true, chunk)).toBe(4);
    // Unquoted counting would see every line break.
    expect(count(csv, false)).toBe(7);
  });

  it('counts JSONL lines, skipping blank ones, with or without a final newline', () => {
    expect(count('{"a":1}\n{"a":2}\n', false)).toBe(2);
    expect(count('{"a":1}\n\n{"a":2}', false)).toBe(2);
    expect(count('{"a":1}\r\n\r\n{"a":2}\r\n', false, 1)).toBe(2);
    expect(count('', false)).toBe(0);
  });

  it('refuses a text that ends inside a quoted field', () => {
    expect(() => count('a,b\r\n"open,1\r\n', true)).toThrow(/inside a quoted field/);
  });
});
