// Raw-insert timing and "what did the sink really do" queries, shared by the chDB child (embedded
// store) and the benchmark's ClickHouse-over-HTTP ceiling (distributed store).
import type { Store } from '../../infra/store/store.ts';
import { cpuBetween, machineCpu, sampleProcess } from './proc-stats.ts';

export interface InsertRun {
  rows: number;
  bytes: number;
  inserts: number;
  seconds: number;
  rowsPerSec: number;
  cores: number;
  /** CPU of the engine's process by thread group (cores) */
  threads: { group: string; cores: number }[];
  /** cores busy on the machine outside the engine's and the caller's processes (someone else's load) */
  otherCores: number;
}

/** Inserts the batches one after another (as the sink does); `cpuPid` is the process whose CPU use is reported. */
export async function timeInserts(store: Store, batches: Buffer[], cpuPid = process.pid): Promise<InsertRun> {
  const rows = batches.reduce((n, b) => n + countLines(b), 0);
  const bytes = batches.reduce((n, b) => n + b.length, 0);
  const a = sampleProcess(cpuPid, 'engine');
  const self = cpuPid === process.pid ? null : sampleProcess(process.pid, 'caller');
  const machine = machineCpu();
  const t0 = performance.now();
  for (const b of batches) await store.insertJsonEachRow('audit_events', b);
  const seconds = (performance.now() - t0) / 1000;
  const m = machine.end();
  const b = sampleProcess(cpuPid, 'engine');
  const self2 = self ? sampleProcess(process.pid, 'caller') : null;
  const use = a && b ? cpuBetween(a, b) : null;
  const callerCores = self && self2 ? cpuBetween(self, self2).cores : 0;
  return {
    rows, bytes, inserts: batches.length, seconds, rowsPerSec: rows / seconds, cores: use?.cores ?? 0,
    threads: (use?.byThread ?? []).slice(0, 6).map((t) => ({ group: t.group, cores: Math.round(t.cores * 100) / 100 })),
    otherCores: Math.max(0, Math.round((m.busyCores - (use?.cores ?? 0) - callerCores) * 100) / 100),
  };
}

export function countLines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++;
  return n;
}

export async function batchStats(store: Store, tenants: string[]): Promise<Record<string, unknown>> {
  const [tot] = await store.query<{ rows: number; batches: number; span_s: number }>(
    `SELECT count() AS rows, uniqExact(received_at) AS batches,
            dateDiff('millisecond', min(received_at), max(received_at)) / 1000 AS span_s
     FROM audit_events WHERE tenant_id IN {tenants:Array(String)}`,
    { tenants },
  );
  const [sizes] = await store.query<{ min: number; p50: number; avg: number; max: number }>(
    `SELECT min(c) AS min, quantileExact(0.5)(c) AS p50, avg(c) AS avg, max(c) AS max FROM
       (SELECT received_at, count() AS c FROM audit_events WHERE tenant_id IN {tenants:Array(String)} GROUP BY received_at)`,
    { tenants },
  );
  const perTenant = await store.query<{ tenant_id: string; n: number; max_seq: number; ids: number; min_seq: number }>(
    `SELECT tenant_id, count() AS n, min(seq) AS min_seq, max(seq) AS max_seq, uniqExact(id) AS ids FROM audit_events
     WHERE tenant_id IN {tenants:Array(String)} GROUP BY tenant_id ORDER BY tenant_id`,
    { tenants },
  );
  const contiguous = perTenant.every((t) => Number(t.n) === Number(t.max_seq) && Number(t.ids) === Number(t.n) && Number(t.min_seq) === 1);
  return { ...tot, batchSizes: sizes, perTenant, contiguous };
}

