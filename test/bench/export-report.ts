// bench:export's report: the machine line, the figures table (every pass beside the raw store read
// of the same rows) and where the CPU per row goes, stage by stage, from the differences between
// passes that add one stage each (the export's shaped read → + part writer; and the JS path of a
// fallback row: raw read → + parse → + mapping).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import type { ExportPassResult } from './export-child.ts';

export interface Pass {
  kind: 'raw' | 'stage' | 'export';
  /** chDB in the exporter's process, or ClickHouse over HTTP in another: each has its own raw read */
  store: 'chdb' | 'http';
  result: ExportPassResult;
  /** busy cores of the machine in the second before the pass (-1: not checked) */
  busyBefore: number;
  load1: number;
}

export function machineLine(root: string, engineVersion: string): string {
  let commit = '?';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    // Untracked files count: the export code may not be committed yet when the bench runs.
    if (execFileSync('git', ['status', '--porcelain', '--', 'api', 'infra', 'processors', 'schemas'], { cwd: root, encoding: 'utf8' }).trim()) commit += ' + uncommitted product code';
  } catch { /* not a checkout */ }
  const chdb = (createRequire(import.meta.url)('chdb/package.json') as { version: string }).version;
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '?';
  return `machine: ${os.availableParallelism()} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, chDB ${chdb} (ClickHouse ${engineVersion}); ${new Date().toISOString().slice(0, 16)}Z; commit ${commit}; load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`;
}

const MAIN = 'main (JS)';
const V8 = 'V8 platform (GC, JIT)';
const POOL = 'libuv pool (chDB calls, fs)';

/** Cores by the groups that matter here: the JS main thread, V8's helpers, the libuv pool (zlib, fs, the chDB call), ClickHouse's threads. */
function cores(r: ExportPassResult): { main: number; v8: number; pool: number; engine: number } {
  const s = (g: string) => r.threads.filter((t) => t.group === g).reduce((n, t) => n + t.seconds, 0);
  const all = r.threads.reduce((n, t) => n + t.seconds, 0);
  const [main, v8, pool] = [s(MAIN), s(V8), s(POOL)];
  return { main: main / r.seconds, v8: v8 / r.seconds, pool: pool / r.seconds, engine: Math.max(0, all - main - v8 - pool) / r.seconds };
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const mib = (n: number) => (n / 2 ** 20).toFixed(0);
const usPerRow = (r: ExportPassResult, seconds = r.cpuSeconds) => (seconds * 1e6) / r.rows;
const mainUsPerRow = (r: ExportPassResult) => usPerRow(r, cores(r).main * r.seconds);

export function printFigures(passes: Pass[], log: (s: string) => void): void {
  const raws = passes.filter((p) => p.kind === 'raw');
  const ceiling = { chdb: 0, http: 0 };
  for (const p of raws) ceiling[p.store] = Math.max(ceiling[p.store], p.result.rows / p.result.seconds);
  log(`\nraw store read (the ceiling, the faster of a store's raw reads): ${raws.map((p) => `${p.result.name} ${int(p.result.rows / p.result.seconds)} rows/s`).join(', ')}`);
  log('| pass | rows/s | vs raw read | MB/s out | B/row out | CPU µs/row (all threads) | main-thread µs/row | cores: main JS / engine / libuv pool / V8 | peak RSS MiB (sampled; VmHWM) | peak anon RSS MiB | RSS start → 10% → end MiB | emulator / ClickHouse server cores | other work, cores | s |');
  log('|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---:|---:|');
  for (const p of passes) {
    const r = p.result;
    const c = cores(r);
    const rps = r.rows / r.seconds;
    const emu = r.helperCpuSeconds === null ? null : r.helperCpuSeconds / r.seconds;
    const others = r.machineBusyCores - r.cpuSeconds / r.seconds - (emu ?? 0);
    log(`| ${r.name} | ${int(rps)} | ${ceiling[p.store] > 0 ? `${Math.round((rps / ceiling[p.store]) * 100)}%` : ''} | ${(r.bytes / r.seconds / 1e6).toFixed(1)} | ${(r.bytes / r.rows).toFixed(0)} | ${usPerRow(r).toFixed(2)} | ${mainUsPerRow(r).toFixed(2)} `
      + `| ${c.main.toFixed(2)} / ${c.engine.toFixed(2)} / ${c.pool.toFixed(2)} / ${c.v8.toFixed(2)} | ${mib(r.rss.peak)}; ${mib(r.rss.hwm)} | ${mib(r.rss.anonPeak)} | ${mib(r.rss.start)} → ${mib(r.rss.atTenth)} → ${mib(r.rss.atEnd)} `
      + `| ${emu === null ? '' : emu.toFixed(2)} | ${Math.max(0, others).toFixed(2)}${p.busyBefore >= 0.35 ? ` (busy ${p.busyBefore.toFixed(2)} before)` : ''} | ${r.seconds.toFixed(1)} |`);
  }
  log('(MB/s out and B/row out: bytes written to the destination for exports; JSONEachRow bytes the store answered for the read passes.)');

  // Stage costs from differences of passes that add one stage each; main thread apart, because
  // it is the one thread the export's JS runs on (its pace once it is ~1 core busy).
  const find = (prefix: string) => passes.find((p) => p.result.name.startsWith(prefix))?.result;
  const raw = raws.filter((p) => p.store === 'chdb').map((p) => p.result).sort((a, b) => usPerRow(a) - usPerRow(b))[0];
  if (!raw) return;
  const line = (label: string, all: number, main: number) => log(`  ${label.padEnd(58)} ${all.toFixed(2)} | ${main.toFixed(2)}`);
  log('\nwhere the CPU per row goes (µs/row, all threads | main thread), from differences between passes:');
  line('raw store read (stored columns, JSONEachRow)', usPerRow(raw), mainUsPerRow(raw));
  for (const format of ['jsonl', 'csv']) {
    const shaped = find(`shaped read, ${format}`);
    if (!shaped) continue;
    line(`the export's read, ${format} (lines shaped by ClickHouse)`, usPerRow(shaped), mainUsPerRow(shaped));
    for (const p of passes.filter((x) => x.kind === 'export' && x.store === 'chdb' && x.result.name.startsWith(format))) {
      line(`  + part writer (gzip/hash/upload), ${p.result.name}`, usPerRow(p.result) - usPerRow(shaped), mainUsPerRow(p.result) - mainUsPerRow(shaped));
    }
  }
  const parse = find('read + parse');
  const map = find('read + map');
  if (parse && map) {
    log('  the JS path (what a row the SQL does not shape costs), over the raw read:');
    line('  + line split + JSON.parse', usPerRow(parse) - usPerRow(raw), mainUsPerRow(parse) - mainUsPerRow(raw));
    line('  + mapping (toScaiVaultLog)', usPerRow(map) - usPerRow(parse), mainUsPerRow(map) - mainUsPerRow(parse));
  }
}
