// The store sink: the stage chain process → dedupe + sequence → write → commit, per partition.
//
//  - Batches by rows, bytes or time, whichever comes first; a full batch is flushed inside
//    onBatch, which the consumer awaits: that bound on buffered work *is* the backpressure.
//  - The store is the source of truth for progress. Each row records (log_partition, log_offset);
//    on assignment the sink reads, per partition, the highest stored offset and each tenant's
//    highest seq. Messages at or below that offset were stored before a crash and are skipped, so
//    a crash between insert and commit never duplicates a row, and seq continues exactly where the
//    stored rows end: the same event gets the same seq however often it is replayed.
//  - seq is a per-tenant counter kept by the partition's single writer (tenants are keyed to one
//    partition), so per-tenant numbering is contiguous: 1, 2, 3, …
//  - An event whose (tenant, id) is already stored is dropped before it takes a seq (IdFilter
//    answers "certainly new" from memory; its "maybe" is confirmed with one store lookup).
//  - Poison messages go to the dead-letter topic (awaited) before the batch's insert, and the
//    offset is committed after the insert: a poison message never stalls its partition.
//  - One insert per batch into one table partition (received_at is one value per batch), so an
//    insert is atomic — the property the skip-what-is-stored rule relies on.
//  - A partition has at most one insert in flight, and the next batch fills while it runs (its
//    events are staged as columns, ./staged-batch.ts). Sequencing waits for the insert before it,
//    so seq still follows log order; a full batch waits for the insert in flight (backpressure).
//    NOTE: before, the sink stopped reading for the whole insert; under load the log's in-memory
//    tail overflowed meanwhile and the sink fell back to reading and decoding the file.
import type { Config } from '../infra/config.ts';
import { AuditflowError, isAuditflowError } from '../infra/errors.ts';
import type { LogBatch, LogMessage, LogProducer, LogRecord, PartitionHandler } from '../infra/log/log.ts';
import { partitionForKey } from '../infra/log/partitioner.ts';
import type { Store } from '../infra/store/store.ts';
import type { EventKind } from '../schemas/event-model.ts';
import type { MessageCodec } from '../schemas/message-codec.ts';
import { DLQ_HEADERS, ID_HEADER, logHeaders, TENANT_HEADER } from '../schemas/log-headers.ts';
import { isTrusted, processDecoded, processTrusted } from './event-processor.ts';
import { IdFilter, idHashes } from './id-filter.ts';
import type { Outcome } from './outcome.ts';
import { Outbox } from './sink-outbox.ts';
import { ROW_PREFIX, StagedBatch } from './staged-batch.ts';
import type { WriteSignal, WrittenRange } from './write-signal.ts';

export interface SinkTopic {
  topic: string;
  kind: EventKind;
  table: 'audit_events' | 'change_log';
}

export interface SinkLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface StoreSinkDeps {
  store: Store;
  /** Dead letters and misrouted messages are produced here. */
  producer: LogProducer;
  commit(topic: string, partition: number, nextOffset: bigint): Promise<void>;
  codec: MessageCodec;
  topics: SinkTopic[];
  deadLetterTopic: string;
  batch: Config['sink'];
  logger: SinkLogger;
  /** Told what each insert made readable (tenant, seq range), once the store acknowledged it. */
  signal?: WriteSignal | undefined;
  /** Told how long each store insert took (one call per batch: metrics). */
  onInsert?: ((table: SinkTopic['table'], seconds: number) => void) | undefined;
}

/** Where the sink stands on a partition it holds: for lag, the log's end minus `storedUpTo + 1`. */
export interface SinkPosition {
  topic: string;
  partition: number;
  /** Highest offset whose outcome is in the store (-1: none). */
  storedUpTo: bigint;
}

interface PartitionState {
  topic: SinkTopic;
  partition: number;
  counters: Map<string, number>;
  /** Highest offset whose outcome is already in the store (-1: none). */
  storedUpTo: bigint;
  ids: IdFilter;
  /** The batch filling, and a spare (the batch last written) to fill after it. */
  staged: StagedBatch;
  spare: StagedBatch | null;
  /** Messages in the filling batch, whatever became of them (stored, dead-lettered, rerouted). */
  messages: number;
  /** Dead letters, re-keyed events and derived ChangeLog rows of the filling batch (./sink-outbox.ts). */
  outbox: Outbox;
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
  /** The topic's partition count when this partition was assigned (a change means a rebalance). */
  partitionCount: number;
  /** Where each tenant seen here belongs (memoised: murmur2 per message showed in profiles). */
  tenantPartitions: Map<string, number>;
}

export interface SinkStats {
  inserted: number;
  duplicates: number;
  deadLettered: number;
  rerouted: number;
  /** ChangeLog rows derived from audit events produced straight to the log (../processors/permission-change.ts). */
  derivedChanges: number;
  skippedReplayed: number;
  /** Offsets the log skipped (Kafka transaction markers, or retention deleting unread data). */
  offsetGaps: number;
  batches: number;
  blockedMs: number;
}

export class StoreSink implements PartitionHandler {
  private readonly parts = new Map<string, PartitionState>();
  private readonly topics = new Map<string, SinkTopic>();
  /** Where derived ChangeLog rows go (none: this sink has no ChangeLog, and derives nothing). */
  private readonly changesTopic: string | undefined;
  private stopping = false;
  readonly stats: SinkStats = { inserted: 0, duplicates: 0, deadLettered: 0, rerouted: 0, derivedChanges: 0, skippedReplayed: 0, offsetGaps: 0, batches: 0, blockedMs: 0 };

  constructor(private readonly deps: StoreSinkDeps) {
    for (const t of deps.topics) this.topics.set(t.topic, t);
    this.changesTopic = deps.topics.find((t) => t.kind === 'change')?.topic;
  }

  private topicOf(name: string): SinkTopic {
    const t = this.topics.get(name);
    if (!t) throw new AuditflowError('INTERNAL', `store sink got a message from unexpected topic ${name}`);
    return t;
  }

  /** Runs `fn` after everything queued for the partition, so a partition is handled by one flow. */
  private serial<T>(st: PartitionState, fn: () => Promise<T>): Promise<T> {
    const run = st.chain.then(fn);
    st.chain = run.then(() => undefined, () => undefined);
    return run;
  }

  async onAssign(topicName: string, partition: number): Promise<void> {
    const topic = this.topicOf(topicName);
    const key = `${topicName}/${partition}`;
    const previous = this.parts.get(key);
    if (previous) await this.quiesce(previous);
    const st: PartitionState = {
      topic, partition, counters: new Map(), storedUpTo: -1n, ids: new IdFilter(), staged: new StagedBatch(), spare: null, messages: 0,
      outbox: this.newOutbox(topicName), inflight: null, seenSinceTick: false, failure: undefined, firstAt: 0, lastOffset: -1n, expected: -1n, chain: Promise.resolve(),
      partitionCount: await this.deps.producer.partitionCount(topicName), tenantPartitions: new Map(),
    };
    const rows = await this.deps.store.query<{ tenant_id: string; seq: string | number; off: string | number; n: string | number }>(
      `SELECT tenant_id, max(seq) AS seq, max(log_offset) AS off, count() AS n FROM {table:Identifier}
       WHERE log_partition = {p:UInt16} GROUP BY tenant_id`,
      { table: topic.table, p: partition },
    );
    let total = 0;
    for (const r of rows) {
      st.counters.set(r.tenant_id, Number(r.seq));
      const off = BigInt(r.off);
      if (off > st.storedUpTo) st.storedUpTo = off;
      total += Number(r.n);
    }
    st.ids = new IdFilter(Math.max(1 << 20, total * 2));
    if (total > 0) {
      const ids = await this.deps.store.query<{ tenant_id: string; id: string }>(
        'SELECT tenant_id, id FROM {table:Identifier} WHERE log_partition = {p:UInt16}',
        { table: topic.table, p: partition },
      );
      const h1 = new Uint32Array(1);
      const h2 = new Uint32Array(1);
      for (const r of ids) {
        idHashes(r.tenant_id, r.id, h1, h2, 0);
        st.ids.add(h1[0]!, h2[0]!);
      }
    }
    this.parts.set(key, st);
    this.deps.logger.info({ topic: topicName, partition, tenants: rows.length, storedUpTo: st.storedUpTo.toString(), ids: total }, 'partition assigned');
  }

  async onRevoke(topicName: string, partition: number): Promise<void> {
    const key = `${topicName}/${partition}`;
    const st = this.parts.get(key);
    if (!st) return;
    this.parts.delete(key);
    // Whatever was buffered is not committed: the partition's next owner re-reads it. A write
    // in flight finishes first, so the next owner's recovery sees its rows.
    await this.quiesce(st);
  }

  /** Waits for everything queued for the partition and its write in flight; never throws. */
  private async quiesce(st: PartitionState): Promise<void> {
    await st.chain;
    await st.inflight?.catch(() => undefined);
  }

  async onBatch(batch: LogBatch): Promise<void> {
    const st = this.parts.get(`${batch.topic}/${batch.partition}`);
    if (!st) throw new AuditflowError('INTERNAL', `batch for unassigned partition ${batch.topic}/${batch.partition}`);
    await this.serial(st, async () => {
      for (const m of batch.messages) {
        // The common case (our own log form, on its tenant's partition) without a promise.
        if (!this.acceptTrusted(st, m)) await this.accept(st, m);
        if (st.messages >= this.deps.batch.batchRows || st.staged.used >= this.deps.batch.batchBytes) {
          const t0 = Date.now();
          await this.flush(st);
          this.stats.blockedMs += Date.now() - t0;
        }
      }
      // Due by age: flushed now rather than at the next tick.
      if (this.due(st)) await this.flush(st);
    });
  }

  /**
   * Flushes a partition whose batch is SINK_BATCH_MS old, or that has gone quiet: nothing new
   * since the previous tick. Either way only when no write is in flight: the batch keeps filling
   * meanwhile, and the end of the write flushes it at once if it is due by then (below, in flush).
   * NOTE: the quiet rule is for the end of a burst — its last events would otherwise wait out
   * SINK_BATCH_MS behind an idle engine. It adds no inserts under load (every tick then has new
   * messages) and at most one per two ticks when traffic trickles. SINK_FLUSH_WHEN_QUIET=false
   * turns it off (fewer, larger parts).
   * NOTE: a due batch used to be flushed at once, waiting for the write in flight with the
   * partition's intake stopped; now intake goes on, so under load a batch holds what arrived
   * during the previous write (up to SINK_BATCH_ROWS): fewer, larger inserts.
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

  stop(): void {
    this.stopping = true;
  }

  /** The partitions held now and how far each is stored (read at scrape time, not on the hot path). */
  positions(): SinkPosition[] {
    return [...this.parts.values()].map((st) => ({ topic: st.topic.topic, partition: st.partition, storedUpTo: st.storedUpTo }));
  }

  /** Bookkeeping every message gets; false when the message was stored before (a replay). */
  private position(st: PartitionState, m: LogMessage): boolean {
    if (st.expected >= 0n && m.offset > st.expected) {
      // Said loudly: if retention deleted unread messages, they are lost before the store.
      this.stats.offsetGaps += Number(m.offset - st.expected);
      this.deps.logger.warn({ topic: st.topic.topic, partition: st.partition, from: st.expected.toString(), to: (m.offset - 1n).toString() }, 'log offsets skipped');
    }
    st.expected = m.offset + 1n;
    st.seenSinceTick = true;
    if (st.lastOffset < 0n) st.firstAt = Date.now();
    st.lastOffset = m.offset;
    st.messages++;
    if (m.offset <= st.storedUpTo) {
      this.stats.skippedReplayed++;
      return false;
    }
    return true;
  }

  /** Handles a trusted message that belongs here, synchronously; false (untouched) otherwise. */
  private acceptTrusted(st: PartitionState, m: LogMessage): boolean {
    if (!isTrusted(m)) return false;
    const tenantId = m.headers[TENANT_HEADER]!;
    if (this.partitionOf(st, tenantId) !== st.partition) return false;
    if (!this.position(st, m)) return true;
    const i = st.staged.add(m.offset, tenantId, m.headers[ID_HEADER]!, m.value!, true, m.key);
    if (!onlyLogHeaders(m.headers)) st.staged.extraHeaders.set(i, m.headers);
    return true;
  }

  private async accept(st: PartitionState, m: LogMessage): Promise<void> {
    if (!this.position(st, m)) return;
    const trusted = isTrusted(m);
    const outcome = trusted ? processTrusted(m) : await this.decodeAndProcess(st.topic.kind, m);
    if (outcome.kind === 'dlq') {
      st.outbox.add('deadLettered', this.deadLetter(st, m, outcome.code, outcome.reason));
      return;
    }
    const ev = outcome.event;
    // Before the reroute below: a rerouted event arrives trusted, and trusted events derive nothing.
    if (outcome.change !== undefined && this.changesTopic !== undefined) {
      const c = outcome.change;
      st.outbox.add('derivedChanges', { key: c.tenantId, value: c.body, headers: logHeaders(c) });
    }
    if (this.partitionOf(st, ev.tenantId) !== st.partition) {
      // Keyed to the wrong partition: re-key it by tenant so one writer owns each tenant's seq.
      st.outbox.add('rerouted', { key: ev.tenantId, value: ev.body, headers: logHeaders(ev) });
      return;
    }
    const i = st.staged.add(m.offset, ev.tenantId, ev.id, ev.body, trusted, m.key);
    if (trusted && !onlyLogHeaders(m.headers)) st.staged.extraHeaders.set(i, m.headers);
  }

  /** Where a tenant belongs. */
  private partitionOf(st: PartitionState, tenantId: string): number {
    const n = st.partitionCount;
    if (n === 1) return 0;
    let p = st.tenantPartitions.get(tenantId);
    if (p === undefined) {
      p = partitionForKey(tenantId, n);
      if (st.tenantPartitions.size > 100_000) st.tenantPartitions.clear();
      st.tenantPartitions.set(tenantId, p);
    }
    return p;
  }

  private async decodeAndProcess(kind: EventKind, m: LogMessage): Promise<Outcome> {
    if (m.value === null) return { kind: 'dlq', code: 'VALIDATION_FAILED', reason: 'empty message (tombstone)' };
    let decoded: unknown;
    try {
      decoded = await this.deps.codec.decode(m.value);
    } catch (e) {
      if (isAuditflowError(e) && e.retriable) throw e;
      return { kind: 'dlq', code: isAuditflowError(e) ? e.code : 'VALIDATION_FAILED', reason: `undecodable: ${(e as Error).message}` };
    }
    return processDecoded(kind, m, decoded);
  }

  private deadLetter(st: PartitionState, m: LogMessage, code: string, reason: string): LogRecord {
    return {
      key: m.key ?? '',
      value: m.value ?? Buffer.alloc(0),
      headers: {
        ...m.headers,
        [DLQ_HEADERS.reason]: reason.slice(0, 4000),
        [DLQ_HEADERS.code]: code,
        [DLQ_HEADERS.topic]: st.topic.topic,
        [DLQ_HEADERS.partition]: String(st.partition),
        [DLQ_HEADERS.offset]: m.offset.toString(),
      },
    };
  }

  /**
   * Hands the filling batch to the partition's writer: waits for the write in flight (one at a
   * time, in order), then starts this one and returns without waiting for it.
   */
  private async flush(st: PartitionState): Promise<void> {
    if (st.lastOffset < 0n) return;
    await this.settle(st);
    const batch = st.staged;
    const outbox = st.outbox;
    const last = st.lastOffset;
    st.staged = st.spare ?? new StagedBatch();
    st.spare = null;
    st.outbox = this.newOutbox(st.topic.topic);
    st.messages = 0;
    st.lastOffset = -1n;
    const run: Promise<void> = this.writeAndCommit(st, batch, outbox, last).then(() => {
      batch.reset();
      st.spare = batch;
    }).finally(() => {
      if (st.inflight === run) st.inflight = null;
      // The batch that filled meanwhile goes now if it is due (old enough, or gone quiet).
      if (!this.stopping && st.failure === undefined && this.parts.get(`${st.topic.topic}/${st.partition}`) === st && this.due(st)) {
        this.flushIfDue(st).catch(() => undefined); // a failure is kept in st.failure and surfaces on the next call
      }
    });
    run.catch((e: unknown) => {
      st.failure ??= e;
    });
    st.inflight = run;
  }

  /** Waits for the write in flight; throws what stopped any write of this partition. */
  private async settle(st: PartitionState): Promise<void> {
    await st.inflight?.catch(() => undefined); // its error, if any, is st.failure by now
    if (st.failure !== undefined) throw st.failure;
  }

  /** Queued behind the partition's other work: flushes if the batch is still due by then. */
  private flushIfDue(st: PartitionState): Promise<void> {
    return this.serial(st, async () => {
      if (this.due(st)) await this.flush(st);
    });
  }

  /** Something is staged, no write runs, and the batch is SINK_BATCH_MS old or nothing arrived since the last tick (SINK_FLUSH_WHEN_QUIET). */
  private due(st: PartitionState): boolean {
    if (st.lastOffset < 0n || st.inflight !== null) return false;
    return Date.now() - st.firstAt >= this.deps.batch.batchMs || (this.deps.batch.flushWhenQuiet && !st.seenSinceTick);
  }

  /** Writes a batch, then commits past it. Retries infrastructure errors until it succeeds or the sink stops. */
  private async writeAndCommit(st: PartitionState, batch: StagedBatch, outbox: Outbox, last: bigint): Promise<void> {
    let attempt = 0;
    for (;;) {
      try {
        await this.write(st, batch, outbox);
        break;
      } catch (e) {
        const retriable = isAuditflowError(e) && e.retriable;
        if (!retriable || this.stopping) throw e;
        attempt++;
        const delay = Math.min(5000, 100 * 2 ** Math.min(attempt, 6));
        this.deps.logger.warn({ topic: st.topic.topic, partition: st.partition, attempt, delay, err: (e as Error).message }, 'flush failed, retrying');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    st.storedUpTo = last;
    try {
      await this.deps.commit(st.topic.topic, st.partition, last + 1n);
    } catch (e) {
      // The rows are stored, and the store — not the committed offset — is the truth for
      // progress: a failed commit (e.g. REBALANCE_IN_PROGRESS) only means these messages are
      // read again and skipped. The next commit covers them.
      if (!isAuditflowError(e) || !e.retriable) throw e;
      this.deps.logger.warn({ topic: st.topic.topic, partition: st.partition, offset: (last + 1n).toString(), err: e.message }, 'offset commit failed; the store already holds the batch');
    }
    this.stats.batches++;
  }

  private async write(st: PartitionState, batch: StagedBatch, outbox: Outbox): Promise<void> {
    await outbox.send(this.deps.producer, this.stats);
    if (batch.count === 0) return;
    try {
      await this.insert(st, batch);
    } catch (e) {
      if (isAuditflowError(e) && e.retriable) throw e;
      if (!batch.trusted.subarray(0, batch.count).includes(1)) throw e;
      // A message claiming to be in the log form was not: re-check every event as untrusted,
      // dead-letter what fails, and write the rest.
      this.deps.logger.warn({ topic: st.topic.topic, partition: st.partition, err: (e as Error).message }, 'insert rejected, re-validating batch');
      const rechecked = new StagedBatch();
      for (let i = 0; i < batch.count; i++) {
        const m = stagedMessage(batch, i);
        const o = processDecoded(st.topic.kind, m, safeJson(m.value!));
        if (o.kind === 'ok') rechecked.add(m.offset, o.event.tenantId, o.event.id, o.event.body, false, m.key);
        else outbox.add('deadLettered', this.deadLetter(st, m, 'VALIDATION_FAILED', o.reason));
      }
      await outbox.send(this.deps.producer, this.stats);
      if (rechecked.count > 0) await this.insert(st, rechecked);
    }
  }

  /** A partition's outbox: dead letters to the dead-letter topic, re-keyed events back to its own topic, derived rows to the ChangeLog's. */
  private newOutbox(topic: string): Outbox {
    return new Outbox({ deadLettered: this.deps.deadLetterTopic, rerouted: topic, derivedChanges: this.changesTopic });
  }

  /** Dedupe, sequence, serialise, insert. Mutates counters and the id filter only on success. */
  private async insert(st: PartitionState, batch: StagedBatch): Promise<void> {
    const n = batch.count;
    const { h1, h2, tenants, ids } = batch;
    const maybeSeen: number[] = [];
    for (let i = 0; i < n; i++) if (st.ids.mightContain(h1[i]!, h2[i]!)) maybeSeen.push(i);
    const stored = new Set<string>();
    if (maybeSeen.length > 0) {
      const rows = await this.deps.store.query<{ tenant_id: string; id: string }>(
        `SELECT DISTINCT tenant_id, id FROM {table:Identifier}
         WHERE tenant_id IN {tenants:Array(String)} AND id IN {ids:Array(String)}`,
        { table: st.topic.table, tenants: [...new Set(maybeSeen.map((i) => tenants[i]!))], ids: maybeSeen.map((i) => ids[i]!) },
      );
      for (const r of rows) stored.add(IdFilter.key(r.tenant_id, r.id));
    }
    const counters = new Map(st.counters);
    // Duplicates inside the batch: events chained by hash, strings compared only on a hash match.
    const lastByHash = new Map<number, number>();
    const sameHash = new Int32Array(n);
    const kept = new Uint8Array(n);
    let duplicates = 0;
    for (let i = 0; i < n; i++) {
      if (stored.size > 0 && stored.has(IdFilter.key(tenants[i]!, ids[i]!))) {
        duplicates++;
        continue;
      }
      const previous = lastByHash.get(h1[i]!);
      sameHash[i] = previous ?? -1;
      lastByHash.set(h1[i]!, i);
      if (previous !== undefined && isDuplicateInBatch(batch, kept, sameHash, previous, i)) {
        duplicates++;
        continue;
      }
      kept[i] = 1;
    }
    const inserted = n - duplicates;
    if (inserted > 0) {
      // The rows are written in place, in front of the staged bodies (./staged-batch.ts).
      const middle = Buffer.from(`,"received_at":"${new Date().toISOString()}","log_partition":${st.partition},"log_offset":`, 'latin1');
      if (middle.length > ROW_MIDDLE_MAX) throw new AuditflowError('INTERNAL', `row prefix of ${middle.length} bytes does not fit`);
      for (let i = 0; i < n; i++) {
        if (kept[i] === 0) {
          batch.blankRow(i);
          continue;
        }
        const tenantId = tenants[i]!;
        const seq = (counters.get(tenantId) ?? 0) + 1;
        counters.set(tenantId, seq);
        batch.writeRow(i, seq, middle);
      }
      const onInsert = this.deps.onInsert;
      const t0 = onInsert ? performance.now() : 0;
      await this.deps.store.insertJsonEachRow(st.topic.table, batch.rows());
      if (onInsert) onInsert(st.topic.table, (performance.now() - t0) / 1000);
      // A copy: the batch's buffer is refilled by the next batch while listeners may still hold it.
      if (this.deps.signal) this.deps.signal.publish({ table: st.topic.table, partition: st.partition, ranges: writtenRanges(st.counters, counters), rows: Buffer.from(batch.rows()) });
    }
    st.counters = counters;
    for (let i = 0; i < n; i++) if (kept[i] === 1) st.ids.add(h1[i]!, h2[i]!);
    this.stats.inserted += inserted;
    this.stats.duplicates += duplicates;
  }
}

/** Room for the middle of a row prefix (received_at and the partition): ROW_PREFIX less `{"seq":` and two 20-digit numbers. */
const ROW_MIDDLE_MAX = ROW_PREFIX - 7 - 40;

function isDuplicateInBatch(batch: StagedBatch, kept: Uint8Array, sameHash: Int32Array, previous: number, i: number): boolean {
  const { ids, tenants } = batch;
  for (let j = previous; j >= 0; j = sameHash[j]!) {
    if (kept[j] === 1 && ids[j] === ids[i] && tenants[j] === tenants[i]) return true;
  }
  return false;
}

/** True when a message's headers are exactly the three log headers. */
function onlyLogHeaders(h: Record<string, string>): boolean {
  let n = 0;
  for (const _ in h) n++;
  return n === 3;
}

/** Staged event `i` as the message it came from (its bytes copied out of the batch). */
function stagedMessage(batch: StagedBatch, i: number): LogMessage {
  const tenantId = batch.tenants[i]!;
  const headers = batch.extraHeaders.get(i) ?? logHeaders({ tenantId, id: batch.ids[i]! });
  return { offset: BigInt(batch.offsets[i]!), key: batch.keys[i] ?? null, value: batch.body(i), headers, timestamp: 0 };
}

function safeJson(b: Buffer): unknown {
  try {
    return JSON.parse(b.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The seq range each tenant's counter moved by in one insert. */
function writtenRanges(before: Map<string, number>, after: Map<string, number>): WrittenRange[] {
  const out: WrittenRange[] = [];
  for (const [tenantId, last] of after) {
    const prev = before.get(tenantId) ?? 0;
    if (last > prev) out.push({ tenantId, firstSeq: prev + 1, lastSeq: last });
  }
  return out;
}
