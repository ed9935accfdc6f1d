// What the API says about a send it made itself (the test event, a redrive): the sender's
// DeliveryResult as JSON, with every secret of the destination scrubbed from what the receiver
// answered (a receiver may echo the token it refused) and its body cut short.
import { scrubSecrets, type Destination } from '../../processors/siem/destinations.ts';
import type { DeliveryResult, ForwardedEvent, SiemSender } from '../../processors/siem/siem-types.ts';

export const RECEIVER_BODY_MAX = 2048;

export interface DeliveryAnswer {
  delivered: boolean;
  status?: number;
  error?: string;
  receiver_body?: string;
  retry_after_ms?: number;
}

export function deliveryAnswer(d: Destination, r: DeliveryResult): DeliveryAnswer {
  const scrub = (s: string) => scrubSecrets(d, s).slice(0, RECEIVER_BODY_MAX);
  switch (r.kind) {
    case 'delivered':
      return { delivered: true, ...(r.status !== undefined ? { status: r.status } : {}) };
    case 'retry':
      return {
        delivered: false, ...(r.status !== undefined ? { status: r.status } : {}), error: scrub(r.reason),
        ...(r.retryAfterMs !== undefined ? { retry_after_ms: r.retryAfterMs } : {}),
      };
    case 'rejected':
      return { delivered: false, status: r.status, error: `the receiver refused the events (HTTP ${r.status})`, receiver_body: scrub(r.body) };
  }
}

/** One send; a sender that throws (it should answer a value) counts as a retriable failure. */
export async function sendOnce(sender: SiemSender, events: readonly ForwardedEvent[]): Promise<DeliveryResult> {
  try {
    return await sender.send(events);
  } catch (e) {
    return { kind: 'retry', reason: e instanceof Error ? e.message : String(e) };
  }
}
