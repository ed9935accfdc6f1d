// The sync pull end to end on the embedded deployment: changes ingested through /v1/ingest/changes
// (with share_id) come back from /api/v1/sync/changes exactly once each, in log order, while a
// second loop keeps ingesting during the pull.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { ingest } from './support/api-client.ts';
import { startEmbedded, until, type Topology } from './support/topologies.ts';
import { changeLogExample } from './fixtures/seed-examples.ts';

interface SyncPage {
  changes: { id: string }[];
  cursor: string;
  has_more: boolean;
}

let topo: Topology;
beforeAll(async () => { topo = await startEmbedded(); });
afterAll(async () => { await topo?.stop(); });

async function pull(token: string, query: Record<string, string>): Promise<SyncPage> {
  const res = await fetch(`${topo.apiUrl()}/api/v1/sync/changes?${new URLSearchParams(query)}`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await res.json()) as SyncPage;
  if (res.status !== 200) throw new Error(`sync pull → ${res.status} ${JSON.stringify(body)}`);
  return body;
}

describe('sync pull through the embedded pipeline', () => {
  it("returns an ingested change exactly as the document's example", async () => {
    const tenant = `tnt_sync_${randomBytes(4).toString('hex')}`;
    const write = await topo.token(tenant, 'audit:write');
    const res = await ingest(topo.ingestUrl(), write, 'changes', [{ ...changeLogExample, share_id: 'shr_01J3K' }]);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const sync = await topo.token(tenant, 'drive:sync', { shares: ['shr_01J3K'] });
    const page = await until(async () => { const p = await pull(sync, {}); return p.changes.length > 0 ? p : undefined; }, 30_000, 'the change');
    expect(page.changes).toEqual([{ ...changeLogExample, changed_at: '2026-04-23T10:15:02.000Z' }]);
  });

  it('sees every change exactly once, in log order, while ingest keeps going', async () => {
    const run = randomBytes(4).toString('hex');
    const tenant = `tnt_sync_${run}`;
    const write = await topo.token(tenant, 'audit:write');
    const sync = await topo.token(tenant, 'drive:sync', { shares: ['shr_a', 'shr_b'] });
    const shares = ['shr_a', 'shr_b', 'shr_c'];
    const expected: string[] = [];
    let ingesting = true;

    // One producer, one request at a time: each 202 comes once the batch is durable, so the log
    // (and seq) order is the order of `expected`.
    const producer = (async () => {
      try {
        for (let b = 0, n = 0; b < 40; b++) {
          const batch = Array.from({ length: 1 + (b % 7) }, () => {
            const i = n++;
            return { ...changeLogExample, id: `chg_${run}_${i}`, resource_id: `fil_${i}`, change_type: 'created', share_id: shares[i % 3] };
          });
          const res = await ingest(topo.ingestUrl(), write, 'changes', batch);
          if (res.status !== 202) throw new Error(`ingest → ${res.status} ${JSON.stringify(res.body)}`);
          expected.push(...batch.filter((c) => c.share_id !== 'shr_c').map((c) => c.id));
          await new Promise((r) => setTimeout(r, b % 3 === 0 ? 20 : 0));
        }
      } finally {
        ingesting = false;
      }
    })();

    const seen: string[] = [];
    let cursor: string | undefined;
    let pagesDuringIngest = 0;
    const deadline = Date.now() + 90_000;
    for (;;) {
      const wasIngesting = ingesting;
      const page = await pull(sync, { limit: '7', ...(cursor ? { cursor } : {}) });
      seen.push(...page.changes.map((c) => c.id));
      expect(typeof page.cursor).toBe('string');
      cursor = page.cursor;
      if (wasIngesting && page.changes.length > 0) pagesDuringIngest++;
      if (!wasIngesting && !page.has_more && seen.length >= expected.length) break;
      if (Date.now() > deadline) break;
      if (!page.has_more) await new Promise((r) => setTimeout(r, 25));
    }
    await producer;
    expect(expected.length).toBe(104);
    expect(pagesDuringIngest).toBeGreaterThan(1);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expected);
    // And from the end: nothing more, the same cursor back.
    expect(await pull(sync, { cursor: cursor! })).toEqual({ changes: [], cursor, has_more: false });
  });
});
