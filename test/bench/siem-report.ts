// bench:siem's report: per destination kind, the forwarder's delivered events/s beside the bare
// client's into the same receiver in the same run, the ratio, CPU per event and peak RSS of
// auditflow, the receivers' CPU per event (is the receiver what bounds it?), completeness, and the
// end-to-end lag table.
import type { CpuUse } from './proc-stats.ts';
import { labelOf, type SiemKind } from './siem-load.ts';

export interface Machine { busyCores: number; softirqCores: number; cores: number }

/** One measured delivery of N events to one receiver. */
export interface Delivery {
  kind: SiemKind;
  events: number;
  seconds: number;
  rate: number;
  /** received once at least / copies beyond the first / lines that were not the run's */
  unique: number;
  duplicates: number;
  other: number;
  cpu: CpuUse[];
  machine: Machine;
  /** the sending side's process, when it is ours to sample (auditflow); CPU µs per event */
  senderUs: number;
  senderCores: number;
  /** the receiving side: the HTTP receiver process, or rsyslogd (µs per event) */
  receiverUs: number;
  receiverCores: number;
  rssPeak?: number;
  rssStart?: number;
  /** UDP datagrams the kernel dropped in the window, a receiving socket's buffer full (/proc/net/snmp RcvbufErrors) */
  udpDrops: number;
  /** ms from the destination's creation (or the first send) to the first event received */
  firstMs: number;
  /** µs per event in the ceiling process: encoding (before its clock) */
  encodeUs?: number;
  busyBefore: number;
}

export interface Lag {
  kind: SiemKind;
  events: number;
  rate: number;
  ingestP50: number;
  ingestP99: number;
  late: number;
  unique: number;
  duplicates: number;
  p50: number;
  p99: number;
  max: number;
  machine: Machine;
  cpu: CpuUse[];
  udpDrops: number;
}

export interface SiemReport {
  machine: string;
  settings: Record<string, unknown>;
  parseUs: number;
  logFormBytes: number;
  /** Per kind: each side's median pass (by rate), and the rate of every run. */
  passes: { kind: SiemKind; ceiling: Delivery; product: Delivery; runs: { ceiling: number[]; product: number[] } }[];
  lags: Lag[];
  profile: { kind: SiemKind; file: string; selfTop: { fn: string; pct: number }[]; inclusiveTop: { fn: string; pct: number }[] } | null;
  seconds: number;
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '—');
const mib = (n: number | undefined) => (n === undefined ? '—' : (n / 2 ** 20).toFixed(0));
const ours = (d: { cpu: CpuUse[] }) => d.cpu.reduce((s, u) => s + u.cores, 0);
/** Busy cores that were neither our processes nor the kernel's softirq: someone else's work. */
export const otherWork = (d: { cpu: CpuUse[]; machine: Machine }) => Math.max(0, d.machine.busyCores - d.machine.softirqCores - ours(d));

/** The pass with the median rate (the lower middle of an even count). */
export function medianPass(ds: Delivery[]): Delivery {
  return [...ds].sort((a, b) => a.rate - b.rate)[Math.floor((ds.length - 1) / 2)]!;
}

const runsOf = (xs: number[]) => (xs.length > 1 ? ` (${xs.map(int).join(' / ')})` : '');

function complete(d: { events: number; unique: number; duplicates: number; udpDrops: number }): string {
  const missing = d.events - d.unique;
  return `${missing === 0 ? 'all' : `**${int(missing)} missing**`}${d.duplicates > 0 ? `, ${int(d.duplicates)} twice` : ''}${d.udpDrops > 0 ? ` (kernel: ${int(d.udpDrops)} UDP datagrams dropped, receive buffer full)` : ''}`;
}

export function printReport(r: SiemReport, log: (s: string) => void): void {
  log(`\n— delivered events/s, ${int(r.passes[0]?.product.events ?? 0)} events per kind (auditflow: a new destination with start "oldest" over the preloaded log; ceiling: the bare client, the same bytes into the same receiver)`);
  log('| destination | auditflow events/s | ceiling events/s | ratio | auditflow CPU µs/event (cores) | peak RSS MiB (start) | receiver CPU µs/event: auditflow / ceiling (cores) | ceiling: encode µs/event | received | other work, cores |');
  log('|---|---:|---:|---:|---:|---:|---:|---:|---|---:|');
  for (const { kind, ceiling: c, product: p, runs } of r.passes) {
    log(`| ${labelOf(kind)} | ${int(p.rate)}${runsOf(runs.product)} | ${int(c.rate)}${runsOf(runs.ceiling)} | ${Math.round((p.rate / c.rate) * 100)}% | ${f1(p.senderUs)} (${p.senderCores.toFixed(2)}) | ${mib(p.rssPeak)} (${mib(p.rssStart)}) `
      + `| ${f1(p.receiverUs)} / ${f1(c.receiverUs)} (${p.receiverCores.toFixed(2)} / ${c.receiverCores.toFixed(2)}) | ${f1(c.encodeUs ?? NaN)} | ${complete(p)}; ceiling ${complete(c)} | ${otherWork(p).toFixed(2)} / ${otherWork(c).toFixed(2)} |`);
  }
  log(`(log form → forwarded event, JSON.parse + build, on one core: ${f1(r.parseUs)} µs/event; log form ${int(r.logFormBytes)} bytes/event. Receiver: the lean HTTP receiver process for HEC/webhook, rsyslogd for syslog.)`);
  for (const { kind, product: p } of r.passes) {
    const af = p.cpu.find((u) => u.label === 'auditflow');
    if (af) log(`  ${labelOf(kind)}: first event after ${int(p.firstMs)} ms; auditflow threads ${af.byThread.slice(0, 4).map((t) => `${t.group} ${t.cores.toFixed(2)}`).join(', ')}; machine busy ${p.machine.busyCores.toFixed(2)} of ${p.machine.cores}`);
  }

  if (r.lags.length > 0) {
    log(`\n— end-to-end lag: the ingest's 202 → received (HTTP: the request's body in at the receiver; syslog: the line written by rsyslogd, read every 5 ms), a live destination (start "now")`);
    log('| destination | events | offered / achieved events/s | 202 p50 / p99 ms | lag p50 ms | lag p99 ms | lag max ms | received | other work, cores |');
    log('|---|---:|---:|---:|---:|---:|---:|---|---:|');
    for (const l of r.lags) {
      log(`| ${labelOf(l.kind)} | ${int(l.events)} | ${int(r.settings['lagRate'] as number)} / ${int(l.rate)}${l.late > 0 ? ` (${l.late} requests late)` : ''} | ${f1(l.ingestP50)} / ${f1(l.ingestP99)} | ${f1(l.p50)} | ${f1(l.p99)} | ${f1(l.max)} `
        + `| ${complete(l)} | ${otherWork(l).toFixed(2)} |`);
    }
  }

  if (r.profile) {
    log(`\n— CPU profile of auditflow's main thread, an extra ${labelOf(r.profile.kind)} pass (${r.profile.file})`);
    log('self time:');
    for (const s of r.profile.selfTop.slice(0, 15)) log(`  ${s.pct.toFixed(1).padStart(5)}%  ${s.fn}`);
    log('inclusive:');
    for (const s of r.profile.inclusiveTop.slice(0, 25)) log(`  ${s.pct.toFixed(1).padStart(5)}%  ${s.fn}`);
  }
  log(`\nbench:siem took ${(r.seconds / 60).toFixed(1)} min`);
}
