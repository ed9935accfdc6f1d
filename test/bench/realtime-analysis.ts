// bench:realtime's figures from the client processes' per-frame records (./realtime-clients.ts):
// latencies per delivered frame, what was missing or twice, and the ceiling's schedule.
//
// Three latencies for a frame of row g arriving at t (wall clock, shared by every process):
//   ack       t − the 202 of g's ingest request (the moment ingest made it durable);
//   stamp     t − g's received_at: the sink stamps a batch right before its insert, so this is
//             readable → delivered plus the insert;
//   readable  t − the moment the sink learnt that g's insert was acknowledged (the store's answer
//             as its main thread saw it, right before it publishes the rows to the feed), noted by
//             ./realtime-readable-probe.cjs around chDB's insert, matched to g's batch by
//             (table, received_at).
import { readFileSync } from 'node:fs';
import type { CeilingBatch, CeilingRow } from './realtime-ceiling.ts';
import type { ClientKind, ClientPlan, WindowLoad } from './realtime-plan.ts';
import { expectedRecipients, shareKey } from './realtime-plan.ts';

export interface Records { n: number; t: Float64Array; g: Int32Array; c: Int32Array }

export function readRecords(files: string[]): Records {
  const parts = files.map((f) => {
    const b = readFileSync(f);
    const n = b.readDoubleLE(0);
    const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
    return { n, t: new Float64Array(ab, 8, n), g: new Int32Array(ab, 8 + n * 8, n), c: new Int32Array(ab, 8 + n * 12, n) };
  });
  const n = parts.reduce((s, p) => s + p.n, 0);
  const out: Records = { n, t: new Float64Array(n), g: new Int32Array(n), c: new Int32Array(n) };
  let o = 0;
  for (const p of parts) {
    out.t.set(p.t, o);
    out.g.set(p.g, o);
    out.c.set(p.c, o);
    o += p.n;
  }
  return out;
}

export interface Dist { n: number; p50: number; p99: number; max: number }

export function dist(xs: Float64Array): Dist {
  const s = Float64Array.from(xs).sort();
  const q = (p: number) => (s.length === 0 ? NaN : Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))]! * 10) / 10);
  return { n: s.length, p50: q(0.5), p99: q(0.99), max: q(1) };
}

/** Rows grouped by insert: rows of one table with one received_at were one batch. Sorted by time. */
export function batchesOf(load: WindowLoad, receivedAt: Float64Array): { batchOf: Int32Array; at: number[]; kind: number[] } {
  const keys = new Map<string, number>();
  const at: number[] = [];
  const kind: number[] = [];
  const order = [...receivedAt.keys()].filter((g) => !Number.isNaN(receivedAt[g]!)).sort((a, b) => receivedAt[a]! - receivedAt[b]!);
  const batchOf = new Int32Array(receivedAt.length).fill(-1);
  for (const g of order) {
    const k = `${load.kind[g]}:${receivedAt[g]}`;
    let b = keys.get(k);
    if (b === undefined) {
      keys.set(k, (b = at.length));
      at.push(receivedAt[g]!);
      kind.push(load.kind[g]!);
    }
    batchOf[g] = b;
  }
  return { batchOf, at, kind };
}

export type KindKey = ClientKind | 'ws' | 'all';
export interface Latency { ack: Dist; stamp: Dist; readable: Dist }

export interface ProductFigures {
  byKind: Record<KindKey, Latency>;
  frames: number;
  framesPerSecond: number;
  expected: number;
  missing: number;
  duplicates: number;
  /** frames of rows the store has no received_at for, or whose insert the probe did not see (should be 0) */
  unstamped: number;
  batches: number;
  /** per batch: the insert as the probe saw it, call → answer (ms) */
  insert: Dist;
  /** the server's heartbeat rounds in the window, as the clients saw the pings arrive */
  heartbeats: { first: number; last: number; pings: number }[];
  /** readable → frame of the batches that became readable away from a heartbeat round (diagnostic) */
  awayFromHeartbeats: Dist;
  /** the batches whose last frame came latest */
  worst: { table: string; rows: number; frames: number; firstMs: number; lastMs: number; nearHeartbeat: boolean }[];
}

/** Pings cluster into rounds (the hub pings every socket in one pass): gaps over 2 s separate them. */
export function heartbeatRounds(pings: number[]): { first: number; last: number; pings: number }[] {
  const s = [...pings].sort((a, b) => a - b);
  const out: { first: number; last: number; pings: number }[] = [];
  for (const t of s) {
    const r = out[out.length - 1];
    if (r && t - r.last < 2000) { r.last = t; r.pings++; } else out.push({ first: t, last: t, pings: 1 });
  }
  return out;
}

const KINDS: KindKey[] = ['sync', 'ui', 'sse', 'ws', 'all'];
const inKind = (k: KindKey, c: ClientKind) => k === 'all' || k === c || (k === 'ws' && c !== 'sse');

/** The probe's lines: per insert, table, the batch's received_at, and when its answer was seen. */
export interface InsertSeen { table: string; stamp: string; start: number; acked: number; elapsed: number | null }

export function readInserts(file: string): InsertSeen[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as InsertSeen);
}

export function productFigures(o: { rec: Records; plan: ClientPlan; load: WindowLoad; acked: Float64Array; receivedAt: Float64Array; inserts: InsertSeen[]; pings: number[] }): ProductFigures {
  const { rec, load } = o;
  const { batchOf, at, kind } = batchesOf(load, o.receivedAt);
  const seen = new Map(o.inserts.map((x) => [`${x.table === 'change_log' ? 0 : 1}:${Date.parse(x.stamp)}`, x]));
  const readableAt = at.map((ms, b) => seen.get(`${kind[b]}:${ms}`)?.acked ?? NaN);
  const insertMs = at.map((ms, b) => { const x = seen.get(`${kind[b]}:${ms}`); return x ? x.acked - x.start : NaN; }).filter((x) => !Number.isNaN(x));
  const heartbeats = heartbeatRounds(o.pings);
  // A batch readable from 1 s before a round's first ping to its last one waits behind (or among) the pings.
  const near = readableAt.map((r) => heartbeats.some((h) => r >= h.first - 1000 && r <= h.last));
  const per = at.map(() => ({ rows: 0, frames: 0, first: Infinity, last: -Infinity }));
  for (let g = 0; g < load.kind.length; g++) if (batchOf[g]! >= 0) per[batchOf[g]!]!.rows++;
  const away: number[] = [];
  const kinds = o.plan.clients.map((c) => c.kind);
  const series = Object.fromEntries(KINDS.map((k) => [k, { ack: [] as number[], stamp: [] as number[], readable: [] as number[] }]));
  const pairs = new Set<number>();
  let duplicates = 0;
  let unstamped = 0;
  let tMin = Infinity;
  let tMax = -Infinity;
  for (let i = 0; i < rec.n; i++) {
    const g = rec.g[i]!;
    const t = rec.t[i]!;
    const c = rec.c[i]!;
    const key = c * load.kind.length + g;
    if (pairs.has(key)) duplicates++;
    pairs.add(key);
    if (t < tMin) tMin = t;
    if (t > tMax) tMax = t;
    const b = batchOf[g]!;
    const r = b >= 0 ? readableAt[b]! : NaN;
    if (Number.isNaN(r)) unstamped++;
    else {
      const x = per[b]!;
      x.frames++;
      x.first = Math.min(x.first, t - r);
      x.last = Math.max(x.last, t - r);
      if (!near[b]) away.push(t - r);
    }
    for (const k of KINDS) {
      if (!inKind(k, kinds[c]!)) continue;
      const s = series[k]!;
      s.ack.push(t - o.acked[load.request[g]!]!);
      if (b >= 0) s.stamp.push(t - o.receivedAt[g]!);
      if (!Number.isNaN(r)) s.readable.push(t - r);
    }
  }
  let expected = 0;
  for (let g = 0; g < load.kind.length; g++) expected += expectedRecipients(o.plan, load, g);
  const byKind = Object.fromEntries(KINDS.map((k) => {
    const s = series[k]!;
    return [k, { ack: dist(Float64Array.from(s.ack)), stamp: dist(Float64Array.from(s.stamp)), readable: dist(Float64Array.from(s.readable)) }];
  })) as Record<KindKey, Latency>;
  const frames = rec.n;
  return {
    byKind, frames, framesPerSecond: frames / Math.max(1e-9, (tMax - tMin) / 1000), expected,
    missing: Math.max(0, expected - (frames - duplicates)), duplicates, unstamped, batches: at.length, insert: dist(Float64Array.from(insertMs)),
    heartbeats, awayFromHeartbeats: dist(Float64Array.from(away)),
    worst: per.map((x, b) => ({ table: kind[b] === 0 ? 'change_log' : 'audit_events', rows: x.rows, frames: x.frames, firstMs: x.first, lastMs: x.last, nearHeartbeat: near[b]! }))
      .filter((x) => x.frames > 0).sort((a, b) => b.lastMs - a.lastMs).slice(0, 8),
  };
}

/** Frame samples (NDJSON {g, k, t}) of every client process, one text per row and kind. */
export function readSamples(files: string[]): Map<number, Partial<Record<ClientKind, string>>> {
  const out = new Map<number, Partial<Record<ClientKind, string>>>();
  for (const f of files) {
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      if (!line) continue;
      const s = JSON.parse(line) as { g: number; k: ClientKind; t: string };
      const e = out.get(s.g) ?? {};
      e[s.k] ??= s.t;
      out.set(s.g, e);
    }
  }
  return out;
}

/** The product's window as the ceiling replays it: its batches at their relative times, each row's frames. */
export function ceilingSchedule(plan: ClientPlan, load: WindowLoad, receivedAt: Float64Array, samples: Map<number, Partial<Record<ClientKind, string>>>): { batches: CeilingBatch[]; batchOf: Int32Array; rows: number; skipped: number } {
  const { batchOf, at } = batchesOf(load, receivedAt);
  const batches: CeilingBatch[] = at.map((x) => ({ at: x - at[0]!, rows: [] }));
  let rows = 0;
  let skipped = 0;
  // Rows in their order within the window (g follows the log order of a tenant's requests).
  for (let g = 0; g < load.kind.length; g++) {
    const b = batchOf[g]!;
    const s = samples.get(g);
    if (b < 0 || !s) {
      if (expectedRecipients(plan, load, g) > 0) skipped++;
      continue;
    }
    const t = load.tenant[g]!;
    const row: CeilingRow = load.kind[g] === 1
      ? { tenant: plan.tenants[t]!, share: null, ...(s.sse ? { sse: s.sse } : {}) }
      : { tenant: plan.tenants[t]!, share: plan.shares[t]![load.share[g]!]!, ...(s.sync ? { sync: s.sync } : {}), ...(s.ui ? { ui: s.ui } : {}) };
    batches[b]!.rows.push(row);
    rows++;
  }
  return { batches, batchOf, rows, skipped };
}

/** The ceiling's latencies: receive time minus the start of the batch the row was sent in. */
export function ceilingFigures(rec: Records, plan: ClientPlan, batchOf: Int32Array, starts: number[]): { byKind: Record<KindKey, Dist>; frames: number; framesPerSecond: number } {
  const kinds = plan.clients.map((c) => c.kind);
  const series = Object.fromEntries(KINDS.map((k) => [k, [] as number[]]));
  let tMin = Infinity;
  let tMax = -Infinity;
  for (let i = 0; i < rec.n; i++) {
    const b = batchOf[rec.g[i]!]!;
    if (b < 0) continue;
    const t = rec.t[i]!;
    if (t > tMax) tMax = t;
    const start = starts[b]!;
    if (start < tMin) tMin = start;
    const l = t - start;
    for (const k of KINDS) if (inKind(k, kinds[rec.c[i]!]!)) series[k]!.push(l);
  }
  const byKind = Object.fromEntries(KINDS.map((k) => [k, dist(Float64Array.from(series[k]!))])) as Record<KindKey, Dist>;
  return { byKind, frames: rec.n, framesPerSecond: rec.n / Math.max(1e-9, (tMax - tMin) / 1000) };
}

/** Deliveries a replay of `batches` makes: each row's frames to its share's followers of each kind, or its tenant's streams. */
export function scheduledDeliveries(plan: ClientPlan, batches: CeilingBatch[]): number {
  let n = 0;
  for (const b of batches) {
    for (const r of b.rows) {
      if (r.share === null) {
        if (r.sse) n += plan.sseByTenant.get(r.tenant) ?? 0;
        continue;
      }
      const f = plan.followers.get(shareKey(r.tenant, r.share));
      if (f) n += (r.sync ? f.sync : 0) + (r.ui ? f.ui : 0);
    }
  }
  return n;
}
