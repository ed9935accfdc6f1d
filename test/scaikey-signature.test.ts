// X-ScaiKey-Signature: parsing, the HMAC over "<t>.<raw body>", constant-time comparison of every
// v1= entry (secret rotation), the tolerance either way, and a stable code for each refusal.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AuditflowError, type ErrorCode } from '../infra/errors.ts';
import { parseSignatureHeader, scaikeySignature, scaikeySignatureHeader, verifyScaikeySignature } from '../api/webhooks/scaikey-signature.ts';

const SECRET = 'whsec_test_0123456789abcdef';
const BODY = Buffer.from('{"id":"dlv_1","type":"user.created","created_at":"2026-03-01T10:00:00Z","data":{"id":"usr_1","email":"a@example.com","name":"A","tenant_id":"tnt_1"}}');
const NOW_S = 1_772_359_200; // 2026-03-01T10:00:00Z
const opts = (o: Partial<{ secret: string; toleranceSeconds: number; nowMs: number }> = {}) => ({ secret: SECRET, toleranceSeconds: 300, nowMs: NOW_S * 1000, ...o });

function refusal(f: () => unknown): { code: ErrorCode; status: number; message: string } {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(AuditflowError);
    const a = e as AuditflowError;
    return { code: a.code, status: a.status, message: a.message };
  }
  throw new Error('expected a refusal');
}

describe('scaikeySignature', () => {
  it('is the hex HMAC-SHA256 of "<t>.<raw body>" with the secret (as openssl computes it)', () => {
    const expected = createHmac('sha256', SECRET).update(Buffer.concat([Buffer.from(`${NOW_S}.`), BODY])).digest('hex');
    expect(scaikeySignature(SECRET, NOW_S, BODY)).toBe(expected);
    expect(scaikeySignatureHeader(SECRET, NOW_S, BODY)).toBe(`t=${NOW_S},v1=${expected}`);
    // A known vector: HMAC-SHA256("key", "1.x"), so the scheme itself is pinned, not only self-consistent.
    expect(scaikeySignature('key', 1, Buffer.from('x'))).toBe(createHmac('sha256', 'key').update('1.x').digest('hex'));
  });
});

describe('parseSignatureHeader', () => {
  it('reads t and every v1 entry, ignores other schemes and spaces', () => {
    const a = 'a'.repeat(64);
    const b = 'B'.repeat(64);
    const h = parseSignatureHeader(` t=${NOW_S} , v1=${a},v0=deadbeef, v1=${b}`);
    expect(h.timestamp).toBe(NOW_S);
    expect(h.timestampText).toBe(String(NOW_S));
    expect(h.signatures.map((s) => s.toString('hex'))).toEqual([a, b.toLowerCase()]);
  });

  it('missing → WEBHOOK_SIGNATURE_MISSING; malformed → WEBHOOK_SIGNATURE_INVALID, saying what is wrong', () => {
    expect(refusal(() => parseSignatureHeader(undefined))).toMatchObject({ code: 'WEBHOOK_SIGNATURE_MISSING', status: 401 });
    expect(refusal(() => parseSignatureHeader(''))).toMatchObject({ code: 'WEBHOOK_SIGNATURE_MISSING', status: 401 });
    const v1 = `v1=${'0'.repeat(64)}`;
    const cases: [string | string[], RegExp][] = [
      [[`t=1,${v1}`, `t=1,${v1}`], /once/],
      ['garbage', /malformed/],
      [`t=1,${v1},=x`, /malformed/],
      [v1, /no t=/],
      [`t=1`, /no v1=/],
      [`t=1,v0=${'0'.repeat(64)}`, /no v1=/],
      [`t=abc,${v1}`, /unix time/],
      [`t=-5,${v1}`, /unix time/],
      [`t=1.5,${v1}`, /unix time/],
      [`t=1,t=2,${v1}`, /more than one t=/],
      [`t=1,v1=${'0'.repeat(63)}`, /64 hex/],
      [`t=1,v1=${'g'.repeat(64)}`, /64 hex/],
    ];
    for (const [header, why] of cases) {
      const r = refusal(() => parseSignatureHeader(header));
      expect(r.code, String(header)).toBe('WEBHOOK_SIGNATURE_INVALID');
      expect(r.status).toBe(401);
      expect(r.message, String(header)).toMatch(why);
    }
  });
});

describe('verifyScaikeySignature', () => {
  const good = scaikeySignatureHeader(SECRET, NOW_S, BODY);

  it('accepts a valid signature, and returns the parsed header', () => {
    expect(verifyScaikeySignature(good, BODY, opts()).timestamp).toBe(NOW_S);
  });

  it('refuses another secret, a changed body, or a signature over another timestamp', () => {
    for (const [header, body] of [
      [scaikeySignatureHeader('another-secret-entirely', NOW_S, BODY), BODY],
      [good, Buffer.from(BODY.toString().replace('"name":"A"', '"name":"B"'))],
      [good, Buffer.concat([BODY, Buffer.from(' ')])],
      [`t=${NOW_S + 1},v1=${scaikeySignature(SECRET, NOW_S, BODY)}`, BODY],
    ] as const) {
      expect(refusal(() => verifyScaikeySignature(header, body, opts()))).toMatchObject({ code: 'WEBHOOK_SIGNATURE_INVALID', status: 401 });
    }
  });

  it('during a rotation, one matching v1 among several is enough, in any position', () => {
    const old = scaikeySignature('the-previous-secret-value', NOW_S, BODY);
    const cur = scaikeySignature(SECRET, NOW_S, BODY);
    expect(verifyScaikeySignature(`t=${NOW_S},v1=${old},v1=${cur}`, BODY, opts()).signatures).toHaveLength(2);
    expect(verifyScaikeySignature(`t=${NOW_S},v1=${cur},v1=${old}`, BODY, opts()).signatures).toHaveLength(2);
    expect(refusal(() => verifyScaikeySignature(`t=${NOW_S},v1=${old},v1=${old}`, BODY, opts())).code).toBe('WEBHOOK_SIGNATURE_INVALID');
  });

  it('signs the timestamp as sent: t=0…01 is not t=1', () => {
    const asSent = `0${NOW_S}`;
    const header = `t=${asSent},v1=${scaikeySignature(SECRET, asSent, BODY)}`;
    expect(verifyScaikeySignature(header, BODY, opts()).timestamp).toBe(NOW_S);
    expect(refusal(() => verifyScaikeySignature(`t=${asSent},v1=${scaikeySignature(SECRET, NOW_S, BODY)}`, BODY, opts())).code).toBe('WEBHOOK_SIGNATURE_INVALID');
  });

  it('a timestamp more than the tolerance off, either way, is WEBHOOK_TIMESTAMP_OUT_OF_RANGE; at the tolerance it passes', () => {
    for (const t of [NOW_S - 301, NOW_S + 301, NOW_S - 86_400, 0]) {
      const r = refusal(() => verifyScaikeySignature(scaikeySignatureHeader(SECRET, t, BODY), BODY, opts()));
      expect(r, String(t)).toMatchObject({ code: 'WEBHOOK_TIMESTAMP_OUT_OF_RANGE', status: 401 });
    }
    for (const t of [NOW_S - 300, NOW_S + 300, NOW_S - 1]) {
      expect(verifyScaikeySignature(scaikeySignatureHeader(SECRET, t, BODY), BODY, opts()).timestamp).toBe(t);
    }
    // The tolerance is the caller's.
    expect(refusal(() => verifyScaikeySignature(scaikeySignatureHeader(SECRET, NOW_S - 11, BODY), BODY, opts({ toleranceSeconds: 10 }))).code).toBe('WEBHOOK_TIMESTAMP_OUT_OF_RANGE');
  });

  it('checks the HMAC before the time: a stale header with a wrong signature is INVALID, not OUT_OF_RANGE', () => {
    const stale = NOW_S - 3600;
    expect(refusal(() => verifyScaikeySignature(scaikeySignatureHeader('another-secret-entirely', stale, BODY), BODY, opts())).code).toBe('WEBHOOK_SIGNATURE_INVALID');
  });
});
