// npm run bench:ingest — sustained ingest → queryable events/s, embedded and on the Kafka path,
// each beside the raw ceilings measured in the same run, and the ratio. See BENCHMARKS.md.
//
//   embedded   startEmbedded() (auditflow as a child process: chDB + embedded log)
//              ceiling: raw chDB JSONEachRow insert of the same rows, same batch size, in a child
//              process (chDB allows one data directory per process)
//   Kafka      startDistributed() (mock cluster + ClickHouse HTTP over chDB + ingest/processor/api)
//              ceilings: raw kafkajs produce of the same log-form messages (own mock cluster, same
//              binary: topologies.ts has no spare topic), raw chDB-over-HTTP insert of the same rows
//   reference  JSON.parse of one event, one core
//
// "Queryable": after every 202, GET /v1/audit/logs?limit=1 per tenant until the newest event is
// the tenant's last acknowledged one (a tenant's requests go through one client, in order, so
// everything before it is stored too). events/s = events / (first request → all queryable).
//
// Settings (environment): BENCH_EVENTS (embedded, 300000), BENCH_KAFKA_EVENTS (100000),
// BENCH_TENANTS (8), BENCH_BATCH (events per request, 1000), BENCH_CLIENTS (4), BENCH_BODY
// (ndjson|json), BENCH_RUNS (ceiling runs, median taken; 3), BENCH_PIPELINE_RUNS (embedded pipeline
// runs, each on a fresh deployment, median taken; 3), BENCH_ONLY (embedded|kafka),
// BENCH_PROFILE=1 (an extra embedded run whose load window is profiled by cpu-profiler.cjs, summarised),
// BENCH_TIMEOUT_MS (180000), BENCH_QUIET_WAIT_MS (30000; wait for a quiet machine before each phase),
// BENCH_JSON (write every figure to this file), BENCH_RATE (offered load in events/s: requests are
// paced to it instead of sent as fast as the clients can; finds the rate the pipeline sustains with
// a bounded lag, see BENCHMARKS.md), SINK_BATCH_ROWS / SINK_BATCH_MS (passed to
// auditflow; defaults = the product's, 20000 / 250), BENCH_KAFKA_CLIENTS (2), KAFKA_MAX_WAIT_MS and
// EMBEDDED_LOG_SEGMENT_BYTES (passed to auditflow; defaults = the product's, 500 ms / 128 MiB).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { ClickHouseHttpStore } from '../../infra/store/clickhouse-http-store.ts';
import { migrate } from '../../infra/store/migrations.ts';
import { logHeaders } from '../../schemas/log-headers.ts';
import { startClickHouseHttp } from '../support/clickhouse-http-server.ts';
import { startKafkaMock } from '../support/kafka-mock.ts';
import { startDistributed, startEmbedded, type Topology } from '../support/topologies.ts';
import { summarizeProfile, type ProfileSummary } from './cpuprofile.ts';
import { balancedTenants, buildRequests, digest, generateEvents, logForms, sinkBatches, type BenchEvent, type BenchRequest, type LoadOptions } from './events.ts';
import { runLoad, waitQueryable } from './http-load.ts';
import { childProcesses, cpuWindow, machineCpu, waitForQuiet, type CpuUse } from './proc-stats.ts';
import { batchStats, timeInserts, type InsertRun } from './store-bench.ts';
import { envInt, median } from './bench-settings.ts';
import { runBenchChild } from './bench-child.ts';

const env = process.env;
const CFG = {
  embeddedEvents: envInt('BENCH_EVENTS', 300_000),
  kafkaEvents: envInt('BENCH_KAFKA_EVENTS', 100_000),
  tenants: envInt('BENCH_TENANTS', 8),
  batch: envInt('BENCH_BATCH', 1000),
  clients: envInt('BENCH_CLIENTS', 4),
  kafkaClients: envInt('BENCH_KAFKA_CLIENTS', 2),
  body: (env['BENCH_BODY'] === 'json' ? 'json' : 'ndjson') as 'json' | 'ndjson',
  runs: envInt('BENCH_RUNS', 3),
  pipelineRuns: envInt('BENCH_PIPELINE_RUNS', 3),
  only: env['BENCH_ONLY'] as 'embedded' | 'kafka' | undefined,
  profile: env['BENCH_PROFILE'] === '1',
  timeoutMs: envInt('BENCH_TIMEOUT_MS', 180_000),
  sinkBatchRows: envInt('SINK_BATCH_ROWS', 20_000),
  sinkBatchMs: envInt('SINK_BATCH_MS', 250),
  segmentBytes: envInt('EMBEDDED_LOG_SEGMENT_BYTES', 128 * 1024 * 1024),
  kafkaMaxWaitMs: envInt('KAFKA_MAX_WAIT_MS', 100),
  kafkaPartitions: 3, // topologies.ts creates the audit topic with 3 partitions
  produceBatch: 1000,
  rate: env['BENCH_RATE'] ? envInt('BENCH_RATE', 1) : undefined,
  quietWaitMs: env['BENCH_QUIET_WAIT_MS'] === '0' ? 0 : envInt('BENCH_QUIET_WAIT_MS', 30_000),
};
const CONTENT_TYPE = CFG.body === 'ndjson' ? 'application/x-ndjson' : 'application/json';
const SINK_ENV = { SINK_BATCH_ROWS: String(CFG.sinkBatchRows), SINK_BATCH_MS: String(CFG.sinkBatchMs) };
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');

const fmt = (n: number): string => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1));
const pct = (a: number, b: number): string => (b > 0 ? `${((a / b) * 100).toFixed(0)}%` : '—');
const log = (...a: unknown[]) => console.log(...a);
const contention: { phase: string; waitedMs: number; busyCores: number }[] = [];

/** The machine is shared (other sessions run test suites): start a measured phase on a quiet machine. */
async function quiet(phase: string): Promise<void> {
  if (CFG.quietWaitMs === 0) return;
  const q = await waitForQuiet(CFG.quietWaitMs);
  contention.push({ phase, ...q });
  if (q.busyCores >= 0.35) log(`   (machine still busy with ${q.busyCores.toFixed(2)} cores of other work after waiting ${q.waitedMs} ms — figures of this phase are pessimistic)`);
  else if (q.waitedMs > 0) log(`   (waited ${q.waitedMs} ms for other work on the machine to finish)`);
}
const step = (s: string) => log(`\n— ${s}`);

// ---------------------------------------------------------------------------------------------
// Children started here are stopped on every path (the support modules kill theirs at exit too).
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));

const runChild = <T>(input: unknown): Promise<T> => runBenchChild<T>(path.join(HERE, 'chdb-child.ts'), input);

// ---------------------------------------------------------------------------------------------
interface Load {
  opts: LoadOptions;
  events: BenchEvent[];
  bodies: string[];
  requests: BenchRequest[];
  bytes: number;
}

function makeLoad(events: number, runTag: string, tenants: string[]): Load {
  const opts: LoadOptions = { events, tenants, batch: CFG.batch, runTag };
  const evs = generateEvents(opts);
  const requests = buildRequests(evs, opts, CFG.body);
  return { opts, events: evs, bodies: logForms(evs), requests, bytes: requests.reduce((n, r) => n + r.body.length, 0) };
}

async function tokensFor(topo: Topology, tenants: string[]): Promise<Map<string, string>> {
  return new Map(await Promise.all(tenants.map(async (t) => [t, await topo.token(t, 'audit:write audit:read')] as [string, string])));
}

interface PipelineResult {
  events: number;
  requests: number;
  ingestSeconds: number;
  queryableSeconds: number;
  ingestRate: number;
  queryableRate: number;
  lagAfterLastAckMs: number;
  latencyMs: { p50: number; p99: number; max: number };
  polls: number;
  cpu: CpuUse[];
  machine: { busyCores: number; cores: number };
  /** cores busy outside the processes of this benchmark during the window */
  otherCores: number;
  sink?: Record<string, unknown>;
  /** events acknowledged but not in the store (per-tenant counts), 0 when complete */
  lost?: number;
}

/** Acknowledged events missing from the store: the probe sees the newest event, this checks the count. */
function checkComplete(res: PipelineResult, load: Load): void {
  const want = new Map<string, number>();
  for (const e of load.events) want.set(e.tenant, (want.get(e.tenant) ?? 0) + 1);
  const got = new Map(((res.sink?.['perTenant'] ?? []) as { tenant_id: string; n: number }[]).map((t) => [t.tenant_id, Number(t.n)]));
  let lost = 0;
  for (const [t, n] of want) lost += Math.max(0, n - (got.get(t) ?? 0));
  res.lost = lost;
  if (lost > 0) log(`!! ${lost} of ${load.events.length} acknowledged events are NOT in the store: this run's queryable figure is invalid`);
  else log(`verified: all ${load.events.length} events stored once, per-tenant seq contiguous = ${String(res.sink?.['contiguous'])}`);
}

/** Warm-up (JIT, first parts, consumer group join), then the measured load and the queryable probe. */
interface WindowHooks {
  beforeLoad?(): Promise<void>;
  afterQueryable?(): Promise<void>;
}

async function measurePipeline(topo: Topology, load: Load, warmTenants: string[], hooks: WindowHooks = {}, clients = CFG.clients): Promise<PipelineResult> {
  const warm = makeLoad(warmTenants.length * 2 * CFG.batch, `w${Date.now() % 100000}`, warmTenants);
  const tokens = await tokensFor(topo, [...load.opts.tenants, ...warmTenants]);
  const w = await runLoad({ url: topo.ingestUrl(), requests: warm.requests, tokens, clients: CFG.clients, contentType: CONTENT_TYPE });
  await waitQueryable({ url: topo.apiUrl(), expected: w.lastAcked, tokens, timeoutMs: 120_000, intervalMs: 50 });
  await new Promise((r) => setTimeout(r, 500)); // let the warm-up batch's merges settle

  await quiet('pipeline load');
  await hooks.beforeLoad?.();
  const cpu = cpuWindow();
  const machine = machineCpu();
  let res: Awaited<ReturnType<typeof runLoad>>;
  let q: Awaited<ReturnType<typeof waitQueryable>>;
  try {
    res = await runLoad({ url: topo.ingestUrl(), requests: load.requests, tokens, clients, contentType: CONTENT_TYPE, rate: CFG.rate });
    q = await waitQueryable({ url: topo.apiUrl(), expected: res.lastAcked, tokens, timeoutMs: CFG.timeoutMs });
  } catch (e) {
    (e as Error).message += `\nauditflow output (tails):\n${topo.outputs?.() ?? '(not available)'}`;
    throw e;
  }
  const cpuUse = cpu.end();
  const m = machine.end();
  await hooks.afterQueryable?.();
  const ingestSeconds = (res.ackedAt - res.startedAt) / 1000;
  const queryableSeconds = (q.at - res.startedAt) / 1000;
  return {
    events: res.events, requests: res.requests, ingestSeconds, queryableSeconds,
    ingestRate: res.events / ingestSeconds, queryableRate: res.events / queryableSeconds,
    lagAfterLastAckMs: Math.round(q.at - res.ackedAt), latencyMs: res.latencyMs, polls: q.polls, cpu: cpuUse, machine: m,
    otherCores: Math.max(0, m.busyCores - cpuUse.reduce((n, c) => n + c.cores, 0)),
  };
}

// ---------------------------------------------------------------------------------------------
function jsonParseCeiling(events: BenchEvent[]): { rate: number; runs: number[] } {
  const sample = events.slice(0, Math.min(events.length, 100_000)).map((e) => e.json);
  for (let i = 0; i < 20_000; i++) JSON.parse(sample[i % sample.length]!); // warm
  const runs: number[] = [];
  for (let r = 0; r < CFG.runs; r++) {
    let sink = 0;
    const t0 = performance.now();
    for (const s of sample) sink += (JSON.parse(s) as { id: string }).id.length;
    const sec = (performance.now() - t0) / 1000;
    if (sink === 0) throw new Error('unreachable');
    runs.push(sample.length / sec);
  }
  return { rate: median(runs), runs };
}

interface CeilingChildResult {
  digest: string;
  engineVersion: string;
  buildSeconds: number;
  results: Record<string, InsertRun[]>;
}

async function chdbCeiling(load: Load, partitions: number, batchRows: number[]): Promise<CeilingChildResult> {
  await quiet('chDB ceiling');
  const r = await runChild<CeilingChildResult>({ mode: 'ceiling', load: load.opts, partitions, batchRows, runs: CFG.runs });
  if (r.digest !== digest(load.bodies)) throw new Error(`the ceiling child built other rows (digest ${r.digest} ≠ ${digest(load.bodies)})`);
  return r;
}

/** Raw kafkajs produce of the same log-form messages (key, headers, value), batches of 1,000, acks -1. */
async function kafkaProduceCeiling(load: Load): Promise<{ rate: number; runs: number[]; bySenders: Record<string, { rate: number; runs: number[] }> }> {
  const topic = 'bench.raw-produce';
  const mock = await startKafkaMock([{ name: topic, partitions: CFG.kafkaPartitions }]);
  try {
    await quiet('kafkajs produce ceiling');
    const kafka = new Kafka({ brokers: mock.brokers, clientId: 'bench-raw-produce', logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: false });
    await producer.connect();
    try {
      // The same batches and the same client/tenant split as the HTTP load.
      const byTenant = new Map<string, { key: string; value: Buffer; headers: Record<string, string> }[][]>();
      const current = new Map<string, { key: string; value: Buffer; headers: Record<string, string> }[]>();
      load.events.forEach((e, i) => {
        let b = current.get(e.tenant);
        if (!b || b.length >= CFG.produceBatch) {
          b = [];
          current.set(e.tenant, b);
          const l = byTenant.get(e.tenant) ?? [];
          l.push(b);
          byTenant.set(e.tenant, l);
        }
        b.push({ key: e.tenant, value: Buffer.from(load.bodies[i]!), headers: logHeaders({ tenantId: e.tenant, id: e.id }) });
      });
      await producer.send({ topic, acks: -1, messages: [...byTenant.values()][0]![0]!.slice(0, 100) }); // warm
      // One sender, and as many concurrent senders as the load has clients (what the ingest
      // process does); the ceiling is the better of the two medians.
      const bySenders: Record<string, { rate: number; runs: number[] }> = {};
      for (const senders of [...new Set([1, CFG.clients])]) {
        const queues: { key: string; value: Buffer; headers: Record<string, string> }[][][] = Array.from({ length: senders }, () => []);
        [...byTenant.values()].forEach((batches, i) => queues[i % senders]!.push(...batches));
        const runs: number[] = [];
        for (let r = 0; r < CFG.runs; r++) {
          const t0 = performance.now();
          await Promise.all(queues.map(async (q) => { for (const messages of q) await producer.send({ topic, acks: -1, messages }); }));
          runs.push(load.events.length / ((performance.now() - t0) / 1000));
        }
        bySenders[String(senders)] = { rate: median(runs), runs };
      }
      const best = Object.values(bySenders).sort((a, b) => b.rate - a.rate)[0]!;
      return { ...best, bySenders };
    } finally {
      await producer.disconnect();
    }
  } finally {
    await mock.stop();
  }
}

/** Raw insert of the same rows through ClickHouseHttpStore into a ClickHouse-HTTP-over-chDB server. */
async function httpInsertCeiling(load: Load): Promise<{ rate: number; runs: InsertRun[] }> {
  const ch = await startClickHouseHttp();
  try {
    const store = new ClickHouseHttpStore({ url: ch.url });
    try {
      await migrate(store);
      const batches = sinkBatches(load.events, load.bodies, CFG.kafkaPartitions, CFG.sinkBatchRows);
      const warm = sinkBatches(load.events.slice(0, 1000), load.bodies.slice(0, 1000), CFG.kafkaPartitions, 1000);
      await quiet('chDB-over-HTTP ceiling');
      const runs: InsertRun[] = [];
      for (let r = 0; r < CFG.runs; r++) {
        await store.command('TRUNCATE TABLE audit_events');
        for (const b of warm) await store.insertJsonEachRow('audit_events', b);
        await store.command('TRUNCATE TABLE audit_events');
        runs.push(await timeInserts(store, batches, ch.pid));
      }
      return { rate: median(runs.map((r) => r.rowsPerSec)), runs };
    } finally {
      await store.close();
    }
  } finally {
    await ch.stop();
  }
}

// ---------------------------------------------------------------------------------------------
async function embeddedRun(load: Load, profileDir?: string): Promise<PipelineResult & { profile?: ProfileSummary; profileFile?: string }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'af-bench-embedded-'));
  try {
    let res: PipelineResult;
    const topo = await startEmbedded({
      DATA_DIR: dataDir, ...SINK_ENV, EMBEDDED_LOG_SEGMENT_BYTES: String(CFG.segmentBytes),
      // Node 20 refuses --cpu-prof in NODE_OPTIONS: a preloaded module profiles the marked window.
      ...(profileDir ? { NODE_OPTIONS: `--require ${path.join(HERE, 'cpu-profiler.cjs')}`, BENCH_CPU_PROFILE_DIR: profileDir } : {}),
    });
    const hooks: WindowHooks = {};
    if (profileDir) {
      const pid = childProcesses().find((c) => c.label === 'auditflow all')?.pid;
      if (pid === undefined) throw new Error('cannot find the auditflow child to profile');
      hooks.beforeLoad = async () => { process.kill(pid, 'SIGUSR2'); await new Promise((r) => setTimeout(r, 300)); };
      hooks.afterQueryable = async () => {
        process.kill(pid, 'SIGUSR2');
        for (let i = 0; i < 100 && !readdirSync(profileDir).some((f) => f.endsWith('.cpuprofile')); i++) await new Promise((r) => setTimeout(r, 100));
      };
    }
    try {
      res = await measurePipeline(topo, load, ['tnt_warm_00'], hooks);
    } finally {
      await topo.stop();
    }
    // The store, read after a clean stop: what batches the sink really inserted.
    res.sink = await runChild<Record<string, unknown>>({ mode: 'inspect', dataDir, tenants: load.opts.tenants });
    if (profileDir) {
      const f = readdirSync(profileDir).filter((x) => x.endsWith('.cpuprofile')).map((x) => path.join(profileDir, x))[0];
      if (f) return { ...res, profile: summarizeProfile(f, 25), profileFile: f };
    }
    return res;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The two lines every pipeline run prints: rates, lag, latency, and the sink's own figures. */
function logPipeline(r: PipelineResult): void {
  log(`ingest (all 202): ${fmt(r.ingestRate)} ev/s in ${r.ingestSeconds.toFixed(2)} s; queryable: ${fmt(r.queryableRate)} ev/s in ${r.queryableSeconds.toFixed(2)} s `
    + `(last event queryable ${r.lagAfterLastAckMs} ms after the last 202); request latency p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms`);
  log(`sink: ${sinkSummary(r.sink)}`);
  const af = r.cpu.find((c) => c.label.startsWith('auditflow'));
  if (af) {
    const us = (s: number) => ((s * 1e6) / r.events).toFixed(1);
    log(`CPU per event: ${af.label} ${us(af.seconds)} µs (${af.byThread.slice(0, 4).map((t) => `${t.group} ${us(t.seconds)}`).join(', ')})`);
  }
}

async function kafkaRun(load: Load): Promise<PipelineResult> {
  const topo = await startDistributed({
    ...SINK_ENV,
    KAFKA_MAX_WAIT_MS: String(CFG.kafkaMaxWaitMs),
  });
  try {
    // One warm-up tenant per partition, so every partition is assigned and warm before timing.
    // NOTE: fewer clients than embedded: the mock cluster keeps only ~5 MiB per partition, so an
    // ingest that outruns the processor by that much loses data in the substrate (the bench's
    // count check flags it as INVALID). Real Kafka would only lag.
    const res = await measurePipeline(topo, load, balancedTenants(CFG.kafkaPartitions, CFG.kafkaPartitions, 'tnt_warm_'), {}, CFG.kafkaClients);
    const store = new ClickHouseHttpStore({ url: topo.clickhouseUrl! });
    try {
      res.sink = await batchStats(store, load.opts.tenants);
    } finally {
      await store.close();
    }
    return res;
  } catch (e) {
    // Say how far it got (e.g. events lost to the mock cluster's ~5 MiB per-partition retention).
    try {
      const store = new ClickHouseHttpStore({ url: topo.clickhouseUrl! });
      const s = await batchStats(store, load.opts.tenants);
      await store.close();
      (e as Error).message += `\nstored so far: ${JSON.stringify(s['perTenant'])}`;
    } catch { /* best effort */ }
    throw e;
  } finally {
    await topo.stop();
  }
}

// ---------------------------------------------------------------------------------------------
function gitCommit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'ingest', 'processors', 'api', 'schemas', 'infra', 'bin'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${head} (product code modified)` : head;
  } catch {
    return '?';
  }
}

function machineInfo(): Record<string, string> {
  const cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model ?? '?';
  const req = createRequire(import.meta.url);
  const pkg = (name: string) => (req(`${name}/package.json`) as { version: string }).version;
  return {
    nproc: String(os.availableParallelism()),
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    cpu: cpuModel,
    node: process.version,
    chdb: pkg('chdb'),
    kafkajs: pkg('kafkajs'),
    '@clickhouse/client': pkg('@clickhouse/client'),
    commit: gitCommit(),
  };
}

function sinkSummary(s: Record<string, unknown> | undefined): string {
  if (!s) return '?';
  const b = s['batchSizes'] as { min: number; p50: number; avg: number; max: number };
  return `${s['rows']} rows in ${s['batches']} inserts over ${s['span_s']} s; rows/insert min ${b.min}, median ${b.p50}, avg ${Math.round(b.avg)}, max ${b.max}`;
}

function cpuTable(title: string, r: PipelineResult): string {
  const lines = [`${title}`, '| process | cores (avg) | CPU s | busiest threads (cores) |', '|---|---|---|---|'];
  for (const c of r.cpu.filter((x) => x.seconds > 0.05).sort((a, b) => b.seconds - a.seconds)) {
    lines.push(`| ${c.label} | ${c.cores.toFixed(2)} | ${c.seconds.toFixed(1)} | ${c.byThread.slice(0, 4).map((t) => `${t.group} ${t.cores.toFixed(2)}`).join(', ')} |`);
  }
  lines.push(`| everything else on the machine (kernel, other sessions) | ${r.otherCores.toFixed(2)} | | |`);
  lines.push(`machine busy: ${r.machine.busyCores.toFixed(2)} of ${r.machine.cores.toFixed(0)} cores`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const info = machineInfo();
  const started = Date.now();
  log('auditflow ingest benchmark');
  log(Object.entries(info).map(([k, v]) => `${k}: ${v}`).join(' | '));
  log(`settings: events embedded ${CFG.embeddedEvents}, Kafka ${CFG.kafkaEvents}; tenants ${CFG.tenants}; ${CFG.batch} events/request (${CFG.body}); ${CFG.clients} clients (Kafka path ${CFG.kafkaClients}); `
    + `SINK_BATCH_ROWS ${CFG.sinkBatchRows}, SINK_BATCH_MS ${CFG.sinkBatchMs}; EMBEDDED_LOG_SEGMENT_BYTES ${CFG.segmentBytes}; ceilings: median of ${CFG.runs}; embedded pipeline: median of ${CFG.pipelineRuns}, Kafka path: one run; `
    + `KAFKA_MAX_WAIT_MS ${CFG.kafkaMaxWaitMs}${CFG.rate ? `; offered load paced to ${CFG.rate} events/s (BENCH_RATE)` : ''}`);

  const tenants = balancedTenants(CFG.tenants, CFG.kafkaPartitions);
  const results: Record<string, unknown> = { date: new Date().toISOString(), machine: info, settings: CFG, tenants };
  const rows: { figure: string; value: number; ceiling: string; ceilingValue: number }[] = [];

  const doEmbedded = CFG.only !== 'kafka';
  const doKafka = CFG.only !== 'embedded';

  step('building the load (pre-serialised request bodies and sink rows, before any timing)');
  const embLoad = doEmbedded ? makeLoad(CFG.embeddedEvents, 'e', tenants) : null;
  const kLoad = doKafka ? makeLoad(CFG.kafkaEvents, 'k', tenants) : null;
  const any = (embLoad ?? kLoad)!;
  const avgEvent = any.events.reduce((n, e) => n + e.json.length, 0) / any.events.length;
  const avgRow = any.bodies.reduce((n, b) => n + b.length, 0) / any.bodies.length + 80;
  log(`events: avg ${avgEvent.toFixed(0)} bytes as sent (mix: canonical / ScaiDrive / ScaiVault), log form avg ${(avgRow - 80).toFixed(0)} bytes; `
    + `requests: ${(embLoad ?? kLoad)!.requests.length} × ≤${CFG.batch} events, ${(((embLoad ?? kLoad)!.bytes / (embLoad ?? kLoad)!.requests.length) / 1024).toFixed(0)} KiB each`);
  results['eventBytes'] = { sent: avgEvent, logForm: avgRow - 80 };

  step('JSON.parse ceiling (one core)');
  await quiet('JSON.parse ceiling');
  const jp = jsonParseCeiling(any.events);
  log(`JSON.parse: ${fmt(jp.rate)} events/s (runs ${jp.runs.map(fmt).join(', ')})`);
  results['jsonParse'] = jp;

  if (embLoad) {
    step(`raw chDB insert ceiling: ${embLoad.events.length} rows, ${CFG.sinkBatchRows} rows/insert (child process)`);
    const c = await chdbCeiling(embLoad, 1, [CFG.sinkBatchRows]);
    const runs = c.results[String(CFG.sinkBatchRows)]!;
    const rate = median(runs.map((r) => r.rowsPerSec));
    info['ClickHouse engine'] = c.engineVersion;
    log(`raw chDB insert: ${fmt(rate)} rows/s (runs ${runs.map((r) => fmt(r.rowsPerSec)).join(', ')}; ${runs[0]!.inserts} inserts, ${(runs[0]!.bytes / 2 ** 20).toFixed(0)} MiB; engine ${median(runs.map((r) => r.cores)).toFixed(2)} cores: ${runs[0]!.threads.map((t) => `${t.group} ${t.cores}`).join(', ')}; other load ${median(runs.map((r) => r.otherCores)).toFixed(2)} cores)`);
    results['chdbCeiling'] = { rate, ...c };

    // Each run starts a fresh deployment; the median run (by queryable rate) is the figure, as
    // the ceiling's median is: one run of either varies by 10–20% on a shared 2-vCPU machine.
    const embRuns: PipelineResult[] = [];
    for (let r = 0; r < CFG.pipelineRuns; r++) {
      step(`embedded pipeline: ${embLoad.events.length} events (run ${r + 1} of ${CFG.pipelineRuns})`);
      const run = await embeddedRun(embLoad);
      logPipeline(run);
      checkComplete(run, embLoad);
      log(`this run: queryable ${pct(run.queryableRate, rate)}, ingest only ${pct(run.ingestRate, rate)} of the ceiling`);
      embRuns.push(run);
    }
    // An invalid run (events lost) is never the median's reason to look good: it counts as 0.
    const ranked = [...embRuns].sort((a, b) => (a.lost ? 0 : a.queryableRate) - (b.lost ? 0 : b.queryableRate));
    const e = ranked[(ranked.length - 1) >> 1]!;
    if (CFG.pipelineRuns > 1) log(`\nembedded runs, queryable: ${embRuns.map((r) => `${fmt(r.queryableRate)}${r.lost ? ' (INVALID)' : ''}`).join(', ')} → median ${fmt(e.queryableRate)}; ingest only: ${embRuns.map((r) => fmt(r.ingestRate)).join(', ')}`);
    log(cpuTable('CPU during the median embedded run (first request → all queryable):', e));
    results['embedded'] = e;
    results['embeddedRuns'] = embRuns.map((r) => ({ queryableRate: r.queryableRate, ingestRate: r.ingestRate, lagAfterLastAckMs: r.lagAfterLastAckMs, lost: r.lost ?? 0 }));
    const sizes = (e.sink?.['batchSizes'] ?? {}) as { p50?: number };
    if (sizes.p50 && Math.abs(sizes.p50 - CFG.sinkBatchRows) / CFG.sinkBatchRows > 0.25) {
      const achieved = Math.max(1, Math.round(sizes.p50));
      step(`raw chDB insert at the sink's achieved median batch (${achieved} rows/insert), for the analysis`);
      const c2 = await chdbCeiling(embLoad, 1, [achieved]);
      const r2 = median(c2.results[String(achieved)]!.map((r) => r.rowsPerSec));
      log(`raw chDB insert @${achieved}: ${fmt(r2)} rows/s`);
      results['chdbCeilingAtAchievedBatch'] = { batchRows: achieved, rate: r2, runs: c2.results[String(achieved)] };
    }
    rows.push({ figure: `embedded: ingest → queryable${e.lost ? ` — INVALID: ${e.lost} events lost` : ''}`, value: e.queryableRate, ceiling: `raw chDB insert, ${CFG.sinkBatchRows} rows/insert`, ceilingValue: rate });
    rows.push({ figure: 'embedded: ingest only (all 202s)', value: e.ingestRate, ceiling: `raw chDB insert, ${CFG.sinkBatchRows} rows/insert`, ceilingValue: rate });

    if (CFG.profile) {
      step('embedded pipeline again under --cpu-prof (not a measured figure)');
      const profileDir = mkdtempSync(path.join(os.tmpdir(), 'af-bench-prof-'));
      const p = await embeddedRun(embLoad, profileDir);
      log(`(profiled run: queryable ${fmt(p.queryableRate)} ev/s, ingest ${fmt(p.ingestRate)} ev/s; profile ${p.profileFile})`);
      if (p.profile) {
        log(`profile of the auditflow child's main thread, ${p.profile.totalMs} ms:`);
        for (const s of p.profile.stages) log(`  ${s.pct.toFixed(1).padStart(5)}%  ${s.stage}`);
        log('  top self time:');
        for (const s of p.profile.selfTop.slice(0, 15)) log(`  ${s.pct.toFixed(1).padStart(5)}%  ${s.fn}`);
      }
      results['embeddedProfile'] = { queryableRate: p.queryableRate, ingestRate: p.ingestRate, cpu: p.cpu, profile: p.profile, profileFile: p.profileFile };
    }
  }

  if (kLoad) {
    step(`raw kafkajs produce ceiling: ${kLoad.events.length} log-form messages with the ingest's headers, batches of ${CFG.produceBatch}, acks -1, 1 and ${CFG.clients} concurrent senders (own mock cluster, same binary)`);
    const kp = await kafkaProduceCeiling(kLoad);
    log(`raw kafkajs produce: ${fmt(kp.rate)} msg/s — ${Object.entries(kp.bySenders).map(([n, r]) => `${n} sender(s): median ${fmt(r.rate)} (runs ${r.runs.map(fmt).join(', ')})`).join('; ')}`);
    results['kafkaProduceCeiling'] = kp;

    step(`raw chDB-over-HTTP insert ceiling: ${kLoad.events.length} rows, ≤${CFG.sinkBatchRows} rows/insert per partition, ClickHouseHttpStore`);
    const hc = await httpInsertCeiling(kLoad);
    log(`raw chDB-over-HTTP insert: ${fmt(hc.rate)} rows/s (runs ${hc.runs.map((r) => fmt(r.rowsPerSec)).join(', ')}; ${hc.runs[0]!.inserts} inserts; server ${median(hc.runs.map((r) => r.cores)).toFixed(2)} cores; other load ${median(hc.runs.map((r) => r.otherCores)).toFixed(2)} cores)`);
    results['httpInsertCeiling'] = hc;

    step(`Kafka path: ${kLoad.events.length} events`);
    const k = await kafkaRun(kLoad);
    logPipeline(k);
    checkComplete(k, kLoad);
    log(cpuTable('CPU during the Kafka run (first request → all queryable):', k));
    results['kafka'] = k;
    const invalid = k.lost ? ` — INVALID: ${k.lost} events lost` : '';
    rows.push({ figure: `Kafka path: ingest → queryable${invalid}`, value: k.queryableRate, ceiling: 'raw chDB-over-HTTP insert (ClickHouseHttpStore)', ceilingValue: hc.rate });
    rows.push({ figure: `Kafka path: ingest → queryable${invalid}`, value: k.queryableRate, ceiling: 'raw kafkajs produce, 1k/batch, acks -1', ceilingValue: kp.rate });
    rows.push({ figure: 'Kafka path: ingest only (all 202s)', value: k.ingestRate, ceiling: 'raw kafkajs produce, 1k/batch, acks -1', ceilingValue: kp.rate });
  }
  rows.push({ figure: 'reference: JSON.parse of one event, one core', value: jp.rate, ceiling: '—', ceilingValue: 0 });

  step(`results (events/s; ceilings are medians of ${CFG.runs} in this run, the embedded pipeline the median of ${CFG.pipelineRuns}, the Kafka path one run)`);
  const table = ['| figure | events/s | ceiling (same run) | ceiling/s | ratio |', '|---|---:|---|---:|---:|',
    ...rows.map((r) => `| ${r.figure} | ${fmt(r.value)} | ${r.ceiling} | ${r.ceilingValue ? fmt(r.ceilingValue) : '—'} | ${r.ceilingValue ? pct(r.value, r.ceilingValue) : '—'} |`)].join('\n');
  log(table);
  if (embLoad) {
    const e = rows[0]!;
    log(`target: embedded ≥ 80% of the raw chDB insert ceiling → ${pct(e.value, e.ceilingValue)} ${e.value >= 0.8 * e.ceilingValue ? 'MET' : 'NOT MET'}`);
  }
  results['table'] = rows;
  results['contention'] = contention;
  log(`\nwhole run: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (env['BENCH_JSON']) writeFileSync(env['BENCH_JSON'], JSON.stringify(results, (_k, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v), 2));
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`\nbench:ingest failed: ${(e as Error).stack ?? String(e)}`);
    process.exit(1);
  },
);
