// Child process of bench:export (chDB allows one engine per process and one process per data
// directory): opens the preloaded store, runs ONE measured pass over the export's rows and exits,
// so every pass's peak RSS is its own. Input: one JSON document in BENCH_CHILD; output: one line
// "RESULT <json>".
//
//  mode "read": the raw store read — keyset pages (EXPORT_PAGE_ROWS) of the export's rows as the
//    API reads them (the stored columns, JSONEachRow) through Store.stream, the bytes discarded;
//    only each page's last line is looked at, for the next page's `seq >`. level "parse" also
//    splits the bytes into lines and JSON.parses each row, level "map" also maps it to its
//    /v1/audit/logs entry (toScaiVaultLog): the stages of the JS path (the export's fallback for
//    rows the SQL does not shape). level "shaped" is the export's own read, everything before the
//    part writer (processors/export/export-pages.ts: page bounds, the lines shaped by ClickHouse,
//    read ahead, line counting, the JS fallback), its records discarded.
//  mode "export": runExport(job) of the same rows to one destination, as the worker runs it.
// The store is the data directory itself (chDB in this process, the embedded deployment) or the
// ClickHouse HTTP endpoint over it in another process (ClickHouseHttpStore, the distributed one).
//
// Measured over the pass: wall time; process.cpuUsage (every thread: JS, V8, the libuv pool where
// zlib, fs and the chDB call run, ClickHouse's own threads) and the same split by thread group
// (/proc, ./proc-stats.ts); RSS and its anonymous part (RssAnon: without the ~210 MiB of
// libchdb.so's mapped file pages, which count in RSS once touched) sampled every 50 ms from
// /proc/self/status, and the kernel's high-water mark (VmHWM, the whole process's life); the CPU
// of the helper process the pass drives (the emulator, the ClickHouse HTTP server); the machine's busy cores.
// With `profileDir`, V8's sampling profiler covers exactly the pass (inspector, as node
// --cpu-prof does, without start-up) and writes <profileDir>/<name>.cpuprofile.
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { exportQuery } from '../../api/exports/export-routes.ts';
import { QueryReader } from '../../api/query/query-params.ts';
import { LOG_COLUMNS, readAuditLogFilters, toScaiVaultLog, type LogRow } from '../../api/scaivault/scaivault-log.ts';
import { loadExportSigningKey } from '../../infra/export-keys.ts';
import { openObjectStore, type DestinationSpec } from '../../infra/objectstore/object-store.ts';
import { FileSecretsProvider } from '../../infra/secrets/secrets-provider.ts';
import { ClickHouseHttpStore } from '../../infra/store/clickhouse-http-store.ts';
import type { Store } from '../../infra/store/store.ts';
import { emptyProgress, type ExportJob, type ExportSpec } from '../../processors/export/export-jobs.ts';
import { exportRecords } from '../../processors/export/export-pages.ts';
import { runExport } from '../../processors/export/export-runner.ts';
import { EncodedLines } from '../../processors/export/part-writer.ts';
import { cpuBetween, machineCpu, sampleProcess } from './proc-stats.ts';

export interface ExportPassInput {
  name: string;
  store: { chdb: string } | { http: string };
  /** DATA_DIR of the exporter: local destinations under exports/, the signing key under keys/. */
  dataDir: string;
  secretsDir: string;
  tenant: string;
  spec: ExportSpec;
  expectedRows: number;
  pageRows: number;
  parts: { rows: number; bytes: number };
  mode: 'read' | 'export';
  level?: 'bytes' | 'parse' | 'map' | 'shaped';
  /** The emulator receiving the upload, or the ClickHouse HTTP server: its CPU over the pass. */
  helperPid?: number | undefined;
  profileDir?: string | undefined;
}

export interface ExportPassResult {
  name: string;
  rows: number;
  seconds: number;
  /** JSONEachRow bytes the store answered (read) / bytes written to the destination (export). */
  bytes: number;
  parts: number;
  /** process.cpuUsage over the pass, seconds (user + system, all threads). */
  cpuSeconds: number;
  /** the same by thread group, seconds */
  threads: { group: string; seconds: number }[];
  /** bytes; `anonPeak` is RssAnon's peak (RSS without file-backed pages) */
  rss: { start: number; peak: number; anonPeak: number; atTenth: number; atEnd: number; hwm: number; heapPeak: number };
  helperCpuSeconds: number | null;
  machineBusyCores: number;
  /** level "shaped": rows the SQL left to the JS mapping */
  fallbackRows?: number;
  profile?: string;
}

/** A page of the export's rows as the API reads them: the stored columns (the JS path's read). */
function pageQuery(i: ExportPassInput, after: number): { sql: string; params: Record<string, unknown> } {
  const filters = readAuditLogFilters(new QueryReader(i.spec.filters), ['from', 'to']);
  const q = exportQuery(i.tenant, i.spec, filters).where({ column: 'seq', op: '>', type: 'UInt64', value: after });
  return q.select(LOG_COLUMNS, 'ORDER BY seq LIMIT {page_rows:UInt32}', { page_rows: i.pageRows });
}

const countLines = (b: Buffer): number => {
  let n = 0;
  for (let at = b.indexOf(0x0a); at >= 0; at = b.indexOf(0x0a, at + 1)) n++;
  return n;
};

/** The raw store read alone (level "bytes"), or with the JS path's line split + JSON.parse ("parse") and mapping ("map"). */
async function readPass(store: Store, i: ExportPassInput, progress: (rows: number) => void): Promise<{ rows: number; bytes: number }> {
  let after = 0;
  let rows = 0;
  let bytes = 0;
  let sink = 0; // keeps the parsed rows observable, so nothing is optimised away
  for (;;) {
    const { sql, params } = pageQuery(i, after);
    let n = 0;
    let prev: Buffer = Buffer.alloc(0);
    let last: Buffer = Buffer.alloc(0);
    let rest: Buffer = Buffer.alloc(0);
    for await (const chunk of store.stream(sql, params)) {
      bytes += chunk.length;
      if (i.level === 'bytes') {
        n += countLines(chunk);
        prev = last;
        last = chunk;
        continue;
      }
      const all = rest.length === 0 ? chunk : Buffer.concat([rest, chunk]);
      const end = all.lastIndexOf(0x0a);
      if (end < 0) { rest = all; continue; }
      rest = all.subarray(end + 1);
      for (const line of all.toString('utf8', 0, end).split('\n')) {
        if (line === '') continue;
        const row = JSON.parse(line) as LogRow;
        after = Number(row.seq);
        sink += i.level === 'map' ? Object.keys(toScaiVaultLog(row)).length : 1;
        n++;
      }
    }
    if (i.level === 'bytes' && n > 0) {
      // The page's last line: in the last slice, or across the last two (a row is far below a slice).
      const tail = last.subarray(0, last.length - 1).lastIndexOf(0x0a) >= 0 ? last : Buffer.concat([prev, last]);
      const line = tail.toString('utf8', tail.subarray(0, tail.length - 1).lastIndexOf(0x0a) + 1);
      const m = /"seq":"?(\d+)/.exec(line);
      if (!m) throw new Error(`no seq in the page's last line: ${line.slice(0, 200)}`);
      after = Number(m[1]);
    }
    rows += n;
    progress(rows);
    if (n < i.pageRows) break;
  }
  if (sink < 0) throw new Error('unreachable');
  return { rows, bytes };
}

/** The export's own read (exportRecords), everything before the part writer; records counted, bytes discarded. */
async function shapedPass(store: Store, i: ExportPassInput, progress: (rows: number) => void): Promise<{ rows: number; bytes: number; fallbackRows: number }> {
  const job = benchJob(i);
  let rows = 0;
  let bytes = 0;
  let fallbackRows = 0;
  for await (const r of exportRecords(store, job, { format: i.spec.format, pageRows: i.pageRows, signal: new AbortController().signal })) {
    if (r instanceof EncodedLines) {
      rows += r.records;
      bytes += r.bytes.length;
    } else {
      rows += r.length;
      fallbackRows += r.length;
    }
    progress(rows);
  }
  return { rows, bytes, fallbackRows };
}

function benchJob(i: ExportPassInput): ExportJob {
  const now = new Date().toISOString();
  return {
    tenantId: i.tenant, exportId: `exp_bench_${i.name.replace(/[^a-z0-9]+/gi, '_').toLowerCase()}`, version: 1, status: 'running', scheduleId: null,
    spec: i.spec, createdAt: now, updatedAt: now, estimatedRecords: i.expectedRows, recordCount: 0, progress: emptyProgress(),
    error: '', cancelRequested: false, attempt: 1, worker: 'bench', leaseUntil: now, completedAt: null,
  };
}

async function exportPass(store: Store, i: ExportPassInput, progress: (rows: number) => void, prepared: Awaited<ReturnType<typeof prepareExport>>): Promise<{ rows: number; bytes: number; parts: number }> {
  const r = await runExport(benchJob(i), {
    store, destination: prepared.destination, key: prepared.key, parts: i.parts, pageRows: i.pageRows,
    previousManifest: null, signal: new AbortController().signal, onProgress: progress,
  });
  await prepared.destination.close();
  return { rows: r.recordCount, bytes: r.parts.reduce((s, p) => s + p.size_bytes, 0), parts: r.parts.length };
}

async function prepareExport(i: ExportPassInput) {
  const destination = await openObjectStore(i.spec.destination as DestinationSpec, { secrets: new FileSecretsProvider(i.secretsDir), dataDir: i.dataDir });
  const key = await loadExportSigningKey({ dataDir: i.dataDir, exportSigningKeyFile: undefined });
  return { destination, key };
}

/** VmRSS, RssAnon and VmHWM of this process, bytes. */
function memory(): { rss: number; anon: number; hwm: number } {
  const s = readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), hwm: kb('VmHWM') };
}

async function pass(i: ExportPassInput): Promise<ExportPassResult> {
  // NOTE: chDB imported only when used: its library's ~200 MiB of mapped pages would count in the
  // RSS of an exporter that reads over HTTP.
  const store: Store = 'chdb' in i.store
    ? new (await import('../../infra/store/chdb-store.ts')).ChdbStore(i.store.chdb)
    : new ClickHouseHttpStore({ url: i.store.http });
  try {
    // Untimed: the engine opens the table (marks, primary index) on the first query.
    await store.query('SELECT count() AS n FROM audit_events WHERE tenant_id = {t:String}', { t: i.tenant });
    const prepared = i.mode === 'export' ? await prepareExport(i) : null;
    const rss = { start: memory().rss, peak: 0, anonPeak: 0, atTenth: 0, atEnd: 0, hwm: 0, heapPeak: 0 };
    const sample = (): void => {
      const m = memory();
      rss.peak = Math.max(rss.peak, m.rss);
      rss.anonPeak = Math.max(rss.anonPeak, m.anon);
      rss.heapPeak = Math.max(rss.heapPeak, process.memoryUsage().heapUsed);
    };
    const sampler = setInterval(sample, 50);
    const progress = (rows: number): void => {
      if (rss.atTenth === 0 && rows >= i.expectedRows / 10) rss.atTenth = process.memoryUsage.rss();
    };
    const session = i.profileDir ? new Session() : null;
    if (session) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    const machine = machineCpu();
    const helper0 = i.helperPid ? sampleProcess(i.helperPid, 'helper') : null;
    const self0 = sampleProcess(process.pid, 'exporter');
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let out: { rows: number; bytes: number; parts?: number; fallbackRows?: number };
    try {
      out = i.mode === 'export' ? await exportPass(store, i, progress, prepared!)
        : i.level === 'shaped' ? await shapedPass(store, i, progress) : await readPass(store, i, progress);
    } finally {
      clearInterval(sampler);
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const self1 = sampleProcess(process.pid, 'exporter');
    const helper1 = i.helperPid ? sampleProcess(i.helperPid, 'helper') : null;
    const busy = machine.end();
    sample();
    rss.atEnd = memory().rss;
    rss.hwm = memory().hwm;
    let profile: string | undefined;
    if (session && i.profileDir) {
      const { profile: p } = await session.post('Profiler.stop');
      profile = path.join(i.profileDir, `${i.name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase()}.cpuprofile`);
      writeFileSync(profile, JSON.stringify(p));
      session.disconnect();
    }
    if (out.rows !== i.expectedRows) throw new Error(`${i.name}: ${out.rows} rows read, ${i.expectedRows} expected`);
    return {
      name: i.name, rows: out.rows, seconds, bytes: out.bytes, parts: out.parts ?? 0,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      threads: self0 && self1 ? cpuBetween(self0, self1).byThread.map((t) => ({ group: t.group, seconds: t.seconds })) : [],
      rss, helperCpuSeconds: helper0 && helper1 ? cpuBetween(helper0, helper1).seconds : null, machineBusyCores: busy.busyCores,
      ...(out.fallbackRows !== undefined ? { fallbackRows: out.fallbackRows } : {}),
      ...(profile ? { profile } : {}),
    };
  } finally {
    await store.close();
  }
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname);
if (isMain) {
  pass(JSON.parse(process.env['BENCH_CHILD'] ?? '{}') as ExportPassInput).then(
    (r) => {
      process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
      process.exit(0);
    },
    (e: unknown) => {
      process.stderr.write(`export-child failed: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
