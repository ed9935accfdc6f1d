// The consumer stage chain every consumer of the log is built on — the store sink
// (../store-sink.ts) and each SIEM destination's forwarder (../siem/forwarder.ts):
//
//   accept (per message) → batch → write (retried) → commit, per partition, serially.
//
// The chain owns what is the same for every consumer: one flow per partition; batching by rows,
// bytes or time, whichever comes first; at most one write in flight while the next batch fills;
// retries with backoff and jitter; committing after the write; skipping what a previous run
// already did; offset gaps said loudly; the drain on SIGTERM. A consumer supplies the part that
// differs, a PartitionWork per partition: what to do with a message, and how to write a batch.
//
//  - A full batch is flushed inside onBatch, which the log consumer awaits: that bound on
//    buffered work *is* the backpressure. A write returns its result as a value (PostHog's model):
//    `done`, or `retry` with the reason and, when the other side said so, how long to wait.
//    Thrown errors that the catalogue marks retriable are retried too; any other error stops the
//    partition, and every later call fails with it until the partition is revoked.
//  - Progress: `assign` says how far a previous run got (for the sink, read from the store;
//    for a forwarder, its committed offset). Messages at or below that are skipped, so a crash
//    between write and commit repeats nothing the consumer can recognise as done.
//  - The commit follows the write. A retriable commit failure (a rebalance) is only logged: the
//    next commit covers the same offsets, and at worst they are read again and skipped.
import type { Config } from '../../infra/config.ts';
import { AuditflowError, isAuditflowError } from '../../infra/errors.ts';
import type { LogBatch, LogMessage, PartitionHandler } from '../../infra/log/log.ts';
import { backoffDelay, sleep, type BackoffPolicy } from './backoff.ts';

export type WriteResult =
  | { kind: 'done' }
  | { kind: 'retry'; reason: string; afterMs?: number | undefined };

export const DONE: WriteResult = { kind: 'done' };

/** A consumer's work on one partition it holds. */
export interface PartitionWork<B> {
  /** Takes one message (after the skipped ones) into the filling batch; a promise only when it must wait. */
  accept(m: LogMessage): void | Promise<void>;
  /** Bytes in the filling batch (a batch is flushed at the chain's `batchBytes`). */
  bytes(): number;
  /** Detaches the filling batch for writing; a fresh one fills meanwhile. */
  take(): B;
  /** Writes a detached batch. Called again with the same batch after a `retry`. */
  write(batch: B): Promise<WriteResult>;
  /** The batch is written and its offsets committed (reuse its buffers). */
  written?(batch: B): void;
  /** A write is retried after `delayMs` (logged by the chain; for health and metrics). */
  retrying?(attempt: number, delayMs: number, reason: string): void;
}

export interface ChainLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ChainOptions {
  /** Names the consumer in log lines (`store sink`, `forwarder <id>`). */
  name: string;
  batch: Config['sink'];
  retry: BackoffPolicy;
  commit(topic: string, partition: number, nextOffset: bigint): Promise<void>;
  logger: ChainLogger;
}

/** What every chain counts (a consumer's stats extend it). */
export interface ChainStats {
  /** Messages at or below what a previous run had done, read again and skipped. */
  skippedReplayed: number;
  /** Offsets the log skipped (Kafka transaction markers, or retention deleting unread data). */
  offsetGaps: number;
  batches: number;
  /** Time intake waited for the write in flight (backpressure). */
  blockedMs: number;
  /** Writes retried. */
  retries: number;
}

export const newChainStats = (): ChainStats => ({ skippedReplayed: 0, offsetGaps: 0, batches: 0, blockedMs: 0, retries: 0 });

/** Where a chain stands on a partition it holds. */
export interface ChainPosition {
  topic: string;
  partition: number;
  /** Highest offset whose outcome is done (-1: none). */
  doneUpTo: bigint;
}

interface PartitionState<W> {
  topic: string;
  partition: number;
  work: W;
  doneUpTo: bigint;
  /** Messages in the filling batch, whatever became of them. */
  messages: number;
  /** The batch being written and committed, at most one (null once it has ended). */
  inflight: Promise<void> | null;
  /** A message arrived since the last onTick. */
  seenSinceTick: boolean;
  /** What stopped the partition's last write: every later call fails with it until the partition is revoked. */
  failure: unknown;
  firstAt: number;
  lastOffset: bigint;
  /** The offset the next message should have (-1: not known yet, right after assignment). */
  expected: bigint;
  chain: Promise<void>;
}

export abstract class ConsumerChain<W extends PartitionWork<B>, B> implements PartitionHandler {
  private readonly parts = new Map<string, PartitionState<W>>();
  private stopping = false;
  /** Aborts retry sleeps on stop. */
  private readonly stopSignal = new AbortController();

  constructor(protected readonly chain: ChainOptions, readonly chainStats: ChainStats = newChainStats()) {}

  /** Recovers the consumer's state for a partition: its work, and the highest offset already done (-1n: none). */
  protected abstract assign(topic: string, partition: number): Promise<{ work: W; doneUpTo: bigint }>;

  /** Called when a partition is dropped (revoked, re-assigned, or the chain stopped). */
  protected released(_topic: string, _partition: number, _work: W): void {}

  /** Runs `fn` after everything queued for the partition, so a partition is handled by one flow. */
  private serial<T>(st: PartitionState<W>, fn: () => Promise<T>): Promise<T> {
    const run = st.chain.then(fn);
    st.chain = run.then(() => undefined, () => undefined);
    return run;
  }

  async onAssign(topic: string, partition: number): Promise<void> {
    const key = `${topic}/${partition}`;
    const previous = this.parts.get(key);
    if (previous) {
      await this.quiesce(previous);
      this.released(topic, partition, previous.work);
    }
    const { work, doneUpTo } = await this.assign(topic, partition);
    this.parts.set(key, {
      topic, partition, work, doneUpTo, messages: 0, inflight: null, seenSinceTick: false, failure: undefined,
      firstAt: 0, lastOffset: -1n, expected: -1n, chain: Promise.resolve(),
    });
  }

  async onRevoke(topic: string, partition: number): Promise<void> {
    const key = `${topic}/${partition}`;
    const st = this.parts.get(key);
    if (!st) return;
    this.parts.delete(key);
    // Whatever was buffered is not committed: the partition's next owner re-reads it. A write
    // in flight finishes first, so the next owner's recovery sees its outcome.
    await this.quiesce(st);
    this.released(topic, partition, st.work);
  }

  /** Waits for everything queued for the partition and its write in flight; never throws. */
  private async quiesce(st: PartitionState<W>): Promise<void> {
    await st.chain;
    await st.inflight?.catch(() => undefined);
  }

  async onBatch(batch: LogBatch): Promise<void> {
    const st = this.parts.get(`${batch.topic}/${batch.partition}`);
    if (!st) throw new AuditflowError('INTERNAL', `${this.chain.name}: batch for unassigned partition ${batch.topic}/${batch.partition}`);
    const { batchRows, batchBytes } = this.chain.batch;
    await this.serial(st, async () => {
      const work = st.work;
      for (const m of batch.messages) {
        if (this.position(st, m)) {
          // Most consumers accept synchronously: no promise per message.
          const pending = work.accept(m);
          if (pending) await pending;
        }
        if (st.messages >= batchRows || work.bytes() >= batchBytes) {
          const t0 = Date.now();
          await this.flush(st);
          this.chainStats.blockedMs += Date.now() - t0;
        }
      }
      // Due by age: flushed now rather than at the next tick.
      if (this.due(st)) await this.flush(st);
    });
  }

  /**
   * Flushes a partition whose batch is `batchMs` old, or that has gone quiet: nothing new since
   * the previous tick. Either way only when no write is in flight: the batch keeps filling
   * meanwhile, and the end of the write flushes it at once if it is due by then (below, in flush).
   * NOTE: the quiet rule is for the end of a burst — its last events would otherwise wait out
   * batchMs behind an idle writer. It adds no writes under load (every tick then has new
   * messages) and at most one per two ticks when traffic trickles. SINK_FLUSH_WHEN_QUIET=false
   * turns it off (fewer, larger writes).
   */
  async onTick(): Promise<void> {
    for (const st of [...this.parts.values()]) {
      // A write that failed for good surfaces here too when nothing new arrives to flush.
      if (st.failure !== undefined) throw st.failure;
      if (this.due(st)) await this.flushIfDue(st);
      st.seenSinceTick = false;
    }
  }

  /** Flushes every partition and waits until the writes are committed (SIGTERM drain). */
  async drain(): Promise<void> {
    for (const st of [...this.parts.values()]) {
      await this.serial(st, async () => {
        await this.flush(st);
        await this.settle(st);
      });
    }
  }

  /** Ends retries (a write being retried fails with SHUTTING_DOWN) and stops starting writes. */
  stop(): void {
    this.stopping = true;
    this.stopSignal.abort();
  }

  protected get stopped(): boolean {
    return this.stopping;
  }

  /** The partitions held now and how far each is done (read at scrape time, not on the hot path). */
  chainPositions(): ChainPosition[] {
    return [...this.parts.values()].map((st) => ({ topic: st.topic, partition: st.partition, doneUpTo: st.doneUpTo }));
  }

  /** The work of the partitions held now. */
  protected held(): { topic: string; partition: number; work: W }[] {
    return [...this.parts.values()].map((st) => ({ topic: st.topic, partition: st.partition, work: st.work }));
  }

  /** Bookkeeping every message gets; false when a previous run had done it (a replay). */
  private position(st: PartitionState<W>, m: LogMessage): boolean {
    if (st.expected >= 0n && m.offset > st.expected) {
      // Said loudly: if retention deleted unread messages, this consumer never saw them.
      this.chainStats.offsetGaps += Number(m.offset - st.expected);
      this.chain.logger.warn({ consumer: this.chain.name, topic: st.topic, partition: st.partition, from: st.expected.toString(), to: (m.offset - 1n).toString() }, 'log offsets skipped');
    }
    st.expected = m.offset + 1n;
    st.seenSinceTick = true;
    if (st.lastOffset < 0n) st.firstAt = Date.now();
    st.lastOffset = m.offset;
    st.messages++;
    if (m.offset <= st.doneUpTo) {
      this.chainStats.skippedReplayed++;
      return false;
    }
    return true;
  }

  /**
   * Hands the filling batch to the partition's writer: waits for the write in flight (one at a
   * time, in order), then starts this one and returns without waiting for it.
   */
  private async flush(st: PartitionState<W>): Promise<void> {
    if (st.lastOffset < 0n) return;
    await this.settle(st);
    const batch = st.work.take();
    const last = st.lastOffset;
    st.messages = 0;
    st.lastOffset = -1n;
    const run: Promise<void> = this.writeAndCommit(st, batch, last).then(() => {
      st.work.written?.(batch);
    }).finally(() => {
      if (st.inflight === run) st.inflight = null;
      // The batch that filled meanwhile goes now if it is due (old enough, or gone quiet).
      if (!this.stopping && st.failure === undefined && this.parts.get(`${st.topic}/${st.partition}`) === st && this.due(st)) {
        this.flushIfDue(st).catch(() => undefined); // a failure is kept in st.failure and surfaces on the next call
      }
    });
    run.catch((e: unknown) => {
      st.failure ??= e;
    });
    st.inflight = run;
  }

  /** Waits for the write in flight; throws what stopped any write of this partition. */
  private async settle(st: PartitionState<W>): Promise<void> {
    await st.inflight?.catch(() => undefined); // its error, if any, is st.failure by now
    if (st.failure !== undefined) throw st.failure;
  }

  /** Queued behind the partition's other work: flushes if the batch is still due by then. */
  private flushIfDue(st: PartitionState<W>): Promise<void> {
    return this.serial(st, async () => {
      if (this.due(st)) await this.flush(st);
    });
  }

  /** Something is staged, no write runs, and the batch is batchMs old or nothing arrived since the last tick. */
  private due(st: PartitionState<W>): boolean {
    if (st.lastOffset < 0n || st.inflight !== null) return false;
    return Date.now() - st.firstAt >= this.chain.batch.batchMs || (this.chain.batch.flushWhenQuiet && !st.seenSinceTick);
  }

  /** Writes a batch, then commits past it. Retries until the write is done or the chain stops. */
  private async writeAndCommit(st: PartitionState<W>, batch: B, last: bigint): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let result: WriteResult;
      try {
        result = await st.work.write(batch);
      } catch (e) {
        if (!isAuditflowError(e) || !e.retriable || this.stopping) throw e;
        result = { kind: 'retry', reason: e.message };
      }
      if (result.kind === 'done') break;
      if (this.stopping) throw new AuditflowError('SHUTTING_DOWN', `${this.chain.name}: stopped while retrying a write (${result.reason})`);
      const delay = result.afterMs ?? backoffDelay(this.chain.retry, attempt);
      this.chainStats.retries++;
      st.work.retrying?.(attempt, delay, result.reason);
      this.chain.logger.warn({ consumer: this.chain.name, topic: st.topic, partition: st.partition, attempt, delay, err: result.reason }, 'write failed, retrying');
      await sleep(delay, this.stopSignal.signal);
    }
    st.doneUpTo = last;
    try {
      await this.chain.commit(st.topic, st.partition, last + 1n);
    } catch (e) {
      // The outcome is written; a failed commit (e.g. REBALANCE_IN_PROGRESS) only means these
      // messages are read again and skipped or delivered again. The next commit covers them.
      if (!isAuditflowError(e) || !e.retriable) throw e;
      this.chain.logger.warn({ consumer: this.chain.name, topic: st.topic, partition: st.partition, offset: (last + 1n).toString(), err: e.message }, 'offset commit failed; the next commit covers it');
    }
    this.chainStats.batches++;
  }
}
