// node --import tsx test/bench/export-format.bench.ts — the export's formatting cost: rows/s of
// the JSONL and CSV encoders alone, and of the part writer (format → [gzip] → SHA-256 → a sink
// that reads every byte) with and without gzip, beside JSON.stringify of the same entries in the
// same run (the ceiling: a JSONL line *is* JSON.stringify of the entry). The part writer pulls
// from an async generator of batches of 1,000 entries (a store chunk's rows), and once one entry
// per await. No store, no destination: bench:export measures those. Entries are the
// /v1/audit/logs entries of the ingest benchmark's realistic events (test/bench/events.ts),
// mapped by the API's toScaiVaultLog. Output per row: characters for the ceiling and the encoders
// (the text is ASCII), bytes as written for the part writer.
//
// Settings (environment): EXPORT_BENCH_ROWS (200000), EXPORT_BENCH_RUNS (3; medians are reported).
import { toScaiVaultLog, type LogRow } from '../../api/scaivault/scaivault-log.ts';
import { encoderFor, EXPORT_FORMATS, type ExportFormat, type ScaiVaultLogEntry } from '../../processors/export/export-formats.ts';
import { EXPORT_GZIP_LEVEL, writeExportParts } from '../../processors/export/part-writer.ts';
import { envInt, median } from './bench-settings.ts';
import { generateEvents, logForms } from './events.ts';
import { machineCpu, waitForQuiet } from './proc-stats.ts';

const ROWS = envInt('EXPORT_BENCH_ROWS', 200_000);
const RUNS = envInt('EXPORT_BENCH_RUNS', 3);
const BATCH = 1000;

const events = generateEvents({ events: ROWS, tenants: ['tnt_bench_export'], batch: BATCH, runTag: 'xb' });
const entries: ScaiVaultLogEntry[] = logForms(events).map((l, i) => toScaiVaultLog({ seq: i + 1, ...JSON.parse(l) } as LogRow));
const batches: ScaiVaultLogEntry[][] = [];
for (let i = 0; i < entries.length; i += BATCH) batches.push(entries.slice(i, i + BATCH));

interface Figure { rowsPerSec: number; bytesPerRow: number; cpuPerRowUs: number }

async function timed(fn: () => number | Promise<number>): Promise<Figure> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const bytes = await fn();
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { rowsPerSec: ROWS / secs, bytesPerRow: bytes / ROWS, cpuPerRowUs: (cpu.user + cpu.system) / ROWS };
}

const stringify = (): number => {
  let n = 0;
  for (const e of entries) n += JSON.stringify(e).length;
  return n;
};
const encodeOnly = (format: ExportFormat) => (): number => {
  const enc = encoderFor(format);
  let n = 0;
  for (const e of entries) n += enc.line(e).length;
  return n;
};
/** The part writer into a sink that reads every byte (what an upload does at the least); returns bytes written. */
async function* oneByOne(): AsyncGenerator<ScaiVaultLogEntry> {
  for (const e of entries) yield e;
}
async function* inBatches(): AsyncGenerator<ScaiVaultLogEntry[]> {
  for (const b of batches) yield b;
}
const partWriter = (format: ExportFormat, gzipLevel: number | undefined, source: 'batches' | 'single') => async (): Promise<number> => {
  const out = await writeExportParts(source === 'batches' ? inBatches() : oneByOne(), {
    format, gzip: gzipLevel !== undefined, gzipLevel, partRows: 1_000_000, partBytes: 256 * 1024 * 1024,
    uploadPart: async (_part, body) => {
      for await (const _c of body) { /* read */ }
    },
  });
  return out.size_bytes;
};

const cases: Array<{ name: string; run: () => Promise<Figure> }> = [
  { name: 'JSON.stringify (ceiling)', run: () => timed(stringify) },
];
for (const f of EXPORT_FORMATS) {
  cases.push(
    { name: `${f}: encode only`, run: () => timed(encodeOnly(f)) },
    { name: `${f}: part writer, no gzip`, run: () => timed(partWriter(f, undefined, 'batches')) },
    { name: `${f}: part writer, gzip level ${EXPORT_GZIP_LEVEL}`, run: () => timed(partWriter(f, EXPORT_GZIP_LEVEL, 'batches')) },
    { name: `${f}: part writer, gzip level 6 (zlib default)`, run: () => timed(partWriter(f, 6, 'batches')) },
  );
}
cases.push({ name: 'jsonl: part writer, no gzip, one entry per await (not batches)', run: () => timed(partWriter('jsonl', undefined, 'single')) });

// One untimed pass of every case first, so each is measured with the JIT warm.
for (const c of cases) await c.run();
const quiet = await waitForQuiet(60_000);
console.log(`export-format bench: ${ROWS} rows, ${RUNS} runs each (medians); machine busy ${quiet.busyCores.toFixed(2)} cores before start (waited ${quiet.waitedMs} ms)`);
const machine = machineCpu();
const results = new Map<string, Figure[]>();
for (let r = 0; r < RUNS; r++) {
  for (const c of cases) {
    const list = results.get(c.name) ?? [];
    list.push(await c.run());
    results.set(c.name, list);
  }
}
const busy = machine.end();
const ceiling = median((results.get(cases[0]!.name) ?? []).map((x) => x.rowsPerSec));
console.log('| figure | rows/s | vs JSON.stringify | output B/row | CPU µs/row (all threads) |');
console.log('|---|---:|---:|---:|---:|');
for (const c of cases) {
  const figs = results.get(c.name) ?? [];
  const rps = median(figs.map((x) => x.rowsPerSec));
  const bpr = median(figs.map((x) => x.bytesPerRow));
  const cpu = median(figs.map((x) => x.cpuPerRowUs));
  console.log(`| ${c.name} | ${Math.round(rps).toLocaleString('en-US')} | ${Math.round((rps / ceiling) * 100)}% | ${bpr.toFixed(1)} | ${cpu.toFixed(2)} |`);
}
console.log(`machine busy during the runs: ${busy.busyCores.toFixed(2)} of ${busy.cores.toFixed(0)} cores`);
