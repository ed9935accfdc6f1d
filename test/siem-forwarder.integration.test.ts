// The forwarder's choice of what to send, driven through its PartitionHandler with log messages
// as the log hands them over, delivering through the real webhook sender to the suite's HTTP
// receiver: its tenant only, on its tenant's partition only, through the filter; records produced
// straight to the log are normalised; a record that claims the log form but is not JSON is
// skipped (the store sink dead-letters it) instead of stopping the destination.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogMessage } from '../infra/log/log.ts';
import { partitionForKey } from '../infra/log/partitioner.ts';
import { createSender } from '../infra/siem/sender-factory.ts';
import type { DeadLetterInput } from '../processors/siem/dead-letters.ts';
import type { Destination } from '../processors/siem/destinations.ts';
import { DestinationForwarder } from '../processors/siem/forwarder.ts';
import { logHeaders } from '../schemas/log-headers.ts';
import { jsonCodec } from '../schemas/message-codec.ts';
import { normalizeAudit } from '../schemas/normalize.ts';
import { startSiemReceiver, type SiemReceiver } from './support/siem-receiver.ts';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
let receiver: SiemReceiver;
beforeAll(async () => { receiver = await startSiemReceiver(); receiver.respond(() => ({ status: 200 })); });
afterAll(async () => { await receiver?.stop(); });

const PARTITIONS = 4;
/** A tenant whose events live on partition `p` of PARTITIONS. */
function tenantOn(p: number): string {
  for (;;) {
    const t = `t_${randomBytes(4).toString('hex')}`;
    if (partitionForKey(t, PARTITIONS) === p) return t;
  }
}

let offset = 0n;
function logForm(tenant: string, over: Record<string, unknown> = {}): LogMessage {
  const n = normalizeAudit({ event_type: 'file.read', category: 'file_access', action: 'read', severity: 'info', event_time: new Date().toISOString(), actor: { id: 'usr_1', type: 'user' }, resource: { type: 'file', id: 'fil_1' }, success: true, ...over }, { tenantId: tenant });
  if (!n.ok) throw new Error(JSON.stringify(n.errors));
  return { offset: offset++, key: tenant, value: Buffer.from(JSON.stringify(n.value)), headers: logHeaders({ tenantId: tenant, id: n.value.id }), timestamp: Date.now() };
}

function destination(tenant: string, path: string, filter: Destination['filter'] = {}): Destination {
  return {
    destinationId: `dst_${path}`, tenantId: tenant, version: 1, name: path, type: 'webhook', config: { url: `${receiver.url}/${path}`, secret: 'whsec_forwarder_unit_0123' },
    filter, start: 'oldest', generation: 0, status: 'active', createdAt: new Date().toISOString(), updatedAt: new Date().toISOString(), deleted: false,
  };
}

function forwarder(d: Destination, deadLetters: DeadLetterInput[] = []) {
  const commits: bigint[] = [];
  const f = new DestinationForwarder({
    destination: d, sender: createSender(d, { timeoutMs: 2000 }), codec: jsonCodec(),
    deadLetters: { add: async (x) => { deadLetters.push(x); } },
    lastReport: async () => null, committed: async () => null, partitionCount: async () => PARTITIONS,
    commit: async (_t, _p, o) => { commits.push(o); },
    batch: { batchRows: 100, batchBytes: 1 << 20, batchMs: 10_000, flushWhenQuiet: false },
    retry: { baseMs: 10, maxMs: 50 }, logger: quiet,
  });
  return { f, commits };
}

const received = (path: string) => receiver.requests.filter((r) => r.path === `/${path}`)
  .flatMap((r) => r.text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>));

describe('SIEM forwarder: what it sends', () => {
  it('sends only its tenant\'s events on their partition, through the filter; normalises foreign records; skips a record that only claims the log form', async () => {
    const tenant = tenantOn(1);
    const other = tenantOn(1);
    const d = destination(tenant, 'mix', { min_severity: 'warning' });
    const { f, commits } = forwarder(d);
    await f.onAssign('audit', 1);
    const wanted1 = logForm(tenant, { severity: 'error' });
    const tooLow = logForm(tenant, { severity: 'info' });
    const otherTenant = logForm(other, { severity: 'critical' });
    const poison: LogMessage = { ...logForm(tenant, { severity: 'error' }), value: Buffer.from('{"not json') };
    // Produced straight to the log by a service (no log headers, a ScaiVault-shaped body keyed by tenant).
    const foreign: LogMessage = {
      offset: offset++, key: tenant, headers: {}, timestamp: Date.now(),
      value: Buffer.from(JSON.stringify({ id: 'log_foreign_1', timestamp: '2026-04-23T10:16:00Z', action: 'delete', identity_type: 'user', identity_id: 'usr_9', secret_path: 'x/y', success: false, tenant_id: tenant })),
    };
    const wanted2 = logForm(tenant, { severity: 'critical' });
    const batch = [wanted1, tooLow, otherTenant, poison, foreign, wanted2];
    await f.onBatch({ topic: 'audit', partition: 1, messages: batch });
    await f.drain();
    const got = received('mix');
    const ids = got.map((e) => e['id']);
    expect(ids).toContain(JSON.parse(wanted1.value!.toString())['id']);
    expect(ids).toContain(JSON.parse(wanted2.value!.toString())['id']);
    expect(ids).not.toContain(JSON.parse(tooLow.value!.toString())['id']);
    expect(ids).not.toContain(JSON.parse(otherTenant.value!.toString())['id']);
    expect(got.every((e) => e['tenant_id'] === tenant)).toBe(true);
    // The foreign record passes only if its normalised severity is at least warning; either way it never stopped the destination.
    expect(commits.at(-1)).toBe(wanted2.offset + 1n);
  });

  it('skips its own tenant\'s events keyed to another partition (the store sink re-keys them; they come back on the right one)', async () => {
    const tenant = tenantOn(2);
    const d = destination(tenant, 'route');
    const { f } = forwarder(d);
    await f.onAssign('audit', 0);
    const misrouted = { ...logForm(tenant), offset: offset++ };
    await f.onBatch({ topic: 'audit', partition: 0, messages: [misrouted] });
    await f.drain();
    expect(received('route')).toEqual([]);
    const { f: right } = forwarder(d);
    await right.onAssign('audit', 2);
    await right.onBatch({ topic: 'audit', partition: 2, messages: [misrouted] });
    await right.drain();
    expect(received('route').map((e) => e['id'])).toEqual([JSON.parse(misrouted.value!.toString())['id']]);
  });
});
