// The store sink's work on one partition (../processors/store-sink.ts holds the partitions; the
// consumer chain, ./consumer/consumer-chain.ts, runs the batches): process → dedupe + sequence →
// insert, with the batch's outbox sent first.
//
//  - seq is a per-tenant counter kept by the partition's single writer (tenants are keyed to one
//    partition), so per-tenant numbering is contiguous: 1, 2, 3, …
//  - An event whose (tenant, id) is already stored is dropped before it takes a seq (IdFilter
//    answers "certainly new" from memory; its "maybe" is confirmed with one store lookup).
//  - Poison messages go to the dead-letter topic (awaited) before the batch's insert, and the
//    offset is committed after the insert: a poison message never stalls its partition.
//  - One insert per batch into one table partition (received_at is one value per batch), so an
//    insert is atomic — the property the skip-what-is-stored rule relies on.
//  - The next batch fills while an insert runs (its events are staged as columns,
//    ./staged-batch.ts); the chain keeps one write in flight per partition, so seq follows log order.
import { AuditflowError, isAuditflowError } from '../infra/errors.ts';
import type { LogMessage, LogProducer, LogRecord } from '../infra/log/log.ts';
import { TenantPartitions } from '../infra/log/partitioner.ts';
import type { Store } from '../infra/store/store.ts';
import type { EventKind } from '../schemas/event-model.ts';
import type { MessageCodec } from '../schemas/message-codec.ts';
import { DLQ_HEADERS, ID_HEADER, logHeaders, TENANT_HEADER } from '../schemas/log-headers.ts';
import { DONE, type PartitionWork, type WriteResult } from './consumer/consumer-chain.ts';
import { isTrusted, processDecoded, processTrusted } from './event-processor.ts';
import { IdFilter } from './id-filter.ts';
import type { Outcome } from './outcome.ts';
import { Outbox, type OutboxKind } from './sink-outbox.ts';
import { ROW_PREFIX, StagedBatch } from './staged-batch.ts';
import type { WriteSignal, WrittenRange } from './write-signal.ts';

export interface SinkTopic {
  topic: string;
  kind: EventKind;
  table: 'audit_events' | 'change_log';
}

/** What the sink counts that the chain does not (../infra/metrics.ts mirrors them). */
export interface StoreCounts extends Record<OutboxKind, number> {
  inserted: number;
  duplicates: number;
}

/** What every partition of one sink shares. */
export interface StorePartitionEnv {
  store: Store;
  producer: LogProducer;
  codec: MessageCodec;
  logger: { warn(obj: object, msg: string): void };
  counts: StoreCounts;
  signal?: WriteSignal | undefined;
  onInsert?: ((table: SinkTopic['table'], seconds: number) => void) | undefined;
  /** Where dead letters and derived ChangeLog rows go (no ChangeLog topic: nothing is derived). */
  deadLetterTopic: string;
  changesTopic: string | undefined;
}

/** A batch handed to the writer: the staged rows and what goes to the log before them. */
export interface StoreBatch {
  staged: StagedBatch;
  outbox: Outbox;
}

export class StorePartition implements PartitionWork<StoreBatch> {
  /** The batch filling, and a spare (the batch last written) to fill after it. */
  private staged = new StagedBatch();
  private spare: StagedBatch | null = null;
  /** Dead letters, re-keyed events and derived ChangeLog rows of the filling batch (./sink-outbox.ts). */
  private outbox: Outbox;

  constructor(
    private readonly env: StorePartitionEnv,
    readonly topic: SinkTopic,
    readonly partition: number,
    /** Where tenants belong: the topic's partition count when this partition was assigned. */
    private readonly tenantPartitions: TenantPartitions,
    /** Each tenant's highest stored seq on this partition. */
    private counters: Map<string, number>,
    private readonly ids: IdFilter,
  ) {
    this.outbox = this.newOutbox();
  }

  accept(m: LogMessage): void | Promise<void> {
    // The common case (our own log form, on its tenant's partition) without a promise.
    if (isTrusted(m)) {
      const tenantId = m.headers[TENANT_HEADER]!;
      if (this.tenantPartitions.of(tenantId) === this.partition) {
        const i = this.staged.add(m.offset, tenantId, m.headers[ID_HEADER]!, m.value!, true, m.key);
        if (!onlyLogHeaders(m.headers)) this.staged.extraHeaders.set(i, m.headers);
        return;
      }
    }
    return this.acceptSlow(m);
  }

  private async acceptSlow(m: LogMessage): Promise<void> {
    const trusted = isTrusted(m);
    const outcome = trusted ? processTrusted(m) : await this.decodeAndProcess(m);
    if (outcome.kind === 'dlq') {
      this.outbox.add('deadLettered', this.deadLetter(m, outcome.code, outcome.reason));
      return;
    }
    const ev = outcome.event;
    // Before the reroute below: a rerouted event arrives trusted, and trusted events derive nothing.
    if (outcome.change !== undefined && this.env.changesTopic !== undefined) {
      const c = outcome.change;
      this.outbox.add('derivedChanges', { key: c.tenantId, value: c.body, headers: logHeaders(c) });
    }
    if (this.tenantPartitions.of(ev.tenantId) !== this.partition) {
      // Keyed to the wrong partition: re-key it by tenant so one writer owns each tenant's seq.
      this.outbox.add('rerouted', { key: ev.tenantId, value: ev.body, headers: logHeaders(ev) });
      return;
    }
    const i = this.staged.add(m.offset, ev.tenantId, ev.id, ev.body, trusted, m.key);
    if (trusted && !onlyLogHeaders(m.headers)) this.staged.extraHeaders.set(i, m.headers);
  }

  bytes(): number {
    return this.staged.used;
  }

  take(): StoreBatch {
    const batch = { staged: this.staged, outbox: this.outbox };
    this.staged = this.spare ?? new StagedBatch();
    this.spare = null;
    this.outbox = this.newOutbox();
    return batch;
  }

  written(batch: StoreBatch): void {
    batch.staged.reset();
    this.spare = batch.staged;
  }

  private async decodeAndProcess(m: LogMessage): Promise<Outcome> {
    if (m.value === null) return { kind: 'dlq', code: 'VALIDATION_FAILED', reason: 'empty message (tombstone)' };
    let decoded: unknown;
    try {
      decoded = await this.env.codec.decode(m.value);
    } catch (e) {
      if (isAuditflowError(e) && e.retriable) throw e;
      return { kind: 'dlq', code: isAuditflowError(e) ? e.code : 'VALIDATION_FAILED', reason: `undecodable: ${(e as Error).message}` };
    }
    return processDecoded(this.topic.kind, m, decoded);
  }

  private deadLetter(m: LogMessage, code: string, reason: string): LogRecord {
    return {
      key: m.key ?? '',
      value: m.value ?? Buffer.alloc(0),
      headers: {
        ...m.headers,
        [DLQ_HEADERS.reason]: reason.slice(0, 4000),
        [DLQ_HEADERS.code]: code,
        [DLQ_HEADERS.topic]: this.topic.topic,
        [DLQ_HEADERS.partition]: String(this.partition),
        [DLQ_HEADERS.offset]: m.offset.toString(),
      },
    };
  }

  /** Dead letters, re-keyed events back to its own topic, derived rows to the ChangeLog's. */
  private newOutbox(): Outbox {
    return new Outbox({ deadLettered: this.env.deadLetterTopic, rerouted: this.topic.topic, derivedChanges: this.env.changesTopic });
  }

  async write({ staged: batch, outbox }: StoreBatch): Promise<WriteResult> {
    await outbox.send(this.env.producer, this.env.counts);
    if (batch.count === 0) return DONE;
    try {
      await this.insert(batch);
    } catch (e) {
      if (isAuditflowError(e) && e.retriable) throw e;
      if (!batch.trusted.subarray(0, batch.count).includes(1)) throw e;
      // A message claiming to be in the log form was not: re-check every event as untrusted,
      // dead-letter what fails, and write the rest.
      this.env.logger.warn({ topic: this.topic.topic, partition: this.partition, err: (e as Error).message }, 'insert rejected, re-validating batch');
      const rechecked = new StagedBatch();
      for (let i = 0; i < batch.count; i++) {
        const m = stagedMessage(batch, i);
        const o = processDecoded(this.topic.kind, m, safeJson(m.value!));
        if (o.kind === 'ok') rechecked.add(m.offset, o.event.tenantId, o.event.id, o.event.body, false, m.key);
        else outbox.add('deadLettered', this.deadLetter(m, 'VALIDATION_FAILED', o.reason));
      }
      await outbox.send(this.env.producer, this.env.counts);
      if (rechecked.count > 0) await this.insert(rechecked);
    }
    return DONE;
  }

  /** Dedupe, sequence, serialise, insert. Mutates counters and the id filter only on success. */
  private async insert(batch: StagedBatch): Promise<void> {
    const n = batch.count;
    const { h1, h2, tenants, ids } = batch;
    const maybeSeen: number[] = [];
    for (let i = 0; i < n; i++) if (this.ids.mightContain(h1[i]!, h2[i]!)) maybeSeen.push(i);
    const stored = new Set<string>();
    if (maybeSeen.length > 0) {
      const rows = await this.env.store.query<{ tenant_id: string; id: string }>(
        `SELECT DISTINCT tenant_id, id FROM {table:Identifier}
         WHERE tenant_id IN {tenants:Array(String)} AND id IN {ids:Array(String)}`,
        { table: this.topic.table, tenants: [...new Set(maybeSeen.map((i) => tenants[i]!))], ids: maybeSeen.map((i) => ids[i]!) },
      );
      for (const r of rows) stored.add(IdFilter.key(r.tenant_id, r.id));
    }
    const counters = new Map(this.counters);
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
      const middle = Buffer.from(`,"received_at":"${new Date().toISOString()}","log_partition":${this.partition},"log_offset":`, 'latin1');
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
      const onInsert = this.env.onInsert;
      const t0 = onInsert ? performance.now() : 0;
      await this.env.store.insertJsonEachRow(this.topic.table, batch.rows());
      if (onInsert) onInsert(this.topic.table, (performance.now() - t0) / 1000);
      // A copy: the batch's buffer is refilled by the next batch while listeners may still hold it.
      if (this.env.signal) this.env.signal.publish({ table: this.topic.table, partition: this.partition, ranges: writtenRanges(this.counters, counters), rows: Buffer.from(batch.rows()) });
    }
    this.counters = counters;
    for (let i = 0; i < n; i++) if (kept[i] === 1) this.ids.add(h1[i]!, h2[i]!);
    this.env.counts.inserted += inserted;
    this.env.counts.duplicates += duplicates;
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
