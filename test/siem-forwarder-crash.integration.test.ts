// SIEM forwarding distributed: `auditflow forwarder` processes on the librdkafka mock cluster,
// two sharing each destination's consumer group. One is killed (-9) mid-stream and another takes
// its partitions: every event still reaches every destination, in order per tenant, and the only
// duplicates are a re-sent stretch after the crash, with the same event ids.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from './support/api-client.ts';
import type { AuditflowProcess } from './support/auditflow-process.ts';
import { startSiemReceiver, type ReceivedRequest, type SiemReceiver } from './support/siem-receiver.ts';
import { startDistributed, until, type Topology } from './support/topologies.ts';

const uniq = () => randomBytes(4).toString('hex');
const SECRET = 'whsec_crash_0123456789abcdef';

let topo: Topology;
let receiver: SiemReceiver;
const forwarders: AuditflowProcess[] = [];

beforeAll(async () => {
  receiver = await startSiemReceiver();
  // A slow receiver, so a crash lands while batches are in flight.
  receiver.respond(() => ({ status: 200, delayMs: 15 }));
  const env = { SIEM_POLL_MS: '300', SIEM_BATCH_MS: '50', SIEM_BATCH_EVENTS: '40', SIEM_RETRY_BASE_MS: '50', SIEM_RETRY_MAX_MS: '500', KAFKA_MAX_WAIT_MS: '200' };
  topo = await startDistributed(env);
  forwarders.push(await topo.startForwarder!(), await topo.startForwarder!());
}, 180_000);

afterAll(async () => {
  await topo?.stop();
  await receiver?.stop();
});

function idsAt(reqs: ReceivedRequest[], prefix: string): string[] {
  const out: string[] = [];
  for (const r of reqs) {
    if (!r.path.startsWith(prefix) || r.status !== 200) continue;
    for (const line of r.text.split('\n')) if (line.trim()) out.push((JSON.parse(line) as { id: string }).id);
  }
  return out;
}

/**
 * At least once and in order: the received ids, read left to right, only ever move forward in
 * the ingest order, except for rewinds (a re-sent stretch); returns the number of rewinds.
 */
function checkInOrder(received: string[], ingested: string[]): number {
  const at = new Map(ingested.map((id, i) => [id, i]));
  let rewinds = 0;
  let highest = -1;
  let previous = -1;
  for (const id of received) {
    const i = at.get(id);
    expect(i, `an event that was never ingested: ${id}`).toBeDefined();
    if (i! <= previous) {
      rewinds++;
      // A rewind goes back to a point already sent, and the stretch resends in order from there.
      expect(i!).toBeLessThanOrEqual(highest);
    } else if (previous >= 0 && i! > highest + 1) {
      throw new Error(`event ${ingested[highest + 1]} was skipped (got ${id} after ${ingested[highest]})`);
    }
    previous = i!;
    if (i! > highest) highest = i!;
  }
  expect(new Set(received)).toEqual(new Set(ingested));
  return rewinds;
}

describe('SIEM forwarders (distributed: Kafka consumer groups, kill -9)', () => {
  it('two forwarder processes, one killed mid-stream: every event delivered at least once, in order per tenant, duplicates only re-sent stretches', async () => {
    const tenants = [0, 1, 2, 3].map((i) => `t_fw${i}_${uniq()}`);
    const dests = new Map<string, string>();
    for (const t of tenants) {
      const admin = await topo.token(t, 'audit:admin');
      const res = await fetch(`${topo.apiUrl()}/v1/siem/destinations`, {
        method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'crash', type: 'webhook', config: { url: `${receiver.url}/crash/${t}`, secret: SECRET }, start: 'oldest', filter: { event_types: ['file.read'] } }),
      });
      expect(res.status).toBe(201);
      dests.set(t, ((await res.json()) as { destination_id: string }).destination_id);
    }
    const ingested = new Map<string, string[]>(tenants.map((t) => [t, []]));
    const writeTokens = new Map(await Promise.all(tenants.map(async (t) => [t, await topo.token(t, 'audit:write')] as const)));
    const round = async (r: number) => {
      for (const t of tenants) {
        const events = Array.from({ length: 30 }, (_, i) => ({
          id: `aud_c${r}_${uniq()}_${i}`, event_type: 'file.read', category: 'file_access', action: 'read',
          event_time: new Date().toISOString(), actor: { id: 'usr_1', type: 'user' }, resource: { type: 'file', id: `fil_${i}` }, success: true,
        }));
        const res = await ingest(topo.ingestUrl(), writeTokens.get(t)!, 'audit-events', events);
        expect(res.status).toBe(202);
        ingested.get(t)!.push(...events.map((e) => e.id));
      }
    };
    for (let r = 0; r < 6; r++) await round(r);
    // Mid-stream: some of it delivered, not all.
    await until(async () => tenants.some((t) => idsAt(receiver.requests, `/crash/${t}`).length > 0), 60_000, 'first deliveries');
    await forwarders[0]!.kill();
    for (let r = 6; r < 12; r++) await round(r);
    forwarders.push(await topo.startForwarder!());
    for (let r = 12; r < 15; r++) await round(r);
    await until(async () => tenants.every((t) => new Set(idsAt(receiver.requests, `/crash/${t}`)).size >= ingested.get(t)!.length), 120_000, 'every event at every destination');
    let rewinds = 0;
    for (const t of tenants) rewinds += checkInOrder(idsAt(receiver.requests, `/crash/${t}`), ingested.get(t)!);
    // At most one rewind per destination per hand-over (the crash, the new member's rebalance).
    expect(rewinds).toBeLessThanOrEqual(tenants.length * 3);
    // Health sums what every process delivered (cumulative across the hand-over).
    for (const t of tenants) {
      const admin = await topo.token(t, 'audit:admin');
      const h = await until(async () => {
        const res = await fetch(`${topo.apiUrl()}/v1/siem/destinations/${dests.get(t)}/health`, { headers: { authorization: `Bearer ${admin}` } });
        const body = (await res.json()) as { delivered: number; lag_events: number };
        return body.delivered >= ingested.get(t)!.length && body.lag_events === 0 ? body : undefined;
      }, 30_000, `health of ${t}`);
      expect(h.delivered).toBeGreaterThanOrEqual(ingested.get(t)!.length);
    }
  });
});
