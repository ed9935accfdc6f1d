// GET /api/events (sse-events-stream.txt) on both stores, with the real `eventsource` client and
// raw HTTP where the bytes matter: the documented headers, 401 body and data fields, heartbeats,
// tenant / partner reach, Last-Event-ID resume (nothing missed, nothing twice), a slow client
// closed while a fast one keeps up, and the token's expiry.
import http from 'node:http';
import { EventSource } from 'eventsource';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTenant, startStores, type HarnessStore, type Stores } from './support/read-api-harness.ts';
import { realtimeApp, type RealtimeApp } from './support/realtime-harness.ts';
import { until } from './support/topologies.ts';

interface Received {
  id: string;
  type: string;
  data: Record<string, unknown>;
}

/** An EventSource collecting every message (parsed), with the Authorization header. */
function listen(url: string, token: string, headers: Record<string, string> = {}) {
  const got: Received[] = [];
  const errors: unknown[] = [];
  const es = new EventSource(url, {
    fetch: (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), authorization: `Bearer ${token}`, ...headers } }),
  });
  es.onmessage = (ev) => {
    const f = JSON.parse(ev.data) as { type: string; data: Record<string, unknown> };
    got.push({ id: ev.lastEventId, type: f.type, data: f.data });
  };
  es.onerror = (e) => errors.push(e);
  const events = () => got.filter((g) => g.type !== 'connected');
  return { es, got, events, errors, close: () => es.close() };
}

/** Raw bytes of a stream (for headers, comments and framing). */
function rawStream(url: string, headers: Record<string, string> = {}) {
  let text = '';
  let status = 0;
  let resHeaders: http.IncomingHttpHeaders = {};
  let ended = false;
  const req = http.get(url, { headers }, (res) => {
    status = res.statusCode ?? 0;
    resHeaders = res.headers;
    res.setEncoding('utf8');
    res.on('data', (c: string) => { text += c; });
    res.on('end', () => { ended = true; });
    res.on('close', () => { ended = true; });
  });
  req.on('error', () => { ended = true; });
  return { get text() { return text; }, get status() { return status; }, get headers() { return resHeaders; }, get ended() { return ended; }, close: () => req.destroy() };
}

let stores: Stores;
beforeAll(async () => { stores = await startStores(); }, 120_000);
afterAll(async () => { await stores?.stop(); });

describe.each(['chdb', 'http'] as const)('SSE /api/events on %s', (name) => {
  let h: HarnessStore;
  let rt: RealtimeApp;
  beforeAll(async () => {
    h = stores.list.find((s) => s.name === name)!;
    rt = await realtimeApp(h, { SSE_HEARTBEAT_MS: '300', REALTIME_SEND_BUFFER_BYTES: '65536' });
  });
  afterAll(async () => { await rt?.close(); });

  it('refuses without an admin token with the documented 401 body', async () => {
    const t = newTenant();
    const reader = await rt.token(t, 'audit:read');
    for (const headers of [{}, { authorization: 'Bearer not-a-jwt' }, { authorization: `Bearer ${reader}` }]) {
      const res = await rt.app.inject({ method: 'GET', url: '/api/events', headers });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ error: 'Admin authentication required', code: 'ADMIN_AUTH_REQUIRED' });
    }
    const bad = await rt.app.inject({ method: 'GET', url: `/api/events?token=${await rt.token(t, 'audit:admin')}`, headers: { 'last-event-id': 'garbage' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('EVENT_ID_INVALID');
  });

  it('streams the tenant\'s events with the documented headers, fields and heartbeats', async () => {
    const t = newTenant();
    const other = newTenant();
    const token = await rt.token(t, 'audit:admin');
    const raw = rawStream(`${rt.url}/api/events?token=${token}`);
    await until(async () => raw.text.includes('"connected"'), 10_000, 'connected frame');
    expect(raw.status).toBe(200);
    expect(raw.headers['content-type']).toBe('text/event-stream');
    expect(raw.headers['cache-control']).toBe('no-cache');
    expect(raw.headers['connection']).toBe('keep-alive');
    const [ext] = await h.rows.audit(t, [{ request_id: 'req-456', success: false, details: JSON.stringify({ provider: 'openai', model: 'gpt-4' }) }]);
    await h.rows.audit(other, [{}]);
    const [internal] = await h.rows.audit(t, [{ source_format: 'internal', event_type: 'audit.read', actor_id: 'dash-123', resource_type: 'audit_log', resource_id: 'scaivault.logs', outcome: 'success', details: JSON.stringify({ code: 'OK' }) }]);
    await until(async () => raw.text.includes('internal_audit_log_created') && raw.text.includes(': heartbeat'), 10_000, 'frames and a heartbeat');
    const frames = raw.text.split('\n\n').filter((b) => b.includes('data: ')).map((b) => {
      const id = /^id: (.*)$/m.exec(b)?.[1];
      return { id, frame: JSON.parse(/^data: (.*)$/m.exec(b)![1]!) };
    });
    expect(frames.map((f) => f.frame.type)).toEqual(['connected', 'audit_log_created', 'internal_audit_log_created']);
    expect(frames[1]!.frame.data).toEqual({ auditLogId: ext!.id, requestId: 'req-456', timestamp: ext!.event_time, decision: 'deny', provider: 'openai', model: 'gpt-4' });
    expect(frames[2]!.frame.data).toEqual({
      internalAuditLogId: internal!.id, requestId: internal!.request_id, dashboardUserId: 'dash-123', action: 'audit.read',
      resourceType: 'audit_log', resourceId: 'scaivault.logs', outcomeStatus: 'success', outcomeCode: 'OK', decision: 'permit',
    });
    for (const f of frames) expect(f.id).toMatch(/^(\d+:\d+)(,\d+:\d+)*$|^start$/);
    expect(raw.text).not.toContain(other);
    raw.close();
    // The stream open is itself recorded (self-audit).
    expect(rt.reads.records.some((r) => r.tenantId === t && r.what.resource === 'realtime.events')).toBe(true);
  });

  it('resumes after Last-Event-ID from the store: nothing missed, nothing twice', async () => {
    const t = newTenant();
    const token = await rt.token(t, 'audit:admin');
    const first = listen(`${rt.url}/api/events`, token);
    await until(async () => first.got.length > 0, 10_000, 'connected');
    const a = await h.rows.audit(t, Array.from({ length: 5 }, () => ({})));
    await until(async () => first.events().length === 5, 10_000, 'five live events');
    const lastId = first.events()[4]!.id;
    first.close();
    // Written while no client is connected: 2,500 rows, more than one replay page.
    const b = await h.rows.audit(t, Array.from({ length: 2500 }, () => ({})));
    const second = listen(`${rt.url}/api/events`, token, { 'last-event-id': lastId });
    await until(async () => second.events().length >= 2500, 30_000, 'replayed events');
    const c = await h.rows.audit(t, Array.from({ length: 3 }, () => ({})));
    await until(async () => second.events().length >= 2503, 10_000, 'live events after the replay');
    await new Promise((r) => setTimeout(r, 300));
    second.close();
    expect(second.events().map((e) => e.data['auditLogId'])).toEqual([...b, ...c].map((r) => r.id));
    // Replayed frames (from the store) carry the same data as live ones (from the sink's rows).
    expect(second.events().slice(0, 3).map((e) => e.data)).toEqual(b.slice(0, 3).map((r) => ({
      auditLogId: r.id, requestId: r.request_id, timestamp: r.event_time, decision: 'permit', provider: null, model: null,
    })));
    expect(first.events().map((e) => e.data['auditLogId'])).toEqual(a.map((r) => r.id));
  }, 60_000);

  it('a partner token sees every tenant of its partner, and only those', async () => {
    const partner = `prt_${newTenant()}`;
    const t1 = newTenant();
    const t2 = newTenant();
    const t3 = newTenant();
    const s = listen(`${rt.url}/api/events`, await rt.token(t1, 'audit:admin', { partner_id: partner }));
    await until(async () => s.got.length > 0, 10_000, 'connected');
    const r1 = await h.rows.audit(t1, [{ partner_id: partner }]);
    await h.rows.audit(t3, [{ partner_id: 'someone-else' }]);
    const r2 = await h.rows.audit(t2, [{ partner_id: partner }]);
    await until(async () => s.events().length >= 2, 10_000, 'partner events');
    await new Promise((r) => setTimeout(r, 200));
    s.close();
    expect(s.events().map((e) => e.data['auditLogId'])).toEqual([r1[0]!.id, r2[0]!.id]);
  });

  it('many clients at once each receive every event', async () => {
    const t = newTenant();
    const token = await rt.token(t, 'audit:admin');
    const clients = Array.from({ length: 40 }, () => listen(`${rt.url}/api/events`, token));
    await until(async () => clients.every((c) => c.got.length > 0), 20_000, 'all connected');
    const rows = await h.rows.audit(t, Array.from({ length: 20 }, () => ({})));
    await until(async () => clients.every((c) => c.events().length === 20), 20_000, 'all delivered');
    for (const c of clients) {
      expect(c.events().map((e) => e.data['auditLogId'])).toEqual(rows.map((r) => r.id));
      c.close();
    }
  });

  it('a client that stops reading falls behind alone, then catches up from the store exactly', async () => {
    const t = newTenant();
    const token = await rt.token(t, 'audit:admin');
    const fast = listen(`${rt.url}/api/events`, token);
    // A client that does not read: its socket's receive window fills, then our send buffer.
    let slowText = '';
    let slowRes: http.IncomingMessage | undefined;
    const slowReq = http.get(`${rt.url}/api/events?token=${token}`, (res) => {
      slowRes = res;
      res.setEncoding('utf8');
      res.on('data', (c: string) => { slowText += c; });
    });
    await until(async () => fast.got.length > 0 && slowText.includes('connected'), 10_000, 'both connected');
    slowRes!.pause();
    const big = 'x'.repeat(2000);
    const written: string[] = [];
    for (let i = 0; i < 30; i++) {
      const rows = await h.rows.audit(t, Array.from({ length: 100 }, () => ({ request_id: big })));
      written.push(...rows.map((r) => r.id));
    }
    // The fast client is not held back by the slow one.
    await until(async () => fast.events().length === written.length, 30_000, 'the fast client got everything');
    expect(fast.events().map((e) => e.data['auditLogId'])).toEqual(written);
    slowRes!.resume();
    const ids = () => slowText.split('\n\n').filter((b) => b.includes('audit_log_created')).map((b) => JSON.parse(/^data: (.*)$/m.exec(b)![1]!).data.auditLogId as string);
    await until(async () => ids().length >= written.length, 30_000, 'the slow client caught up');
    await new Promise((r) => setTimeout(r, 300));
    expect(ids()).toEqual(written);
    fast.close();
    slowReq.destroy();
  }, 90_000);

  it('ends the stream when the token expires', async () => {
    const t = newTenant();
    const raw = rawStream(`${rt.url}/api/events?token=${await rt.token(t, 'audit:admin', {}, 2)}`);
    await until(async () => raw.text.includes('connected'), 10_000, 'connected');
    await until(async () => raw.ended, 10_000, 'stream ended at exp');
  });
});
