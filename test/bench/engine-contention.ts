// bench:api's engine-level look at "reads while ingest runs" (run in ./api-store-child.ts, on the
// preloaded data, before the system starts): a route's own statements read in closed loops while
// sink-sized inserts arrive at the ingest rate — with no inserts, with inserts handed straight to
// chDB, and with inserts and reads through ./engine-queue.ts (reads ahead of waiting writes, the
// candidate design for issue 9 item 8). No HTTP, no JSON, no main-thread work besides the calls: what the engine and its
// call order alone do to a read. The inserts go to copies of the tables (dropped after), so the
// data the system then starts on is untouched.
import { Session } from 'chdb';
import { EngineQueue } from './engine-queue.ts';
import { chdbSettingArgs } from '../../infra/store/store-settings.ts';
import type { QueryParams } from '../../infra/store/store.ts';
import { historyChunks, type HistoryPlan } from './api-history.ts';

export interface EngineInput {
  dir: string;
  statements: { sql: string; params: QueryParams }[];
  /** rows per insert and how often (the sink at the ingest rate: 250 ms batches) */
  auditRows: number;
  changeRows: number;
  intervalMs: number;
  clients: number[];
  seconds: number;
  plan: HistoryPlan;
}

export interface EngineWindow {
  variant: 'no inserts' | 'inserts, direct' | 'inserts, EngineQueue';
  clients: number;
  reads: number;
  readsPerSec: number;
  p50: number;
  p99: number;
  inserts: number;
  insertRowsPerSec: number;
  insertP50: number;
  insertMax: number;
}

const q = (xs: number[], p: number) => Math.round((xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? 0) * 10) / 10;

export async function engineContention(input: EngineInput): Promise<EngineWindow[]> {
  const s = new Session(input.dir, { connectionArgs: chdbSettingArgs() });
  const run = (sql: string) => s.queryBindAsync(sql, {}, { format: 'TabSeparated' });
  try {
    for (const t of ['audit_events', 'change_log']) {
      await run(`DROP TABLE IF EXISTS ${t}_probe`);
      await run(`CREATE TABLE ${t}_probe AS ${t}`);
    }
    // Rows of the history's shape, in sink-sized batches (built before any timing).
    const batches = (table: 'audit_events' | 'change_log', rows: number) => {
      const total = rows * 40; // cycled: the probe tables may hold the same rows many times
      const plan = { ...input.plan, audit: input.plan.audit.map(() => 0), changes: input.plan.changes.map(() => 0) };
      (table === 'audit_events' ? plan.audit : plan.changes)[0] = total;
      return [...historyChunks({ ...plan, seed: plan.seed + 1 }, table, rows)];
    };
    const audit = batches('audit_events', input.auditRows);
    const changes = batches('change_log', input.changeRows);
    const direct = {
      read: async () => { for (const st of input.statements) await s.queryBindAsync(st.sql, st.params, { format: 'JSONEachRow' }); },
      write: (table: string, b: Buffer) => s.insert({ table, values: b, format: 'JSONEachRow' }).then(() => undefined),
    };
    const queue = new EngineQueue(100);
    const queued = {
      // As ChdbStore does: each statement is one call through the queue.
      read: async () => { for (const st of input.statements) await queue.submit('read', () => s.queryBindAsync(st.sql, st.params, { format: 'JSONEachRow' })); },
      write: (table: string, b: Buffer) => queue.submit('write', () => direct.write(table, b)),
    };
    const out: EngineWindow[] = [];
    let next = 0;
    for (const clients of input.clients) {
      for (const variant of ['no inserts', 'inserts, direct', 'inserts, EngineQueue'] as const) {
        const api = variant === 'inserts, EngineQueue' ? queued : direct;
        let stop = false;
        const insertMs: number[] = [];
        let rows = 0;
        const t0 = performance.now();
        // Two partitions' sinks (audit events, changes), each one insert at a time, paced.
        const writer = (table: string, list: Buffer[], perInsert: number) => (async () => {
          while (variant !== 'no inserts' && !stop) {
            const t = performance.now();
            await api.write(table, list[next++ % list.length]!);
            insertMs.push(performance.now() - t);
            rows += perInsert;
            const wait = input.intervalMs - (performance.now() - t);
            if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          }
        })();
        const writers = [writer('audit_events_probe', audit, input.auditRows), writer('change_log_probe', changes, input.changeRows)];
        const lat: number[] = [];
        const end = performance.now() + input.seconds * 1000;
        await Promise.all(Array.from({ length: clients }, async () => {
          while (performance.now() < end) {
            const t = performance.now();
            await api.read();
            lat.push(performance.now() - t);
          }
        }));
        stop = true;
        await Promise.all(writers);
        const secs = (performance.now() - t0) / 1000;
        lat.sort((a, b) => a - b);
        insertMs.sort((a, b) => a - b);
        out.push({ variant, clients, reads: lat.length, readsPerSec: lat.length / input.seconds, p50: q(lat, 0.5), p99: q(lat, 0.99), inserts: insertMs.length, insertRowsPerSec: rows / secs, insertP50: q(insertMs, 0.5), insertMax: q(insertMs, 1) });
      }
    }
    return out;
  } finally {
    for (const t of ['audit_events', 'change_log']) await run(`DROP TABLE IF EXISTS ${t}_probe`).catch(() => undefined);
    s.close();
  }
}
