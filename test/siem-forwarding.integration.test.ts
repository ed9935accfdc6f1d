// SIEM forwarding end to end in the embedded default (`auditflow all`, a real child process):
// events ingested over HTTP reach webhook, Splunk HEC and syslog (Debian rsyslogd) receivers,
// per tenant, in order; faults (receiver down, 5xx, 429 Retry-After, 400) lose nothing; refused
// events land in dead letters; pause/resume, replay, start positions, a slow destination holding
// back no other, health and metrics.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhookSignature } from '../processors/siem/webhook-signature.ts';
import { ingest } from './support/api-client.ts';
import { startRsyslog, type Rsyslog } from './support/rsyslog.ts';
import { startSiemReceiver, type ReceivedRequest, type SiemReceiver } from './support/siem-receiver.ts';
import { startEmbedded, until, type Topology } from './support/topologies.ts';

const uniq = () => randomBytes(4).toString('hex');
const SECRET = 'whsec_0123456789abcdef0123';

let topo: Topology;
let receiver: SiemReceiver;
let rsyslog: Rsyslog;
const tokens: Record<string, { write: string; admin: string }> = {};

async function tokenFor(tenant: string) {
  tokens[tenant] ??= { write: await topo.token(tenant, 'audit:write'), admin: await topo.token(tenant, 'audit:admin audit:read') };
  return tokens[tenant]!;
}

/** Ingests `n` file.read events for the tenant; returns their ids in order. */
async function send(tenant: string, n: number, tag: string, over: (i: number) => Record<string, unknown> = () => ({})): Promise<string[]> {
  const t = await tokenFor(tenant);
  const events = Array.from({ length: n }, (_, i) => ({
    id: `aud_${tag}_${uniq()}_${i}`, event_type: 'file.read', category: 'file_access', action: 'read', severity: 'info',
    event_time: new Date(Date.now() - 1000 + i).toISOString(), actor: { id: `usr_${i % 3}`, type: 'user', email: `u${i}@example.com` },
    resource: { type: 'file', id: `fil_${i}`, path: `/docs/f|${i}=x.txt` }, source_ip: '10.1.2.3', success: true, ...over(i),
  }));
  const res = await ingest(topo.ingestUrl(), t.write, 'audit-events', events);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return events.map((e) => e.id);
}

async function api<T = Record<string, unknown>>(tenant: string, method: string, p: string, body?: unknown): Promise<{ status: number; body: T }> {
  const t = await tokenFor(tenant);
  const res = await fetch(`${topo.apiUrl()}${p}`, {
    method, headers: { authorization: `Bearer ${t.admin}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

async function createDestination(tenant: string, spec: Record<string, unknown>): Promise<string> {
  const r = await api<{ destination_id: string }>(tenant, 'POST', '/v1/siem/destinations', { filter: { event_types: ['file.read'] }, ...spec });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.destination_id;
}

/** The event ids the receiver got on `pathPrefix`, in arrival order (NDJSON webhook lines or HEC events). */
function receivedIds(reqs: ReceivedRequest[], pathPrefix: string): string[] {
  const out: string[] = [];
  for (const r of reqs) {
    if (!r.path.startsWith(pathPrefix) || r.status === undefined || r.status >= 300) continue;
    for (const line of r.text.split('\n')) {
      if (!line.trim()) continue;
      const o = JSON.parse(line) as { id?: string; event?: { id: string } };
      out.push(o.event?.id ?? o.id!);
    }
  }
  return out;
}

beforeAll(async () => {
  [receiver, rsyslog] = await Promise.all([startSiemReceiver(), startRsyslog()]);
  topo = await startEmbedded({ SIEM_POLL_MS: '200', SIEM_BATCH_MS: '50', SIEM_RETRY_BASE_MS: '50', SIEM_RETRY_MAX_MS: '400' });
}, 120_000);

afterAll(async () => {
  await topo?.stop();
  await receiver?.stop();
  await rsyslog?.dispose();
});

describe('SIEM forwarding (embedded)', () => {
  it('a signed webhook gets the tenant\'s events from the oldest, in order, and no other tenant\'s; health and metrics count them', async () => {
    const a = `t_wh_${uniq()}`;
    const b = `t_wh_${uniq()}`;
    const before = await send(a, 40, 'old');
    const other = await send(b, 15, 'b');
    const id = await createDestination(a, { name: 'wh', type: 'webhook', config: { url: `${receiver.url}/hook/${a}`, secret: SECRET }, start: 'oldest' });
    const after = await send(a, 25, 'new');
    await until(async () => receivedIds(receiver.requests, `/hook/${a}`).length >= 65, 30_000, 'webhook deliveries');
    const got = receivedIds(receiver.requests, `/hook/${a}`);
    expect(got).toEqual([...before, ...after]);
    expect(got.some((x) => other.includes(x))).toBe(false);
    for (const r of receiver.requests.filter((q) => q.path.startsWith(`/hook/${a}`))) {
      expect(verifyWebhookSignature(r.headers['x-auditflow-signature'] as string, r.body, { secret: SECRET, nowMs: Date.now() })).toMatchObject({ ok: true });
      const lines = r.text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      for (const l of lines) expect(l).toMatchObject({ tenant_id: a, event_type: 'file.read', category: 'file_access' });
    }
    const health = await until(async () => {
      const h = await api<Record<string, unknown>>(a, 'GET', `/v1/siem/destinations/${id}/health`);
      return h.body['delivered'] === 65 && h.body['lag_events'] === 0 ? h.body : undefined;
    }, 15_000, 'health');
    expect(health['last_error']).toBeNull();
    expect(typeof health['last_success_at']).toBe('string');
    const metrics = await (await fetch(`${topo.apiUrl()}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`auditflow_siem_delivered_events_total\\{destination="${id}",type="webhook"\\} 65`));
  });

  it('Splunk HEC: 503s, a 429 with Retry-After and a receiver that is down for a while lose nothing and keep the order', async () => {
    const a = `t_hec_${uniq()}`;
    const prefix = `/hec/${a}`;
    let calls = 0;
    receiver.respond((req) => {
      if (!req.path.startsWith(prefix)) return { status: 200, body: { text: 'Success', code: 0 } };
      calls++;
      if (calls <= 2) return { status: 503, body: { text: 'Server is busy', code: 9 } };
      if (calls === 3) return { status: 429, headers: { 'retry-after': '1' }, body: 'slow down' };
      return { status: 200, body: { text: 'Success', code: 0 } };
    });
    const id = await createDestination(a, { name: 'hec', type: 'splunk_hec', config: { url: `${receiver.url}${prefix}`, token: 'hec-token-123', index: 'audit', sourcetype: 'auditflow:event' }, start: 'oldest' });
    const first = await send(a, 30, 'h1');
    await until(async () => receivedIds(receiver.requests.filter((r) => r.path.startsWith(prefix) && calls > 3), prefix).length >= 30, 30_000, 'HEC after retries');
    const retryAt = receiver.requests.filter((r) => r.path.startsWith(prefix));
    // The 429 said 1 s: the next attempt came no sooner.
    expect(retryAt[3]!.receivedAt - retryAt[2]!.receivedAt).toBeGreaterThanOrEqual(950);
    await receiver.down();
    const second = await send(a, 20, 'h2');
    await new Promise((r) => setTimeout(r, 1500));
    await receiver.up();
    await until(async () => new Set(receivedIds(okOnly(receiver.requests), prefix)).size >= 50, 30_000, 'HEC after the receiver came back');
    const got = receivedIds(okOnly(receiver.requests), prefix);
    expect(dedupeKeepFirst(got)).toEqual([...first, ...second]);
    const r0 = receiver.requests.find((r) => r.path === `${prefix}/services/collector/event`)!;
    expect(r0.headers['authorization']).toBe('Splunk hec-token-123');
    const ev = JSON.parse(r0.text.split('\n')[0]!) as Record<string, unknown>;
    expect(ev).toMatchObject({ index: 'audit', sourcetype: 'auditflow:event' });
    expect(typeof ev['time']).toBe('number');
    const h = await until(async () => {
      const x = await api<Record<string, unknown>>(a, 'GET', `/v1/siem/destinations/${id}/health`);
      return x.body['delivered'] === got.length ? x.body : undefined;
    }, 15_000, 'HEC health');
    expect(h['last_error']).toBeNull();
    receiver.respond(() => ({ status: 200, body: { text: 'Success', code: 0 } }));
  });

  it('a 400 for one event dead-letters only that event (the batch is split); the rest arrive in order; a redrive delivers it', async () => {
    const a = `t_dlq_${uniq()}`;
    const prefix = `/dlq/${a}`;
    let refuse = true;
    receiver.respond((req) => (req.path.startsWith(prefix) && refuse && req.text.includes('"poison"') ? { status: 400, body: 'bad event: poison' } : { status: 200 }));
    const id = await createDestination(a, { name: 'dlq', type: 'webhook', config: { url: `${receiver.url}${prefix}`, secret: SECRET }, start: 'oldest' });
    const ids = await send(a, 12, 'd', (i) => (i === 7 ? { details: { tag: 'poison' } } : {}));
    await until(async () => receivedIds(okOnly(receiver.requests), prefix).length >= 11, 30_000, 'the good events');
    expect(receivedIds(okOnly(receiver.requests), prefix)).toEqual(ids.filter((_, i) => i !== 7));
    const dl = await until(async () => {
      const r = await api<{ dead_letters: Record<string, unknown>[] }>(a, 'GET', `/v1/siem/destinations/${id}/dead-letters`);
      return r.body.dead_letters.length === 1 ? r.body.dead_letters : undefined;
    }, 15_000, 'the dead letter');
    expect(dl[0]).toMatchObject({ status: 400, event_ids: [ids[7]], event_count: 1, state: 'pending' });
    expect(String(dl[0]!['receiver_body'])).toContain('poison');
    // last_error is null again: the batches after the refused event got through.
    await until(async () => {
      const x = await api<Record<string, unknown>>(a, 'GET', `/v1/siem/destinations/${id}/health`);
      return x.body['dead_lettered'] === 1 && x.body['delivered'] === 11 && x.body['last_error'] === null ? x.body : undefined;
    }, 15_000, 'health counts the dead letter');
    refuse = false;
    const rd = await api<Record<string, unknown>>(a, 'POST', `/v1/siem/destinations/${id}/dead-letters/redrive`, {});
    expect(rd.body).toMatchObject({ redriven: 1, failed: 0 });
    expect(receivedIds(okOnly(receiver.requests), prefix).slice(-1)).toEqual([ids[7]]);
    receiver.respond(() => ({ status: 200 }));
  });

  it('start "now" skips what came before; pause holds events back and resume delivers them; a replay re-delivers a range', async () => {
    const a = `t_pause_${uniq()}`;
    const prefix = `/pause/${a}`;
    const early = await send(a, 5, 'early');
    await new Promise((r) => setTimeout(r, 50));
    const id = await createDestination(a, { name: 'now', type: 'webhook', config: { url: `${receiver.url}${prefix}`, secret: SECRET } });
    const live = await send(a, 5, 'live');
    await until(async () => receivedIds(receiver.requests, prefix).length >= 5, 20_000, 'live events');
    expect(receivedIds(receiver.requests, prefix)).toEqual(live);
    expect((await api(a, 'POST', `/v1/siem/destinations/${id}/pause`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 600)); // the forwarder's next poll stops the consumer
    const held = await send(a, 5, 'held');
    await new Promise((r) => setTimeout(r, 800));
    expect(receivedIds(receiver.requests, prefix)).toEqual(live);
    expect((await api(a, 'POST', `/v1/siem/destinations/${id}/resume`)).status).toBe(200);
    await until(async () => receivedIds(receiver.requests, prefix).length >= 10, 20_000, 'held events after resume');
    expect(receivedIds(receiver.requests, prefix)).toEqual([...live, ...held]);
    // Replay everything of the last minute: the early events too (they are in the store).
    receiver.clear();
    const rp = await api<{ replay_id: string }>(a, 'POST', `/v1/siem/destinations/${id}/replay`, { from: new Date(Date.now() - 60_000).toISOString(), to: new Date(Date.now() + 1000).toISOString() });
    expect(rp.status).toBe(202);
    const done = await until(async () => {
      const r = await api<Record<string, unknown>>(a, 'GET', `/v1/siem/destinations/${id}/replays/${rp.body.replay_id}`);
      return r.body['status'] === 'completed' ? r.body : undefined;
    }, 30_000, 'replay completed');
    expect(done['events_sent']).toBe(15);
    expect(new Set(receivedIds(receiver.requests, prefix))).toEqual(new Set([...early, ...live, ...held]));
  });

  it('a destination that keeps failing holds back no other destination of the tenant', async () => {
    const a = `t_slow_${uniq()}`;
    receiver.respond((req) => (req.path.startsWith(`/stuck/${a}`) ? { status: 503 } : { status: 200 }));
    await createDestination(a, { name: 'stuck', type: 'webhook', config: { url: `${receiver.url}/stuck/${a}`, secret: SECRET }, start: 'oldest' });
    await createDestination(a, { name: 'fine', type: 'webhook', config: { url: `${receiver.url}/fine/${a}`, secret: SECRET }, start: 'oldest' });
    const ids = await send(a, 20, 's');
    await until(async () => receivedIds(receiver.requests, `/fine/${a}`).length >= 20, 20_000, 'the healthy destination');
    expect(receivedIds(receiver.requests, `/fine/${a}`)).toEqual(ids);
    expect(receiver.requests.filter((r) => r.path.startsWith(`/stuck/${a}`)).length).toBeGreaterThan(1); // still retrying
    receiver.respond(() => ({ status: 200 }));
    await until(async () => receivedIds(okOnly(receiver.requests), `/stuck/${a}`).length >= 20, 20_000, 'the stuck one, once it answers');
    expect(receivedIds(okOnly(receiver.requests), `/stuck/${a}`)).toEqual(ids);
  });

  it('syslog over TCP (CEF), TLS (JSON) and UDP (CEF) into rsyslogd: RFC 5424 headers, octet-counted frames split right, CEF escaping', async () => {
    const a = `t_sys_${uniq()}`;
    for (const [transport, format] of [['tcp', 'cef'], ['tls', 'json'], ['udp', 'cef']] as const) {
      await createDestination(a, {
        name: `sys-${transport}`, type: 'syslog', start: 'oldest',
        config: { host: '127.0.0.1', port: rsyslog.ports[transport], transport, format, app_name: 'auditflow-it', ...(transport === 'tls' ? { ca_pem: rsyslog.caPem } : {}) },
      });
    }
    const ids = await send(a, 8, 'sys', (i) => (i === 0 ? { severity: 'critical' } : {}));
    for (const input of ['tcp', 'tls', 'udp'] as const) {
      const lines = (await rsyslog.waitForLines(input, 8, 30_000)).filter((l) => l.includes(a) || ids.some((x) => l.includes(x)));
      expect(lines.length, input).toBe(8);
      for (const [i, line] of lines.entries()) {
        // <PRI>1 TIMESTAMP HOST APP-NAME PROCID MSGID — facility 13 (log audit): critical → 106, info → 110.
        expect(line, input).toMatch(/^<(\d+)>1 \d{4}-\d\d-\d\dT[\d:.]+Z \S+ auditflow-it \S+ \S+ /);
        const pri = Number(/^<(\d+)>/.exec(line)![1]);
        expect(pri, input).toBe(i === 0 ? 13 * 8 + 2 : 13 * 8 + 6);
        expect(line).toContain(ids[i]!);
        if (input === 'tls') {
          const json = JSON.parse(line.slice(line.indexOf('{"'))) as Record<string, unknown>;
          expect(json).toMatchObject({ id: ids[i], tenant_id: a, resource_path: `/docs/f|${i}=x.txt` });
        } else {
          expect(line).toMatch(/CEF:0\|[^|]*\|[^|]*\|[^|]*\|file\.read\|/);
          // `=` in an extension value is escaped; `|` is not (it is only special in the header).
          expect(line).toContain(`filePath=/docs/f|${i}\\=x.txt`);
        }
      }
    }
  });

  it('deleting a destination removes its consumer group, so it no longer pins the log', async () => {
    const a = `t_del_${uniq()}`;
    const id = await createDestination(a, { name: 'gone', type: 'webhook', config: { url: `${receiver.url}/gone/${a}`, secret: SECRET }, start: 'oldest' });
    await send(a, 3, 'g');
    await until(async () => receivedIds(receiver.requests, `/gone/${a}`).length >= 3, 20_000, 'deliveries');
    const logDir = path.join(topo.env['DATA_DIR']!, 'log');
    const groupFiles = () => readdirSync(logDir, { recursive: true }).map(String).filter((f) => f.endsWith(`committed.auditflow-siem-${id}`));
    await until(async () => groupFiles().length > 0, 10_000, 'the group committed');
    expect((await api(a, 'DELETE', `/v1/siem/destinations/${id}`)).status).toBe(204);
    await until(async () => groupFiles().length === 0, 10_000, 'the group deleted');
    expect(existsSync(logDir)).toBe(true);
  });
});

function okOnly(reqs: ReceivedRequest[]): ReceivedRequest[] {
  return reqs.filter((r) => r.status !== undefined && r.status < 300);
}

function dedupeKeepFirst(ids: string[]): string[] {
  const seen = new Set<string>();
  return ids.filter((x) => (seen.has(x) ? false : (seen.add(x), true)));
}
