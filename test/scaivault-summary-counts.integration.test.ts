// SummaryCounts (api/scaivault/summary-counts.ts) on both stores: counts kept and brought up to
// date by difference equal counts made afresh, whatever moved — new events (back-dated, dated
// ahead, internal), the window sliding either way, the high-water — and with fewer store calls.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SummaryCounts } from '../api/scaivault/summary-counts.ts';
import type { QueryParams, Store } from '../infra/store/store.ts';
import { newTenant, startStores, type AuditRow, type HarnessStore, type Stores } from './support/read-api-harness.ts';

let stores: Stores;
beforeAll(async () => { stores = await startStores(); }, 120_000);
afterAll(async () => { await stores?.stop(); });

const DAY = 86_400_000;
const T0 = Date.parse('2026-03-01T00:00:00.000Z');
const at = (ms: number) => new Date(ms).toISOString();

/** The real store, with its query calls counted. */
function counted(store: Store): Store & { calls: number } {
  const c = Object.create(store) as Store & { calls: number };
  c.calls = 0;
  c.query = <T>(sql: string, params?: QueryParams) => { c.calls++; return store.query<T>(sql, params); };
  return c;
}

/** Deterministic events spread over [from, from + days), some internal, some without identity or path. */
function events(n: number, seed: number, from: number, days: number): Partial<AuditRow>[] {
  let x = seed;
  const r = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
  return Array.from({ length: n }, () => ({
    event_time: at(from + Math.floor(r() * days * DAY)),
    action: ['read', 'write', 'list', 'rotate', 'delete'][Math.floor(r() * 5)]!,
    success: r() > 0.2,
    actor_id: r() < 0.1 ? '' : `id${Math.floor(r() * 15)}`,
    resource_path: r() < 0.1 ? '' : `s/${Math.floor(r() * 25)}`,
    source_format: r() < 0.1 ? 'internal' : 'scaivault',
  }));
}

describe.each(['chdb', 'http'] as const)('summary counts on %s', (name) => {
  const h = (): HarnessStore => stores.list.find((s) => s.name === name)!;

  it('equals a fresh count after new events and windows sliding forward, backward, growing and shrinking', async () => {
    const tenant = newTenant();
    const store = counted(h().store);
    const kept = new SummaryCounts(store);
    const fresh = (f: number, t: number, hw: number) => new SummaryCounts(h().store).summary(tenant, at(f), at(t), hw, 10);
    let hw = 0;
    const insert = async (rows: Partial<AuditRow>[]) => { hw = Math.max(hw, ...(await h().rows.audit(tenant, rows)).map((r) => r.seq)); };
    const check = async (f: number, t: number) => {
      const got = await kept.summary(tenant, at(f), at(t), hw, 10);
      expect(got).toEqual(await fresh(f, t, hw));
      return got;
    };

    await insert(events(300, 1, T0, 10));
    const first = await check(T0 + DAY, T0 + 8 * DAY);
    expect(first.total_events).toBeGreaterThan(150);
    expect(kept.stats).toEqual({ fresh: 1, delta: 0, unchanged: 0 });

    // New events: back-dated into the window, ahead of it, in the slices about to be gained or lost.
    await insert([...events(40, 2, T0, 10), ...events(10, 3, T0 + 8 * DAY, 0.5), ...events(10, 4, T0 + DAY, 0.5)]);
    await check(T0 + 1.5 * DAY, T0 + 8.5 * DAY); // slid forward
    await check(T0 + 1.2 * DAY, T0 + 8.2 * DAY); // slid back
    await insert(events(20, 5, T0 + 7 * DAY, 2));
    await check(T0 + 0.5 * DAY, T0 + 7.5 * DAY); // slid back, over new events
    expect(kept.stats).toEqual({ fresh: 1, delta: 3, unchanged: 0 });

    // Nothing moved: answered from memory, no store call.
    const calls = store.calls;
    await check(T0 + 0.5 * DAY, T0 + 7.5 * DAY);
    expect(store.calls).toBe(calls);
    expect(kept.stats.unchanged).toBe(1);

    // Grown to 10 days: still a difference. A window that far from every kept one counts afresh,
    // and is kept beside it: each is then answered from its own.
    await check(T0, T0 + 10 * DAY);
    expect(kept.stats).toEqual({ fresh: 1, delta: 4, unchanged: 1 });
    await check(T0 + 5 * DAY, T0 + 12 * DAY);
    expect(kept.stats).toEqual({ fresh: 2, delta: 4, unchanged: 1 });
    await check(T0, T0 + 10 * DAY);
    await check(T0 + 5 * DAY, T0 + 12 * DAY);
    expect(kept.stats).toEqual({ fresh: 2, delta: 4, unchanged: 3 });
  });

  it('counts nothing past the high-water mark until it moves, then exactly those events', async () => {
    const tenant = newTenant();
    const kept = new SummaryCounts(h().store);
    const rows = await h().rows.audit(tenant, events(50, 7, T0, 2));
    const hw = rows[rows.length - 1]!.seq;
    const before = await kept.summary(tenant, at(T0), at(T0 + 2 * DAY), hw, 10);
    const more = await h().rows.audit(tenant, events(30, 8, T0, 2));
    expect(await kept.summary(tenant, at(T0), at(T0 + 2 * DAY), hw, 10)).toEqual(before);
    const after = await kept.summary(tenant, at(T0), at(T0 + 2 * DAY), more[more.length - 1]!.seq, 10);
    const added = more.filter((r) => r.source_format !== 'internal').length;
    expect(after.total_events).toBe(before.total_events + added);
    expect(after).toEqual(await new SummaryCounts(h().store).summary(tenant, at(T0), at(T0 + 2 * DAY), more[more.length - 1]!.seq, 10));
  });

  it('answers a tenant with more keys than an entry may hold exactly, without keeping it; evicts past the key budget', async () => {
    const tenant = newTenant();
    const rows = await h().rows.audit(tenant, [
      ...Array.from({ length: 6 }, (_, i) => ({ actor_id: `a${i}`, resource_path: 'p', event_time: at(T0) })),
      { actor_id: 'a0', resource_path: 'p', event_time: at(T0) },
      { actor_id: 'a3', resource_path: 'q', event_time: at(T0) },
      { actor_id: 'a3', resource_path: 'q', event_time: at(T0) },
    ]);
    const hw = rows[rows.length - 1]!.seq;
    const small = new SummaryCounts(h().store, { maxKeysPerEntry: 3 });
    for (let i = 0; i < 2; i++) {
      const s = await small.summary(tenant, at(T0), at(T0 + DAY), hw, 2);
      expect(s).toMatchObject({ total_events: 9, top_identities: [{ identity_id: 'a3', count: 3 }, { identity_id: 'a0', count: 2 }], top_resources: [{ path: 'p', count: 7 }, { path: 'q', count: 2 }] });
    }
    expect(small.stats.fresh).toBe(2);

    const other = newTenant();
    const theirs = await h().rows.audit(other, [{ actor_id: 'b', event_time: at(T0) }]);
    const budget = new SummaryCounts(h().store, { maxKeys: 11 });
    await budget.summary(tenant, at(T0), at(T0 + DAY), hw, 10); // 6 identities + 2 paths + 1 action
    await budget.summary(other, at(T0), at(T0 + DAY), theirs[0]!.seq, 10); // 3 more: over 11, the first goes
    await budget.summary(other, at(T0), at(T0 + DAY), theirs[0]!.seq, 10);
    await budget.summary(tenant, at(T0), at(T0 + DAY), hw, 10);
    expect(budget.stats).toEqual({ fresh: 3, delta: 0, unchanged: 1 });
  });

  it('serves concurrent requests for one window from one fresh count', async () => {
    const tenant = newTenant();
    const rows = await h().rows.audit(tenant, events(80, 9, T0, 3));
    const hw = rows[rows.length - 1]!.seq;
    const kept = new SummaryCounts(h().store);
    const all = await Promise.all([0, 1, 2, 3].map((i) => kept.summary(tenant, at(T0 + i * 1000), at(T0 + 2 * DAY + i * 1000), hw, 10)));
    expect(kept.stats).toMatchObject({ fresh: 1 });
    for (const [i, s] of all.entries()) expect(s).toEqual(await new SummaryCounts(h().store).summary(tenant, at(T0 + i * 1000), at(T0 + 2 * DAY + i * 1000), hw, 10));
  });
});
