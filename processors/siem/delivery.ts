// Delivering one batch to one destination, for the live forwarder (./forwarder.ts) and for
// replays (./replay-runner.ts) alike: send → delivered | retry | rejected → dead letters.
//
// A batch the receiver refuses with 400 or 413 is split in halves down to single events before
// anything is dead-lettered, so one bad event does not take 499 good ones with it. Delivery
// resumes where it stopped: a retry never re-sends the part of a batch already taken.
import { DONE, type WriteResult } from '../consumer/consumer-chain.ts';
import type { DeadLetterInput } from './dead-letters.ts';
import type { ForwardedEvent, SiemSender } from './siem-types.ts';

export interface DeliveryBatch {
  events: ForwardedEvent[];
  /** Events before this index are taken (delivered or dead-lettered): a retry resumes here. */
  next: number;
}

/** What deliveries to a destination have come to (cumulative over restarts, through the health reports). */
export interface DeliveryCounters {
  delivered: number;
  deadLettered: number;
  lastSuccessAt: string | null;
  lastError: string | null;
}

export const newCounters = (): DeliveryCounters => ({ delivered: 0, deadLettered: 0, lastSuccessAt: null, lastError: null });

export interface DeliveryTarget {
  tenantId: string;
  destinationId: string;
  sender: SiemSender;
  deadLetters: { add(d: DeadLetterInput): Promise<unknown> };
}

/** Sends what is left of the batch; `done` once every event is delivered or dead-lettered. */
export async function deliverBatch(t: DeliveryTarget, batch: DeliveryBatch, c: DeliveryCounters): Promise<WriteResult> {
  if (batch.next >= batch.events.length) return DONE;
  return deliverRange(t, batch, batch.next, batch.events.length, c);
}

async function deliverRange(t: DeliveryTarget, batch: DeliveryBatch, from: number, to: number, c: DeliveryCounters): Promise<WriteResult> {
  if (from < batch.next) from = batch.next; // taken by an earlier attempt
  if (from >= to) return DONE;
  const events = batch.events.slice(from, to);
  const result = await t.sender.send(events);
  if (result.kind === 'delivered') {
    c.delivered += events.length;
    c.lastSuccessAt = new Date().toISOString();
    c.lastError = null;
    batch.next = to;
    return DONE;
  }
  if (result.kind === 'retry') {
    c.lastError = result.reason;
    return { kind: 'retry', reason: result.reason, afterMs: result.retryAfterMs };
  }
  if ((result.status === 400 || result.status === 413) && events.length > 1) {
    // Find the refused events: halves, in order.
    const mid = from + Math.ceil(events.length / 2);
    const first = await deliverRange(t, batch, from, mid, c);
    if (first.kind !== 'done') return first;
    return deliverRange(t, batch, mid, to, c);
  }
  await t.deadLetters.add({
    tenantId: t.tenantId, destinationId: t.destinationId, status: result.status, body: result.body,
    reason: `receiver refused the batch with ${result.status}`, events,
  });
  c.deadLettered += events.length;
  c.lastError = `${result.status} ${result.body.slice(0, 200)}`;
  batch.next = to;
  return DONE;
}
