// npm run bench:siem — SIEM forwarding through a real `auditflow all` (embedded), per destination
// kind (Splunk HEC, signed webhook, syslog TCP/CEF, TLS/JSON, UDP/CEF), beside a bare client
// feeding the same receiver the same bytes in the same run. See BENCHMARKS.md.
//
//   1. rsyslogd (test/support/rsyslog.ts: imtcp, imtcp+gtls, imudp → files), the receivers' process
//      (./siem-receivers.ts: a lean HTTP receiver that answers 200 at once, and tails of rsyslogd's
//      files; every event counted by its id), the ceiling client's process (./siem-ceiling.ts) and
//      `auditflow all` on an empty data directory (product defaults, RATE_LIMIT_MAX=0).
//   2. Preload: BENCH_SIEM_EVENTS audit events of one tenant through HTTP ingest (NDJSON, 1,000 per
//      request), until they are queryable (the store sink is idle before anything is measured).
//   3. Per kind, BENCH_SIEM_REPEAT times in turns, each after a wait for a quiet machine
//      (BENCH_QUIET_WAIT_MS): the ceiling — the bare client sends the same events, encoded by the
//      product's encoders before its clock starts, in batches of SIEM_BATCH_EVENTS, until the
//      receiver has every one — then auditflow: a destination with start "oldest" is created, and
//      timed from the POST until the receiver has all N (none missing; copies counted), with
//      auditflow's CPU (/proc/<pid>/stat) and RSS (sampled every 100 ms) over that window; then it
//      is deleted. The table shows each side's median pass, and every run's rate.
//   4. Lag, per kind: a live destination (start "now") on a tenant of its own, a warm-up until it
//      delivers, then ingest paced at BENCH_SIEM_LAG_RATE events/s for BENCH_SIEM_LAG_SECONDS;
//      per event, its request's 202 → its first arrival at the receiver (all processes share the
//      machine's wall clock).
//   5. BENCH_SIEM_PROFILE=<kind>: one extra, unmeasured pass of that kind with V8's sampling
//      profiler on auditflow's main thread (./cpu-profiler.cjs), written under /tmp.
// The machine has 2 cores: auditflow, the receivers, rsyslogd and the ceiling client share them,
// and every row says how busy the machine was with other people's work meanwhile.
//
// Smoke run (~1 min, figures indicative only): BENCH_SIEM_EVENTS=10000 BENCH_SIEM_REPEAT=1
// BENCH_SIEM_LAG_SECONDS=3 BENCH_QUIET_WAIT_MS=0 npm run bench:siem. Full run: npm run bench:siem
// (~6 min on a quiet machine, ~10 with other work on it).
// Settings (environment): BENCH_SIEM_EVENTS (per pass, 100000), BENCH_SIEM_REPEAT (3),
// BENCH_SIEM_KINDS (comma-separated, default all: splunk_hec,webhook,syslog_tcp,syslog_tls,syslog_udp),
// BENCH_SIEM_LAG_RATE (2000), BENCH_SIEM_LAG_SECONDS (20; 0 skips), BENCH_SIEM_LAG_BATCH (events per
// ingest request, 100), BENCH_SIEM_PROFILE (a kind), BENCH_QUIET_WAIT_MS (10000; 0: don't wait),
// BENCH_JSON (every figure to this file); SIEM_BATCH_EVENTS / SIEM_BATCH_BYTES / SIEM_BATCH_MS are
// passed to auditflow.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { issueToken } from '../../infra/auth/jwt.ts';
import { parseConfig } from '../../infra/config.ts';
import { startAuditflow, type AuditflowProcess } from '../support/auditflow-process.ts';
import { startRsyslog, type Rsyslog } from '../support/rsyslog.ts';
import { envInt } from './bench-settings.ts';
import { summarizeProfile } from './cpuprofile.ts';
import { buildRequests } from './events.ts';
import { machineLine } from './export-report.ts';
import { request, runLoad, waitQueryable } from './http-load.ts';
import { cpuBetween, sampleProcess, waitForQuiet } from './proc-stats.ts';
import { runIngest, wallNow } from './realtime-ingest.ts';
import { BenchProcess } from './realtime-ipc.ts';
import { machineSplit, rssBytes } from './realtime-probes.ts';
import type { CeilingRun } from './siem-ceiling.ts';
import { benchEvents, destinationConfig, idPrefix, KINDS, labelOf, type Endpoints, type SiemKind } from './siem-load.ts';
import { medianPass, otherWork, printReport, type Delivery, type Lag, type SiemReport } from './siem-report.ts';
const env = process.env;
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const SIEM_ENV = Object.fromEntries(['SIEM_BATCH_EVENTS', 'SIEM_BATCH_BYTES', 'SIEM_BATCH_MS'].flatMap((k) => (env[k] ? [[k, env[k]!]] : [])));
const PRODUCT = parseConfig(SIEM_ENV, 'all').siem;
const KIND_FILTER = (env['BENCH_SIEM_KINDS'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const CFG = {
  events: envInt('BENCH_SIEM_EVENTS', 100_000),
  kinds: KINDS.map((k) => k.kind).filter((k) => KIND_FILTER.length === 0 || KIND_FILTER.includes(k)),
  lagRate: envInt('BENCH_SIEM_LAG_RATE', 2000),
  lagSeconds: env['BENCH_SIEM_LAG_SECONDS'] === '0' ? 0 : envInt('BENCH_SIEM_LAG_SECONDS', 20),
  lagBatch: envInt('BENCH_SIEM_LAG_BATCH', 100),
  profile: env['BENCH_SIEM_PROFILE'] as SiemKind | undefined,
  quietWaitMs: env['BENCH_QUIET_WAIT_MS'] === '0' ? 0 : envInt('BENCH_QUIET_WAIT_MS', 10_000),
  repeat: envInt('BENCH_SIEM_REPEAT', 3),
  batchEvents: PRODUCT.batchEvents, batchBytes: PRODUCT.batchBytes, batchMs: PRODUCT.batchMs,
};
const TENANT = 'tnt_bench_siem';
/** The tenant of the paused destination that keeps the preloaded log retained (see the preload). */
const HOLDER = 'tnt_siem_holder';
const log = (...a: unknown[]) => console.log(...a);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quiet = async () => (CFG.quietWaitMs === 0 ? { busyCores: -1, waitedMs: 0 } : waitForQuiet(CFG.quietWaitMs));

interface Status { unique: number; total: number; other: number; duplicates: number; expected: number; startedAt: number; completeAt: number; lastAt: number }

/** rsyslog.ts keeps its folder to itself: it is the folder of the config rsyslogd was started with. */
function rsyslogDir(r: Rsyslog): string {
  const args = readFileSync(`/proc/${r.pid()}/cmdline`, 'utf8').split('\0');
  const conf = args[args.indexOf('-f') + 1];
  if (!conf) throw new Error(`rsyslogd (pid ${r.pid()}) has no -f <config> in its command line: ${args.join(' ')}`);
  return path.dirname(conf);
}

/** The kernel's count of UDP datagrams dropped because a receiving socket's buffer was full. */
function udpRcvbufErrors(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const names = lines[0]?.split(/\s+/) ?? [];
  return Number(lines[1]?.split(/\s+/)[names.indexOf('RcvbufErrors')] ?? NaN);
}

/** CPU of `procs`, the machine's busy cores, UDP drops, and one process's peak RSS (sampled every 100 ms), over a window. */
function measureWindow(procs: { pid: number; label: string }[], rssOf?: number) {
  const start = procs.map((p) => sampleProcess(p.pid, p.label));
  const machine = machineSplit();
  const udpDrops = udpRcvbufErrors();
  const rssStart = rssOf ? rssBytes(rssOf) : undefined;
  let rssPeak = rssStart ?? 0;
  const timer = rssOf ? setInterval(() => { rssPeak = Math.max(rssPeak, rssBytes(rssOf)); }, 100) : null;
  return {
    end() {
      if (timer) clearInterval(timer);
      const cpu = procs.flatMap((p, i) => {
        const a = start[i];
        const b = sampleProcess(p.pid, p.label);
        return a && b ? [cpuBetween(a, b)] : [];
      });
      return { cpu, machine: machine.end(), udpDrops: udpRcvbufErrors() - udpDrops, rssStart, rssPeak: rssOf ? Math.max(rssPeak, rssBytes(rssOf)) : undefined };
    },
  };
}

async function main(): Promise<void> {
  const t00 = performance.now();
  const work = mkdtempSync(path.join(os.tmpdir(), 'af-bench-siem-'));
  const profDir = CFG.profile ? mkdtempSync(path.join('/tmp', 'af-siem-prof-')) : undefined;
  const secret = randomBytes(32).toString('hex');
  const dataDir = path.join(work, 'data');
  log(`bench:siem — ${CFG.events.toLocaleString('en-US')} events per destination kind (${CFG.kinds.join(', ')}); forwarder batches of ${CFG.batchEvents} events / ${CFG.batchBytes} bytes / ${CFG.batchMs} ms`);
  log(machineLine(ROOT, 'in the auditflow process'));
  let rsyslog: Rsyslog | null = null;
  let sys: AuditflowProcess | null = null;
  const children: BenchProcess[] = [];
  try {
    rsyslog = await startRsyslog();
    const receivers = BenchProcess.start(path.join(HERE, 'siem-receivers.ts'), 'receivers');
    const ceiling = BenchProcess.start(path.join(HERE, 'siem-ceiling.ts'), 'ceiling');
    children.push(receivers, ceiling);
    const { port } = await receivers.call<{ port: number }>('listen');
    const dir = rsyslogDir(rsyslog);
    await receivers.call('tail', { files: ['tcp', 'tls', 'udp'].map((i) => path.join(dir, `${i}.log`)) });
    const endpoints: Endpoints = { httpUrl: `http://127.0.0.1:${port}`, ports: rsyslog.ports, caPem: rsyslog.caPem };
    const prepared = ceiling.call<{ parseUs: number; logFormBytes: number }>('prepare', { n: CFG.events, tenant: TENANT });

    sys = await startAuditflow('all', {
      DATA_DIR: dataDir, AUTH_JWT_SECRET: secret, RATE_LIMIT_MAX: '0', LOG_LEVEL: 'warn', ...SIEM_ENV,
      ...(profDir ? { NODE_OPTIONS: `--require ${path.join(HERE, 'cpu-profiler.cjs')}`, BENCH_CPU_PROFILE_DIR: profDir } : {}),
    }, 120_000);
    const url = sys.url!;
    // Every process of ours is sampled in every window, so what is left of the machine's busy time is other people's work.
    const ours = [
      { pid: sys.pid, label: 'auditflow' }, { pid: receivers.pid, label: 'receivers' }, { pid: rsyslog.pid(), label: 'rsyslogd' },
      { pid: ceiling.pid, label: 'ceiling' }, { pid: process.pid, label: 'bench' },
    ];
    /** The process that receives for a kind: the one that would bound it. */
    const receiverOf = (kind: SiemKind) => (kind.startsWith('syslog') ? 'rsyslogd' : 'receivers');
    const token = (tenant: string, scope: string) => issueToken(secret, { sub: 'bench', tid: tenant, scope });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    const api = async (tenant: string, method: string, p: string, body?: unknown) => {
      const auth = { authorization: `Bearer ${await token(tenant, 'audit:admin')}` };
      const res = body === undefined ? await request(agent, `${url}${p}`, method, auth)
        : await request(agent, `${url}${p}`, method, { ...auth, 'content-type': 'application/json' }, Buffer.from(JSON.stringify(body)));
      if (res.status >= 300) throw new Error(`${method} ${p} → ${res.status}: ${res.body.toString('utf8').slice(0, 500)}`);
      return res.body.length > 0 ? (JSON.parse(res.body.toString('utf8')) as Record<string, unknown>) : {};
    };
    const createDestination = async (tenant: string, kind: SiemKind, start: 'oldest' | 'now') =>
      (await api(tenant, 'POST', '/v1/siem/destinations', { name: `bench ${kind}`, ...destinationConfig(kind, endpoints), start }))['destination_id'] as string;
    const status = () => receivers.call<Status>('status');
    /** Until the receiver has every expected event, or nothing new came for `stallMs` (then what is missing is reported). */
    const delivered = async (stallMs: number): Promise<Status> => {
      let last = -1;
      let moved = performance.now();
      for (;;) {
        const s = await status();
        if (s.unique >= s.expected) return s;
        if (s.total !== last) { last = s.total; moved = performance.now(); }
        if (performance.now() - moved > stallMs) return s;
        await sleep(50);
      }
    };
    const stallFor = (kind: SiemKind) => (kind === 'syslog_udp' ? 3_000 : 30_000);

    // TRICKY: a group that never committed holds no segment, so once the store sink has committed
    // past a segment it is deleted, and "oldest" would be the active segment only (~160k events
    // of 128 MiB). A paused destination's group holds the log from its start, as a lagging SIEM does.
    const holder = await createDestination(HOLDER, 'webhook', 'oldest');
    await api(HOLDER, 'POST', `/v1/siem/destinations/${holder}/pause`);
    const logDir = path.join(dataDir, 'log');
    for (let k = 0; !readdirSync(logDir, { recursive: true }).map(String).some((f) => f.endsWith(`committed.auditflow-siem-${holder}`)); k++) {
      if (k > 100) throw new Error(`the holding destination's group has no committed offset under ${logDir}`);
      await sleep(100);
    }
    log(`\n— preload: ${CFG.events.toLocaleString('en-US')} events through HTTP ingest (${((performance.now() - t00) / 1000).toFixed(0)} s)`);
    const writeTokens = new Map([[TENANT, await token(TENANT, 'audit:write audit:read')]]);
    const load = { events: CFG.events, tenants: [TENANT], batch: 1000, runTag: 'p' };
    const pre = await runLoad({ url, requests: buildRequests(benchEvents(CFG.events, TENANT, 'p'), load, 'ndjson'), tokens: writeTokens, clients: 1, contentType: 'application/x-ndjson' });
    await waitQueryable({ url, expected: pre.lastAcked, tokens: writeTokens, timeoutMs: 300_000, intervalMs: 200 });
    log(`  ${Math.round(pre.events / ((pre.ackedAt - pre.startedAt) / 1000)).toLocaleString('en-US')} events/s acknowledged; queryable`);
    const prep = await prepared;

    const delivery = (kind: SiemKind, s: Status, after: Status, t0: number, w: ReturnType<ReturnType<typeof measureWindow>['end']>, busyBefore: number, sender: string): Delivery => {
      const seconds = ((s.completeAt || s.lastAt) - t0) / 1000;
      const use = (label: string) => w.cpu.find((u) => u.label === label);
      const per = (label: string) => ((use(label)?.seconds ?? NaN) * 1e6) / Math.max(1, s.unique);
      return {
        kind, events: CFG.events, seconds, rate: s.unique / seconds, unique: after.unique, duplicates: after.duplicates, other: after.other,
        cpu: w.cpu, machine: w.machine, senderUs: per(sender), senderCores: (use(sender)?.seconds ?? NaN) / seconds,
        receiverUs: per(receiverOf(kind)), receiverCores: (use(receiverOf(kind))?.seconds ?? NaN) / seconds, udpDrops: w.udpDrops,
        rssPeak: w.rssPeak, rssStart: w.rssStart, firstMs: s.startedAt - t0, busyBefore,
      };
    };
    const product = async (kind: SiemKind): Promise<Delivery> => {
      await receivers.call('expect', { idPrefix: idPrefix('p', TENANT), n: CFG.events });
      const q = await quiet();
      const win = measureWindow(ours, sys!.pid);
      const t0 = wallNow();
      const id = await createDestination(TENANT, kind, 'oldest');
      const s = await delivered(stallFor(kind));
      const w = win.end();
      await sleep(500);
      const after = await status();
      await api(TENANT, 'DELETE', `/v1/siem/destinations/${id}`);
      return delivery(kind, s, after, t0, w, q.busyCores, 'auditflow');
    };
    const ceilingPass = async (kind: SiemKind, tag: string): Promise<Delivery> => {
      await receivers.call('expect', { idPrefix: idPrefix(tag, TENANT), n: CFG.events });
      const q = await quiet();
      const win = measureWindow(ours);
      const r = await ceiling.call<CeilingRun>('run', { kind, tag, tenant: TENANT, batch: CFG.batchEvents, endpoints, procId: sys!.pid });
      const s = await delivered(stallFor(kind));
      const w = win.end();
      const d = delivery(kind, s, s, r.startedAt, w, q.busyCores, 'ceiling');
      // Its process also encoded the bodies before the clock: the sending side's CPU is its own count.
      return { ...d, senderUs: r.sendUs, senderCores: (r.sendUs * s.unique) / 1e6 / d.seconds, encodeUs: r.encodeUs, firstMs: s.startedAt - r.startedAt };
    };

    const passes: SiemReport['passes'] = [];
    let profile: SiemReport['profile'] = null;
    for (const [i, kind] of CFG.kinds.entries()) {
      log(`\n— ${labelOf(kind)} (${((performance.now() - t00) / 1000).toFixed(0)} s)`);
      const cs: Delivery[] = [];
      const ps: Delivery[] = [];
      // Taken in turns, so a neighbour's burst of work hits both sides alike.
      for (let r = 0; r < CFG.repeat; r++) {
        const c = await ceilingPass(kind, `c${i}r${r}`);
        log(`  ceiling:   ${Math.round(c.rate).toLocaleString('en-US')} events/s (${c.unique} received, ${c.duplicates} twice), receiver ${c.receiverUs.toFixed(1)} µs/event; other work ${otherWork(c).toFixed(2)} cores`);
        const p = await product(kind);
        log(`  auditflow: ${Math.round(p.rate).toLocaleString('en-US')} events/s (${p.unique} received, ${p.duplicates} twice, ${p.other} other lines) in ${p.seconds.toFixed(1)} s, ${p.senderUs.toFixed(1)} µs CPU/event, peak RSS ${((p.rssPeak ?? 0) / 2 ** 20).toFixed(0)} MiB; other work ${otherWork(p).toFixed(2)} cores`);
        cs.push(c);
        ps.push(p);
      }
      passes.push({ kind, ceiling: medianPass(cs), product: medianPass(ps), runs: { ceiling: cs.map((d) => d.rate), product: ps.map((d) => d.rate) } });
      if (CFG.profile === kind && profDir) {
        log('  profiled pass (not measured)');
        await receivers.call('expect', { idPrefix: idPrefix('p', TENANT), n: CFG.events });
        process.kill(sys.pid, 'SIGUSR2');
        await sleep(300);
        const id = await createDestination(TENANT, kind, 'oldest');
        await delivered(stallFor(kind));
        process.kill(sys.pid, 'SIGUSR2');
        await api(TENANT, 'DELETE', `/v1/siem/destinations/${id}`);
        for (let k = 0; k < 100 && !readdirSync(profDir).some((f) => f.endsWith('.cpuprofile')); k++) await sleep(200);
        const f = readdirSync(profDir).find((x) => x.endsWith('.cpuprofile'));
        if (f) profile = { kind, file: path.join(profDir, f), ...summarizeProfile(path.join(profDir, f), 25) };
      }
    }

    const lags: Lag[] = [];
    for (const [i, kind] of (CFG.lagSeconds > 0 ? CFG.kinds : []).entries()) {
      log(`\n— lag: ${labelOf(kind)}, ${CFG.lagRate} events/s for ${CFG.lagSeconds} s (${((performance.now() - t00) / 1000).toFixed(0)} s)`);
      const tenant = `tnt_siem_lag${i}`;
      const tokens = new Map([[tenant, await token(tenant, 'audit:write')]]);
      const id = await createDestination(tenant, kind, 'now');
      // A warm-up the destination must deliver: its consumer runs before the window starts.
      await receivers.call('expect', { idPrefix: idPrefix(`w${i}`, tenant), n: 100 });
      await runLoad({ url, requests: buildRequests(benchEvents(100, tenant, `w${i}`), { events: 100, tenants: [tenant], batch: 100, runTag: `w${i}` }, 'ndjson'), tokens, clients: 1, contentType: 'application/x-ndjson' });
      const warm = await delivered(stallFor(kind));
      if (kind !== 'syslog_udp' && warm.unique < 100) throw new Error(`lag warm-up: ${warm.unique} of 100 events reached the ${kind} receiver`);
      const n = CFG.lagRate * CFG.lagSeconds;
      const reqs = buildRequests(benchEvents(n, tenant, `l${i}`), { events: n, tenants: [tenant], batch: CFG.lagBatch, runTag: `l${i}` }, 'ndjson')
        .map((r, k) => ({ tenant, path: '/v1/ingest/audit-events' as const, body: r.body, count: r.count, firstRow: k * CFG.lagBatch }));
      await receivers.call('expect', { idPrefix: idPrefix(`l${i}`, tenant), n });
      const q = await quiet();
      const win = measureWindow(ours);
      const ing = await runIngest({ url, load: { tag: `l${i}`, requests: reqs, kind: new Uint8Array(0), tenant: new Uint16Array(0), share: new Int16Array(0), request: new Int32Array(0), ids: [] }, tokens, rate: CFG.lagRate, clients: 1 });
      const s = await delivered(stallFor(kind));
      const w = win.end();
      const file = path.join(work, `arrivals-${kind}.f64`);
      await receivers.call('arrivals', { file });
      const buf = readFileSync(file);
      const first = new Float64Array(buf.buffer, buf.byteOffset, buf.byteLength / 8);
      const lag: number[] = [];
      first.forEach((at, e) => { if (at > 0) lag.push(at - ing.acked[Math.floor(e / CFG.lagBatch)]!); });
      lag.sort((a, b) => a - b);
      const pct = (p: number) => lag[Math.min(lag.length - 1, Math.floor(p * lag.length))] ?? NaN;
      await api(tenant, 'DELETE', `/v1/siem/destinations/${id}`);
      lags.push({ kind, events: n, rate: ing.rate, ingestP50: ing.p50, ingestP99: ing.p99, late: ing.late, unique: s.unique, duplicates: s.duplicates, p50: pct(0.5), p99: pct(0.99), max: lag[lag.length - 1] ?? NaN, machine: w.machine, cpu: w.cpu, udpDrops: w.udpDrops });
      log(`  lag p50 ${pct(0.5).toFixed(1)} ms, p99 ${pct(0.99).toFixed(1)} ms, max ${(lag[lag.length - 1] ?? NaN).toFixed(1)} ms; ${s.unique} of ${n} received${q.busyCores >= 0.35 ? ` [machine busy ${q.busyCores.toFixed(2)} cores before]` : ''}`);
    }
    agent.destroy();

    const report: SiemReport = {
      machine: machineLine(ROOT, 'in the auditflow process'), settings: CFG, parseUs: prep.parseUs, logFormBytes: prep.logFormBytes,
      passes, lags, profile, seconds: (performance.now() - t00) / 1000,
    };
    printReport(report, log);
    if (env['BENCH_JSON']) writeFileSync(env['BENCH_JSON'], JSON.stringify({ date: new Date().toISOString(), ...report }, null, 2));
  } finally {
    await sys?.stop();
    for (const c of children) await c.stop();
    await rsyslog?.dispose();
    rmSync(work, { recursive: true, force: true });
  }
}

// Interrupted: exit handlers stop the children (auditflow, the receivers, rsyslogd).
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));

main().then(() => process.exit(0), (e: unknown) => {
  console.error(e);
  process.exit(1);
});
