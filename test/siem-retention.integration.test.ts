// A SIEM destination paused past the embedded log's retention bound (`auditflow all`, tiny
// bounds): its position is not moved on silently — its consumer stops with
// LOG_POSITION_OUT_OF_RETENTION, shown in its health and counted in the metrics — and the way on
// works: a replay from the store sends what the log lost, a seek starts a new position.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from './support/api-client.ts';
import { startSiemReceiver, type ReceivedRequest, type SiemReceiver } from './support/siem-receiver.ts';
import { startEmbedded, until, type Topology } from './support/topologies.ts';

const uniq = () => randomBytes(4).toString('hex');

let topo: Topology;
let receiver: SiemReceiver;

beforeAll(async () => {
  receiver = await startSiemReceiver();
  topo = await startEmbedded({
    EMBEDDED_LOG_SEGMENT_BYTES: String(1024 * 1024), EMBEDDED_LOG_RETENTION_BYTES: String(2 * 1024 * 1024),
    SIEM_POLL_MS: '200', SIEM_BATCH_MS: '50', SIEM_RETRY_BASE_MS: '50', SIEM_RETRY_MAX_MS: '400',
  });
}, 120_000);

afterAll(async () => {
  await topo?.stop();
  await receiver?.stop();
});

function ids(reqs: ReceivedRequest[]): string[] {
  return reqs.filter((r) => r.status === 200).flatMap((r) => r.text.split('\n').filter((l) => l.trim()).map((l) => (JSON.parse(l) as { id: string }).id));
}

describe('SIEM destination out of the embedded log\'s retention', () => {
  it('stops with LOG_POSITION_OUT_OF_RETENTION (health, metrics, nothing skipped silently); a replay and a seek are the way on', async () => {
    const tenant = `t_ret_${uniq()}`;
    const write = await topo.token(tenant, 'audit:write');
    const admin = await topo.token(tenant, 'audit:admin audit:read');
    const call = async (method: string, p: string, body?: unknown) => {
      const res = await fetch(`${topo.apiUrl()}${p}`, { method, headers: { authorization: `Bearer ${admin}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : null) as Record<string, unknown> };
    };
    const sent: string[] = [];
    const send = async (n: number, pad: number) => {
      const events = Array.from({ length: n }, (_, i) => ({
        id: `aud_ret_${uniq()}_${i}`, event_type: 'file.read', category: 'file_access', action: 'read', event_time: new Date().toISOString(),
        actor: { id: 'usr_1', type: 'user' }, resource: { type: 'file', id: `fil_${i}` }, success: true, details: { pad: 'x'.repeat(pad) },
      }));
      const res = await ingest(topo.ingestUrl(), write, 'audit-events', events);
      expect(res.status).toBe(202);
      sent.push(...events.map((e) => e.id));
    };
    const t0 = new Date(Date.now() - 1000).toISOString();
    const created = await call('POST', '/v1/siem/destinations', { name: 'lagging', type: 'webhook', config: { url: `${receiver.url}/ret`, secret: 'whsec_retention_0123456789' }, start: 'oldest', filter: { event_types: ['file.read'] } });
    expect(created.status).toBe(201);
    const id = String(created.body['destination_id']);
    await send(10, 10);
    await until(async () => ids(receiver.requests).length >= 10, 20_000, 'first deliveries');
    expect((await call('POST', `/v1/siem/destinations/${id}/pause`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 800)); // the forwarder stops the group (its commit stays at the 10th event)
    // ~5 MiB while paused: the 2 MiB bound deletes segments the paused group has not read.
    for (let b = 0; b < 10; b++) await send(100, 5000);
    const metric = (text: string, name: string) => Number(new RegExp(`${name}\\{[^}]*group="auditflow-siem-${id}"[^}]*\\} (\\d+)`).exec(text)?.[1] ?? 0);
    await until(async () => metric(await (await fetch(`${topo.apiUrl()}/metrics`)).text(), 'auditflow_log_retention_lost_records_total') > 0, 20_000, 'records lost to the bound');
    expect((await call('POST', `/v1/siem/destinations/${id}/resume`)).status).toBe(200);
    const health = await until(async () => {
      const h = await call('GET', `/v1/siem/destinations/${id}/health`);
      return String(h.body['last_error'] ?? '').includes('LOG_POSITION_OUT_OF_RETENTION') ? h.body : undefined;
    }, 20_000, 'the error in health').catch((e: Error) => { throw new Error(`${e.message}\n${topo.outputs()}`); });
    expect(String(health['last_error'])).toMatch(/deleted by retention/);
    const metrics = await (await fetch(`${topo.apiUrl()}/metrics`)).text();
    expect(metric(metrics, 'auditflow_log_out_of_retention_total')).toBeGreaterThan(0);
    // Nothing after the gap was sent as if the gap were not there.
    await new Promise((r) => setTimeout(r, 600));
    expect(ids(receiver.requests)).toEqual(sent.slice(0, 10));

    // The way on: replay what the log lost (the store has it), then seek to now.
    const rp = await call('POST', `/v1/siem/destinations/${id}/replay`, { from: t0, to: new Date(Date.now() + 1000).toISOString() });
    expect(rp.status).toBe(202);
    const sk = await call('POST', `/v1/siem/destinations/${id}/seek`, { start: 'now' });
    expect(sk.status, JSON.stringify(sk.body)).toBe(200);
    expect(sk.body['generation']).toBe(1);
    await until(async () => {
      const r = await call('GET', `/v1/siem/destinations/${id}/replays/${String(rp.body['replay_id'])}`);
      return r.body['status'] === 'completed';
    }, 60_000, 'the replay');
    expect(new Set(ids(receiver.requests))).toEqual(new Set(sent));
    await new Promise((r) => setTimeout(r, 600));
    const before = ids(receiver.requests).length;
    await send(5, 10);
    await until(async () => ids(receiver.requests).length >= before + 5, 20_000, 'live after the seek');
    expect(ids(receiver.requests).slice(before)).toEqual(sent.slice(-5));
    await until(async () => (await call('GET', `/v1/siem/destinations/${id}/health`)).body['last_error'] === null, 20_000, 'health clear again');
    expect((await call('POST', `/v1/siem/destinations/${id}/seek`, { start: 'yesterday' })).status).toBe(400);
  });
});
