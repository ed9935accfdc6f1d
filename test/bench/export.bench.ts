// npm run bench:export — exports of N stored audit events (one tenant, all of them in the window)
// in each format and to each destination, beside the raw store read of the same rows in the same
// run. See .scratch/benchmarks-export.md / BENCHMARKS.md.
//
// Data: the sink-shaped rows of bench:api's history (./api-history.ts: realistic ScaiDrive and
// ScaiVault events, 35 days, contiguous seq), inserted straight into a chDB data directory as
// 100,000-row JSONEachRow chunks by ./api-store-child.ts, then OPTIMIZE … FINAL.
//
// Passes, each in a fresh child (./export-child.ts) on that directory, so each pass's CPU and
// peak RSS are the exporting process's alone — engine included, as in the embedded deployment:
//   raw read       keyset pages (EXPORT_PAGE_ROWS) of the export's rows as the API reads them
//                  (the stored columns, JSONEachRow) through Store.stream, bytes discarded; run
//                  first and again last (the machine drifts); the faster is the ceiling every
//                  ratio is taken against
//   read + parse   … plus a line split and JSON.parse of every row  } the JS path: what the
//   read + map     … plus toScaiVaultLog                            } export does for a fallback row
//   shaped read    the export's own read (processors/export/export-pages.ts: lines shaped by
//                  ClickHouse, a page read ahead), per format, records discarded: the export
//                  before the part writer
//   exports        runExport (the worker's runner: pages → entries → format → gzip → parts →
//                  ObjectStore.put → count check → signed manifest) with the product's defaults
//                  (EXPORT_PAGE_ROWS, EXPORT_PART_ROWS/BYTES, gzip level 1): JSONL and CSV, plain
//                  and gzip, to a local folder; JSONL+gzip to s3rver, Azurite and the firebase-tools
//                  GCS emulator (test/support/, started by the bench before the pass and stopped by
//                  pid after it; their CPU is reported apart, they share the 2 cores).
//   over HTTP      the distributed deployment's store: ClickHouse's HTTP interface over the same
//                  data directory in its own process (test/support/clickhouse-http-server.ts),
//                  read through ClickHouseHttpStore — a raw read and jsonl → local, so the
//                  exporter's memory and CPU are measured without the engine in its process.
// Then, unless BENCH_EXPORT_FORMAT=0, test/bench/export-format.bench.ts (formatting alone, no store
// or destination) as its own process.
//
// Smoke run (~2 min, +1–2 min for the formatting bench; figures indicative only):
//   BENCH_EXPORT_ROWS=200000 BENCH_QUIET_WAIT_MS=0 npm run bench:export
// Full run: npm run bench:export on a quiet machine. 10M rows took 27 min on 2 vCPUs (passes of
// 40–120 s, the JS-path stage passes and the two profiled passes included, then the formatting
// bench), after a preload of ~4 min (BENCH_EXPORT_CACHE keeps it: later runs copy the store in
// seconds); up to ~7 GB of temporary disk (the store copy and one plain JSONL export at a time).
//
// Settings (environment): BENCH_EXPORT_ROWS (10000000), BENCH_EXPORT_SCENARIOS (comma-separated
// substrings of pass names; the raw reads always run), BENCH_EXPORT_PROFILE (a pass-name substring:
// each matching export gets one extra, unmeasured pass under V8's CPU profiler, written to
// /tmp/af-export-prof-*/ and summarised by stage, ./export-profile.ts), BENCH_EXPORT_CACHE (a
// directory: the preloaded store is kept there and later runs start on a copy),
// BENCH_QUIET_WAIT_MS (60000: before each pass, wait up to this long for a quiet machine; 0: don't),
// BENCH_EXPORT_FORMAT (0: skip the formatting bench), BENCH_JSON (every figure to this file);
// EXPORT_PAGE_ROWS, EXPORT_PART_ROWS, EXPORT_PART_BYTES as for auditflow (product defaults unset).
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../infra/config.ts';
import type { ExportSpec } from '../../processors/export/export-jobs.ts';
import { startAzurite } from '../support/azurite.ts';
import { startClickHouseHttp } from '../support/clickhouse-http-server.ts';
import { startGcsEmulator } from '../support/gcs-emulator.ts';
import { startS3rver } from '../support/s3rver.ts';
import { planHistory } from './api-history.ts';
import { runStoreChild } from './api-deployments.ts';
import type { PreloadResult } from './api-store-child.ts';
import { runBenchChild } from './bench-child.ts';
import { envInt } from './bench-settings.ts';
import type { ExportPassInput, ExportPassResult } from './export-child.ts';
import { summarizeExportProfile } from './export-profile.ts';
import { machineLine, printFigures, type Pass } from './export-report.ts';
import { waitForQuiet } from './proc-stats.ts';

const env = process.env;
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const N = envInt('BENCH_EXPORT_ROWS', 10_000_000);
const QUIET_MS = env['BENCH_QUIET_WAIT_MS'] === '0' ? 0 : envInt('BENCH_QUIET_WAIT_MS', 60_000);
const FILTER = (env['BENCH_EXPORT_SCENARIOS'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const PROFILE = env['BENCH_EXPORT_PROFILE'];
const PRODUCT = parseConfig(Object.fromEntries(['EXPORT_PAGE_ROWS', 'EXPORT_PART_ROWS', 'EXPORT_PART_BYTES'].flatMap((k) => (env[k] ? [[k, env[k]!]] : []))), 'all');
const TENANT = 'tnt_bench_export';
const END_MS = Date.parse('2026-12-01T00:00:00Z');
const DAYS = 35;
const log = (...a: unknown[]) => console.log(...a);

type DestinationKind = 'local' | 's3' | 'azure_blob' | 'gcs';
interface Scenario { name: string; format: 'jsonl' | 'csv'; gzip: boolean; dest: DestinationKind }
const SCENARIOS: Scenario[] = [
  { name: 'jsonl → local', format: 'jsonl', gzip: false, dest: 'local' },
  { name: 'jsonl+gzip → local', format: 'jsonl', gzip: true, dest: 'local' },
  { name: 'csv → local', format: 'csv', gzip: false, dest: 'local' },
  { name: 'csv+gzip → local', format: 'csv', gzip: true, dest: 'local' },
  { name: 'jsonl+gzip → s3 (s3rver)', format: 'jsonl', gzip: true, dest: 's3' },
  { name: 'jsonl+gzip → azure_blob (Azurite)', format: 'jsonl', gzip: true, dest: 'azure_blob' },
  { name: 'jsonl+gzip → gcs (firebase-tools emulator)', format: 'jsonl', gzip: true, dest: 'gcs' },
];
const wanted = (name: string) => FILTER.length === 0 || FILTER.some((f) => name.includes(f));

/** A running destination for one pass: its bucket and credentials file, the emulator's pid, and how to stop it. */
async function startDestination(kind: DestinationKind, secretsDir: string): Promise<{ credentials?: string; pid?: number; stop(): Promise<void> }> {
  const secret = (name: string, doc: unknown) => writeFileSync(path.join(secretsDir, `${name}.json`), JSON.stringify(doc));
  if (kind === 's3') {
    const s = await startS3rver(['exports']);
    secret('s3', { access_key_id: s.accessKeyId, secret_access_key: s.secretAccessKey, region: s.region, endpoint: s.endpoint, force_path_style: true });
    return { credentials: 's3', pid: s.pid, stop: () => s.stop() };
  }
  if (kind === 'azure_blob') {
    const a = await startAzurite(['exports']);
    secret('azure', { connection_string: a.connectionString });
    return { credentials: 'azure', pid: a.pid, stop: () => a.stop() };
  }
  if (kind === 'gcs') {
    const g = await startGcsEmulator();
    secret('gcs', { api_endpoint: g.apiEndpoint, project_id: g.projectId });
    return { credentials: 'gcs', pid: g.pid, stop: () => g.stop() };
  }
  return { stop: async () => undefined };
}

/** The preloaded store (or a copy of one made before, BENCH_EXPORT_CACHE). */
async function preload(chdbDir: string): Promise<PreloadResult & { seconds: PreloadResult['seconds'] & { total: number } }> {
  const t0 = performance.now();
  const plan = planHistory({ tenants: [TENANT], events: N, changeEvents: 0, partitions: 1, offsets: 'position', endMs: END_MS, days: DAYS, seed: 11 });
  const cache = env['BENCH_EXPORT_CACHE'] ? path.join(env['BENCH_EXPORT_CACHE'], `export-v1-${N}`) : null;
  let r: PreloadResult;
  if (cache && existsSync(path.join(cache, 'preload.json'))) {
    cpSync(path.join(cache, 'data'), chdbDir, { recursive: true });
    r = JSON.parse(readFileSync(path.join(cache, 'preload.json'), 'utf8')) as PreloadResult;
  } else {
    r = await runStoreChild<PreloadResult>({ mode: 'preload', dir: chdbDir, plan, chunkRows: 100_000 });
    if (cache) {
      mkdirSync(cache, { recursive: true });
      cpSync(chdbDir, path.join(cache, 'data'), { recursive: true });
      writeFileSync(path.join(cache, 'preload.json'), JSON.stringify({ ...r, cachedAt: new Date().toISOString() }));
    }
  }
  const t = r.tenants[0];
  if (!t || t.audit !== N || t.auditMaxSeq !== N) throw new Error(`preload holds ${JSON.stringify(t)}, expected ${N} rows with seq 1..${N}`);
  return { ...r, seconds: { ...r.seconds, total: (performance.now() - t0) / 1000 } };
}

function runFormatBench(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(HERE, 'export-format.bench.ts')], { cwd: ROOT, stdio: 'inherit', env });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`export-format.bench.ts exited ${code}`))));
  });
}

async function main(): Promise<void> {
  const started = performance.now();
  const work = mkdtempSync(path.join(os.tmpdir(), 'af-bench-export-'));
  const chdbDir = path.join(work, 'clickhouse');
  const dataDir = path.join(work, 'data');
  const secretsDir = path.join(dataDir, 'secrets');
  mkdirSync(secretsDir, { recursive: true });
  const profileDir = PROFILE ? mkdtempSync(path.join('/tmp', 'af-export-prof-')) : undefined;
  const passes: Pass[] = [];
  try {
    log(`bench:export — ${N.toLocaleString('en-US')} stored audit events, one tenant; page ${PRODUCT.exports.pageRows.toLocaleString('en-US')} rows, parts of ${PRODUCT.exportParts.rows.toLocaleString('en-US')} rows or ${(PRODUCT.exportParts.bytes / 2 ** 20).toFixed(0)} MiB`);
    const pre = await preload(chdbDir);
    log(machineLine(ROOT, pre.engineVersion));
    log(`preload: ${pre.seconds.total.toFixed(0)} s${pre.cachedAt ? ` (a copy of the store preloaded ${pre.cachedAt})` : ` (generate + insert ${pre.seconds.generateAndInsert.audit_events.toFixed(0)} s, OPTIMIZE FINAL ${pre.seconds.optimize.toFixed(0)} s)`}; ${pre.parts.map((p) => `${p.table}: ${p.parts} parts, ${(p.bytesOnDisk / 2 ** 20).toFixed(0)} MiB on disk`).join('; ')}`);

    const spec = (s: Pick<Scenario, 'format' | 'gzip'>, destination: ExportSpec['destination']): ExportSpec => ({
      from: new Date(END_MS - (DAYS + 1) * 86_400_000).toISOString(), to: new Date(END_MS + 86_400_000).toISOString(),
      format: s.format, compression: s.gzip ? 'gzip' : null, filters: {}, destination, snapshot_seq: N,
    });
    const base = { store: { chdb: chdbDir } as ExportPassInput['store'], dataDir, secretsDir, tenant: TENANT, expectedRows: N, pageRows: PRODUCT.exports.pageRows, parts: PRODUCT.exportParts };
    const run = async (kind: Pass['kind'], input: ExportPassInput): Promise<ExportPassResult> => {
      const store = 'chdb' in input.store ? 'chdb' : 'http';
      const q = QUIET_MS > 0 ? await waitForQuiet(QUIET_MS) : { busyCores: -1, waitedMs: 0 };
      const r = await runBenchChild<ExportPassResult>(path.join(HERE, 'export-child.ts'), input);
      if (!input.profileDir) {
        passes.push({ kind, store, result: r, busyBefore: q.busyCores, load1: os.loadavg()[0]! });
        log(`  ${r.name}: ${Math.round(r.rows / r.seconds).toLocaleString('en-US')} rows/s, ${r.seconds.toFixed(1)} s, CPU ${((r.cpuSeconds * 1e6) / r.rows).toFixed(2)} µs/row, peak RSS ${(r.rss.peak / 2 ** 20).toFixed(0)} MiB${r.fallbackRows !== undefined ? `, ${r.fallbackRows} rows mapped in JS` : ''}${q.busyCores >= 0.35 ? ` [machine busy ${q.busyCores.toFixed(2)} cores before]` : ''}`);
      }
      return r;
    };
    const readPass = (name: string, level: 'bytes' | 'parse' | 'map' | 'shaped', over: Partial<ExportPassInput> = {}) => run(level === 'bytes' ? 'raw' : 'stage', {
      ...base, name, mode: 'read', level, spec: spec({ format: 'jsonl', gzip: false }, { type: 'local', bucket: 'bench', prefix: 'raw' }), ...over,
    });
    const localJsonl = (name: string, over: Partial<ExportPassInput> = {}): ExportPassInput => ({
      ...base, name, mode: 'export', spec: spec({ format: 'jsonl', gzip: false }, { type: 'local', bucket: 'bench', prefix: 'http' }), ...over,
    });

    await readPass('raw read (first)', 'bytes');
    if (wanted('read + parse')) await readPass('read + parse', 'parse');
    if (wanted('read + map')) await readPass('read + map (the JS path before formatting)', 'map');
    for (const format of ['jsonl', 'csv'] as const) {
      const name = `shaped read, ${format} (the export before the part writer)`;
      if (wanted(name)) await readPass(name, 'shaped', { spec: spec({ format, gzip: false }, { type: 'local', bucket: 'bench', prefix: 'shaped' }) });
    }
    const profiles: { name: string; file: string }[] = [];
    for (const s of SCENARIOS.filter((x) => wanted(x.name))) {
      const dest = await startDestination(s.dest, secretsDir);
      try {
        const destination = { type: s.dest, bucket: s.dest === 'local' ? 'bench' : 'exports', prefix: `bench/${s.format}${s.gzip ? '-gz' : ''}`, ...(dest.credentials ? { credentials_path: dest.credentials } : {}) };
        const input: ExportPassInput = { ...base, name: s.name, mode: 'export', spec: spec(s, destination), helperPid: dest.pid };
        await run('export', input);
        if (profileDir && s.name.includes(PROFILE!)) {
          const r = await run('export', { ...input, name: `${s.name} (profiled)`, profileDir });
          if (r.profile) profiles.push({ name: s.name, file: r.profile });
        }
      } finally {
        await dest.stop();
        // A local export of 10M rows is ~5 GB: gone once measured.
        rmSync(path.join(dataDir, 'exports'), { recursive: true, force: true });
      }
    }
    await readPass('raw read (last)', 'bytes');
    if (wanted('over HTTP')) {
      // The HTTP server holds the data directory now (one chDB process per directory).
      const ch = await startClickHouseHttp({ dataDir: chdbDir });
      try {
        const over = { store: { http: ch.url }, helperPid: ch.pid };
        await readPass('raw read over HTTP', 'bytes', over);
        await run('export', localJsonl('jsonl → local, store over HTTP', over));
        if (profileDir && 'jsonl → local, store over HTTP'.includes(PROFILE!)) {
          const r = await run('export', localJsonl('jsonl → local, store over HTTP (profiled)', { ...over, profileDir }));
          if (r.profile) profiles.push({ name: r.name, file: r.profile });
        }
      } finally {
        await ch.stop();
        rmSync(path.join(dataDir, 'exports'), { recursive: true, force: true });
      }
    }

    printFigures(passes, log);
    for (const p of profiles) {
      const s = summarizeExportProfile(p.file);
      log(`\nCPU profile of "${p.name}" (main thread, ${(s.totalMs / 1000).toFixed(1)} s sampled; ${p.file}):`);
      for (const st of s.stages) log(`  ${st.pct.toFixed(1).padStart(5)}%  ${st.stage}`);
      log('  top self time:');
      for (const f of s.selfTop.slice(0, 12)) log(`  ${f.pct.toFixed(1).padStart(5)}%  ${f.fn}`);
    }
    if (env['BENCH_JSON']) writeFileSync(env['BENCH_JSON'], JSON.stringify({ date: new Date().toISOString(), rows: N, preload: pre, product: { pageRows: PRODUCT.exports.pageRows, parts: PRODUCT.exportParts }, passes }, null, 2));
    log(`\nexport passes took ${((performance.now() - started) / 1000 - pre.seconds.total).toFixed(0)} s after a ${pre.seconds.total.toFixed(0)} s preload`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  if (env['BENCH_EXPORT_FORMAT'] !== '0') {
    log('\nformatting alone (test/bench/export-format.bench.ts):');
    await runFormatBench();
  }
  log(`bench:export took ${((performance.now() - started) / 1000).toFixed(0)} s in all`);
}

main().then(() => process.exit(0), (e: unknown) => {
  console.error(e);
  process.exit(1);
});
