// The SIEM destinations API in the running embedded system (`auditflow all`): wired with the real
// senders, and its audit events (siem_destination_created / _updated / _deleted) going through
// the log and the store sink into the audit trail — readable through /v1/audit/logs, without a
// secret in them.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getAllLogs } from './support/api-client.ts';
import { startSiemReceiver, type SiemReceiver } from './support/siem-receiver.ts';
import { startEmbedded, until, type Topology } from './support/topologies.ts';

let topo: Topology;
let receiver: SiemReceiver;
let token: string;
const tenant = `tnt_siem_${Date.now().toString(36)}`;
const SECRET = `whsec-${randomBytes(16).toString('hex')}`;

async function api(method: string, url: string, body?: unknown): Promise<{ status: number; body: any; raw: string }> {
  const res = await fetch(`${topo.apiUrl()}${url}`, {
    method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const raw = await res.text();
  return { status: res.status, body: raw ? JSON.parse(raw) : undefined, raw };
}

beforeAll(async () => {
  [topo, receiver] = await Promise.all([startEmbedded(), startSiemReceiver()]);
  token = await topo.token(tenant, 'audit:admin audit:read');
}, 120_000);
afterAll(async () => { await topo?.stop(); await receiver?.stop(); });

describe('SIEM destinations API (embedded)', () => {
  it('creates, tests and deletes a destination; each change lands in the audit trail without the secret', async () => {
    const created = await api('POST', '/v1/siem/destinations', { name: 'SOC webhook', type: 'webhook', config: { url: `${receiver.url}/in`, secret: SECRET } });
    expect(created.status).toBe(201);
    const id = created.body.destination_id;
    const test = await api('POST', `/v1/siem/destinations/${id}/test`);
    expect(test.body).toMatchObject({ delivered: true, status: 200 });
    expect((await receiver.waitFor(1))[0]!.text).toContain(test.body.event_id);
    expect((await api('PATCH', `/v1/siem/destinations/${id}`, { name: 'SOC webhook 2' })).body.name).toBe('SOC webhook 2');
    expect((await api('DELETE', `/v1/siem/destinations/${id}`)).status).toBe(204);

    const trail = await until(async () => {
      const logs = await getAllLogs(topo.apiUrl(), token, {});
      const mine = logs.filter((l) => String(l['action']).startsWith('siem_destination_'));
      return mine.length === 3 ? mine : undefined;
    }, 30_000, 'the three siem_destination_* events readable');
    expect(trail.map((l) => l['action']).sort()).toEqual(['siem_destination_created', 'siem_destination_deleted', 'siem_destination_updated']);
    expect(JSON.stringify(trail)).toContain(id);
    expect(JSON.stringify(trail)).not.toContain(SECRET);
    expect(created.raw + test.raw).not.toContain(SECRET);
    // Nor in the process's log lines.
    expect(topo.outputs()).not.toContain(SECRET);
  });
});
