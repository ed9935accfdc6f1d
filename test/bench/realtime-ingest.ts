// bench:realtime's ingest: a window's requests (./realtime-plan.ts) paced to `rate` rows/s through
// a few keep-alive clients, a tenant's requests through one client in order. Records each
// request's 202 on the wall clock (performance.timeOrigin + now(), shared with the client
// processes' receive timestamps), the moment the event is durable and acknowledged.
import http from 'node:http';
import { request } from './http-load.ts';
import type { WindowLoad } from './realtime-plan.ts';

export const wallNow = () => performance.timeOrigin + performance.now();

export interface IngestRun {
  /** per request: wall ms of its 202 */
  acked: Float64Array;
  rows: number;
  seconds: number;
  rate: number;
  p50: number;
  p99: number;
  /** requests sent more than 100 ms after their due time (the generator fell behind) */
  late: number;
  startedAt: number;
  endedAt: number;
}

export async function runIngest(o: { url: string; load: WindowLoad; tokens: Map<string, string>; rate: number; clients: number }): Promise<IngestRun> {
  const reqs = o.load.requests;
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.clients });
  const tenants = [...new Set(reqs.map((r) => r.tenant))];
  const owner = new Map(tenants.map((t, i) => [t, i % o.clients]));
  const queues: number[][] = Array.from({ length: o.clients }, () => []);
  reqs.forEach((r, k) => queues[owner.get(r.tenant)!]!.push(k));
  const acked = new Float64Array(reqs.length);
  const lat: number[] = [];
  let late = 0;
  const t0 = performance.now();
  const startedAt = wallNow();
  try {
    await Promise.all(queues.map(async (q) => {
      for (const k of q) {
        const r = reqs[k]!;
        const wait = t0 + (r.firstRow / o.rate) * 1000 - performance.now();
        if (wait > 1) await new Promise((res) => setTimeout(res, wait));
        else if (wait < -100) late++;
        const s = performance.now();
        const res = await request(agent, `${o.url}${r.path}`, 'POST', { authorization: `Bearer ${o.tokens.get(r.tenant)!}`, 'content-type': 'application/x-ndjson' }, r.body);
        acked[k] = wallNow();
        lat.push(performance.now() - s);
        if (res.status !== 202) throw new Error(`ingest ${r.path} → ${res.status}: ${res.body.toString('utf8').slice(0, 300)}`);
        const ack = JSON.parse(res.body.toString('utf8')) as { accepted: number };
        if (ack.accepted !== r.count) throw new Error(`ingest ${r.path} accepted ${ack.accepted} of ${r.count}`);
      }
    }));
  } finally {
    agent.destroy();
  }
  const endedAt = wallNow();
  lat.sort((a, b) => a - b);
  const q = (p: number) => Math.round((lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? 0) * 10) / 10;
  const rows = reqs.reduce((n, r) => n + r.count, 0);
  const seconds = (endedAt - startedAt) / 1000;
  return { acked, rows, seconds, rate: rows / seconds, p50: q(0.5), p99: q(0.99), late, startedAt, endedAt };
}
