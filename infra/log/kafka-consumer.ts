// The log's consumer on Kafka (kafkajs 2.2.4): manual commits only (`commit`), partition-level
// callbacks, and a supervisor. Semantics the handler can rely on:
//   - every handler call (onAssign, onBatch, onRevoke, onTick) is serialised: never two at once;
//   - onAssign(topic, partition) precedes the first batch of a partition after every group join;
//   - on every group join, onRevoke is called for EVERY partition handed to the handler before it,
//     including partitions that stay assigned: kafkajs rebuilds its offset state after a join and
//     fetches each assigned partition again from its last *committed* offset, so anything the
//     handler buffered but did not commit is delivered again and must be dropped;
//   - a handler error (onAssign/onBatch) crashes the kafkajs consumer on purpose; the supervisor
//     then revokes every partition, re-creates the consumer and resumes from committed offsets.
//     (Left to kafkajs, an error would be retried by re-delivering the batch to the same consumer
//     without any revoke, and a TypeError/RangeError would stop the consumer for good.)
//   - commit() throws LOG_UNAVAILABLE unless the commit really reached the group coordinator
//     (kafkajs silently drops a commit issued while its runner is stopping), and for a partition
//     not assigned to this consumer. While another member joins, commits fail with
//     REBALANCE_IN_PROGRESS; a handler that rethrows that triggers a restart (harmless, slower).
//   - stop() hands nothing new to the handler, lets the call in progress finish (its commits
//     still work), then leaves the group. It does not call onRevoke. Never call it from inside a
//     handler callback (it waits for that callback).
//   - out of retention: kafkajs meets a committed offset below the low watermark with
//     OFFSET_OUT_OF_RANGE, commits "earliest" (or "latest") over it and reads on, silently. Here
//     the partitions of every join stay paused until the group's committed offsets are compared
//     with the low watermarks (OffsetFetch + ListOffsets per topic), and a batch that starts past
//     where the last one ended is compared too (retention overtook a running consumer; kafkajs
//     has then already reset the position). A position below is counted and logged; under the
//     default 'stop' the consumer ends and done() rejects with LOG_POSITION_OUT_OF_RETENTION.
import {
  type Batch,
  type Consumer,
  type ConsumerCommitOffsetsEvent,
  type ConsumerCrashEvent,
  type ConsumerGroupJoinEvent,
  type IHeaders,
  type Kafka,
  type Logger,
} from 'kafkajs';
import { AuditflowError } from '../errors.ts';
import type { LogConsumer, LogMessage, OutOfRetentionPolicy, PartitionHandler, PositionOutOfRetention } from './log.ts';
import { checkBrokers, keyOf, makeKafka, unavailable, type KafkaLogOptions } from './kafka-client.ts';
import { KafkaRetentionCheck } from './kafka-retention-check.ts';
import { RetentionStats } from './retention.ts';

const TICK_INTERVAL_MS = 200;
const RESTART_BACKOFF_MS = [200, 500, 1000, 2000, 5000];

/** Thrown into kafkajs to make it crash (rather than retry) after a handler error. */
class HandlerFailure extends Error {
  readonly retriable = false;
  constructor(cause: unknown) {
    super(`partition handler failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'HandlerFailure';
  }
}

function headersOf(h: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h) return out;
  for (const [k, v] of Object.entries(h)) {
    const last = Array.isArray(v) ? v[v.length - 1] : v; // repeated header: the last value wins (Java's lastHeader)
    if (last === undefined) continue;
    out[k] = typeof last === 'string' ? last : last.toString('utf8');
  }
  return out;
}

function toLogMessages(batch: Batch): LogMessage[] {
  return batch.messages.map((m) => ({
    offset: BigInt(m.offset),
    key: m.key == null ? null : m.key.toString('utf8'),
    value: m.value ?? null,
    headers: headersOf(m.headers),
    timestamp: Number(m.timestamp),
  }));
}

export class KafkaLogConsumer implements LogConsumer {
  private readonly kafka: Kafka;
  private readonly log: Logger;
  private readonly groupId: string;
  private readonly topics: string[];
  private readonly sessionTimeout: number;
  private readonly maxWaitTimeInMs: number;
  private readonly fromBeginning: boolean;
  private readonly outOfRetention: OutOfRetentionPolicy;
  /** Out-of-retention positions met, by group (infra/metrics.ts watchLogRetention). */
  readonly retentionStats: RetentionStats;
  private readonly retention: KafkaRetentionCheck;
  /** Group joins seen: a retention check resumes its partitions only if no later join came. */
  private joins = 0;
  /** What ended the consumer for good (its done() rejects with it). */
  private fatal: AuditflowError | null = null;
  private settle: { resolve: () => void; reject: (e: unknown) => void } = { resolve: () => undefined, reject: () => undefined };
  private readonly ended: Promise<void> = new Promise((resolve, reject) => { this.settle = { resolve, reject }; });

  private handler: PartitionHandler | null = null;
  private consumer: Consumer | null = null;
  /** Bumped for every consumer created and whenever one is abandoned; callbacks of older ones are ignored. */
  private incarnation = 0;
  /** Partitions assigned by the last group join of the current consumer. */
  private assigned = new Set<string>();
  /** The current consumer's handler failed: handle nothing more until it is re-created. */
  private failed = false;
  /** Partitions the handler was given (onAssign called) and not yet revoked. */
  private readonly held = new Map<string, { topic: string; partition: number }>();
  /** Tail of the serialised handler calls. */
  private queue: Promise<unknown> = Promise.resolve();
  private stopping = false;
  private stopped: Promise<void> | null = null;
  private tickTimer: NodeJS.Timeout | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private restartAttempt = 0;
  /** Number of consumers re-created by the supervisor (for observability and tests). */
  restarts = 0;
  private markJoined: () => void = () => undefined;
  /** Resolves at the first group join (a reader from the end starts reading from about then). */
  readonly joined: Promise<void> = new Promise((resolve) => { this.markJoined = resolve; });

  constructor(opts: KafkaLogOptions) {
    checkBrokers(opts);
    if (!opts.groupId) throw new AuditflowError('CONFIG_INVALID', 'Kafka consumer: groupId is required');
    if (!opts.topics || opts.topics.length === 0) throw new AuditflowError('CONFIG_INVALID', 'Kafka consumer: at least one topic is required');
    this.kafka = makeKafka(opts);
    this.log = this.kafka.logger().namespace('KafkaLogConsumer');
    this.groupId = opts.groupId;
    this.topics = [...opts.topics];
    this.sessionTimeout = opts.sessionTimeoutMs ?? 30_000;
    this.maxWaitTimeInMs = opts.maxWaitTimeInMs ?? 5_000;
    this.fromBeginning = opts.fromBeginning ?? true;
    this.outOfRetention = opts.outOfRetention ?? 'stop';
    this.retentionStats = opts.retentionStats ?? new RetentionStats();
    this.retention = new KafkaRetentionCheck({
      group: this.groupId, policy: this.outOfRetention, stats: this.retentionStats, log: this.log,
      admin: { brokers: opts.brokers, clientId: `${opts.clientId}-admin`, logLevel: opts.logLevel },
    });
    this.ended.catch(() => undefined);
  }

  /** Resolves once stop() has left the group; rejects with what ended the consumer for good. */
  done(): Promise<void> {
    return this.ended;
  }

  async run(handler: PartitionHandler): Promise<void> {
    if (this.handler) throw new AuditflowError('INTERNAL', 'KafkaLogConsumer.run called twice');
    if (this.stopping) throw new AuditflowError('SHUTTING_DOWN', 'Kafka consumer is stopped');
    this.handler = handler;
    this.scheduleTick();
    await this.startConsumer();
  }

  async commit(topic: string, partition: number, nextOffset: bigint): Promise<void> {
    const consumer = this.consumer;
    if (!consumer) {
      throw new AuditflowError('LOG_UNAVAILABLE', `cannot commit ${topic}[${partition}]: the Kafka consumer is not running`);
    }
    if (!this.assigned.has(keyOf(topic, partition))) {
      throw new AuditflowError('LOG_UNAVAILABLE', `cannot commit ${topic}[${partition}]: the partition is not assigned to this consumer`);
    }
    const offset = nextOffset.toString();
    let confirmed = false;
    const off = consumer.on(consumer.events.COMMIT_OFFSETS, (ev: ConsumerCommitOffsetsEvent) => {
      for (const t of ev.payload.topics) {
        if (t.topic !== topic) continue;
        for (const p of t.partitions) {
          if (Number(p.partition) === partition && String(p.offset) === offset) confirmed = true;
        }
      }
    });
    try {
      await consumer.commitOffsets([{ topic, partition, offset }]);
    } catch (e) {
      throw unavailable(`Kafka commit of ${topic}[${partition}]@${offset} failed`, e);
    } finally {
      off();
    }
    if (!confirmed) {
      throw new AuditflowError('LOG_UNAVAILABLE', `Kafka commit of ${topic}[${partition}]@${offset} was not performed (the consumer is stopping or restarting)`);
    }
  }

  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true; // no new batch or tick is handed to the handler from here on
      if (this.tickTimer) clearTimeout(this.tickTimer);
      if (this.restartTimer) clearTimeout(this.restartTimer);
      this.tickTimer = null;
      this.restartTimer = null;
      // Let the handler call in progress finish while its commits still work (kafkajs drops
      // commits as soon as its runner is stopping), then leave the group.
      await this.queue.catch(() => undefined);
      const consumer = this.consumer;
      this.consumer = null;
      this.incarnation++;
      this.assigned = new Set();
      if (consumer) {
        try {
          await consumer.disconnect();
        } catch (e) {
          this.log.warn('error while disconnecting the consumer', { error: (e as Error).message });
        }
      }
      await this.queue.catch(() => undefined);
      await this.retention.close();
      if (this.fatal) this.settle.reject(this.fatal);
      else this.settle.resolve();
    })();
    return this.stopped;
  }

  // --- handler calls, serialised -------------------------------------------------------------

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private async revokeAll(reason: string): Promise<void> {
    const handler = this.handler;
    if (!handler) return;
    const parts = [...this.held.values()];
    this.held.clear();
    for (const { topic, partition } of parts) {
      try {
        await handler.onRevoke(topic, partition);
      } catch (e) {
        this.log.error(`onRevoke(${topic}, ${partition}) failed (${reason})`, { error: (e as Error).message });
      }
    }
  }

  private scheduleTick(): void {
    if (this.stopping) return;
    this.tickTimer = setTimeout(() => {
      this.tickTimer = null;
      const handler = this.handler;
      if (!handler || this.stopping) return;
      this.exclusive(() => handler.onTick())
        .catch((e: unknown) => this.log.error('onTick failed', { error: (e as Error).message }))
        .finally(() => this.scheduleTick());
    }, TICK_INTERVAL_MS);
  }

  /** Positions found out of retention: counted and logged; under 'stop' the consumer ends with the error. */
  private outOfRetentionMet(events: PositionOutOfRetention[]): boolean {
    const err = this.retention.report(events);
    if (!err) return false;
    this.fatal ??= err;
    void this.stop(); // never awaited here: stop() waits for the handler call in progress
    return true;
  }

  /** Resumes a join's partitions once their positions are known to be retained (./kafka-retention-check.ts). */
  private async checkJoin(inc: number, consumer: Consumer, parts: { topic: string; partitions: number[] }[]): Promise<void> {
    const join = this.joins;
    try {
      const lost = await this.retention.atJoin(parts);
      if (inc !== this.incarnation || join !== this.joins || this.stopping) return;
      if (this.outOfRetentionMet(lost)) return;
      consumer.resume(parts);
    } catch (e) {
      // Unchecked, a partition must not be read: the supervisor re-creates the consumer and checks again.
      void this.onCrash(inc, e);
    }
  }

  // --- the kafkajs consumer and its supervisor ------------------------------------------------

  private async startConsumer(): Promise<void> {
    if (this.stopping) return;
    const inc = ++this.incarnation;
    const consumer = this.kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: this.sessionTimeout,
      heartbeatInterval: Math.min(3000, Math.floor(this.sessionTimeout / 3)),
      maxWaitTimeInMs: this.maxWaitTimeInMs,
      allowAutoTopicCreation: false,
      // kafkajs never restarts a crashed consumer by itself; the supervisor below does.
      retry: { restartOnFailure: async () => false },
    });
    this.consumer = consumer;
    this.failed = false;
    this.assigned = new Set();
    consumer.on(consumer.events.GROUP_JOIN, (ev: ConsumerGroupJoinEvent) => this.onGroupJoin(inc, ev));
    consumer.on(consumer.events.CRASH, (ev: ConsumerCrashEvent) => {
      void this.onCrash(inc, ev.payload.error);
    });
    // A batch is handled only while its consumer is current and has not failed: after a handler
    // error kafkajs may still hand over batches already fetched for other partitions.
    const live = (): boolean => inc === this.incarnation && !this.failed && !this.stopping;
    // stop() (or a crash) while connecting: never subscribe or join with an abandoned consumer.
    const abandoned = async (): Promise<boolean> => {
      if (inc === this.incarnation && !this.stopping) return false;
      await consumer.disconnect().catch(() => undefined);
      return true;
    };
    try {
      await consumer.connect();
      if (await abandoned()) return;
      await consumer.subscribe({ topics: this.topics, fromBeginning: this.fromBeginning });
      if (await abandoned()) return;
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          const last = batch.messages[batch.messages.length - 1];
          const handler = this.handler;
          if (!last || !handler || !live() || !isRunning() || isStale()) return;
          const { topic, partition } = batch;
          const handled = await this.exclusive(async () => {
            if (!live() || !isRunning() || isStale()) return false;
            try {
              const key = keyOf(topic, partition);
              if (this.outOfRetentionMet(await this.retention.atBatch(key, topic, partition, BigInt(batch.messages[0]!.offset), BigInt(last.offset)))) return false;
              if (!this.held.has(key)) {
                await handler.onAssign(topic, partition);
                this.held.set(key, { topic, partition });
              }
              await handler.onBatch({ topic, partition, messages: toLogMessages(batch) });
            } catch (e) {
              this.failed = true;
              this.log.error(`partition handler failed on ${topic}[${partition}]; restarting the consumer`, { error: (e as Error).message });
              throw new HandlerFailure(e);
            }
            return true;
          });
          if (!handled) return;
          resolveOffset(last.offset); // advances the fetch position only; commits are the handler's
          await heartbeat();
        },
      });
    } catch (e) {
      void this.onCrash(inc, e);
    }
  }

  private onGroupJoin(inc: number, ev: ConsumerGroupJoinEvent): void {
    if (inc !== this.incarnation) return;
    const next = new Set<string>();
    for (const [topic, partitions] of Object.entries(ev.payload.memberAssignment)) {
      for (const p of partitions) next.add(keyOf(topic, p));
    }
    this.assigned = next;
    this.restartAttempt = 0;
    this.markJoined();
    // Queued ahead of any batch of the new generation (kafkajs emits this before fetching).
    void this.exclusive(() => this.revokeAll('group rebalanced'));
    const consumer = this.consumer;
    const parts = Object.entries(ev.payload.memberAssignment).map(([topic, partitions]) => ({ topic, partitions }));
    this.joins++;
    if (consumer && parts.length > 0) {
      consumer.pause(parts); // synchronously, before kafkajs' first fetch of this generation
      void this.checkJoin(inc, consumer, parts);
    }
  }

  private async onCrash(inc: number, error: unknown): Promise<void> {
    if (inc !== this.incarnation || this.stopping) return;
    this.incarnation++; // abandon it: its late callbacks are ignored
    const consumer = this.consumer;
    this.consumer = null;
    this.assigned = new Set();
    const delay = RESTART_BACKOFF_MS[Math.min(this.restartAttempt, RESTART_BACKOFF_MS.length - 1)] ?? 5000;
    this.restartAttempt++;
    this.log.error(`Kafka consumer crashed; re-creating it in ${delay} ms`, {
      groupId: this.groupId,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    });
    await this.exclusive(() => this.revokeAll('consumer crashed'));
    try {
      await consumer?.disconnect();
    } catch (e) {
      this.log.warn('error while disconnecting the crashed consumer', { error: (e as Error).message });
    }
    if (this.stopping) return;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.stopping) return;
      this.restarts++;
      void this.startConsumer();
    }, delay);
  }
}
