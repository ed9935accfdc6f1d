// bench:realtime's printed figures: the latency table per client kind, the summary table (the
// form BENCHMARKS.md takes), the target's verdict and, when profiled, where auditflow's main
// thread spent the window.
import type { CpuUse } from './proc-stats.ts';
import type { ceilingFigures, KindKey, ProductFigures } from './realtime-analysis.ts';
import type { IngestRun } from './realtime-ingest.ts';
import type { MemorySample } from './realtime-probes.ts';
import type { ProfileSummary } from './cpuprofile.ts';
import type { BusyStretch } from './realtime-profile.ts';

type Machine = { busyCores: number; softirqCores: number; cores: number };

export interface Report {
  info: Record<string, string>;
  cfg: { ws: number; sse: number; seconds: number; rate: number; changeShare: number; workers: number; tenants: number; shares: number; targetP99Ms: number; [k: string]: unknown };
  plan: { fanMin: number; fanMax: number; fanMean: number; offered: number };
  memory: { base: MemorySample; afterWs: MemorySample; afterSse: MemorySample; wsConnectS: number; sseConnectS: number };
  product: {
    figures: ProductFigures; ingest: IngestRun; cpu: CpuUse[]; machine: Machine; baseCores: number; baseCpuPerRow: number;
    counters: Record<string, number>; stored: number; rows: number; quietBefore: number;
  };
  profile: (ProfileSummary & { file: string; stretches: BusyStretch[] }) | null;
  ceiling: {
    memory: { base: MemorySample; afterWs: MemorySample; afterSse: MemorySample };
    runs: { paced: boolean; coalesce: boolean; figures: ReturnType<typeof ceilingFigures>; cpu: CpuUse[]; machine: Machine; sent: number; recorded: number; expected: number }[];
    rows: number; skipped: number; batches: number;
  };
  totalSeconds: number;
}

const f1 = (n: number) => (Number.isFinite(n) ? (Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1)) : '—');
const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
const KINDS: [KindKey, string][] = [['sync', 'sync WS'], ['ui', 'UI WS'], ['sse', 'SSE'], ['ws', 'all WS'], ['all', 'all']];

function perConnection(m: { base: MemorySample; afterWs: MemorySample; afterSse: MemorySample }, ws: number, sse: number) {
  return {
    wsRss: (m.afterWs.rss - m.base.rss) / ws, wsHeap: (m.afterWs.heap - m.base.heap) / ws,
    sseRss: (m.afterSse.rss - m.afterWs.rss) / sse, sseHeap: (m.afterSse.heap - m.afterWs.heap) / sse,
  };
}

const cpuOf = (use: CpuUse[], label: RegExp) => use.filter((u) => label.test(u.label)).reduce((s, u) => s + u.seconds, 0);
const coresOf = (use: CpuUse[], label: RegExp) => use.filter((u) => label.test(u.label)).reduce((s, u) => s + u.cores, 0);

/** Busy cores that were neither ours nor the kernel's softirq: someone else's work on this shared machine. */
const others = (m: Machine, use: CpuUse[]) => Math.max(0, m.busyCores - m.softirqCores - use.reduce((s, u) => s + u.cores, 0));
const machineLine = (m: Machine, use: CpuUse[]) => `machine busy ${m.busyCores.toFixed(2)} of ${m.cores}: softirq ${m.softirqCores.toFixed(2)}, other processes ${others(m, use).toFixed(2)}`;

export function printReport(r: Report, log: (...a: unknown[]) => void): void {
  const p = r.product.figures;
  const paced = r.ceiling.runs.find((x) => x.paced && !x.coalesce)!;
  const flood = r.ceiling.runs.find((x) => !x.paced)!;
  const coalesced = r.ceiling.runs.find((x) => x.coalesce);
  const af = r.product.cpu[0]!;
  const usPerFrame = (af.seconds / p.frames) * 1e6;
  // Above what ingest alone cost for the same rows (the baseline window's CPU per row).
  const marginalUs = ((af.seconds - r.product.baseCpuPerRow * r.product.rows) / p.frames) * 1e6;
  const ceilUs = (cpuOf(paced.cpu, /^ceiling/) / paced.figures.frames) * 1e6;
  const ceilFloodUs = (cpuOf(flood.cpu, /^ceiling/) / flood.figures.frames) * 1e6;
  const pm = perConnection(r.memory, r.cfg.ws, r.cfg.sse);
  const cm = perConnection(r.ceiling.memory, r.cfg.ws, r.cfg.sse);
  const all = p.byKind.all;
  const c = paced.figures.byKind.all;

  log('\n— latency per delivered frame, ms (p50 / p99 / max); auditflow');
  log('| clients | frames | 202 → frame | received_at → frame (incl. the insert) | readable → frame | ceiling: batch sent → frame |');
  log('|---|---:|---:|---:|---:|---:|');
  for (const [k, name] of KINDS) {
    const x = p.byKind[k];
    const cc = paced.figures.byKind[k];
    const d = (y: { p50: number; p99: number; max: number }) => `${f1(y.p50)} / ${f1(y.p99)} / ${f1(y.max)}`;
    log(`| ${name} | ${x.ack.n.toLocaleString('en-US')} | ${d(x.ack)} | ${d(x.stamp)} | ${d(x.readable)} | ${d(cc)} |`);
  }
  log(`${p.batches} sink batches in the window; their inserts (call → answer seen): p50 ${f1(p.insert.p50)} ms, p99 ${f1(p.insert.p99)} ms, max ${f1(p.insert.max)} ms (${p.insert.n} seen by the probe)`);
  log(`heartbeat rounds in the window: ${p.heartbeats.map((h) => `${h.pings} pings over ${f1(h.last - h.first)} ms`).join('; ') || 'none'}; readable → frame of the batches away from them: p50 ${f1(p.awayFromHeartbeats.p50)} ms, p99 ${f1(p.awayFromHeartbeats.p99)} ms (${p.awayFromHeartbeats.n} frames)`);
  log('latest batches (readable → first / last frame):');
  for (const w of p.worst) log(`  ${w.table} ${w.rows} rows, ${w.frames} frames: ${f1(w.firstMs)} / ${f1(w.lastMs)} ms${w.nearHeartbeat ? ' (during a heartbeat round)' : ''}`);
  log(`frames: ${p.frames.toLocaleString('en-US')} recorded of ${p.expected.toLocaleString('en-US')} expected (missing ${p.missing}, twice ${p.duplicates}, without a stored row ${p.unstamped}); rows stored ${r.product.stored} of ${r.product.rows}`);
  log(`server counters in the window: ${JSON.stringify(r.product.counters)}`);
  log(`CPU in the window (cores): ${r.product.cpu.map((u) => `${u.label} ${u.cores.toFixed(2)}`).join(', ')}; ${machineLine(r.product.machine, r.product.cpu)}`);
  for (const x of r.ceiling.runs) log(`CPU in the ceiling's ${x.paced ? 'paced' : 'flood'}${x.coalesce ? ' coalesced' : ''} replay (cores): ${x.cpu.map((u) => `${u.label} ${u.cores.toFixed(2)}`).join(', ')}; ${machineLine(x.machine, x.cpu)}`);
  log(`auditflow threads: ${af.byThread.slice(0, 5).map((t) => `${t.group} ${t.cores.toFixed(2)}`).join(', ')}`);

  const verdict = `${all.readable.p99 < r.cfg.targetP99Ms ? 'MET' : 'NOT MET'}: p99 ${f1(all.readable.p99)} ms (WS ${f1(p.byKind.ws.readable.p99)}, SSE ${f1(p.byKind.sse.readable.p99)})`;
  const ratio = (a: number, b: number) => (b > 0 ? `×${(a / b).toFixed(1)}` : '—');
  log('\n— summary');
  const rows: [string, string, string, string][] = [
    ['clients', `${r.cfg.ws.toLocaleString('en-US')} WS (${r.plan.fanMean.toFixed(1)} per share) + ${r.cfg.sse.toLocaleString('en-US')} SSE (${(r.cfg.sse / r.cfg.tenants).toFixed(0)} per tenant), ${r.cfg.workers} client processes`, 'same clients, same processes', ''],
    ['ingest', `${f1(r.product.ingest.rate)} rows/s (${Math.round(r.cfg.changeShare * 100)}% changes); 202 p50 ${f1(r.product.ingest.p50)} ms, p99 ${f1(r.product.ingest.p99)} ms`, 'none (replays the captured frames)', ''],
    ['frames delivered/s', f1(p.framesPerSecond), `paced ${f1(paced.figures.framesPerSecond)}; flood (max) ${f1(flood.figures.framesPerSecond)}`, `${((p.framesPerSecond / flood.figures.framesPerSecond) * 100).toFixed(0)}% of the flood`],
    ['202 → frame p50 / p99', `${f1(all.ack.p50)} / ${f1(all.ack.p99)} ms`, '—', ''],
    ['received_at → frame p50 / p99 (incl. the insert)', `${f1(all.stamp.p50)} / ${f1(all.stamp.p99)} ms`, '—', ''],
    ['readable → frame p50 / p99', `${f1(all.readable.p50)} / ${f1(all.readable.p99)} ms`, `batch sent → frame ${f1(c.p50)} / ${f1(c.p99)} ms`, `p50 ${ratio(all.readable.p50, c.p50)}, p99 ${ratio(all.readable.p99, c.p99)}`],
    ...(coalesced ? [['readable → frame, frames coalesced per socket and batch', '—', `batch sent → frame ${f1(coalesced.figures.byKind.all.p50)} / ${f1(coalesced.figures.byKind.all.p99)} ms (WS p99 ${f1(coalesced.figures.byKind.ws.p99)}); ${f1((cpuOf(coalesced.cpu, /^ceiling/) / coalesced.figures.frames) * 1e6)} µs CPU per frame`, `p99 ×${(coalesced.figures.byKind.all.p99 / c.p99).toFixed(2)} of uncoalesced`] as [string, string, string, string]] : []),
    ['memory per WS connection (RSS / heap)', `${kib(pm.wsRss)} / ${kib(pm.wsHeap)}`, `${kib(cm.wsRss)} / ${kib(cm.wsHeap)}`, `RSS ${ratio(pm.wsRss, cm.wsRss)}`],
    ['memory per SSE connection (RSS / heap)', `${kib(pm.sseRss)} / ${kib(pm.sseHeap)}`, `${kib(cm.sseRss)} / ${kib(cm.sseHeap)}`, `RSS ${ratio(pm.sseRss, cm.sseRss)}`],
    ['CPU per delivered frame', `${f1(usPerFrame)} µs all of auditflow; ${f1(marginalUs)} µs above ingest alone (${f1(r.product.baseCpuPerRow * 1e6)} µs per row, ${r.product.baseCores.toFixed(2)} cores)`, `${f1(ceilUs)} µs paced, ${f1(ceilFloodUs)} µs flood`, `marginal ${ratio(marginalUs, ceilUs)}`],
    ['cores used (window)', `auditflow ${af.cores.toFixed(2)}, clients ${coresOf(r.product.cpu, /^clients/).toFixed(2)}, driver ${coresOf(r.product.cpu, /^bench/).toFixed(2)}; machine ${r.product.machine.busyCores.toFixed(2)} of 2`,
      `ceiling ${coresOf(paced.cpu, /^ceiling/).toFixed(2)}, clients ${coresOf(paced.cpu, /^clients/).toFixed(2)} (paced)`, ''],
    ['other work on the machine (window)', `${others(r.product.machine, r.product.cpu).toFixed(2)} cores`, `${others(paced.machine, paced.cpu).toFixed(2)} cores (paced)`, ''],
    ['connect time', `${r.memory.wsConnectS.toFixed(1)} s for the WS, ${r.memory.sseConnectS.toFixed(1)} s for the SSE`, '', ''],
    [`target p99 < ${r.cfg.targetP99Ms} ms readable → frame`, verdict, '', ''],
  ];
  log('| figure | auditflow (embedded) | bare ws ceiling | ratio |');
  log('|---|---|---|---|');
  for (const x of rows) log(`| ${x.join(' | ')} |`);
  log(`ceiling schedule: ${r.ceiling.rows} rows in ${r.ceiling.batches} batches (${r.ceiling.skipped} rows without a captured frame); paced ${paced.recorded}/${paced.expected} frames, flood ${flood.recorded}/${flood.expected}`);
  log(`run took ${(r.totalSeconds / 60).toFixed(1)} min`);

  if (r.profile) {
    const pr = r.profile;
    log(`\n— profile of auditflow's main thread, the profiled window (${pr.totalMs} ms sampled; ${pr.file})`);
    log('longest stretches of the event loop held (nothing else runs meanwhile):');
    for (const b of pr.stretches) log(`  ${f1(b.ms)} ms at +${b.atMs} ms: ${b.paths.map((x) => `${f1(x.ms)} ms ${x.path}`).join('; ')}`);
    log('stages:');
    for (const s of pr.stages.slice(0, 10)) log(`  ${s.pct.toFixed(1).padStart(5)}%  ${s.stage}`);
    log('self time:');
    for (const s of pr.selfTop.slice(0, 20)) log(`  ${s.pct.toFixed(1).padStart(5)}%  ${s.fn}`);
    log('inclusive:');
    for (const s of pr.inclusiveTop.slice(0, 25)) log(`  ${s.pct.toFixed(1).padStart(5)}%  ${s.fn}`);
  }
}
