// npm run bench:realtime — the realtime edge at 10,000 WebSockets and 1,000 SSE streams while
// ingest runs, beside a bare `ws` broadcast of the same frames in the same run. See
// .scratch/benchmarks-realtime.md / BENCHMARKS.md.
//
//   1. `auditflow all` (the embedded deployment, a child process) on an empty data directory;
//      warm-up ingest, then an ingest-only window at the measured rate (the CPU baseline).
//   2. BENCH_RT_WORKERS client processes (./realtime-clients.ts) open the sockets: sync sockets
//      with a `shares` claim, UI sockets subscribed to a share, SSE streams (audit:admin) — memory
//      of auditflow measured before, after the WebSockets and after the streams.
//   3. The measured window: ingest paced to BENCH_RT_RATE rows/s (ChangeLog entries spread over the
//      shares via /v1/ingest/changes, audit events via /v1/ingest/audit-events); every client
//      stamps each frame of the window's rows on arrival (wall clock, all processes share it).
//      Latency from the 202, and from readable (./realtime-analysis.ts says how readable is known
//      without product code), frames/s, CPU per frame.
//   4. A profiled window (BENCH_RT_PROFILE=0 skips it): the same load with V8's sampling profiler on
//      auditflow's main thread (./cpu-profiler.cjs), kept under /tmp.
//   5. auditflow stops; the window's rows' received_at are read from its store.
//   6. The ceiling (./realtime-ceiling.ts): a bare ws server in its own process; the same clients
//      in the same processes connect to it, and it replays the captured frames, batch by batch,
//      paced as the product's were (latency), back to back (deliveries/s), and paced with each
//      socket's frames of a batch in one write (what coalescing would be worth).
// The machine has 2 cores: auditflow, the client processes, the load generator and the ceiling
// share them, and the figures say so.
//
// Quick smoke run (~2 min, figures meaningless): BENCH_RT_WS=400 BENCH_RT_SSE=40 BENCH_RT_SECONDS=5
// BENCH_RT_RATE=400 BENCH_QUIET_WAIT_MS=0 npm run bench:realtime. The real figures: the defaults
// (10,000 + 1,000 clients, 30 s windows) on a quiet machine, ~5 min (it saturates both cores: check
// the "other work on the machine" row — another process's load shows there, not in our figures).
//
// Settings (environment): BENCH_RT_WS (WebSocket clients, 10000), BENCH_RT_SSE (SSE clients, 1000),
// BENCH_RT_SECONDS (measured window, 30), BENCH_RT_RATE (ingest rows/s, 1000), BENCH_RT_CHANGES
// (share of rows that are ChangeLog entries, 0.5), BENCH_RT_BATCH (rows per ingest request, 20),
// BENCH_RT_TENANTS (20), BENCH_RT_SHARES (shares per tenant, 25), BENCH_RT_UI_SHARE (share of the
// WebSockets that are UI sockets, 0.3), BENCH_RT_SYNC_SHARES (shares in a sync token's claim, 2),
// BENCH_RT_WORKERS (client processes, 2), BENCH_RT_PROFILE (0: no profiled window), BENCH_RT_KEEP
// (1: keep the temporary directory with the per-frame records),
// BENCH_QUIET_WAIT_MS (30000; 0: don't wait for a quiet machine), BENCH_JSON (every figure to
// this file). auditflow runs with its defaults (heartbeats 30 s, 1 MiB send buffers, sink batches
// of 250 ms) and RATE_LIMIT_MAX=0. The file-descriptor limit is checked per process (server:
// one per client; each client process: its clients) and raised to the hard limit if needed.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { issueToken } from '../../infra/auth/jwt.ts';
import { startAuditflow, type AuditflowProcess } from '../support/auditflow-process.ts';
import { envInt } from './bench-settings.ts';
import { runBenchChild } from './bench-child.ts';
import { summarizeProfile } from './cpuprofile.ts';
import { busyStretches } from './realtime-profile.ts';
import { waitQueryable } from './http-load.ts';
import { cpuBetween, sampleProcess, waitForQuiet } from './proc-stats.ts';
import { ceilingFigures, ceilingSchedule, productFigures, readInserts, readRecords, readSamples, scheduledDeliveries } from './realtime-analysis.ts';
import { BenchProcess } from './realtime-ipc.ts';
import { runIngest } from './realtime-ingest.ts';
import { buildLoad, expectedRecipients, marker, planClients, type ClientPlan, type ClientSpec, type WindowLoad } from './realtime-plan.ts';
import { ephemeralPorts, fdLimits, machineSplit, metricDelta, requireFds, rssBytes, scrapeMetrics, settledMemory, type MemorySample } from './realtime-probes.ts';
import { printReport, type Report } from './realtime-report.ts';

const env = process.env;
const num = (k: string, d: number) => (env[k] ? Number(env[k]) : d);
const CFG = {
  ws: envInt('BENCH_RT_WS', 10_000), sse: envInt('BENCH_RT_SSE', 1000), seconds: envInt('BENCH_RT_SECONDS', 30), rate: envInt('BENCH_RT_RATE', 1000),
  changeShare: num('BENCH_RT_CHANGES', 0.5), batch: envInt('BENCH_RT_BATCH', 20), tenants: envInt('BENCH_RT_TENANTS', 20), shares: envInt('BENCH_RT_SHARES', 25),
  uiShare: num('BENCH_RT_UI_SHARE', 0.3), syncClaims: envInt('BENCH_RT_SYNC_SHARES', 2), workers: envInt('BENCH_RT_WORKERS', 2),
  profile: env['BENCH_RT_PROFILE'] !== '0', quietWaitMs: env['BENCH_QUIET_WAIT_MS'] === '0' ? 0 : envInt('BENCH_QUIET_WAIT_MS', 30_000),
  connectConcurrency: 64, targetP99Ms: 100,
};
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const TMP = mkdtempSync(path.join(os.tmpdir(), 'af-bench-rt-'));
const log = (...a: unknown[]) => console.log(...a);
const t00 = performance.now();
const elapsed = () => `${((performance.now() - t00) / 1000).toFixed(0)} s`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quiet = async () => (CFG.quietWaitMs === 0 ? { busyCores: -1, waitedMs: 0 } : waitForQuiet(CFG.quietWaitMs));

/** Descriptors each process needs: the server one per client (+ the store's files), a client process one per client. */
const NEED = { server: CFG.ws + CFG.sse + 1024, worker: Math.ceil((CFG.ws + CFG.sse) / CFG.workers) + 256 };

/** `ulimit -n` is per process and inherited: below the need but within the hard limit, run again with it raised. */
function ensureFdLimit(): void {
  const need = Math.max(NEED.server, NEED.worker);
  const { soft, hard } = fdLimits();
  if (soft >= need) return;
  if (hard < need || env['BENCH_RT_FD_RAISED']) requireFds('self', 'bench:realtime', need);
  log(`raising the open-files limit from ${soft} to ${hard} (needs ~${need}) and running again`);
  const r = spawnSync('/bin/sh', ['-c', `ulimit -n ${hard} && exec "$0" "$@"`, process.execPath, ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...env, BENCH_RT_FD_RAISED: '1' } });
  process.exit(r.status ?? 1);
}

interface Procs { server: { pid: number; label: string }; workers: BenchProcess[] }
function cpuStart(p: Procs) {
  const targets = [p.server, ...p.workers.map((w) => ({ pid: w.pid, label: w.label })), { pid: process.pid, label: 'bench (ingest driver)' }];
  const a = targets.map((t) => sampleProcess(t.pid, t.label)!);
  const m = machineSplit();
  return { end: () => ({ use: targets.map((t, i) => cpuBetween(a[i]!, sampleProcess(t.pid, t.label)!)), machine: m.end() }) };
}

async function eachWorker<T>(workers: BenchProcess[], cmd: string, args: (w: number) => Record<string, unknown> = () => ({})): Promise<T[]> {
  return Promise.all(workers.map((w, i) => w.call<T>(cmd, args(i))));
}

/** Opens the clients of `kinds` in every client process; fails on the first client that cannot connect. */
async function connectClients(workers: BenchProcess[], plan: ClientPlan, mode: 'product' | 'ceiling', url: string, secret: string, kinds: ClientSpec['kind'][]): Promise<number> {
  const t0 = performance.now();
  const r = await eachWorker<{ connected: number }>(workers, 'connect', (w) => ({
    mode, url, secret, clients: plan.perWorker[w]!.filter((c) => kinds.includes(c.kind)), concurrency: CFG.connectConcurrency,
    localAddress: `127.0.0.${2 + w}`, timeoutMs: 120_000,
  }));
  const n = plan.clients.filter((c) => kinds.includes(c.kind)).length;
  const open = r.reduce((s, x) => s + x.connected, 0);
  log(`  ${kinds.join('+')} clients on the ${mode}: ${n} connected in ${((performance.now() - t0) / 1000).toFixed(1)} s (open in the client processes: ${open})`);
  return (performance.now() - t0) / 1000;
}

/** Waits until the client processes recorded `expected` frames (or progress stops for 5 s). */
async function drain(workers: BenchProcess[], expected: number, maxMs = 60_000): Promise<number> {
  const deadline = performance.now() + maxMs;
  let last = -1;
  let lastMove = performance.now();
  for (;;) {
    const n = (await eachWorker<{ n: number }>(workers, 'count')).reduce((s, x) => s + x.n, 0);
    if (n >= expected) return n;
    if (n !== last) { last = n; lastMove = performance.now(); }
    if (performance.now() - lastMove > 5000 || performance.now() > deadline) return n;
    await sleep(200);
  }
}

async function dump(workers: BenchProcess[], name: string, samples: boolean) {
  const files = workers.map((_, w) => path.join(TMP, `${name}-${w}.bin`));
  const sampleFiles = workers.map((_, w) => path.join(TMP, `${name}-${w}.samples`));
  const r = await eachWorker<{ n: number; other: number; pings: number[] }>(workers, 'dump', (w) => ({ file: files[w], ...(samples ? { samples: sampleFiles[w] } : {}) }));
  return { rec: readRecords(files), other: r.reduce((s, x) => s + x.other, 0), sampleFiles, pings: r.flatMap((x) => x.pings) };
}

async function productMemory(sys: AuditflowProcess): Promise<MemorySample> {
  return settledMemory(async () => ({ rss: rssBytes(sys.pid), heap: (await scrapeMetrics(sys.url!)).get('nodejs_heap_size_used_bytes') ?? NaN }));
}
const ceilingMemory = (c: BenchProcess) => settledMemory(async () => {
  const s = await c.call<{ memory: NodeJS.MemoryUsage }>('status');
  return { rss: s.memory.rss, heap: s.memory.heapUsed };
});

async function main(): Promise<void> {
  ensureFdLimit();
  const perSource = Math.ceil((CFG.ws + CFG.sse) / CFG.workers);
  if (ephemeralPorts() < perSource + 1000) throw new Error(`each client process connects ${perSource} sockets from its own loopback address but the kernel has ${ephemeralPorts()} ephemeral ports (net.ipv4.ip_local_port_range): raise BENCH_RT_WORKERS`);
  const info = machineInfo();
  log('auditflow realtime benchmark');
  log(Object.entries(info).map(([k, v]) => `${k}: ${v}`).join(' | '));
  log(`settings: ${JSON.stringify(CFG)}; open files per process: ${JSON.stringify(fdLimits())}, needs ${JSON.stringify(NEED)}; temp ${TMP}`);
  const plan = planClients({ ws: CFG.ws, sse: CFG.sse, tenants: CFG.tenants, shares: CFG.shares, uiShare: CFG.uiShare, syncClaims: CFG.syncClaims, workers: CFG.workers, seed: 0x5eed });
  const fan = [...plan.followers.values()].map((f) => f.sync + f.ui);
  log(`plan: ${plan.clients.filter((c) => c.kind === 'sync').length} sync + ${plan.clients.filter((c) => c.kind === 'ui').length} UI sockets over ${CFG.tenants} tenants × ${CFG.shares} shares `
    + `(a change reaches ${Math.min(...fan)}–${Math.max(...fan)} sockets, mean ${(fan.reduce((a, b) => a + b, 0) / fan.length).toFixed(1)}); ${CFG.sse} SSE streams (${(CFG.sse / CFG.tenants).toFixed(1)} per tenant: an audit event reaches each of its tenant's)`);
  const offered = CFG.rate * (CFG.changeShare * (fan.reduce((a, b) => a + b, 0) / fan.length) + (1 - CFG.changeShare) * (CFG.sse / CFG.tenants));
  log(`offered: ${CFG.rate} rows/s → ~${Math.round(offered).toLocaleString('en-US')} frames/s`);
  await quiet();

  const secret = randomBytes(32).toString('hex');
  const dataDir = path.join(TMP, 'data');
  const profDir = mkdtempSync(path.join(os.tmpdir(), 'af-bench-rt-prof-'));
  const insertsFile = path.join(TMP, 'inserts.ndjson');
  const sys = await startAuditflow('all', {
    DATA_DIR: dataDir, AUTH_JWT_SECRET: secret, RATE_LIMIT_MAX: '0', LOG_LEVEL: 'warn',
    NODE_OPTIONS: `--require ${path.join(HERE, 'cpu-profiler.cjs')} --require ${path.join(HERE, 'realtime-readable-probe.cjs')}`,
    BENCH_CPU_PROFILE_DIR: profDir, BENCH_RT_READABLE_FILE: insertsFile,
  }, 120_000);
  const workers: BenchProcess[] = [];
  let ceiling: BenchProcess | null = null;
  const report: Partial<Report> = { info, cfg: CFG, plan: { fanMin: Math.min(...fan), fanMax: Math.max(...fan), fanMean: fan.reduce((a, b) => a + b, 0) / fan.length, offered } };
  try {
    requireFds(sys.pid, 'auditflow all', NEED.server);
    const writeTokens = new Map(await Promise.all(plan.tenants.map(async (t) => [t, await issueToken(secret, { sub: 'bench', tid: t, scope: 'audit:write audit:read' })] as [string, string])));
    const window = (tag: string, seconds: number, seed: number) => buildLoad({ tag, plan, rate: CFG.rate, seconds, changeShare: CFG.changeShare, batch: CFG.batch, seed });
    const ingest = (load: WindowLoad) => runIngest({ url: sys.url!, load, tokens: writeTokens, rate: CFG.rate, clients: 4 });

    log(`\n— auditflow all started (pid ${sys.pid}); warm-up ingest (${elapsed()})`);
    const warm = window(`w${sys.pid % 1000}`, 3, 1);
    await ingest(warm);
    const lastAudit = new Map<string, string>();
    warm.ids.forEach((id, g) => { if (warm.kind[g] === 1) lastAudit.set(plan.tenants[warm.tenant[g]!]!, id); });
    await waitQueryable({ url: sys.url!, expected: lastAudit, tokens: writeTokens, timeoutMs: 120_000, intervalMs: 100 });

    log(`— ingest alone, ${Math.min(CFG.seconds, 15)} s at ${CFG.rate} rows/s (the CPU baseline, no clients) (${elapsed()})`);
    const procs: Procs = { server: { pid: sys.pid, label: 'auditflow all' }, workers };
    await quiet();
    const base = cpuStart(procs);
    const baseRun = await ingest(window(`b${sys.pid % 1000}`, Math.min(CFG.seconds, 15), 2));
    await sleep(500);
    const baseCpu = base.end();
    const baseCores = baseCpu.use[0]!.seconds / (baseRun.seconds + 0.5);
    // Per row, not per second: with clients the same rows may take longer to get in.
    const baseCpuPerRow = baseCpu.use[0]!.seconds / baseRun.rows;
    log(`  ${Math.round(baseRun.rate)} rows/s, 202 p50 ${baseRun.p50} ms p99 ${baseRun.p99} ms; auditflow ${baseCores.toFixed(2)} cores`);
    const mem0 = await productMemory(sys);

    log(`— client processes: ${CFG.workers}, connecting ${CFG.ws} WebSockets then ${CFG.sse} SSE streams (${elapsed()})`);
    for (let w = 0; w < CFG.workers; w++) workers.push(BenchProcess.start(path.join(HERE, 'realtime-clients.ts'), `clients-${w}`));
    for (const w of workers) requireFds(w.pid, w.label, NEED.worker);
    const wsConnectS = await connectClients(workers, plan, 'product', sys.url!, secret, ['sync', 'ui']);
    const mem1 = await productMemory(sys);
    const sseConnectS = await connectClients(workers, plan, 'product', sys.url!, secret, ['sse']);
    await sleep(3000); // the streams' own self-audit events reach the streams of their tenant
    const mem2 = await productMemory(sys);
    report.memory = { base: mem0, afterWs: mem1, afterSse: mem2, wsConnectS, sseConnectS };
    log(`  auditflow RSS ${mb(mem0.rss)} → ${mb(mem1.rss)} (WebSockets) → ${mb(mem2.rss)} MiB (SSE); heap ${mb(mem0.heap)} → ${mb(mem1.heap)} → ${mb(mem2.heap)} MiB`);

    // Warm: the fan-out's code paths are cold until frames go out (the baseline had no clients).
    await ingest(window(`u${sys.pid % 1000}`, 3, 5));
    await sleep(1000);

    log(`— measured window: ${CFG.seconds} s at ${CFG.rate} rows/s with every client recording (${elapsed()})`);
    const load = window(`m${sys.pid % 1000}`, CFG.seconds, 3);
    let expected = 0;
    for (let g = 0; g < load.kind.length; g++) expected += expectedRecipients(plan, load, g);
    await eachWorker(workers, 'record', () => ({ marker: marker(load.tag), capture: true }));
    const q = await quiet();
    const m0 = await scrapeMetrics(sys.url!);
    const cpu = cpuStart(procs);
    const run = await ingest(load);
    const got = await drain(workers, expected);
    const use = cpu.end();
    const m1 = await scrapeMetrics(sys.url!);
    const measured = await dump(workers, 'product', true);
    const status = await eachWorker<{ unexpectedCloses: Record<string, number> }>(workers, 'status');
    log(`  machine busy before the window: ${q.busyCores.toFixed(2)} cores (waited ${(q.waitedMs / 1000).toFixed(0)} s)`);
    log(`  ingest ${Math.round(run.rate)} rows/s (202 p50 ${run.p50} ms, p99 ${run.p99} ms, ${run.late} requests late); ${got} of ${expected} expected frames recorded; ${measured.other} other frames; unexpected closes ${JSON.stringify(status.map((s) => s.unexpectedCloses))}`);
    const counters = Object.fromEntries(['auditflow_realtime_ws_slow_closed_total', 'auditflow_realtime_ws_dead_total', 'auditflow_realtime_sse_lagged_total', 'auditflow_realtime_feed_healed_total', 'auditflow_self_audit_dropped_total']
      .map((k) => [k, metricDelta(m0, m1, k)]));

    let profile: Report['profile'] = null;
    if (CFG.profile) {
      const ps = Math.min(CFG.seconds, 20);
      log(`— profiled window: ${ps} s of the same load, V8 sampling profiler on auditflow's main thread (${elapsed()})`);
      process.kill(sys.pid, 'SIGUSR2');
      await sleep(300);
      await ingest(window(`p${sys.pid % 1000}`, ps, 4));
      await sleep(1500);
      process.kill(sys.pid, 'SIGUSR2');
      for (let i = 0; i < 100 && !readdirSync(profDir).some((f) => f.endsWith('.cpuprofile')); i++) await sleep(200);
      const f = readdirSync(profDir).find((x) => x.endsWith('.cpuprofile'));
      profile = f ? { file: path.join(profDir, f), ...summarizeProfile(path.join(profDir, f), 25), stretches: busyStretches(path.join(profDir, f)) } : null;
    }

    log(`— closing the clients, stopping auditflow, reading the window's received_at from its store (${elapsed()})`);
    await eachWorker(workers, 'close');
    await sys.stop();
    const stored = await runBenchChild<{ ids: string[]; at: number[] }>(path.join(HERE, 'realtime-store-child.ts'), { dir: path.join(dataDir, 'clickhouse'), like: `%${marker(load.tag)}%` });
    const index = new Map(load.ids.map((id, g) => [id, g]));
    const receivedAt = new Float64Array(load.ids.length).fill(NaN);
    stored.ids.forEach((id, k) => { const g = index.get(id); if (g !== undefined) receivedAt[g] = stored.at[k]!; });
    const product = productFigures({ rec: measured.rec, plan, load, acked: run.acked, receivedAt, inserts: readInserts(insertsFile), pings: measured.pings });
    report.product = { figures: product, ingest: run, cpu: use.use, machine: use.machine, baseCores, baseCpuPerRow, counters, stored: stored.ids.length, rows: load.ids.length, quietBefore: q.busyCores };
    report.profile = profile;

    log(`— ceiling: a bare ws server in its own process, the same clients, the captured frames (${elapsed()})`);
    ceiling = BenchProcess.start(path.join(HERE, 'realtime-ceiling.ts'), 'ceiling');
    requireFds(ceiling.pid, 'ceiling', NEED.server);
    const { url: curl } = await ceiling.call<{ url: string }>('listen');
    const cm0 = await ceilingMemory(ceiling);
    await connectClients(workers, plan, 'ceiling', curl, secret, ['sync', 'ui']);
    const cm1 = await ceilingMemory(ceiling);
    await connectClients(workers, plan, 'ceiling', curl, secret, ['sse']);
    const cm2 = await ceilingMemory(ceiling);
    const sched = ceilingSchedule(plan, load, receivedAt, readSamples(measured.sampleFiles));
    const schedFile = path.join(TMP, 'schedule.json');
    writeFileSync(schedFile, JSON.stringify(sched.batches));
    const cExpected = scheduledDeliveries(plan, sched.batches);
    // Warm, as the product was: the first batches back to back, not recorded.
    const warmFile = path.join(TMP, 'schedule-warm.json');
    writeFileSync(warmFile, JSON.stringify(sched.batches.slice(0, 40)));
    await ceiling.call('replay', { file: warmFile, paced: false });
    await sleep(1000);
    const cprocs: Procs = { server: { pid: ceiling.pid, label: 'ceiling (bare ws)' }, workers };
    const ceilingRuns: Report['ceiling']['runs'] = [];
    for (const [paced, coalesce] of [[true, false], [false, false], [true, true]] as const) {
      await eachWorker(workers, 'record', () => ({ marker: marker(load.tag), capture: false }));
      await quiet();
      const cc = cpuStart(cprocs);
      const r = await ceiling.call<{ starts: number[]; sent: number; seconds: number }>('replay', { file: schedFile, paced, coalesce });
      const n = await drain(workers, cExpected);
      const cu = cc.end();
      const d = await dump(workers, `ceiling-${paced ? 'paced' : 'flood'}${coalesce ? '-coalesced' : ''}`, false);
      const f = ceilingFigures(d.rec, plan, sched.batchOf, r.starts);
      ceilingRuns.push({ paced, coalesce, figures: f, cpu: cu.use, machine: cu.machine, sent: r.sent, recorded: n, expected: cExpected });
      log(`  ${paced ? 'paced' : 'flood'}${coalesce ? ', coalesced per socket' : ''}: ${n} of ${cExpected} frames, ${Math.round(f.framesPerSecond).toLocaleString('en-US')} frames/s, p50 ${f.byKind.all.p50} ms, p99 ${f.byKind.all.p99} ms`);
    }
    report.ceiling = { memory: { base: cm0, afterWs: cm1, afterSse: cm2 }, runs: ceilingRuns, rows: sched.rows, skipped: sched.skipped, batches: sched.batches.length };
    await eachWorker(workers, 'close');
  } catch (e) {
    (e as Error).message += `\n--- auditflow output ---\n${sys.output().slice(-4000)}`;
    throw e;
  } finally {
    await Promise.allSettled([...workers.map((w) => w.stop()), ceiling?.stop(), sys.stop()]);
  }
  report.totalSeconds = (performance.now() - t00) / 1000;
  printReport(report as Report, log);
  if (env['BENCH_JSON']) writeFileSync(env['BENCH_JSON'], JSON.stringify({ date: new Date().toISOString(), ...report }, null, 2));
  if (env['BENCH_RT_KEEP'] === '1') log(`kept ${TMP} (records, frame samples, the probe's inserts, the data directory)`);
  else rmSync(TMP, { recursive: true, force: true });
}

const mb = (b: number) => (b / 2 ** 20).toFixed(0);

function machineInfo(): Record<string, string> {
  let commit = '?';
  try {
    const git = (...a: string[]) => spawnSync('git', a, { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
    commit = git('rev-parse', '--short', 'HEAD');
    if (git('status', '--porcelain', '--untracked-files=no', '--', 'api', 'infra', 'processors', 'ingest', 'schemas')) commit += ' (product code modified)';
  } catch { /* not a checkout */ }
  return {
    cpu: /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '?', nproc: String(os.availableParallelism()),
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`, node: process.version, commit, load: os.loadavg().map((x) => x.toFixed(2)).join(' '),
  };
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`\nbench:realtime failed: ${(e as Error).stack ?? String(e)}`);
    process.exit(1);
  },
);
