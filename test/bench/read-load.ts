// bench:api's load: closed loops of read requests, the Egnyte tail pollers, and the paced ingest
// that runs beside them. Plain node:http keep-alive agents (./http-load.ts), loopback only; every
// loop is bounded by a request count and a deadline, so a run always ends by itself.
import http from 'node:http';
import { request } from './http-load.ts';
import { buildRequests, generateEvents, type BenchRequest } from './events.ts';

export interface Latencies { requests: number; seconds: number; rps: number; p50: number; p99: number; max: number; statuses: Record<string, number> }

function summarise(lat: number[], seconds: number, statuses: Map<number, number>): Latencies {
  lat.sort((a, b) => a - b);
  const q = (p: number) => Math.round((lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? 0) * 10) / 10;
  return { requests: lat.length, seconds, rps: lat.length / seconds, p50: q(0.5), p99: q(0.99), max: q(1), statuses: Object.fromEntries(statuses) };
}

/**
 * `clients` concurrent clients, each sending its next request when the previous one answered.
 * `next(i)` gives request i's path and token. Stops after `maxRequests` or at `maxMs`. Any status
 * outside `ok` stops the loop with an error (a benchmark of error responses measures nothing).
 */
export async function closedLoop(o: {
  url: string; clients: number; maxRequests: number; maxMs: number; ok: (status: number) => boolean;
  /** request i, sent by client `client` (0 … clients-1, one request in flight per client) */
  next(i: number, client: number): { path: string; token: string };
  /** told each answer (e.g. so a client follows its cursor) */
  onAnswer?(client: number, status: number, body: Buffer): void;
}): Promise<Latencies> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.clients });
  const lat: number[] = [];
  const statuses = new Map<number, number>();
  let issued = 0;
  const t0 = performance.now();
  const deadline = t0 + o.maxMs;
  try {
    await Promise.all(Array.from({ length: o.clients }, async (_, client) => {
      while (issued < o.maxRequests && performance.now() < deadline) {
        const i = issued++;
        const { path, token } = o.next(i, client);
        const s = performance.now();
        const res = await request(agent, `${o.url}${path}`, 'GET', { authorization: `Bearer ${token}` });
        lat.push(performance.now() - s);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (!o.ok(res.status)) throw new Error(`GET ${path} → ${res.status}: ${res.body.toString('utf8').slice(0, 300)}`);
        o.onAnswer?.(client, res.status, res.body);
      }
    }));
  } finally {
    agent.destroy();
  }
  return summarise(lat, (performance.now() - t0) / 1000, statuses);
}

export interface Poller { token: string; cursor: number }
export interface PollResult extends Latencies { withEvents: number; events: number }

/**
 * Egnyte tail pollers: each keeps its own cursor and polls `/pubapi/v2/events?id=<cursor>` in a
 * loop, following `latest_id` when events come back (204: nothing new).
 */
export async function egnytePollers(o: { url: string; pollers: Poller[]; maxRequests: number; maxMs: number }): Promise<PollResult> {
  let withEvents = 0;
  let events = 0;
  const r = await closedLoop({
    url: o.url, clients: o.pollers.length, maxRequests: o.maxRequests, maxMs: o.maxMs, ok: (s) => s === 200 || s === 204,
    // One client per poller.
    next: (_i, client) => {
      const p = o.pollers[client]!;
      return { path: `/pubapi/v2/events?id=${p.cursor}`, token: p.token };
    },
    onAnswer: (client, status, body) => {
      if (status !== 200) return;
      const page = JSON.parse(body.toString('utf8')) as { count: number; latest_id: number };
      withEvents++;
      events += page.count;
      const p = o.pollers[client]!;
      if (page.latest_id > p.cursor) p.cursor = page.latest_id;
    },
  });
  return { ...r, withEvents, events };
}

export interface IngestResult {
  /** per tenant, its newest acknowledged audit event (what GET /v1/audit/logs?limit=1 shows once stored) */
  lastAcked: Map<string, string>;
  events: number; audit: number; changes: number; seconds: number; rate: number; p50: number; p99: number; lateRequests: number }

/** Canonical ChangeLog entries (the log form ingest accepts as it stands), `batch` per request. */
function changeRequests(tenants: string[], events: number, batch: number, runTag: string): BenchRequest[] {
  const out: BenchRequest[] = [];
  const per = Math.ceil(events / tenants.length);
  const now = Date.now();
  for (let k = 0; k < per; k += batch) {
    for (const [ti, tenant] of tenants.entries()) {
      const lines: string[] = [];
      let last = '';
      for (let j = k; j < Math.min(per, k + batch); j++) {
        last = `chg_${runTag}_${ti}_${j}`;
        const p = `/Engineering/Projects/live/${runTag}-${j % 5000}.pdf`;
        lines.push(JSON.stringify({
          id: last, tenant_id: tenant, resource_type: 'file', resource_id: `fil_${runTag}${j % 5000}`, change_type: j % 4 === 0 ? 'created' : 'updated',
          changed_by: `usr_live${j % 300}`, changed_at: new Date(now + j).toISOString(), metadata: { size: 1000 + j, mime_type: 'application/pdf' },
          old_path: j % 4 === 0 ? null : p, new_path: p, version_id: `ver_${runTag}${j}`, share_id: `shr_live${j % 40}`,
        }));
      }
      if (lines.length > 0) out.push({ tenant, count: lines.length, lastId: last, body: Buffer.from(`${lines.join('\n')}\n`) });
    }
  }
  return out;
}

/**
 * Ingest paced to `rate` events/s (audit events and ChangeLog entries, `changeShare` of them
 * changes), NDJSON requests of `batch` events through `clients` clients, for at most `seconds`;
 * `stop()` ends it early. A tenant's requests go through one client, in order. Built before it
 * starts (bodies pre-serialised), so the generator's own work during the window is only HTTP.
 */
export function pacedIngest(o: { url: string; tokens: Map<string, string>; tenants: string[]; rate: number; seconds: number; changeShare: number; batch: number; clients: number; runTag: string }) {
  const total = Math.round(o.rate * o.seconds);
  const nChanges = Math.round(total * o.changeShare);
  const auditOpts = { events: total - nChanges, tenants: o.tenants, batch: o.batch, runTag: o.runTag };
  const audit = buildRequests(generateEvents(auditOpts), auditOpts, 'ndjson').map((r) => ({ ...r, path: '/v1/ingest/audit-events' }));
  const changes = changeRequests(o.tenants, nChanges, o.batch, o.runTag).map((r) => ({ ...r, path: '/v1/ingest/changes' }));
  // Interleave the two streams by their share of the events, so both arrive evenly over the window.
  const all: (BenchRequest & { path: string })[] = [];
  for (let a = 0, c = 0; a < audit.length || c < changes.length;) {
    if (c >= changes.length || (a < audit.length && a / audit.length <= c / changes.length)) all.push(audit[a++]!);
    else all.push(changes[c++]!);
  }
  let stopped = false;
  const run = async (): Promise<IngestResult> => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: o.clients });
    const owner = new Map(o.tenants.map((t, i) => [t, i % o.clients]));
    const queues: { r: (typeof all)[number]; due: number }[][] = Array.from({ length: o.clients }, () => []);
    let before = 0;
    for (const r of all) {
      queues[owner.get(r.tenant)!]!.push({ r, due: (before / o.rate) * 1000 });
      before += r.count;
    }
    const lat: number[] = [];
    const sent = { audit: 0, changes: 0 };
    const lastAcked = new Map<string, string>();
    let late = 0;
    const t0 = performance.now();
    let lastAck = t0;
    try {
      await Promise.all(queues.map(async (q) => {
        for (const { r, due } of q) {
          if (stopped) return;
          const wait = t0 + due - performance.now();
          if (wait > 1) await new Promise((res) => setTimeout(res, wait));
          else if (wait < -100) late++;
          if (stopped) return;
          const s = performance.now();
          const res = await request(agent, `${o.url}${r.path}`, 'POST', { authorization: `Bearer ${o.tokens.get(r.tenant)!}`, 'content-type': 'application/x-ndjson' }, r.body);
          lat.push(performance.now() - s);
          if (res.status !== 202) throw new Error(`ingest ${r.path} → ${res.status}: ${res.body.toString('utf8').slice(0, 300)}`);
          if (r.path.endsWith('changes')) sent.changes += r.count;
          else {
            sent.audit += r.count;
            lastAcked.set(r.tenant, r.lastId);
          }
          lastAck = performance.now();
        }
      }));
    } finally {
      agent.destroy();
    }
    const seconds = (lastAck - t0) / 1000;
    const s = summarise(lat, seconds, new Map());
    const events = sent.audit + sent.changes;
    return { lastAcked, events, audit: sent.audit, changes: sent.changes, seconds, rate: seconds > 0 ? events / seconds : 0, p50: s.p50, p99: s.p99, lateRequests: late };
  };
  return { requests: all.length, start: () => run(), stop: () => { stopped = true; } };
}
