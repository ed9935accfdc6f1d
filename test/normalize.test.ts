import { test } from 'vitest';
import assert from 'node:assert/strict';
import { detectAuditShape, normalizeAudit, normalizeChange } from '../schemas/normalize.ts';
import { parseInstant, toUtcIso } from '../schemas/instant.ts';
import { changeLogExample, scaidriveAuditExample, scaivaultLogExample } from './fixtures/seed-examples.ts';

const tenant = { tenantId: 'tnt_01J3A' };

test('the ScaiDrive audit example is accepted as it stands and normalised', () => {
  const n = normalizeAudit(scaidriveAuditExample, tenant);
  assert.ok(n.ok, JSON.stringify(!n.ok && n.errors));
  const e = n.value;
  assert.equal(e.id, 'aud_01J3L');
  assert.equal(e.tenant_id, 'tnt_01J3A');
  assert.equal(e.event_time, '2026-04-23T10:15:05.000Z');
  assert.equal(e.actor_id, 'usr_01J3N');
  assert.equal(e.actor_type, 'user');
  assert.equal(e.actor_email, 'alice@example.com');
  assert.equal(e.service_account, '3seej56cg90454l845dt93rfilywskbw');
  assert.equal(e.source_ip, '203.0.113.7');
  assert.equal(e.success, true);
  assert.deepEqual(JSON.parse(e.details), { version: 1, size: 22300000 });
  assert.equal(e.source_format, 'scaidrive');
});

test('the ScaiVault log example is accepted as it stands and normalised', () => {
  const n = normalizeAudit(scaivaultLogExample, tenant);
  assert.ok(n.ok, JSON.stringify(!n.ok && n.errors));
  assert.equal(n.value.id, 'log_abc');
  assert.equal(n.value.actor_type, 'service_account');
  assert.equal(n.value.actor_id, 'sa:reporting');
  assert.equal(n.value.resource_path, 'integrations/salesforce/oauth');
  assert.equal(n.value.resource_type, 'secret');
  assert.equal(n.value.duration_ms, 12);
  assert.equal(n.value.request_id, 'req_xyz');
  assert.equal(n.value.category, 'security');
  assert.equal(n.value.source_format, 'scaivault');
});

test('the ChangeLog example is accepted as it stands', () => {
  const n = normalizeChange(changeLogExample, tenant);
  assert.ok(n.ok, JSON.stringify(!n.ok && n.errors));
  assert.equal(n.value.changed_at, '2026-04-23T10:15:02.000Z');
  assert.deepEqual(JSON.parse(n.value.metadata), { size: 12345, mime_type: 'application/pdf' });
  assert.equal(n.value.version_id, 'ver_01J3P');
});

test('the canonical nested shape is accepted and ids are assigned where absent', () => {
  const n = normalizeAudit({
    event_time: '2026-04-23T12:00:00.123+02:00', event_type: 'auth.login', action: 'login', category: 'authentication',
    actor: { id: 'usr_1', type: 'user', email: 'a@b.c' }, resource: { type: 'session', path: '/x' }, success: false,
  }, tenant);
  assert.ok(n.ok);
  assert.match(n.value.id, /^aud_[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.equal(n.value.event_time, '2026-04-23T10:00:00.123Z');
  assert.equal(n.value.outcome, 'failure');
  assert.equal(n.value.success, false);
  const c = normalizeChange({ ...changeLogExample, id: undefined }, tenant);
  assert.ok(c.ok);
  assert.match(c.value.id, /^chg_/);
});

test('shapes are told apart by their own keys', () => {
  assert.equal(detectAuditShape(scaidriveAuditExample), 'scaidrive');
  assert.equal(detectAuditShape(scaivaultLogExample), 'scaivault');
  assert.equal(detectAuditShape({ actor: {} }), 'canonical');
  assert.equal(detectAuditShape({ source_format: 'canonical' }), 'log');
});

test('invalid events report every problem with its index and path', () => {
  const n = normalizeAudit({ ...scaidriveAuditExample, category: 'nope', event_time: 'yesterday', evnt: 1 }, tenant, 7);
  assert.ok(!n.ok);
  const paths = n.errors.map((e) => e.path).sort();
  assert.deepEqual(paths, ['/category', '/event_time', '/evnt']);
  assert.ok(n.errors.every((e) => e.index === 7));
  const missing = normalizeChange({ resource_type: 'file' }, tenant, 0);
  assert.ok(!missing.ok);
  assert.ok(missing.errors.some((e) => e.path === '/changed_at'));
});

test("an event naming another tenant is refused", () => {
  const n = normalizeAudit(scaidriveAuditExample, { tenantId: 'tnt_other' }, 0);
  assert.ok(!n.ok);
  assert.deepEqual(n.errors.map((e) => e.path), ['/tenant_id']);
});

test('instants are RFC 3339 dates that exist, within the store range, normalised to UTC milliseconds', () => {
  const at = (t: string) => normalizeAudit({ ...scaidriveAuditExample, event_time: t }, tenant, 0);
  const accepted: [string, string][] = [
    ['2026-11-23T08:00:00Z', '2026-11-23T08:00:00.000Z'],
    ['2026-11-23T08:00:00.123456+02:00', '2026-11-23T06:00:00.123Z'],
    ['2024-02-29t23:59:59.5z', '2024-02-29T23:59:59.500Z'],
    ['2026-11-23 08:00:00-05:30', '2026-11-23T13:30:00.000Z'],
  ];
  for (const [input, stored] of accepted) {
    const n = at(input);
    assert.ok(n.ok, `${input} should be accepted`);
    assert.equal(n.value.event_time, stored);
  }
  // The engine's Date.parse accepts all of these; a compliance record must not.
  for (const input of ['2025-02-29T00:00:00Z', '2025-04-31T00:00:00Z', '2026-11-23T24:00:00Z', '2026-11-23T08:60:00Z',
    '2026-11-23T08:00:00', 'Dec 1 2025', '2026-11-23', '1899-12-31T23:59:59Z', '2300-01-01T00:00:00Z', '2026-11-23T08:00:00+24:00']) {
    const n = at(input);
    assert.ok(!n.ok, `${input} should be refused`);
    assert.deepEqual(n.errors.map((e) => e.path), ['/event_time'], input);
  }
});

test('the instant parser agrees with a regular expression plus Date.parse on 60,000 generated strings', () => {
  // The reference: the strict grammar as a regular expression, range checks, then the engine's parse.
  const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;
  const reference = (s: string): number | null => {
    const m = RFC3339.exec(s);
    if (!m) return null;
    const [y, mo, d, h, mi, se] = [1, 2, 3, 4, 5, 6].map((k) => Number(m[k]));
    const leap = y! % 4 === 0 && (y! % 100 !== 0 || y! % 400 === 0);
    const dim = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo! - 1];
    if (y! < 1900 || y! > 2299 || dim === undefined || d! < 1 || d! > dim || h! > 23 || mi! > 59 || se! > 59) return null;
    if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return null;
    const t = Date.parse(s.replace(' ', 'T').toUpperCase());
    return Number.isNaN(t) ? null : t;
  };
  let seed = 42;
  const rnd = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n; };
  const pad = (v: number, w: number) => String(v).padStart(w, '0');
  const pick = <T,>(xs: T[]) => xs[rnd(xs.length)]!;
  let valid = 0;
  for (let k = 0; k < 60_000; k++) {
    let s = `${pad(1890 + rnd(420), 4)}-${pad(rnd(14), 2)}-${pad(rnd(33), 2)}${pick(['T', 't', ' ', 'x'])}${pad(rnd(26), 2)}:${pad(rnd(62), 2)}:${pad(rnd(62), 2)}`;
    s += pick(['', '', `.${pad(rnd(1000), 3)}`, `.${String(rnd(10))}`, `.${pad(rnd(1e9), 9)}`, `.${pad(rnd(1e9), 10)}`, '.']);
    s += pick(['Z', 'Z', 'z', '', `+${pad(rnd(26), 2)}:${pad(rnd(62), 2)}`, `-${pad(rnd(26), 2)}:${pad(rnd(62), 2)}`, '+0100', 'ZZ']);
    if (rnd(20) === 0) { const i = rnd(s.length); s = s.slice(0, i) + pick(['', 'a', '1', '-', ' ']) + s.slice(i + 1); }
    const want = reference(s);
    assert.equal(parseInstant(s), want, s);
    if (want !== null) {
      valid++;
      assert.equal(toUtcIso(s), new Date(want).toISOString(), s);
    }
  }
  assert.ok(valid > 10_000, `enough valid instants were generated (${valid})`);
});

test('length limits count UTF-16 code units', () => {
  const ok = normalizeAudit({ ...scaidriveAuditExample, action_source: 'é'.repeat(64) }, tenant, 0);
  assert.ok(ok.ok);
  const astral = normalizeAudit({ ...scaidriveAuditExample, action_source: '🚀'.repeat(33) }, tenant, 0); // 66 units
  assert.ok(!astral.ok);
  assert.deepEqual(astral.errors.map((e) => e.path), ['/action_source']);
});
