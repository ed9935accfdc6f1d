// What one batch of the store sink sends to the log besides its insert: dead letters, events
// re-keyed to their tenant's partition, and ChangeLog rows derived from permission changes. All of
// it is produced — acknowledged — before the batch's insert, so before the commit past the messages
// it came from; a replay sends it again (at least once; the receiving sink dedupes by id).
import type { LogProducer, LogRecord } from '../infra/log/log.ts';

/** The kinds, in the order they are sent; each is also the name of its counter in the sink's stats. */
export const OUTBOX_KINDS = ['deadLettered', 'rerouted', 'derivedChanges'] as const;
export type OutboxKind = (typeof OUTBOX_KINDS)[number];

export class Outbox {
  private readonly records: Record<OutboxKind, LogRecord[]> = { deadLettered: [], rerouted: [], derivedChanges: [] };

  /** Where each kind goes (a kind without a topic is never added). */
  constructor(private readonly topics: Readonly<Record<OutboxKind, string | undefined>>) {}

  add(kind: OutboxKind, record: LogRecord): void {
    this.records[kind].push(record);
  }

  /**
   * Sends every kind in order, each list emptied once the log acknowledged it (a retry after a
   * failure sends only what is left), and counts what was sent.
   */
  async send(producer: LogProducer, counts: Record<OutboxKind, number>): Promise<void> {
    for (const kind of OUTBOX_KINDS) {
      const list = this.records[kind];
      if (list.length === 0) continue;
      await producer.send(this.topics[kind]!, list);
      counts[kind] += list.length;
      list.length = 0;
    }
  }
}
