// npm run bench:contention — what the raw chDB insert ceiling is worth when the same process
// also has to do something else. The embedded deployment is one process on a shared machine: the
// engine inserts while the JavaScript main thread accepts HTTP, validates and writes the log. On
// 2 cores the ceiling alone keeps ~1.3 busy, so how much the engine loses to a busy neighbour
// bounds what any pipeline can reach against it. See BENCHMARKS.md, "What 80% takes".
//
// Each condition runs in a child process of its own (a thread's nice value cannot be raised back
// without privileges, and chDB allows one data directory per process). In each, the ceiling's
// exact rows (test/bench/events.ts: the sink's JSONEachRow rows, 20,000 per insert) are inserted
// one insert after another, as the sink does, while the main thread does:
//   solo      nothing (the ceiling of bench:ingest)
//   spin      nothing useful: it only turns its event loop (setImmediate), as a busy server would
//   ingest    the least per-event work an ingest can do: JSON.parse of every line of the request
//             bodies, and a durable append of each body (writev + fdatasync), 4 requests in flight,
//             over and over until the inserts end (it runs ahead of the engine, as a fast ingest does)
// and each co-load once more at nice 10 / 19 (main thread only: the engine's threads keep 0).
// Printed: the insert rate beside the solo rate of the same run, and the co-load's own rate.
//
// Settings: BENCH_EVENTS (300000), BENCH_RUNS (3, median), SINK_BATCH_ROWS (20000).
import { spawn } from 'node:child_process';
import { fdatasync, mkdtempSync, openSync, closeSync, rmSync, writev } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ChdbStore } from '../../infra/store/chdb-store.ts';
import { migrate } from '../../infra/store/migrations.ts';
import { envInt, median } from './bench-settings.ts';
import { buildRequests, generateEvents, logForms, sinkBatches, type LoadOptions } from './events.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const EVENTS = envInt('BENCH_EVENTS', 300_000);
const RUNS = envInt('BENCH_RUNS', 3);
const BATCH_ROWS = envInt('SINK_BATCH_ROWS', 20_000);

type CoLoad = 'solo' | 'spin' | 'ingest';
interface Condition { coLoad: CoLoad; nice: number }
interface ChildResult { insertRates: number[]; coLoadRates: number[] }

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

// --- child: one condition --------------------------------------------------------------------
async function child(c: Condition): Promise<ChildResult> {
  const tenants = Array.from({ length: 8 }, (_, i) => `tnt_contention_${i}`);
  const load: LoadOptions = { events: EVENTS, tenants, batch: 1000, runTag: 'c' };
  const events = generateEvents(load);
  const batches = sinkBatches(events, logForms(events), 1, BATCH_ROWS);
  const bodies = buildRequests(events, load, 'ndjson').map((r) => r.body);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'af-bench-contention-'));
  const store = new ChdbStore(path.join(dir, 'clickhouse'));
  const writevAsync = promisify(writev);
  const fdatasyncAsync = promisify(fdatasync);
  try {
    await migrate(store);
    await store.insertJsonEachRow('audit_events', batches[0]!); // warm-up: first part, JIT
    // After the engine's and libuv's threads exist, so only the main thread is reniced.
    if (c.nice !== 0) os.setPriority(c.nice);
    const out: ChildResult = { insertRates: [], coLoadRates: [] };
    for (let run = 0; run < RUNS; run++) {
      await store.command('TRUNCATE TABLE audit_events');
      const fd = openSync(path.join(dir, `log-${run}`), 'w');
      let done = false;
      let coLoadEvents = 0;
      const t0 = performance.now();
      const inserts = (async () => {
        for (const b of batches) await store.insertJsonEachRow('audit_events', b);
        done = true;
        return performance.now() - t0;
      })();
      let next = 0;
      const worker = async () => {
        while (!done) {
          if (c.coLoad === 'spin') {
            await new Promise(setImmediate);
            continue;
          }
          const body = bodies[next++ % bodies.length]!;
          let start = 0;
          for (let end = body.indexOf(10); end !== -1; start = end + 1, end = body.indexOf(10, start)) {
            JSON.parse(body.toString('utf8', start, end));
            coLoadEvents++;
          }
          await writevAsync(fd, [body]);
          await fdatasyncAsync(fd);
        }
      };
      const coLoad = c.coLoad === 'solo' ? Promise.resolve() : Promise.all([worker(), worker(), worker(), worker()]);
      const ms = await inserts;
      await coLoad;
      closeSync(fd);
      out.insertRates.push((EVENTS / ms) * 1000);
      out.coLoadRates.push((coLoadEvents / ms) * 1000);
    }
    return out;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// --- parent: every condition, then the table ---------------------------------------------------
function runChild(c: Condition): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
      cwd: ROOT, env: { ...process.env, TZ: 'UTC', BENCH_CONTENTION_CHILD: JSON.stringify(c) }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code === 0 && line) resolve(JSON.parse(line.slice(7)) as ChildResult);
      else reject(new Error(`contention child ${JSON.stringify(c)} exited ${code}: ${out.slice(-2000)}`));
    });
  });
}

async function main(): Promise<void> {
  const conditions: Condition[] = [
    { coLoad: 'solo', nice: 0 }, { coLoad: 'spin', nice: 0 }, { coLoad: 'spin', nice: 10 },
    { coLoad: 'ingest', nice: 0 }, { coLoad: 'ingest', nice: 19 }, { coLoad: 'solo', nice: 0 },
  ];
  console.log(`contention benchmark: ${EVENTS} rows, ${BATCH_ROWS} rows/insert, ${RUNS} runs per condition (median), ${os.cpus().length} cores`);
  const results: { c: Condition; r: ChildResult }[] = [];
  for (const c of conditions) {
    const r = await runChild(c);
    results.push({ c, r });
    console.log(`  ${c.coLoad}${c.nice ? ` (main thread nice ${c.nice})` : ''}: inserts ${r.insertRates.map(fmt).join(', ')} rows/s` +
      (c.coLoad === 'ingest' ? `; co-load ${r.coLoadRates.map(fmt).join(', ')} events/s` : ''));
  }
  // The solo ceiling is measured first and last: its median over both brackets the conditions.
  const solo = median(results.filter((x) => x.c.coLoad === 'solo').flatMap((x) => x.r.insertRates));
  console.log(`\n| main thread during the inserts | raw chDB insert rows/s | solo ceiling (same run) | ratio | co-load events/s |`);
  console.log('|---|---:|---:|---:|---:|');
  for (const { c, r } of results) {
    if (c.coLoad === 'solo') continue;
    const rate = median(r.insertRates);
    const what = c.coLoad === 'spin' ? 'turns its event loop, no work' : 'JSON.parse + durable append, 4 in flight';
    console.log(`| ${what}${c.nice ? `, nice ${c.nice}` : ''} | ${fmt(rate)} | ${fmt(solo)} | ${((rate / solo) * 100).toFixed(0)}% | ${c.coLoad === 'ingest' ? fmt(median(r.coLoadRates)) : '—'} |`);
  }
}

const childInput = process.env['BENCH_CONTENTION_CHILD'];
if (childInput) {
  child(JSON.parse(childInput) as Condition).then(
    (r) => { process.stdout.write(`RESULT ${JSON.stringify(r)}\n`); process.exit(0); },
    (e: unknown) => { process.stderr.write(`${(e as Error).stack ?? String(e)}\n`); process.exit(1); },
  );
} else {
  main().catch((e: unknown) => { console.error(`bench:contention failed: ${(e as Error).stack ?? String(e)}`); process.exit(1); });
}
