// Notices every API node must act on, wherever the request that caused them landed: a device to
// re-sync, a preference change, a deleted user whose sockets must close. Embedded: delivered in
// process. Distributed: produced to the readable topic, and every node (this one included)
// acts when it reads it back (../../processors/readable-topic.ts), so all nodes see one order.
import type { LogProducer } from '../../infra/log/log.ts';
import { noticeRecord, type EdgeNotice } from '../../processors/readable-topic.ts';

export type { EdgeNotice };

export class EdgeNotices {
  private readonly listeners = new Set<(n: EdgeNotice) => void>();

  /** With a producer and topic: across processes; without: this process only. */
  constructor(private readonly via?: { producer: LogProducer; topic: string }) {}

  /** Resolves once the notice is on its way to every node (durable in the log when distributed). */
  async publish(n: EdgeNotice): Promise<void> {
    if (this.via) await this.via.producer.send(this.via.topic, [noticeRecord(n)]);
    else this.deliver(n);
  }

  /** Called with every notice this node must act on (by the readable topic's reader, or publish). */
  deliver(n: EdgeNotice): void {
    for (const fn of this.listeners) {
      try {
        fn(n);
      } catch {
        // A listener is one family's sockets; the others still get the notice.
      }
    }
  }

  subscribe(fn: (n: EdgeNotice) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}
