// The SIEM forwarders of one process (embedded `all`, or distributed `auditflow forwarder`): one
// consumer group per destination on the audit topic (processors/siem/forwarder.ts), started,
// restarted, paused and deleted as the destinations in the store change; health reports; replays.
//
//  - Several processes run the same groups: Kafka spreads each destination's partitions over them,
//    and a destination's position (its group's committed offsets) survives a restart or a rebalance.
//  - A new group's first position comes from the destination's `start`: "now" is its creation time
//    (not when a forwarder first saw it), an ISO time, or "oldest" retained. Set once, before the
//    group's first member joins; after that the group's commits are the position.
//  - A deleted destination's group is deleted too, so it stops pinning the embedded log's retention.
//  - A consumer that fails (a position out of retention, a store that is down for the dead letters)
//    is reported in the destination's health and started again at the next poll.
//  - Offsets are committed with the health reports, just after them, not after every batch: the
//    delivered counters a partition's next holder continues from are then never behind its
//    position (a crash re-sends, and counts again, at most one poll interval of batches).
import { randomBytes } from 'node:crypto';
import { isAuditflowError } from '../errors.ts';
import type { Store } from '../store/store.ts';
import type { LogAdmin, LogConsumer } from '../log/log.ts';
import type { MessageCodec } from '../../schemas/message-codec.ts';
import type { BackoffPolicy } from '../../processors/consumer/backoff.ts';
import type { ChainLogger } from '../../processors/consumer/consumer-chain.ts';
import { DeadLetters } from '../../processors/siem/dead-letters.ts';
import { DeliveryHealth, type HealthReport } from '../../processors/siem/delivery-health.ts';
import { newCounters, type DeliveryCounters } from '../../processors/siem/delivery.ts';
import { Destinations, type Destination } from '../../processors/siem/destinations.ts';
import { destinationGroup, DestinationForwarder } from '../../processors/siem/forwarder.ts';
import { runReplay } from '../../processors/siem/replay-runner.ts';
import { Replays } from '../../processors/siem/replays.ts';
import type { DestinationConfig, SiemSender } from '../../processors/siem/siem-types.ts';
import type { Config } from '../config.ts';

export interface ForwarderServiceDeps {
  siem: Config['siem'];
  store: Store;
  /** The audit events topic. */
  topic: string;
  admin: LogAdmin;
  /** A consumer of `topic` in `group` (embedded or Kafka). */
  consumerFor(group: string): LogConsumer & { done?(): Promise<void> };
  partitionCount(topic: string): Promise<number>;
  codec: MessageCodec;
  senderFor(d: DestinationConfig): SiemSender;
  logger: ChainLogger;
}

interface Running {
  destination: Destination;
  forwarder: DestinationForwarder;
  consumer: LogConsumer;
  sender: SiemSender;
  /** Offsets delivered up to and not yet committed, by `topic/partition`. */
  pending: Map<string, { topic: string; partition: number; offset: bigint }>;
}

/** A destination's figures in this process (Prometheus, labelled by destination). */
export interface ForwarderView {
  destinationId: string;
  tenantId: string;
  type: string;
  reports: HealthReport[];
  retries: number;
}

export class ForwarderService {
  readonly id = `f_${randomBytes(6).toString('hex')}`;
  private readonly destinations: Destinations;
  private readonly deadLetters: DeadLetters;
  private readonly health: DeliveryHealth;
  private readonly replays: Replays;
  private readonly running = new Map<string, Running>();
  /** Destinations whose consumer failed: the error, reported as health until it runs again. */
  private readonly failures = new Map<string, { destination: Destination; error: string; reported: boolean }>();
  private readonly deletedGroups = new Set<string>();
  private readonly retry: BackoffPolicy;
  private timer: NodeJS.Timeout | null = null;
  private cycle: Promise<void> | null = null;
  private replay: Promise<void> | null = null;
  private readonly stopping = new AbortController();
  private lastReports: ForwarderView[] = [];

  constructor(private readonly deps: ForwarderServiceDeps) {
    this.destinations = new Destinations(deps.store);
    this.deadLetters = new DeadLetters(deps.store);
    this.health = new DeliveryHealth(deps.store);
    this.replays = new Replays(deps.store);
    this.retry = { baseMs: deps.siem.retryBaseMs, maxMs: deps.siem.retryMaxMs };
  }

  /** Starts the loop; resolves after the first reconciliation (every destination's consumer started). */
  async start(): Promise<void> {
    await this.reconcile();
    this.schedule();
  }

  /** The destinations or replays changed in this process: look now rather than at the next poll. */
  nudge(): void {
    if (this.cycle || this.stopping.signal.aborted) return;
    if (this.timer) clearTimeout(this.timer);
    this.schedule(0);
  }

  private schedule(ms = this.deps.siem.pollMs): void {
    if (this.stopping.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.cycle = this.tick().catch((e: unknown) => this.deps.logger.warn({ err: (e as Error).message }, 'forwarder cycle failed')).finally(() => {
        this.cycle = null;
        this.schedule();
      });
    }, ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    await this.reconcile();
    await this.reportHealth();
    this.replay ??= this.runReplays().catch((e: unknown) => this.deps.logger.warn({ err: (e as Error).message }, 'replay failed')).finally(() => {
      this.replay = null;
    });
  }

  /** Starts, restarts, stops and deletes consumers to match the destinations in the store. */
  private async reconcile(): Promise<void> {
    const all = await this.destinations.allForForwarder();
    const seen = new Set<string>();
    for (const d of all) {
      seen.add(d.destinationId);
      const run = this.running.get(d.destinationId);
      const wanted = !d.deleted && d.status === 'active';
      if (run && (!wanted || run.destination.version !== d.version)) await this.stopOne(d.destinationId);
      // Groups no longer used: every generation of a deleted destination, the earlier ones of a sought one.
      for (let g = 0; g < (d.deleted ? d.generation + 1 : d.generation); g++) await this.deleteGroup(d, destinationGroup(d.destinationId, g));
      if (d.deleted) continue;
      if (wanted && !this.running.has(d.destinationId)) {
        try {
          await this.startOne(d);
          this.failures.delete(d.destinationId);
        } catch (e) {
          this.failed(d, e);
        }
      }
    }
    for (const id of [...this.running.keys()]) if (!seen.has(id)) await this.stopOne(id);
  }

  private async deleteGroup(d: Destination, group: string): Promise<void> {
    if (this.deletedGroups.has(group)) return;
    // Already gone (a restart sees every deleted destination again): no admin round trip to repeat.
    if ((await this.deps.admin.committed(group, this.deps.topic)).every((c) => c === null)) {
      this.deletedGroups.add(group);
      return;
    }
    // LOG_GROUP_ACTIVE while another forwarder still runs it: tried again at the next poll.
    await this.deps.admin.deleteGroup(group).then(() => this.deletedGroups.add(group), (e: unknown) => {
      this.deps.logger.warn({ destination: d.destinationId, group, err: (e as Error).message }, 'deleting a destination group failed; trying again');
    });
  }

  private async startOne(d: Destination): Promise<void> {
    const group = destinationGroup(d.destinationId, d.generation);
    const topic = this.deps.topic;
    const committed = await this.deps.admin.committed(group, topic);
    if (committed.every((c) => c === null)) {
      // "now" is only ever generation 0's (a seek stores the instant it was asked for).
      const offsets = d.start === 'oldest'
        ? await this.deps.admin.earliest(topic)
        : await this.deps.admin.offsetsForTime(topic, Date.parse(d.start === 'now' ? d.createdAt : d.start));
      await this.deps.admin.setCommitted(group, topic, offsets);
      this.deps.logger.info({ destination: d.destinationId, start: d.start, offsets: offsets.map(String) }, 'forwarder position set from start');
    }
    const consumer = this.deps.consumerFor(group);
    const sender = this.deps.senderFor(d);
    const pending: Running['pending'] = new Map();
    const forwarder = new DestinationForwarder({
      destination: d, sender, codec: this.deps.codec, deadLetters: this.deadLetters,
      lastReport: (t, p) => this.health.last(d.tenantId, d.destinationId, t, p),
      committed: async (t, p) => (await this.deps.admin.committed(group, t))[p] ?? null,
      partitionCount: this.deps.partitionCount,
      commit: async (t, p, o) => {
        pending.set(`${t}/${p}`, { topic: t, partition: p, offset: o });
      },
      batch: { batchRows: this.deps.siem.batchEvents, batchBytes: this.deps.siem.batchBytes, batchMs: this.deps.siem.batchMs, flushWhenQuiet: true },
      retry: this.retry, logger: this.deps.logger,
    });
    const run: Running = { destination: d, forwarder, consumer, sender, pending };
    this.running.set(d.destinationId, run);
    try {
      await consumer.run(forwarder);
    } catch (e) {
      this.running.delete(d.destinationId);
      await sender.close().catch(() => undefined);
      throw e;
    }
    // An embedded consumer's loop ends with what stopped it (a forwarder failure, a position out of retention).
    consumer.done?.().catch((e: unknown) => {
      if (this.running.get(d.destinationId) !== run) return;
      this.failed(d, e);
      void this.stopOne(d.destinationId);
    });
    this.deps.logger.info({ destination: d.destinationId, type: d.type, group }, 'forwarder started');
  }

  private failed(d: Destination, e: unknown): void {
    const msg = isAuditflowError(e) ? `${e.code}: ${e.message}` : (e as Error).message ?? String(e);
    // Said once per error, not at every poll that tries again.
    const known = this.failures.get(d.destinationId);
    if (known?.error === msg) return;
    this.deps.logger.error({ destination: d.destinationId, err: msg }, 'forwarder failed; started again at the next poll');
    this.failures.set(d.destinationId, { destination: d, error: msg, reported: false });
  }

  private async stopOne(id: string): Promise<void> {
    const run = this.running.get(id);
    if (!run) return;
    this.running.delete(id);
    run.forwarder.stop();
    // What was delivered is reported and committed before the group is left.
    await this.reportAndCommit([run]).catch((e: unknown) => this.deps.logger.warn({ destination: id, err: (e as Error).message }, 'final health report failed; the next holder re-sends since the last commit'));
    await run.consumer.stop().catch(() => undefined);
    await run.sender.close().catch(() => undefined);
  }

  /** Writes each held partition's health, then commits what it covers; keeps the figures for the metrics. */
  private async reportHealth(): Promise<void> {
    const runs = [...this.running.values()];
    this.lastReports = runs.length === 0 ? [] : await this.reportAndCommit(runs);
    // A destination whose consumer could not run: its partitions' last figures, with the error.
    for (const [id, f] of this.failures) {
      // Written once per error: the store keeps it until the destination runs again.
      if (f.reported || this.running.has(id)) continue;
      const d = f.destination;
      const rows = await this.health.partitions(d.tenantId, id);
      const now = new Date().toISOString();
      const count = rows.length > 0 ? 0 : await this.deps.partitionCount(this.deps.topic);
      const fresh = Array.from({ length: count }, (_, partition): HealthReport => ({
        tenantId: d.tenantId, destinationId: id, topic: this.deps.topic, partition, position: 0, endOffset: 0, lagEvents: 0, lagSeconds: 0,
        lastSuccessAt: null, lastError: null, delivered: 0, deadLettered: 0, reportedAt: now,
      }));
      const reports = [...rows, ...fresh].filter((r) => r.lastError !== f.error).map((r) => ({ ...r, lastError: f.error, reportedAt: now }));
      if (reports.length > 0) await this.health.report(reports);
      f.reported = true;
    }
  }

  private async reportAndCommit(runs: Running[]): Promise<ForwarderView[]> {
    const ends = await this.deps.admin.end(this.deps.topic);
    const endOffsets = new Map(ends.map((o, p) => [`${this.deps.topic}/${p}`, o]));
    const views: ForwarderView[] = [];
    const all: HealthReport[] = [];
    const commits: { run: Running; topic: string; partition: number; offset: bigint }[] = [];
    for (const run of runs) {
      // Taken in the same turn as the reports, so every commit is covered by a report written before it.
      for (const [k, c] of run.pending) {
        commits.push({ run, ...c });
        run.pending.delete(k);
      }
      const id = run.destination.destinationId;
      const reports = run.forwarder.reports(endOffsets);
      const failure = this.failures.get(id);
      if (failure) for (const r of reports) r.lastError = failure.error;
      views.push({ destinationId: id, tenantId: run.destination.tenantId, type: run.destination.type, reports, retries: run.forwarder.chainStats.retries });
      all.push(...reports);
    }
    if (all.length > 0) await this.health.report(all);
    for (const c of commits) {
      await c.run.consumer.commit(c.topic, c.partition, c.offset).catch((e: unknown) => {
        // A partition revoked meanwhile: its next holder re-sends from the last commit (at least once).
        this.deps.logger.warn({ destination: c.run.destination.destinationId, partition: c.partition, err: (e as Error).message }, 'offset commit failed');
      });
    }
    return views;
  }

  /** Runs claimable replays of the destinations this process forwards, one at a time. */
  private async runReplays(): Promise<void> {
    for (const candidate of await this.replays.claimable(10)) {
      if (this.stopping.signal.aborted) return;
      const run = this.running.get(candidate.destinationId);
      if (!run || run.destination.tenantId !== candidate.tenantId) continue; // paused, deleted, or served elsewhere
      const mine = await this.replays.claim(candidate, this.id, { leaseMs: this.deps.siem.replayLeaseMs });
      if (!mine) continue;
      const d = run.destination;
      const sender = this.deps.senderFor(d);
      const counters: DeliveryCounters = newCounters();
      try {
        const target = { tenantId: d.tenantId, destinationId: d.destinationId, sender, deadLetters: this.deadLetters };
        await runReplay(mine, d, target, counters, {
          store: this.deps.store, replays: this.replays, retry: this.retry, pageRows: this.deps.siem.replayPageRows,
          leaseMs: this.deps.siem.replayLeaseMs, signal: this.stopping.signal,
        });
      } catch (e) {
        await this.replays.fail(mine, (e as Error).message).catch(() => undefined);
      } finally {
        await sender.close().catch(() => undefined);
      }
    }
  }

  /** Per destination, the latest figures of this process (read at scrape time). */
  views(): ForwarderView[] {
    return this.lastReports;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    if (this.timer) clearTimeout(this.timer);
    await this.cycle?.catch(() => undefined);
    for (const id of [...this.running.keys()]) await this.stopOne(id);
    await this.replay?.catch(() => undefined);
    await this.deps.admin.close();
  }
}
