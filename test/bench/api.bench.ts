// npm run bench:api — the read APIs at 1M and 10M stored events, on both deployments, with and
// without ingest running beside them, each scenario beside the raw engine time of its own SQL
// measured in the same run. See .scratch/benchmarks-api.md / BENCHMARKS.md.
//
//   embedded     `auditflow all` (chDB + embedded log) as a child process
//   distributed  Kafka mock + ClickHouse HTTP over chDB + auditflow ingest / processor / api
//
// Per stored size and deployment: the history is loaded straight into the store while nothing
// runs on it (./api-history.ts, ./api-store-child.ts); the raw ceiling is taken on that data; the
// system starts on it; then each scenario (./api-scenarios.ts) runs as closed loops of 1 and 8
// clients (Egnyte: 100 pollers), first alone, then while ingest runs at BENCH_API_INGEST_RATE.
//
// Raw ceiling: the statements the route itself runs (captured from the real app serving the same
// request on the same data, warm high-water mark), with their bound parameters, straight on the
// store the deployment reads — in-process chDB on the data directory (embedded), the ClickHouse
// HTTP endpoint through ClickHouseHttpStore (distributed) — one call at a time (chDB serialises
// calls), wall time including the decode of the result rows, on a quiet store with no ingest.
// So API/raw is what HTTP, auth, JSON, the API's own work and (with ingest) waiting for the
// engine cost on top of the engine's own answer.
//
// Quick smoke run (~5 min, figures meaningless): BENCH_API_SIZES=50000 BENCH_API_SECONDS=2
// BENCH_API_CLIENTS=1 BENCH_QUIET_WAIT_MS=0 npm run bench:api. The real figures: BENCH_API_SIZES=
// 1000000,10000000 on a quiet machine (~25 min per 10M deployment the first time; BENCH_API_CACHE).
//
// Settings (environment): BENCH_API_SIZES (stored audit events, comma-separated; 100000), BENCH_API_CHANGES (ChangeLog rows per audit event,
// 0.3), BENCH_API_TENANTS (8), BENCH_API_DAYS (35), BENCH_API_ONLY (embedded|distributed),
// BENCH_API_SECONDS (per window, 8), BENCH_API_CLIENTS (1,8), BENCH_API_POLLERS (100),
// BENCH_API_INGEST_RATE (events/s, 20000), BENCH_API_INGEST_CHANGES (share of ingest that is
// ChangeLog entries, 0.2), BENCH_API_SCENARIOS (substring filter), BENCH_API_RAW_RUNS (300),
// BENCH_API_CACHE (a directory: each preloaded store is kept there and later runs start on a copy
// of it — minutes saved at 10M; the history then ends when it was made), BENCH_API_ENGINE (0: skip
// the engine-only probe), BENCH_QUIET_WAIT_MS (30000; 0: don't wait for a quiet machine), BENCH_JSON (every figure to
// this file), BENCH_PROFILE (a scenario-name substring: its 1-client ingest window on embedded is
// profiled — main thread, cpu-profiler.cjs — and summarised), SINK_BATCH_ROWS / SINK_BATCH_MS
// (passed to auditflow; the product's defaults when unset).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { issueToken } from '../../infra/auth/jwt.ts';
import { planHistory } from './api-history.ts';
import { prepareDistributed, prepareEmbedded, runStoreChild, type Prepared, type Running } from './api-deployments.ts';
import { isNoRoute, rawRequests, scenarios, type Scenario, type TokenSpec } from './api-scenarios.ts';
import type { RawResult, RawTiming } from './api-store-child.ts';
import type { EngineWindow } from './engine-contention.ts';
import type { HistoryPlan } from './api-history.ts';
import { envInt } from './bench-settings.ts';
import { summarizeProfile } from './cpuprofile.ts';
import { balancedTenants } from './events.ts';
import { request, waitQueryable } from './http-load.ts';
import { cpuWindow, machineCpu, waitForQuiet, type CpuUse } from './proc-stats.ts';
import { closedLoop, egnytePollers, pacedIngest, type IngestResult, type Latencies, type PollResult } from './read-load.ts';
import http from 'node:http';

const env = process.env;
const num = (k: string, d: number) => (env[k] ? Number(env[k]) : d);
const CFG = {
  sizes: (env['BENCH_API_SIZES'] ?? '100000').split(',').map((s) => Number(s.trim())).filter((n) => n > 0),
  changesPerEvent: num('BENCH_API_CHANGES', 0.3),
  tenants: envInt('BENCH_API_TENANTS', 8),
  days: envInt('BENCH_API_DAYS', 35),
  only: env['BENCH_API_ONLY'] as 'embedded' | 'distributed' | undefined,
  seconds: envInt('BENCH_API_SECONDS', 8),
  clients: (env['BENCH_API_CLIENTS'] ?? '1,8').split(',').map(Number).filter((n) => n > 0),
  pollers: envInt('BENCH_API_POLLERS', 100),
  rate: envInt('BENCH_API_INGEST_RATE', 20_000),
  ingestChanges: num('BENCH_API_INGEST_CHANGES', 0.2),
  filter: env['BENCH_API_SCENARIOS'],
  rawRuns: envInt('BENCH_API_RAW_RUNS', 300),
  quietWaitMs: env['BENCH_QUIET_WAIT_MS'] === '0' ? 0 : envInt('BENCH_QUIET_WAIT_MS', 30_000),
  profile: env['BENCH_PROFILE'],
  engine: env['BENCH_API_ENGINE'] !== '0',
  chunkRows: 100_000,
};
// Rate limiting off (RATE_LIMIT_MAX=0): the benchmark measures the read path, not the limiter.
const AUDITFLOW_ENV: Record<string, string> = {
  LOG_LEVEL: 'warn', KAFKA_SESSION_TIMEOUT_MS: '30000', RATE_LIMIT_MAX: '0',
  ...(env['SINK_BATCH_ROWS'] ? { SINK_BATCH_ROWS: env['SINK_BATCH_ROWS'] } : {}),
  ...(env['SINK_BATCH_MS'] ? { SINK_BATCH_MS: env['SINK_BATCH_MS'] } : {}),
};
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const log = (...a: unknown[]) => console.log(...a);
const mega = (n: number) => `${(n / 1e6).toFixed(n < 1e6 ? 2 : 0)}M`;
const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n >= 10 ? n.toFixed(1) : n.toFixed(2));

interface Window {
  scenario: string; route: string; clients: number; ingest: boolean;
  result: Latencies | PollResult; cpu: CpuUse[]; cpuPerRequestMs: number; busyCores: number; load1: number;
  ingestResult?: IngestResult; storedLagMs?: number; underLoad: boolean;
}
interface Run {
  deployment: string; size: number; preload: Prepared['preload']; startSeconds: number;
  raw: RawResult[]; availability: Record<string, string>; windows: Window[]; profile?: unknown; engine?: Record<string, EngineWindow[]>;
}

async function quiet(): Promise<{ busyCores: number; waitedMs: number }> {
  if (CFG.quietWaitMs === 0) return { busyCores: -1, waitedMs: 0 };
  return waitForQuiet(CFG.quietWaitMs);
}

const tokenCache = new Map<string, Promise<string>>();
function token(secret: string, t: TokenSpec): Promise<string> {
  const k = `${secret}|${t.tenant}|${t.scope}`;
  let p = tokenCache.get(k);
  if (!p) tokenCache.set(k, (p = issueToken(secret, { sub: 'bench', tid: t.tenant, scope: t.scope, ...t.claims })));
  return p;
}

async function get(url: string, tok: string): Promise<{ status: number; body: string }> {
  const agent = new http.Agent({ keepAlive: false });
  try {
    const r = await request(agent, url, 'GET', { authorization: `Bearer ${tok}` });
    return { status: r.status, body: r.body.toString('utf8') };
  } finally {
    agent.destroy();
  }
}

/** CPU of auditflow and the store per request, ms (the load generator's is reported apart). */
function cpuPerRequest(cpu: CpuUse[], requests: number): number {
  const s = cpu.filter((c) => c.label.startsWith('auditflow') || c.label.startsWith('clickhouse-http')).reduce((n, c) => n + c.seconds, 0);
  return requests > 0 ? (s * 1000) / requests : 0;
}

async function egnyteCursors(sys: Running, secret: string, tenants: string[]): Promise<{ token: string; cursor: number }[]> {
  const out: { token: string; cursor: number }[] = [];
  for (let i = 0; i < CFG.pollers; i++) {
    const tok = await token(secret, { tenant: tenants[i % tenants.length]!, scope: 'audit:read' });
    const r = await get(`${sys.apiUrl}/pubapi/v1/events/cursor`, tok);
    if (r.status !== 200) throw new Error(`GET /pubapi/v1/events/cursor → ${r.status}: ${r.body.slice(0, 200)}`);
    out.push({ token: tok, cursor: (JSON.parse(r.body) as { latest_event_id: number }).latest_event_id });
  }
  return out;
}

async function runWindow(sys: Running, prep: Prepared, s: Scenario, clients: number, withIngest: boolean, tenants: string[], tag: string, profilePid?: number): Promise<Window> {
  const tok = await token(prep.secret, s.token);
  const pollers = s.kind === 'egnyte' ? await egnyteCursors(sys, prep.secret, tenants) : [];
  const ingestTokens = new Map(await Promise.all(tenants.map(async (t) => [t, await token(prep.secret, { tenant: t, scope: 'audit:write audit:read' })] as [string, string])));
  const ingest = withIngest ? pacedIngest({ url: sys.ingestUrl, tokens: ingestTokens, tenants, rate: CFG.rate, seconds: CFG.seconds + 3, changeShare: CFG.ingestChanges, batch: 1000, clients: 4, runTag: tag }) : null;
  const q = await quiet();
  const ingestRun = ingest?.start();
  if (ingest) await new Promise((r) => setTimeout(r, 1500)); // the sink's batches flowing before reads are timed
  if (profilePid) process.kill(profilePid, 'SIGUSR2');
  const cpu = cpuWindow();
  const machine = machineCpu();
  const load1 = os.loadavg()[0]!;
  const maxMs = CFG.seconds * 1000;
  const states = Array.from({ length: clients }, () => ({} as { cursor?: string | undefined }));
  let result: Latencies | PollResult;
  try {
    result = s.kind === 'egnyte'
      ? await egnytePollers({ url: sys.apiUrl, pollers, maxRequests: 10_000_000, maxMs })
      : await closedLoop({
        url: sys.apiUrl, clients, maxRequests: 10_000_000, maxMs, ok: (st) => st === 200,
        next: (_i, c) => ({ path: s.path(states[c]!), token: tok }),
        onAnswer: s.follow ? (c, _st, body) => { states[c] = s.follow!(body); } : undefined,
      });
  } finally {
    ingest?.stop();
  }
  const use = cpu.end();
  const m = machine.end();
  if (profilePid) process.kill(profilePid, 'SIGUSR2');
  const w: Window = {
    scenario: s.name, route: s.route, clients: s.kind === 'egnyte' ? pollers.length : clients, ingest: withIngest, result, cpu: use,
    cpuPerRequestMs: cpuPerRequest(use, result.requests), busyCores: m.busyCores, load1, underLoad: q.busyCores >= 0.35,
  };
  if (ingestRun) {
    w.ingestResult = await ingestRun;
    const t0 = performance.now();
    // How far behind the store was when ingest stopped: the sink keeping up is part of "reads stay fast while ingest runs".
    const readTokens = new Map([...w.ingestResult.lastAcked.keys()].map((t) => [t, ingestTokens.get(t)!]));
    const qr = await waitQueryable({ url: sys.apiUrl, expected: w.ingestResult.lastAcked, tokens: readTokens, timeoutMs: 120_000, intervalMs: 20 });
    w.storedLagMs = Math.round(qr.at - t0);
  }
  return w;
}

/** A scenario's raw ceiling: what a warm system runs for it (null when it answers from memory). */
function warmCeiling(run: { raw: RawResult[] }, scenario: string): RawTiming | null {
  return run.raw.filter((x) => x.name.startsWith(`${scenario} /`)).find((x) => x.warm)?.warm ?? null;
}
const timing = (t: RawTiming | null) => (t ? `${t.statements.length} statement(s), p50 ${fmt(t.p50)} ms, p99 ${fmt(t.p99)} ms, ${(t.cpuPerRun * 1000).toFixed(2)} ms CPU (${t.runs} runs)` : 'no SQL (from memory)');

function printWindow(w: Window, raw: RawTiming | null, cold: RawTiming | null): void {
  const r = w.result;
  const rawCeil = raw && raw.mean > 0 ? 1000 / raw.mean : 0;
  const polls = 'withEvents' in r ? `; ${r.withEvents} polls with events (${r.events} events), ${r.requests - r.withEvents} × 204` : '';
  log(`  ${w.ingest ? 'with ingest' : 'no ingest  '} ${String(w.clients).padStart(3)} clients: ${fmt(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms`
    + (!raw && cold ? ` | answered from memory when warm (a cold request's SQL, raw: p50 ${fmt(cold.p50)} ms)` : '')
    + (raw && raw.mean > 0 ? ` | raw p50 ${fmt(raw.p50)} ms, p99 ${fmt(raw.p99)} ms → p50 ×${(r.p50 / raw.p50).toFixed(1)}, req/s ${((r.rps / rawCeil) * 100).toFixed(0)}% of raw ${fmt(rawCeil)}/s` : '')
    + ` | CPU ${w.cpuPerRequestMs.toFixed(2)} ms/req${polls}${w.underLoad ? ' [machine busy]' : ''}`);
  if (w.ingestResult) {
    const i = w.ingestResult;
    log(`      ingest: ${fmt(i.rate)} events/s achieved of ${fmt(CFG.rate)} offered (${i.audit} audit + ${i.changes} changes in ${i.seconds.toFixed(1)} s; request p50 ${i.p50} ms, p99 ${i.p99} ms; ${i.lateRequests} requests sent late); stored ${w.storedLagMs} ms after ingest stopped`);
  }
}

/** Embedded only: the route's statements on the engine alone, with and without sink-sized inserts (./engine-contention.ts). */
async function engineProbe(prep: Prepared, plan: HistoryPlan, raw: RawResult[]): Promise<Record<string, EngineWindow[]>> {
  const out: Record<string, EngineWindow[]> = {};
  if (!CFG.engine || !('chdb' in prep.rawStore)) return out;
  const batchMs = Number(env['SINK_BATCH_MS'] ?? 250);
  const perBatch = (CFG.rate * batchMs) / 1000;
  for (const r of raw.filter((x) => (x.warm ?? x.cold) && /^(logs|summary)/.test(x.name))) {
    log(`— engine alone: "${r.name}" while ${fmt(CFG.rate)} events/s arrive as inserts every ${batchMs} ms (no HTTP)`);
    await quiet();
    const windows = await runStoreChild<EngineWindow[]>({
      mode: 'engine', dir: prep.rawStore.chdb, statements: (r.warm ?? r.cold)!.statements, plan, intervalMs: batchMs, seconds: Math.min(CFG.seconds, 6), clients: CFG.clients,
      auditRows: Math.round(perBatch * (1 - CFG.ingestChanges)), changeRows: Math.round(perBatch * CFG.ingestChanges),
    });
    for (const w of windows) log(`  ${w.variant.padEnd(22)} ${String(w.clients).padStart(2)} clients: ${fmt(w.readsPerSec)} reads/s, p50 ${w.p50} ms, p99 ${w.p99} ms | ${w.inserts} inserts (${fmt(w.insertRowsPerSec)} rows/s), insert p50 ${w.insertP50} ms, max ${w.insertMax} ms`);
    out[r.name] = windows;
  }
  return out;
}

async function measure(prep: Prepared, size: number, tenants: string[], now: number, profileDir: string | null, plan: HistoryPlan): Promise<Run> {
  const list = scenarios({ preload: prep.preload, now }).filter((s) => !CFG.filter || s.name.includes(CFG.filter));
  log(`— raw ceiling: the routes' own SQL on ${prep.name === 'embedded' ? 'chDB in-process (data directory)' : 'the ClickHouse HTTP endpoint'}`);
  await quiet();
  const raw = await runStoreChild<RawResult[]>({ mode: 'raw', store: prep.rawStore, secret: prep.secret, requests: rawRequests(list), runs: CFG.rawRuns, maxMs: 5000 });
  for (const r of raw) {
    log(`  ${r.name}: ${r.error ? `HTTP ${r.status} ${r.error}` : `HTTP ${r.status}; warm: ${timing(r.warm)}; first request: ${timing(r.cold)}`}`);
  }
  const engine = await engineProbe(prep, plan, raw);
  log(`— starting ${prep.name} on ${size.toLocaleString('en-US')} stored events`);
  const sys = await prep.start();
  const run: Run = { deployment: prep.name, size, preload: prep.preload, startSeconds: sys.startSeconds, raw, engine, availability: {}, windows: [] };
  try {
    // Warm-up: the first events through ingest, stored (the sink holds every partition), then
    // ingest at the measured rate for a few seconds (JIT, the log's and the sink's first batches).
    const t0 = performance.now();
    const writeTokens = new Map(await Promise.all(tenants.map(async (t) => [t, await token(prep.secret, { tenant: t, scope: 'audit:write audit:read' })] as [string, string])));
    const first = await pacedIngest({ url: sys.ingestUrl, tokens: writeTokens, tenants, rate: 100_000, seconds: tenants.length * 0.02, changeShare: 0.2, batch: 250, clients: 2, runTag: `v${size}` }).start();
    await waitQueryable({ url: sys.apiUrl, expected: first.lastAcked, tokens: writeTokens, timeoutMs: 600_000, intervalMs: 100 });
    const ready = (performance.now() - t0) / 1000;
    const wr = await pacedIngest({ url: sys.ingestUrl, tokens: writeTokens, tenants, rate: CFG.rate, seconds: 3, changeShare: CFG.ingestChanges, batch: 1000, clients: 4, runTag: `w${size}` }).start();
    await waitQueryable({ url: sys.apiUrl, expected: wr.lastAcked, tokens: new Map(await Promise.all([...wr.lastAcked.keys()].map(async (t) => [t, await token(prep.secret, { tenant: t, scope: 'audit:read' })] as [string, string]))), timeoutMs: 600_000, intervalMs: 100 });
    run.startSeconds += ready;
    log(`  ready (listening, partitions assigned, a first batch stored) after ${run.startSeconds.toFixed(1)} s; warm-up ingest ${fmt(wr.rate)} events/s`);
    let n = 0;
    for (const s of list) {
      const tok = await token(prep.secret, s.token);
      const probe = await get(`${sys.apiUrl}${s.path({})}`, tok);
      const avail = isNoRoute(probe.status, probe.body) ? 'not available (route not registered yet)' : probe.status === 200 || probe.status === 204 ? 'ok' : `error: HTTP ${probe.status} ${probe.body.slice(0, 200)}`;
      run.availability[s.name] = avail;
      log(`\n${s.name} (${s.route}): ${avail === 'ok' ? '' : avail}`);
      if (avail !== 'ok') continue;
      for (let i = 0; i < 20; i++) await get(`${sys.apiUrl}${s.path({})}`, tok); // warm (JIT, caches)
      const main = warmCeiling(run, s.name);
      const cold = raw.filter((r) => r.name.startsWith(`${s.name} /`)).find((r) => r.cold)?.cold ?? null;
      for (const clients of s.kind === 'egnyte' ? [CFG.pollers] : CFG.clients) {
        for (const withIngest of [false, true]) {
          const profilePid = profileDir && withIngest && (s.kind === 'egnyte' || clients === CFG.clients[0]) && s.name.includes(CFG.profile!) ? sys.processes()[0]!.pid : undefined;
          const w = await runWindow(sys, prep, s, clients, withIngest, tenants, `r${size % 1000}${n++}`, profilePid);
          printWindow(w, main, cold);
          run.windows.push(w);
        }
      }
    }
    if (profileDir) {
      const f = readdirSync(profileDir).find((x) => x.endsWith('.cpuprofile'));
      if (f) {
        const p = summarizeProfile(path.join(profileDir, f), 25);
        run.profile = { file: path.join(profileDir, f), ...p };
        log(`\nprofile of the auditflow main thread during "${CFG.profile}" with ingest (${p.totalMs} ms; ${path.join(profileDir, f)}):`);
        for (const st of p.stages.slice(0, 10)) log(`  ${st.pct.toFixed(1).padStart(5)}%  ${st.stage}`);
        for (const st of p.selfTop.slice(0, 15)) log(`  ${st.pct.toFixed(1).padStart(5)}%  ${st.fn}`);
      }
    }
  } catch (e) {
    (e as Error).message += `\n${sys.outputs()}`;
    throw e;
  } finally {
    await sys.stop();
  }
  return run;
}

function machineInfo(): Record<string, string> {
  const req = createRequire(import.meta.url);
  let commit = '?';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    if (execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'api', 'infra', 'processors', 'ingest', 'schemas'], { cwd: ROOT, encoding: 'utf8' }).trim()) commit += ' (product code modified)';
  } catch { /* not a checkout */ }
  return {
    cpu: /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '?', nproc: String(os.availableParallelism()),
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`, node: process.version, chdb: (req('chdb/package.json') as { version: string }).version,
    commit, load: os.loadavg().map((x) => x.toFixed(2)).join(' '),
  };
}

function summaryTable(runs: Run[]): string {
  const lines = ['| deployment | stored | scenario | clients | ingest | req/s | p50 ms | p99 ms | raw p50 / p99 ms | p50 ×raw | CPU ms/req | ingest achieved ev/s |', '|---|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|'];
  for (const r of runs) {
    for (const w of r.windows) {
      const raw = warmCeiling(r, w.scenario);
      lines.push(`| ${r.deployment} | ${mega(r.size)} | ${w.scenario} | ${w.clients} | ${w.ingest ? 'yes' : 'no'} | ${fmt(w.result.rps)} | ${w.result.p50} | ${w.result.p99} | `
        + `${raw ? `${fmt(raw.p50)} / ${fmt(raw.p99)}` : 'from memory'} | ${raw ? (w.result.p50 / raw.p50).toFixed(1) : '—'} | ${w.ingest ? '—' : w.cpuPerRequestMs.toFixed(2)} | ${w.ingestResult ? fmt(w.ingestResult.rate) : '—'} |`);
    }
    for (const [s, a] of Object.entries(r.availability)) if (a !== 'ok') lines.push(`| ${r.deployment} | ${mega(r.size)} | ${s} | | | ${a} | | | | | | |`);
  }
  return lines.join('\n');
}

function targets(runs: Run[]): string[] {
  const r = runs.filter((x) => x.deployment === 'embedded').sort((a, b) => b.size - a.size)[0];
  if (!r) return [];
  const out: string[] = [];
  for (const s of scenarios({ preload: r.preload, now: Date.now() })) {
    if (!s.target) continue;
    const w = r.windows.find((x) => x.scenario === s.name && x.ingest && (s.kind === 'egnyte' || x.clients === 1));
    if (!w) {
      out.push(`${s.name}: ${s.target.what} — not measured (${r.availability[s.name] ?? 'filtered out'})`);
      continue;
    }
    const met = s.target.p99Ms !== undefined ? w.result.p99 < s.target.p99Ms : w.result.rps >= (s.target.rps ?? 0);
    out.push(`${s.name} (embedded, ${mega(r.size)}, ingest running${s.kind === 'egnyte' ? '' : ', 1 client'}): ${s.target.what} → p99 ${w.result.p99} ms, ${fmt(w.result.rps)} req/s: ${met ? 'MET' : 'NOT MET'}`);
  }
  return out;
}

async function main(): Promise<void> {
  const info = machineInfo();
  log('auditflow read-API benchmark');
  log(Object.entries(info).map(([k, v]) => `${k}: ${v}`).join(' | '));
  log(`settings: ${JSON.stringify(CFG)}; auditflow env ${JSON.stringify(AUDITFLOW_ENV)}`);
  const tenants = balancedTenants(CFG.tenants, 3, 'tnt_api_');
  const runs: Run[] = [];
  for (const size of CFG.sizes) {
    for (const name of ['embedded', 'distributed'] as const) {
      if (CFG.only && CFG.only !== name) continue;
      const now = Date.now();
      const plan = planHistory({ tenants, events: size, changeEvents: Math.round(size * CFG.changesPerEvent), partitions: name === 'embedded' ? 1 : 3, offsets: name === 'embedded' ? 'position' : 'zero', endMs: now - 60_000, days: CFG.days, seed: 0x5eed });
      log(`\n=== ${name}, ${size.toLocaleString('en-US')} stored audit events (+ ${Math.round(size * CFG.changesPerEvent).toLocaleString('en-US')} ChangeLog rows), ${tenants.length} tenants, ${CFG.days} days ===`);
      const t0 = performance.now();
      // Node 20 refuses --cpu-prof in NODE_OPTIONS: a preloaded module profiles the marked window.
      const profileDir = name === 'embedded' && CFG.profile ? mkdtempSync(path.join(os.tmpdir(), 'af-bench-api-prof-')) : null;
      const profileEnv: Record<string, string> = profileDir ? { NODE_OPTIONS: `--require ${path.join(HERE, 'cpu-profiler.cjs')}`, BENCH_CPU_PROFILE_DIR: profileDir } : {};
      const opts = { plan, chunkRows: CFG.chunkRows, env: { ...AUDITFLOW_ENV, ...profileEnv }, startTimeoutMs: 900_000, cacheDir: env['BENCH_API_CACHE'] };
      const prep = name === 'embedded' ? await prepareEmbedded(opts) : await prepareDistributed(opts);
      try {
        const p = prep.preload;
        log(`${p.cachedAt ? `copied in ${((performance.now() - t0) / 1000).toFixed(0)} s from a store preloaded at ${p.cachedAt} (preload took` : `preloaded in ${((performance.now() - t0) / 1000).toFixed(0)} s (`}audit ${p.seconds.generateAndInsert.audit_events.toFixed(0)} s, changes ${p.seconds.generateAndInsert.change_log.toFixed(0)} s, OPTIMIZE ${p.seconds.optimize.toFixed(0)} s): `
          + `${p.parts.map((x) => `${x.table} ${x.parts} parts ${(x.bytesOnDisk / 2 ** 20).toFixed(0)} MiB`).join(', ')}; largest tenant ${p.tenants[0]!.tenant}: ${p.tenants[0]!.audit.toLocaleString('en-US')} events; `
          + `contiguous seq: ${p.tenants.every((t) => t.audit === t.auditMaxSeq && t.changes === t.changesMaxSeq)}; engine ${p.engineVersion}`);
        runs.push(await measure(prep, size, tenants, now, profileDir, plan));
      } finally {
        await prep.cleanup();
      }
    }
  }
  log('\n— results');
  log(summaryTable(runs));
  log('\n— targets');
  for (const t of targets(runs)) log(t);
  if (env['BENCH_JSON']) writeFileSync(env['BENCH_JSON'], JSON.stringify({ date: new Date().toISOString(), machine: info, settings: CFG, runs }, (_k, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v), 2));
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`\nbench:api failed: ${(e as Error).stack ?? String(e)}`);
    process.exit(1);
  },
);
