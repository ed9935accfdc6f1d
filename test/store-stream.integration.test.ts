// Store.stream (infra/store/): a SELECT's JSONEachRow bytes in chunks, on both stores — the rows
// exactly as query() returns them, errors as the catalogue's, cancellation by signal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTenant, startStores, type Stores } from './support/read-api-harness.ts';

let stores: Stores;
beforeAll(async () => { stores = await startStores(); }, 120_000);
afterAll(async () => { await stores?.stop(); });

async function collect(chunks: AsyncIterable<Buffer>): Promise<{ rows: Record<string, unknown>[]; chunks: number }> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(c);
  const text = Buffer.concat(parts).toString('utf8');
  return { rows: text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>), chunks: parts.length };
}

describe.each(['chdb', 'http'] as const)('Store.stream on %s', (name) => {
  it('yields the same rows as query(), in chunks', async () => {
    const h = stores.list.find((s) => s.name === name)!;
    const t = newTenant();
    await h.rows.audit(t, Array.from({ length: 3000 }, (_, i) => ({ details: JSON.stringify({ i, pad: 'y'.repeat(500) }) })));
    const sql = 'SELECT * FROM audit_events WHERE tenant_id = {t:String} ORDER BY seq';
    const streamed = await collect(h.store.stream(sql, { t }));
    const queried = await h.store.query(sql, { t });
    expect(streamed.rows).toEqual(queried);
    expect(streamed.rows).toHaveLength(3000);
    expect(streamed.chunks).toBeGreaterThan(1);
  });

  it('fails a bad query with the catalogue error, and stops when aborted', async () => {
    const h = stores.list.find((s) => s.name === name)!;
    await expect(collect(h.store.stream('SELECT nope FROM audit_events'))).rejects.toMatchObject({ code: 'STORE_QUERY_FAILED' });
    const ac = new AbortController();
    ac.abort();
    await expect(collect(h.store.stream('SELECT * FROM numbers(10)', {}, { signal: ac.signal }))).rejects.toThrow();
  });
});
