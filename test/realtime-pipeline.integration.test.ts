// GET /api/events end to end through the real pipeline (ingest over HTTP → log → store sink →
// readable signal → SSE), with the real `eventsource` client reconnecting by itself:
//  - embedded: every ingested event once as audit_log_created with the documented fields, a
//    read's self-audit as internal_audit_log_created, token in ?token= and in the header;
//    Last-Event-ID across a graceful restart and across a kill -9 of the one process;
//  - distributed: two API nodes each deliver every event once; a client moving from node A to
//    node B with its Last-Event-ID gets exactly what it missed (positions are log offsets);
//  - a tenant-scope admin token never receives another tenant's event (both deployments).
import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';
import { scaikeySignatureHeader } from '../api/webhooks/scaikey-signature.ts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { getLogs, ingest } from './support/api-client.ts';
import { SseClient, type SseClientOptions } from './support/sse-client.ts';
import { startDistributed, startEmbedded, until, type Topology } from './support/topologies.ts';

const uniq = () => randomBytes(4).toString('hex');

interface Sent {
  id: string;
  tenant: string;
  request_id: string;
  event_time: string;
  success: boolean;
  details?: { provider: string; model: string };
}

/** What the stream must say about an ingested event (sse-frames.ts's mapping). */
function expectedData(e: Sent): Record<string, unknown> {
  return {
    auditLogId: e.id, requestId: e.request_id, timestamp: e.event_time, decision: e.success ? 'permit' : 'deny',
    provider: e.details?.provider ?? null, model: e.details?.model ?? null,
  };
}

/** The events sent, per tenant in ingest order, and each id's tenant. */
class Ledger {
  readonly byTenant = new Map<string, Sent[]>();
  readonly byId = new Map<string, Sent>();
  private n = 0;

  /** Ingests `count` events for `tenant` in one request (202 asserted) and records them. */
  async send(topo: Topology, tenant: string, writeToken: string, count: number): Promise<Sent[]> {
    const batch: Sent[] = [];
    for (let k = 0; k < count; k++) {
      const i = this.n++;
      batch.push({
        id: `aud_rt_${uniq()}_${i}`, tenant, request_id: `req-${i}`,
        event_time: new Date(Date.UTC(2026, 3, 1, 0, 0, 0, i)).toISOString(), success: i % 4 !== 0,
        ...(i % 3 === 0 ? { details: { provider: 'openai', model: 'gpt-4' } } : {}),
      });
    }
    const res = await ingest(topo.ingestUrl(), writeToken, 'audit-events', batch.map((e, k) => ({
      id: e.id, event_type: 'ai.authorize', category: 'authorization', action: 'authorize', event_time: e.event_time,
      actor: { id: `usr_${k % 3}`, type: 'user' }, resource: { type: 'file', id: `fil_${k}` },
      request_id: e.request_id, success: e.success, ...(e.details ? { details: e.details } : {}),
    })));
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.ids).toEqual(batch.map((e) => e.id));
    const list = this.byTenant.get(tenant) ?? [];
    list.push(...batch);
    this.byTenant.set(tenant, list);
    for (const e of batch) this.byId.set(e.id, e);
    return batch;
  }

  ids(tenant: string): string[] {
    return (this.byTenant.get(tenant) ?? []).map((e) => e.id);
  }

  /** A client's audit_log_created ids grouped by tenant (unknown ids under '?'). */
  perTenant(ids: string[]): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const id of ids) {
      const t = this.byId.get(id)?.tenant ?? '?';
      out.set(t, [...(out.get(t) ?? []), id]);
    }
    return out;
  }

  /**
   * Every event of `tenants` exactly once, in each tenant's ingest order, nothing else among the
   * audit_log_created frames, no id twice among all frames, and each frame's data as documented.
   */
  expectExactly(c: SseClient, tenants: string[]): void {
    const got = this.perTenant(c.audit());
    expect([...got.keys()].sort()).toEqual([...tenants].sort());
    for (const t of tenants) expect(got.get(t), `tenant ${t}`).toEqual(this.ids(t));
    const all = c.allIds();
    expect(new Set(all).size, 'an event delivered twice').toBe(all.length);
    this.expectFrames(c);
  }

  /** Each audit_log_created frame's data as documented (live frames come from the sink, replayed ones from the store). */
  expectFrames(c: SseClient): void {
    for (const m of c.messages) {
      if (m.type === 'audit_log_created') expect(m.data).toEqual(expectedData(this.byId.get(m.data['auditLogId'] as string)!));
      if (m.type !== 'connected') expect(m.id).toMatch(/^\d+:\d+(,\d+:\d+)*$/);
    }
  }
}

/** True once `c` holds every event of `tenants` sent so far. */
const holds = (l: Ledger, c: SseClient, tenants: string[]) => async () => {
  const have = new Set(c.audit());
  return tenants.every((t) => l.ids(t).every((id) => have.has(id)));
};

/** Every client a test opens, closed when its deployment stops. */
const clients: SseClient[] = [];
function open(baseUrl: string, token: string, opts?: SseClientOptions): SseClient {
  const c = new SseClient(baseUrl, token, opts);
  clients.push(c);
  return c;
}
const closeClients = () => { for (const c of clients.splice(0)) c.close(); };

/**
 * A tenant-scope admin token (on `mineOn`) among another tenant's events and reads receives its
 * own events only. Controls: the other tenant's client (on `theirsOn`) and a platform client on
 * `mineOn` do get the other tenant's events and read, so they did pass through mine's node.
 */
async function expectTenantIsolation(topo: Topology, mineOn: string, theirsOn: string): Promise<void> {
  const l = new Ledger();
  const mine = `tnt_${uniq()}`;
  const other = `tnt_${uniq()}`;
  const wMine = await topo.token(mine, 'audit:write');
  const wOther = await topo.token(other, 'audit:write');
  const me = open(mineOn, await topo.token(mine, 'audit:admin'));
  const them = open(theirsOn, await topo.token(other, 'audit:admin'), { tokenIn: 'header' });
  const platform = open(mineOn, await topo.token(`tnt_${uniq()}`, 'audit:admin', { platform: true }));
  await until(async () => [me, them, platform].every((c) => c.connects().length === 1), 15_000, 'all connected');
  for (let r = 0; r < 4; r++) {
    await l.send(topo, other, wOther, 8);
    await l.send(topo, mine, wMine, 2);
  }
  // The other tenant's reads are its events too.
  expect((await getLogs(theirsOn, await topo.token(other, 'audit:read', { sub: 'usr_other_reader' }))).status).toBe(200);
  const otherRead = (c: SseClient) => c.internal().some((d) => d['dashboardUserId'] === 'usr_other_reader');
  await until(async () => (await holds(l, platform, [other])()) && otherRead(platform) && (await holds(l, them, [other])()), 60_000, 'the other tenant\'s events on the controls');
  // Mine last: once it is here, everything before it on mine's node has been offered to my stream.
  await l.send(topo, mine, wMine, 1);
  await until(holds(l, me, [mine]), 60_000, 'my events');
  l.expectExactly(me, [mine]);
  l.expectExactly(them, [other]);
  expect(otherRead(me)).toBe(false);
  expect(JSON.stringify(me.messages)).not.toContain(other);
}

describe('SSE /api/events through the embedded pipeline', () => {
  let topo: Topology;
  // Three partitions: a stream's position spans several, as in the distributed deployment.
  beforeAll(async () => { topo = await startEmbedded({ EMBEDDED_LOG_PARTITIONS: '3' }); });
  afterAll(async () => {
    closeClients();
    await topo?.stop();
  });

  test('refuses a missing token and a token without audit:admin with the documented 401', async () => {
    const t = `tnt_${uniq()}`;
    const empty: Record<string, string> = {};
    for (const headers of [empty, { authorization: `Bearer ${await topo.token(t, 'audit:read')}` }]) {
      const res = await fetch(`${topo.apiUrl()}/api/events`, { headers });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: 'Admin authentication required', code: 'ADMIN_AUTH_REQUIRED' });
    }
    const c = open(topo.apiUrl(), await topo.token(t, 'audit:read'));
    await until(async () => c.statuses.length > 0, 10_000, 'the client told of the 401');
    expect(c.statuses).toEqual([401]);
    expect(c.es.readyState).toBe(c.es.CLOSED);
  });

  test('each ingested event arrives once as audit_log_created, token in ?token= or the header; a read arrives as internal_audit_log_created', async () => {
    const l = new Ledger();
    const t = `tnt_${uniq()}`;
    const write = await topo.token(t, 'audit:write');
    const admin = await topo.token(t, 'audit:admin', { sub: 'usr_admin' });
    const viaQuery = open(topo.apiUrl(), admin, { tokenIn: 'query' });
    const viaHeader = open(topo.apiUrl(), admin, { tokenIn: 'header' });
    await until(async () => viaQuery.connects().length === 1 && viaHeader.connects().length === 1, 15_000, 'both connected');
    expect(viaQuery.connects()[0]).toEqual({ resumed: false });

    for (const n of [1, 12, 30]) await l.send(topo, t, write, n);
    await until(holds(l, viaQuery, [t]), 30_000, 'every event on the ?token= client');
    await until(holds(l, viaHeader, [t]), 30_000, 'every event on the header client');

    // A read of the tenant's logs is itself an audit event, pushed as the internal type.
    const reader = await topo.token(t, 'audit:read', { sub: 'usr_auditor' });
    expect((await getLogs(topo.apiUrl(), reader, { limit: 5 })).status).toBe(200);
    const readFrame = (c: SseClient) => c.internal().find((d) => d['dashboardUserId'] === 'usr_auditor');
    await until(async () => readFrame(viaQuery) && readFrame(viaHeader), 30_000, 'the read\'s self-audit event on both clients');
    // One more event after it: anything delivered twice before it would show below.
    await l.send(topo, t, write, 1);
    await until(holds(l, viaQuery, [t]), 30_000, 'the last event');
    await until(holds(l, viaHeader, [t]), 30_000, 'the last event');

    for (const c of [viaQuery, viaHeader]) {
      l.expectExactly(c, [t]);
      expect(readFrame(c)).toEqual({
        internalAuditLogId: expect.stringMatching(/^aud_/), requestId: expect.any(String), dashboardUserId: 'usr_auditor',
        action: 'audit.read', resourceType: 'audit_log', resourceId: 'scaivault.logs', outcomeStatus: 'success', outcomeCode: null, decision: 'permit',
      });
      expect(c.internal().filter((d) => d['dashboardUserId'] === 'usr_auditor')).toHaveLength(1);
    }
    // The header client's subscription was recorded too, and the earlier ?token= client saw it.
    expect(viaQuery.internal().some((d) => d['resourceId'] === 'realtime.events' && d['action'] === 'audit.stream' && d['dashboardUserId'] === 'usr_admin')).toBe(true);
    // The internal id is the admin API's log id, the same event as stored.
    const id = readFrame(viaQuery)!['internalAuditLogId'] as string;
    const entry = await fetch(`${topo.apiUrl()}/api/v1/admin/audit/${id}`, { headers: { authorization: `Bearer ${admin}` } });
    expect(entry.status).toBe(200);
    expect(await entry.json()).toMatchObject({ id, actor_id: 'usr_auditor', resource_id: 'scaivault.logs', request_id: readFrame(viaQuery)!['requestId'] });
  });

  test('a tenant-scope admin token never receives another tenant\'s event', async () => {
    await expectTenantIsolation(topo, topo.apiUrl(), topo.apiUrl());
  });

  for (const how of ['graceful restart (SIGTERM)', 'kill -9'] as const) {
    test(`reconnects with Last-Event-ID across a ${how}: every event once, in per-tenant order`, async () => {
      const l = new Ledger();
      const partner = `prt_${uniq()}`;
      const tenants = [0, 1, 2].map(() => `tnt_${uniq()}`);
      const writes = await Promise.all(tenants.map((t) => topo.token(t, 'audit:write', { partner_id: partner })));
      const admin = await topo.token(`tnt_${uniq()}`, 'audit:admin', { partner_id: partner });
      const round = async (n: number) => { for (const [i, t] of tenants.entries()) await l.send(topo, t, writes[i]!, n); };
      const a = open(topo.apiUrl(), admin, { tokenIn: 'header' });
      const b = open(topo.apiUrl(), admin, { tokenIn: 'query' });
      await until(async () => a.connects().length === 1 && b.connects().length === 1, 15_000, 'both connected');

      await round(5);
      await round(5);
      await until(async () => (await holds(l, a, tenants)()) && (await holds(l, b, tenants)()), 30_000, 'the first rounds live');
      // Accepted just before the stop: durable in the log, stored after the restart at the latest.
      await round(3);
      if (how === 'kill -9') {
        await topo.killProcessor();
        await topo.restartProcessor();
      } else {
        // Open streams never end by themselves: a graceful stop must end them, not wait for them.
        const code = await Promise.race([topo.terminateProcessor(), new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000))]);
        const output = topo.outputs();
        if (code === 'hung') await topo.killProcessor();
        await topo.restartProcessor();
        expect(code, `SIGTERM with SSE clients connected: the exit code (30 s allowed)\n${output}`).toBe(0);
      }
      // Ingested while the clients are still away (they retry every 3 s): theirs from the store.
      await round(4);
      await until(async () => a.connects().length >= 2 && b.connects().length >= 2, 60_000, 'both clients reconnected by themselves');
      expect(a.connects().slice(1).every((x) => x.resumed)).toBe(true);
      await round(4);
      await until(async () => (await holds(l, a, tenants)()) && (await holds(l, b, tenants)()), 60_000, `every event after the ${how}`);
      l.expectExactly(a, tenants);
      l.expectExactly(b, tenants);
      expect(l.ids(tenants[0]!)).toHaveLength(21);
    }, 180_000);
  }
});

const WEBHOOK_SECRET = `whsec_${randomBytes(16).toString('hex')}`;

/** A ws client keeping its frames and how it closed. */
async function socket(url: string) {
  const frames: Record<string, any>[] = [];
  let closed: { code: number; reason: string } | null = null;
  const ws = new WebSocket(url);
  ws.on('message', (d) => frames.push(JSON.parse(String(d)) as Record<string, any>));
  ws.on('close', (code, reason) => { closed = { code, reason: String(reason) }; });
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
  return { ws, frames, get closed() { return closed; } };
}

describe('SSE /api/events on two API nodes of the distributed deployment', () => {
  let topo: Topology;
  let nodeA: string;
  let nodeB: string;
  beforeAll(async () => {
    topo = await startDistributed({ SCAIKEY_WEBHOOK_SECRET: WEBHOOK_SECRET });
    nodeA = topo.apiUrl();
    nodeB = await topo.startApi!();
    // Ready once a probe ingested now reaches a client on each node: the sink's group and each
    // node's readable-topic group have joined (rebalances on the mock cluster take ~6 s).
    const probe = `tnt_probe_${uniq()}`;
    const write = await topo.token(probe, 'audit:write');
    const admin = await topo.token(probe, 'audit:admin');
    const onA = open(nodeA, admin);
    const onB = open(nodeB, admin);
    const probes = new Ledger();
    const deadline = Date.now() + 120_000;
    for (;;) {
      const [{ id }] = (await probes.send(topo, probe, write, 1)) as [Sent];
      const arrived = await until(async () => onA.audit().includes(id) && onB.audit().includes(id), 3_000, 'probe').catch(() => false);
      if (arrived) break;
      if (Date.now() > deadline) throw new Error(`the API nodes never delivered a probe\n${topo.outputs()}`);
    }
    onA.close();
    onB.close();
  }, 240_000);
  afterAll(async () => {
    closeClients();
    await topo?.stop();
  });

  test('a client on each node receives every event once; one moving from node A to node B with its Last-Event-ID gets exactly what it missed', async () => {
    const l = new Ledger();
    const partner = `prt_${uniq()}`;
    const tenants = [0, 1, 2, 3].map(() => `tnt_${uniq()}`);
    const writes = await Promise.all(tenants.map((t) => topo.token(t, 'audit:write', { partner_id: partner })));
    const admin = await topo.token(`tnt_${uniq()}`, 'audit:admin', { partner_id: partner });
    const round = async (n: number) => { for (const [i, t] of tenants.entries()) await l.send(topo, t, writes[i]!, n); };
    const onA = open(nodeA, admin, { tokenIn: 'header' });
    const onB = open(nodeB, admin, { tokenIn: 'query' });
    const mover = open(nodeA, admin);
    await until(async () => [onA, onB, mover].every((c) => c.connects().length === 1), 15_000, 'all connected');

    await round(6);
    await until(async () => (await holds(l, mover, tenants)()), 60_000, 'the first round on the mover');
    const seenOnA = new Set(mover.audit());
    const lastId = mover.lastEventId()!;
    mover.close();
    const before = l.byId.size;
    await round(5);
    const missed = [...l.byId.keys()].slice(before);
    // Readable on node B before the client arrives there: what it missed comes from the store.
    await until(holds(l, onB, tenants), 60_000, 'the second round on node B');
    const moved = open(nodeB, admin, { lastEventId: lastId, tokenIn: 'header' });
    await until(async () => missed.every((id) => moved.audit().includes(id)), 60_000, 'what the mover missed, on node B');
    expect(moved.connects()).toEqual([{ resumed: true }]);
    await round(4);
    await until(async () => (await holds(l, onA, tenants)()) && (await holds(l, onB, tenants)()), 60_000, 'every event on both nodes');
    const sinceMove = () => [...l.byId.keys()].slice(before);
    await until(async () => { const have = new Set(moved.audit()); return sinceMove().every((id) => have.has(id)); }, 60_000, 'the last round on the moved client');

    l.expectExactly(onA, tenants);
    l.expectExactly(onB, tenants);
    // Node A's part and node B's part: every event once between them, in each tenant's order.
    const joined = [...mover.audit(), ...moved.audit()];
    for (const [t, ids] of l.perTenant(joined)) expect(ids, `tenant ${t}`).toEqual(l.ids(t));
    expect(new Set(joined).size).toBe(joined.length);
    expect(moved.audit().some((id) => seenOnA.has(id))).toBe(false);
    l.expectFrames(moved);
    // And node B's part is exactly what came after the Last-Event-ID.
    const since = new Set(sinceMove());
    for (const t of tenants) expect(l.perTenant(moved.audit()).get(t), `tenant ${t}`).toEqual(l.ids(t).filter((id) => since.has(id)));
  });

  test('WebSockets on node B: change nudges ingested through the pipeline; force_sync and a ScaiKey user.deleted sent to node A', async () => {
    const t = `tnt_${uniq()}`;
    const user = `usr_${uniq()}`;
    const wsB = nodeB.replace('http', 'ws');
    const sync = await socket(`${wsB}/api/v1/sync/ws/dev_1?token=${await topo.token(t, 'drive:sync', { sub: user, shares: ['shr_A'] })}`);
    const ui = await socket(`${wsB}/api/v1/realtime/ws?token=${await topo.token(t, 'drive:sync', { shares: ['shr_A'] })}`);
    ui.ws.send(JSON.stringify({ action: 'subscribe', share_id: 'shr_A' }));
    await until(async () => ui.frames.some((f) => f['type'] === 'subscribed'), 10_000, 'subscribed');
    const change = (id: string, share: string) => ({ id, resource_type: 'file', resource_id: `fil_${id}`, change_type: 'created', changed_by: user, changed_at: new Date().toISOString(), metadata: { size: 1 }, old_path: null, new_path: `/${id}.txt`, version_id: null, share_id: share });
    const res = await fetch(`${topo.ingestUrl()}/v1/ingest/changes`, {
      method: 'POST', headers: { authorization: `Bearer ${await topo.token(t, 'audit:write')}`, 'content-type': 'application/json' },
      body: JSON.stringify([change(`chg_${uniq()}`, 'shr_A'), change(`chg_${uniq()}`, 'shr_B'), change(`chg_${uniq()}`, 'shr_A')]),
    });
    expect(res.status).toBe(202);
    await until(async () => sync.frames.length === 2 && ui.frames.filter((f) => f['type'] === 'file_created').length === 2, 60_000, 'nudges on node B');
    expect(sync.frames.every((f) => f['event_type'] === 'change' && f['share_id'] === 'shr_A')).toBe(true);

    const force = await fetch(`${nodeA}/api/v1/sync/force-sync`, {
      method: 'POST', headers: { authorization: `Bearer ${await topo.token(t, 'audit:admin')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ share_id: 'shr_A' }),
    });
    expect(force.status).toBe(202);
    await until(async () => sync.frames.length === 3, 30_000, 'force_sync from node A on node B');
    expect(sync.frames[2]).toEqual({ event_type: 'force_sync', share_id: 'shr_A' });

    const body = Buffer.from(JSON.stringify({ id: `dlv_${uniq()}`, type: 'user.deleted', created_at: new Date().toISOString(), data: { id: user, tenant_id: t } }));
    const deleted = await fetch(`${nodeA}/api/v1/webhooks/scaikey`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-scaikey-signature': scaikeySignatureHeader(WEBHOOK_SECRET, Math.floor(Date.now() / 1000), body) }, body,
    });
    expect(deleted.status).toBe(200);
    await until(async () => sync.closed !== null, 30_000, "the deleted user's socket on node B closed");
    expect(sync.closed).toEqual({ code: 4003, reason: 'user deleted' });
    expect(ui.closed).toBeNull(); // another user's
    ui.ws.close();
  }, 120_000);

  test('a tenant-scope admin token on node B never receives another tenant\'s event', async () => {
    await expectTenantIsolation(topo, nodeB, nodeA);
  });
});
