// The load generator: a few keep-alive HTTP clients sending pre-serialised bodies, and the
// "queryable" probe. Plain node:http (cheaper per request than fetch) so the generator takes
// little of the two cores it shares with the system under test.
import http from 'node:http';
import type { BenchRequest } from './events.ts';

export interface HttpResult { status: number; body: Buffer }

export function request(agent: http.Agent, url: string, method: string, headers: Record<string, string>, body?: Buffer): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers: body ? { ...headers, 'content-length': String(body.length) } : headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export interface LoadResult {
  /** ms (performance.now) of the first request and of the last 202 */
  startedAt: number;
  ackedAt: number;
  events: number;
  requests: number;
  /** per tenant: the id of its newest acknowledged event */
  lastAcked: Map<string, string>;
  latencyMs: { p50: number; p99: number; max: number };
}

/**
 * Sends every request with `clients` concurrent clients. A tenant's requests all go through
 * one client, in order, each after the previous one's 202 — so a tenant's last acknowledged
 * event is also its newest in the log (per-tenant order is what the probe relies on).
 */
export async function runLoad(opts: {
  url: string; requests: BenchRequest[]; tokens: Map<string, string>; clients: number; contentType: string;
  /** offered load (events/s): request k is sent no earlier than (events before it) / rate after the start */
  rate?: number;
}): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.clients });
  const tenants = [...new Set(opts.requests.map((r) => r.tenant))];
  const owner = new Map(tenants.map((t, i) => [t, i % opts.clients]));
  const queues: BenchRequest[][] = Array.from({ length: opts.clients }, () => []);
  const due = new Map<BenchRequest, number>();
  let before = 0;
  for (const r of opts.requests) {
    queues[owner.get(r.tenant)!]!.push(r);
    if (opts.rate) due.set(r, (before / opts.rate) * 1000);
    before += r.count;
  }
  const lastAcked = new Map<string, string>();
  const latencies: number[] = [];
  let events = 0;
  const startedAt = performance.now();
  try {
    await Promise.all(queues.map(async (q) => {
      for (const r of q) {
        const wait = startedAt + (due.get(r) ?? 0) - performance.now();
        if (wait > 1) await new Promise((res) => setTimeout(res, wait));
        const t0 = performance.now();
        const res = await request(agent, `${opts.url}/v1/ingest/audit-events`, 'POST', {
          authorization: `Bearer ${opts.tokens.get(r.tenant)!}`, 'content-type': opts.contentType,
        }, r.body);
        latencies.push(performance.now() - t0);
        if (res.status !== 202) throw new Error(`ingest → ${res.status}: ${res.body.toString('utf8').slice(0, 500)}`);
        const ack = JSON.parse(res.body.toString('utf8')) as { accepted: number; ids: string[] };
        if (ack.accepted !== r.count || ack.ids[ack.ids.length - 1] !== r.lastId) {
          throw new Error(`ingest acknowledged ${ack.accepted} events ending ${ack.ids[ack.ids.length - 1]}, expected ${r.count} ending ${r.lastId}`);
        }
        events += r.count;
        lastAcked.set(r.tenant, r.lastId);
      }
    }));
  } finally {
    agent.destroy();
  }
  const ackedAt = performance.now();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0);
  return { startedAt, ackedAt, events, requests: opts.requests.length, lastAcked, latencyMs: { p50: q(0.5), p99: q(0.99), max: q(1) } };
}

/**
 * Polls `GET /v1/audit/logs?limit=1` per tenant until each tenant's newest event is its last
 * acknowledged one. Resolves with performance.now() of the answer that completed the set.
 */
export async function waitQueryable(opts: {
  url: string; expected: Map<string, string>; tokens: Map<string, string>; timeoutMs: number; intervalMs?: number;
  /** give up early when no tenant's newest event changed for this long (the sink stopped) */
  stallMs?: number;
}): Promise<{ at: number; polls: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const pending = new Map(opts.expected);
  const deadline = performance.now() + opts.timeoutMs;
  let polls = 0;
  const seen = new Map<string, string>();
  let lastProgress = performance.now();
  try {
    for (;;) {
      for (const [tenant, lastId] of [...pending]) {
        const res = await request(agent, `${opts.url}/v1/audit/logs?limit=1`, 'GET', { authorization: `Bearer ${opts.tokens.get(tenant)!}` });
        polls++;
        if (res.status !== 200) throw new Error(`GET /v1/audit/logs → ${res.status}: ${res.body.toString('utf8').slice(0, 300)}`);
        const page = JSON.parse(res.body.toString('utf8')) as { logs: { id: string }[] };
        const newest = page.logs[0]?.id ?? '(none)';
        if (seen.get(tenant) !== newest) lastProgress = performance.now();
        seen.set(tenant, newest);
        if (page.logs[0]?.id === lastId) pending.delete(tenant);
      }
      if (pending.size === 0) return { at: performance.now(), polls };
      const stalled = performance.now() - lastProgress > (opts.stallMs ?? 30_000);
      if (performance.now() > deadline || stalled) {
        throw new Error(`not queryable ${stalled ? `(no progress for ${opts.stallMs ?? 30_000} ms)` : `within ${opts.timeoutMs} ms`}: ${[...pending].map(([t, id]) => `${t} newest ${seen.get(t)} (want ${id})`).join('; ')}`);
      }
      await new Promise((r) => setTimeout(r, opts.intervalMs ?? 20));
    }
  } finally {
    agent.destroy();
  }
}
