// One SIEM destination's forwarder: the consumer chain (../consumer/consumer-chain.ts) on the
// audit topic, in the destination's own consumer group, with the destination as its writer.
//
//   accept: the destination's tenant, on its tenant's partition, passing the filter → batch
//   write:  send → delivered (commit) | retry (backoff, or the receiver's Retry-After) |
//           rejected (the batch goes to the destination's dead letters, then commit)
//
//  - At least once, in order per tenant: a batch is committed only after the receiver took it or
//    it is durable in the dead letters; a crash repeats at most what was sent since the last
//    commit, with the same event ids. The next batch waits for the one in flight.
//  - Its own group, so its position is its own: a slow or failing SIEM holds back only itself.
//  - Misrouted events (keyed to the wrong partition) are skipped: the store sink re-keys them to
//    their tenant's partition, where this forwarder meets them again, in their tenant's order.
//  - Records that are not in our log form (produced straight to Kafka) are normalised as the sink
//    does; what the sink would dead-letter is not forwarded.
//  - Delivery itself (retry / dead letters / splitting a refused batch) is ./delivery.ts, shared
//    with replays.
import type { Config } from '../../infra/config.ts';
import type { LogMessage } from '../../infra/log/log.ts';
import { TenantPartitions } from '../../infra/log/partitioner.ts';
import type { MessageCodec } from '../../schemas/message-codec.ts';
import { TENANT_HEADER } from '../../schemas/log-headers.ts';
import type { BackoffPolicy } from '../consumer/backoff.ts';
import { ConsumerChain, type ChainLogger, type PartitionWork, type WriteResult } from '../consumer/consumer-chain.ts';
import { isTrusted, processDecoded } from '../event-processor.ts';
import type { DeadLetterInput } from './dead-letters.ts';
import { deliverBatch, type DeliveryBatch, type DeliveryCounters, type DeliveryTarget } from './delivery.ts';
import type { HealthReport } from './delivery-health.ts';
import type { Destination } from './destinations.ts';
import { forwardedFromLog } from './forwarded-event.ts';
import { compileFilter, type FilterableEvent } from './siem-filter.ts';
import type { ForwardedEvent, SiemSender } from './siem-types.ts';

/** The consumer group that holds a destination's position in the audit topic (one per generation: a seek starts a new one). */
export const destinationGroup = (destinationId: string, generation = 0): string =>
  generation === 0 ? `auditflow-siem-${destinationId}` : `auditflow-siem-${destinationId}.g${generation}`;

export interface ForwarderDeps {
  destination: Destination;
  sender: SiemSender;
  codec: MessageCodec;
  deadLetters: { add(d: DeadLetterInput): Promise<unknown> };
  /** The newest health report of a partition (cumulative counters continue from it). */
  lastReport(topic: string, partition: number): Promise<HealthReport | null>;
  /** The group's committed next offset on a partition (null: none yet). */
  committed(topic: string, partition: number): Promise<bigint | null>;
  partitionCount(topic: string): Promise<number>;
  commit(topic: string, partition: number, nextOffset: bigint): Promise<void>;
  batch: Config['sink'];
  retry: BackoffPolicy;
  logger: ChainLogger;
}

interface ForwardBatch extends DeliveryBatch {
  /** The log timestamp of its first event (lag in seconds). */
  oldestTimestamp: number;
}

class ForwardPartition implements PartitionWork<ForwardBatch> {
  private filling: ForwardBatch = { events: [], oldestTimestamp: 0, next: 0 };
  private fillingBytes = 0;
  /** The log timestamp of the oldest event read and not yet taken (0: none). */
  private pendingSince = 0;
  private inflightSince = 0;

  constructor(
    private readonly f: DestinationForwarder,
    readonly topic: string,
    readonly partition: number,
    /** Where tenants belong: the topic's partition count when this partition was assigned. */
    private readonly tenantPartitions: TenantPartitions,
    readonly counters: DeliveryCounters,
  ) {}

  accept(m: LogMessage): void | Promise<void> {
    const tenantId = this.f.tenantId;
    if (isTrusted(m)) {
      // Other tenants' events cost a header comparison, not a parse.
      if (m.headers[TENANT_HEADER] !== tenantId) return;
      let ev: ForwardedEvent;
      try {
        ev = forwardedFromLog(m.value!);
      } catch {
        return; // claims the log form but is not JSON: the store sink re-validates and dead-letters it
      }
      this.take1(m, ev);
      return;
    }
    return this.acceptDecoded(m);
  }

  private async acceptDecoded(m: LogMessage): Promise<void> {
    if (m.value === null) return;
    let decoded: unknown;
    try {
      decoded = await this.f.deps.codec.decode(m.value);
    } catch {
      return; // the store sink dead-letters it
    }
    const o = processDecoded('audit', m, decoded);
    if (o.kind !== 'ok' || o.event.tenantId !== this.f.tenantId) return;
    this.take1(m, forwardedFromLog(o.event.body));
  }

  private take1(m: LogMessage, ev: ForwardedEvent): void {
    if (this.tenantPartitions.of(ev.tenant_id) !== this.partition) return;
    if (!this.f.wants(ev)) return;
    if (this.filling.events.length === 0) this.filling.oldestTimestamp = m.timestamp;
    if (this.pendingSince === 0) this.pendingSince = m.timestamp;
    this.filling.events.push(ev);
    this.fillingBytes += m.value?.length ?? 0;
  }

  bytes(): number {
    return this.fillingBytes;
  }

  take(): ForwardBatch {
    const batch = this.filling;
    this.filling = { events: [], oldestTimestamp: 0, next: 0 };
    this.fillingBytes = 0;
    this.inflightSince = batch.events.length > 0 ? batch.oldestTimestamp : 0;
    // What is still pending after this batch: whatever fills next.
    this.pendingSince = 0;
    return batch;
  }

  async write(batch: ForwardBatch): Promise<WriteResult> {
    const r = await deliverBatch(this.f.target, batch, this.counters);
    if (r.kind === 'done') this.inflightSince = 0;
    return r;
  }

  /** The log timestamp of the oldest event read and not yet delivered (0: none). */
  oldestUndelivered(): number {
    if (this.inflightSince > 0) return this.inflightSince;
    return this.pendingSince;
  }
}

export class DestinationForwarder extends ConsumerChain<ForwardPartition, ForwardBatch> {
  readonly destination: Destination;
  readonly tenantId: string;
  readonly target: DeliveryTarget;
  private readonly filter: (e: FilterableEvent) => boolean;

  constructor(readonly deps: ForwarderDeps) {
    super({ name: `forwarder ${deps.destination.destinationId}`, batch: deps.batch, retry: deps.retry, commit: deps.commit, logger: deps.logger });
    this.destination = deps.destination;
    this.tenantId = deps.destination.tenantId;
    this.filter = compileFilter(deps.destination.filter);
    this.target = { tenantId: this.tenantId, destinationId: this.destination.destinationId, sender: deps.sender, deadLetters: deps.deadLetters };
  }

  wants(e: ForwardedEvent): boolean {
    return this.filter(e);
  }

  protected async assign(topic: string, partition: number): Promise<{ work: ForwardPartition; doneUpTo: bigint }> {
    const [last, committed, count] = await Promise.all([
      this.deps.lastReport(topic, partition), this.deps.committed(topic, partition), this.deps.partitionCount(topic),
    ]);
    const counters: DeliveryCounters = {
      delivered: last?.delivered ?? 0, deadLettered: last?.deadLettered ?? 0,
      lastSuccessAt: last?.lastSuccessAt ?? null, lastError: last?.lastError ?? null,
    };
    // Nothing to skip: the group reads from its committed offset, and everything after it is
    // sent again (at least once). doneUpTo is only the position reported as health.
    return { work: new ForwardPartition(this, topic, partition, new TenantPartitions(count), counters), doneUpTo: (committed ?? 0n) - 1n };
  }

  /** One health report per partition held, given each partition's log end. */
  reports(endOffsets: ReadonlyMap<string, bigint>, now = Date.now()): HealthReport[] {
    const byKey = new Map(this.held().map((h) => [`${h.topic}/${h.partition}`, h.work]));
    return this.chainPositions().map((p) => {
      const work = byKey.get(`${p.topic}/${p.partition}`)!;
      const position = p.doneUpTo + 1n;
      const end = endOffsets.get(`${p.topic}/${p.partition}`) ?? position;
      const lagEvents = end > position ? Number(end - position) : 0;
      const oldest = work.oldestUndelivered();
      // Unread events have no timestamp here: then the lag is at least the time since the last success.
      const since = oldest > 0 ? oldest : lagEvents > 0 && work.counters.lastSuccessAt ? Date.parse(work.counters.lastSuccessAt) : 0;
      return {
        tenantId: this.tenantId, destinationId: this.destination.destinationId, topic: p.topic, partition: p.partition,
        position: Number(position), endOffset: Number(end), lagEvents, lagSeconds: since > 0 && lagEvents > 0 ? Math.max(0, (now - since) / 1000) : 0,
        lastSuccessAt: work.counters.lastSuccessAt, lastError: work.counters.lastError,
        delivered: work.counters.delivered, deadLettered: work.counters.deadLettered, reportedAt: new Date(now).toISOString(),
      };
    });
  }
}
