// Child process of the ingest benchmark (chDB allows one data directory per process, and the
// auditflow child holds its own). Input: one JSON document in BENCH_CHILD. Output: one JSON line
// on stdout, prefixed with "RESULT ".
//
//  mode "ceiling": the raw chDB insert ceiling. Creates audit_events with the project's migrations
//    (ChdbStore + migrate), rebuilds the benchmark's events deterministically, turns them into the
//    very rows the store sink would insert (same log form, seq, received_at, position), pre-built
//    in memory as JSONEachRow buffers of `batchRows` rows, then times ChdbStore.insertJsonEachRow
//    over all of them, `runs` times (TRUNCATE between runs, one untimed warm-up insert first).
//  mode "inspect": opens a stopped embedded deployment's data directory and reports what the
//    sink really did: rows, batches (one received_at per insert), batch sizes, per-tenant
//    contiguity (count = max(seq) = distinct ids).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ChdbStore } from '../../infra/store/chdb-store.ts';
import { migrate } from '../../infra/store/migrations.ts';
import { digest, generateEvents, logForms, sinkBatches, type LoadOptions } from './events.ts';
import { batchStats, timeInserts, type InsertRun } from './store-bench.ts';

interface CeilingInput {
  mode: 'ceiling';
  load: LoadOptions;
  partitions: number;
  batchRows: number[];
  runs: number;
}

interface InspectInput {
  mode: 'inspect';
  dataDir: string;
  tenants: string[];
}

async function ceiling(input: CeilingInput): Promise<unknown> {
  const t0 = performance.now();
  const events = generateEvents(input.load);
  const bodies = logForms(events);
  const dig = digest(bodies);
  const dir = mkdtempSync(path.join(tmpdir(), 'af-bench-chdb-'));
  const store = new ChdbStore(path.join(dir, 'clickhouse'));
  try {
    await migrate(store);
    const [ver] = await store.query<{ v: string }>('SELECT version() AS v');
    const warm = sinkBatches(events.slice(0, 1000), bodies.slice(0, 1000), input.partitions, 1000);
    const results: Record<string, InsertRun[]> = {};
    const buildSeconds = (performance.now() - t0) / 1000;
    for (const rowsPerInsert of input.batchRows) {
      const batches = sinkBatches(events, bodies, input.partitions, rowsPerInsert);
      const runs: InsertRun[] = [];
      for (let r = 0; r < input.runs; r++) {
        await store.command('TRUNCATE TABLE audit_events');
        for (const w of warm) await store.insertJsonEachRow('audit_events', w);
        await store.command('TRUNCATE TABLE audit_events');
        runs.push(await timeInserts(store, batches));
      }
      results[String(rowsPerInsert)] = runs;
    }
    return { digest: dig, engineVersion: ver?.v, buildSeconds, results };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function inspect(input: InspectInput): Promise<unknown> {
  const store = new ChdbStore(path.join(input.dataDir, 'clickhouse'));
  try {
    return await batchStats(store, input.tenants);
  } finally {
    await store.close();
  }
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname);
if (isMain) {
  const input = JSON.parse(process.env['BENCH_CHILD'] ?? '{}') as CeilingInput | InspectInput;
  (input.mode === 'ceiling' ? ceiling(input) : inspect(input)).then(
    (r) => {
      process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
      process.exit(0);
    },
    (e: unknown) => {
      process.stderr.write(`chdb-child failed: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
