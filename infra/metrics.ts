// Prometheus metrics: one Registry per process, created by the wiring (infra/system.ts) and passed
// down — never prom-client's global default registry, so two apps in one process (tests) never
// share or double-register a metric.
//
// Hot paths pay at most one call per batch or request: the sink's and the self-audit's counters
// already live in their `stats` objects and are read at scrape time (collect callbacks); the only
// observations made as work happens are one per HTTP response, one per ingest request and one per
// store insert.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SelfAuditStats } from '../api/self-audit.ts';
import type { SinkPosition, SinkStats } from '../processors/store-sink.ts';
import type { EventKind } from '../schemas/event-model.ts';

/** What the store sink exposes to scrapes (processors/store-sink.ts StoreSink). */
export interface SinkView {
  readonly stats: SinkStats;
  positions(): SinkPosition[];
}

/** The log's durable end per partition of a topic (one past the last durable offset). */
export type EndOffsets = (topic: string) => Promise<Map<number, bigint>>;

/** How long a scrape waits for the log's end offsets before leaving the lag out. */
const END_OFFSETS_TIMEOUT_MS = 2000;

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** A counter whose value is read from somewhere else at scrape time (the source only grows). */
function mirroredCounter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name, help, registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

export class Metrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'method' | 'route' | 'status_code'>;
  readonly httpDuration: Histogram<'method' | 'route'>;
  readonly eventsIngested: Counter<'kind'>;
  readonly insertDuration: Histogram<'table'>;

  constructor(registry: Registry = new Registry(), opts: { processMetrics?: boolean } = {}) {
    this.registry = registry;
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry });
    const registers = [registry];
    this.httpRequests = new Counter({
      name: 'auditflow_http_requests_total', help: 'HTTP requests by route pattern and status code',
      labelNames: ['method', 'route', 'status_code'], registers,
    });
    this.httpDuration = new Histogram({
      // No status label: 14 buckets per series; the counter above splits by status.
      name: 'auditflow_http_request_duration_seconds', help: 'HTTP request latency by route pattern',
      labelNames: ['method', 'route'], registers,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
    this.eventsIngested = new Counter({
      name: 'auditflow_events_ingested_total', help: 'Events accepted by ingest (durable in the log), by kind',
      labelNames: ['kind'], registers,
    });
    this.insertDuration = new Histogram({
      name: 'auditflow_sink_insert_duration_seconds', help: 'Store insert latency, one observation per batch',
      labelNames: ['table'], registers,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
  }

  ingested(kind: EventKind, n: number): void {
    this.eventsIngested.inc({ kind }, n);
  }

  /** The sink's counters, and its lag per partition: the log's durable end minus what is stored. */
  watchSink(sink: SinkView, endOffsets: EndOffsets): void {
    const r = this.registry;
    const s = sink.stats;
    mirroredCounter(r, 'auditflow_sink_events_stored_total', 'Events written to the store', () => s.inserted);
    mirroredCounter(r, 'auditflow_sink_duplicates_total', 'Events dropped as already stored (same tenant and id)', () => s.duplicates);
    mirroredCounter(r, 'auditflow_sink_dead_letters_total', 'Messages sent to the dead-letter topic', () => s.deadLettered);
    mirroredCounter(r, 'auditflow_sink_rerouted_total', 'Messages re-produced to their tenant\'s partition', () => s.rerouted);
    mirroredCounter(r, 'auditflow_sink_replayed_skipped_total', 'Re-delivered messages skipped because the store already held them', () => s.skippedReplayed);
    mirroredCounter(r, 'auditflow_sink_offset_gaps_total', 'Log offsets skipped (transaction markers, or retention deleting unread data)', () => s.offsetGaps);
    mirroredCounter(r, 'auditflow_sink_batches_total', 'Batches written and committed', () => s.batches);
    mirroredCounter(r, 'auditflow_sink_blocked_seconds_total', 'Time intake waited for the write in flight (backpressure)', () => s.blockedMs / 1000);
    new Gauge({
      name: 'auditflow_sink_lag_messages', help: 'Messages in the log not yet stored: durable end offset minus the next offset to store, per partition',
      labelNames: ['topic', 'partition'], registers: [r],
      async collect() {
        this.reset();
        const byTopic = new Map<string, SinkPosition[]>();
        for (const p of sink.positions()) {
          const list = byTopic.get(p.topic);
          if (list) list.push(p);
          else byTopic.set(p.topic, [p]);
        }
        await Promise.all([...byTopic].map(async ([topic, positions]) => {
          let ends: Map<number, bigint>;
          try {
            ends = await withTimeout(endOffsets(topic), END_OFFSETS_TIMEOUT_MS, `end offsets of ${topic}`);
          } catch {
            return; // the log is unreachable: no value rather than a stale one (/readyz says why)
          }
          for (const p of positions) {
            const end = ends.get(p.partition);
            if (end === undefined) continue;
            const lag = end - (p.storedUpTo + 1n);
            this.set({ topic, partition: String(p.partition) }, Number(lag > 0n ? lag : 0n));
          }
        }));
      },
    });
  }

  watchSelfAudit(stats: SelfAuditStats): void {
    const r = this.registry;
    mirroredCounter(r, 'auditflow_self_audit_recorded_total', 'Self-audit records appended to the log', () => stats.recorded);
    mirroredCounter(r, 'auditflow_self_audit_dropped_total', 'Self-audit records dropped (buffer full)', () => stats.dropped);
    mirroredCounter(r, 'auditflow_self_audit_failed_appends_total', 'Self-audit appends that failed and were retried', () => stats.failedAppends);
  }

  /** The realtime edge (api/realtime/): open streams and sockets, frames, slow clients, the feed. */
  watchRealtime(v: RealtimeView): void {
    const r = this.registry;
    new Gauge({
      name: 'auditflow_realtime_connections', help: 'Open realtime connections, by kind (sse, sync_ws, ui_ws)', labelNames: ['kind'], registers: [r],
      collect() {
        const ws = v.sockets();
        this.set({ kind: 'sse' }, v.sse.open);
        this.set({ kind: 'sync_ws' }, ws.sync);
        this.set({ kind: 'ui_ws' }, ws.ui);
      },
    });
    mirroredCounter(r, 'auditflow_realtime_sse_frames_total', 'SSE event frames sent (live and replayed)', () => v.sse.delivered);
    mirroredCounter(r, 'auditflow_realtime_sse_replayed_total', 'SSE event frames read from the store (Last-Event-ID resume, catch-up)', () => v.sse.replayed);
    mirroredCounter(r, 'auditflow_realtime_sse_lagged_total', 'Times an SSE client fell behind the live tail and caught up from the store', () => v.sse.lagged);
    mirroredCounter(r, 'auditflow_realtime_ws_frames_total', 'WebSocket frames sent', () => v.hub.framesSent);
    mirroredCounter(r, 'auditflow_realtime_ws_slow_closed_total', 'WebSockets closed past their send buffer (4008)', () => v.hub.slowClosed);
    mirroredCounter(r, 'auditflow_realtime_ws_dead_total', 'WebSockets terminated for not answering a ping', () => v.hub.deadTerminated);
    mirroredCounter(r, 'auditflow_realtime_feed_rows_total', 'Rows the realtime feed handed to the streams', () => v.feed.rows);
    mirroredCounter(r, 'auditflow_realtime_feed_healed_total', 'Rows the feed fetched from the store because their readable record was lost', () => v.feed.healed);
  }

  /**
   * SIEM forwarding, per destination held by this process: lag (summed over its partitions, the
   * seconds maxed) and the cumulative counters the health endpoint reports.
   */
  watchForwarders(v: ForwardersView): void {
    const r = this.registry;
    const labelNames = ['destination', 'type'] as const;
    const each = (fn: (labels: { destination: string; type: string }, sum: (k: 'lagEvents' | 'lagSeconds' | 'delivered' | 'deadLettered') => number, max: (k: 'lagSeconds') => number, retries: number) => void) => {
      for (const d of v.views()) {
        const sum = (k: 'lagEvents' | 'lagSeconds' | 'delivered' | 'deadLettered') => d.reports.reduce((a, x) => a + x[k], 0);
        const max = (k: 'lagSeconds') => d.reports.reduce((a, x) => Math.max(a, x[k]), 0);
        fn({ destination: d.destinationId, type: d.type }, sum, max, d.retries);
      }
    };
    const gauge = (name: string, help: string, read: (sum: (k: 'lagEvents' | 'delivered' | 'deadLettered') => number, max: (k: 'lagSeconds') => number) => number) =>
      new Gauge({ name, help, labelNames, registers: [r], collect() { this.reset(); each((l, sum, max) => this.set(l, read(sum, max))); } });
    const counter = (name: string, help: string, read: (sum: (k: 'delivered' | 'deadLettered') => number, retries: number) => number) =>
      new Counter({ name, help, labelNames, registers: [r], collect() { this.reset(); each((l, sum, _max, retries) => this.inc(l, read(sum, retries))); } });
    gauge('auditflow_siem_lag_events', 'Events in the log not yet delivered to the destination', (sum) => sum('lagEvents'));
    gauge('auditflow_siem_lag_seconds', 'Age of the oldest event not yet delivered to the destination', (_sum, max) => max('lagSeconds'));
    counter('auditflow_siem_delivered_events_total', 'Events the destination accepted', (sum) => sum('delivered'));
    counter('auditflow_siem_dead_lettered_events_total', 'Events the destination refused, kept in its dead letters', (sum) => sum('deadLettered'));
    counter('auditflow_siem_retries_total', 'Delivery attempts retried (5xx, 429, timeouts, connection errors) since the process started', (_sum, retries) => retries);
  }

  /**
   * Consumer groups and the log's retention (infra/log/retention.ts), by group and topic: positions
   * found below the earliest retained offset (the consumer was stopped or read on, never silently),
   * and records retention deleted before the group read them.
   */
  watchLogRetention(stats: { counts(): { group: string; topic: string; outOfRetention: number; lostRecords: number }[] }): void {
    const labelNames = ['group', 'topic'] as const;
    const counter = (name: string, help: string, read: (c: { outOfRetention: number; lostRecords: number }) => number) =>
      new Counter({ name, help, labelNames, registers: [this.registry], collect() { this.reset(); for (const c of stats.counts()) this.inc({ group: c.group, topic: c.topic }, read(c)); } });
    counter('auditflow_log_out_of_retention_total', 'Times a consumer group\'s position was found below the earliest retained offset (LOG_POSITION_OUT_OF_RETENTION)', (c) => c.outOfRetention);
    counter('auditflow_log_retention_lost_records_total', 'Records the embedded log\'s size/age bound deleted before the group had read them', (c) => c.lostRecords);
  }

  /** The processor's readable-topic publisher (distributed). */
  watchReadablePublisher(stats: { produced: number; dropped: number }): void {
    mirroredCounter(this.registry, 'auditflow_readable_published_total', 'Inserted batches produced to the readable topic', () => stats.produced);
    mirroredCounter(this.registry, 'auditflow_readable_dropped_total', 'Inserted batches not produced to the readable topic (API nodes heal them from the store)', () => stats.dropped);
  }
}

/** The SIEM forwarders of this process (infra/siem/forwarder-service.ts), labelled by destination. */
export interface ForwardersView {
  views(): { destinationId: string; type: string; retries: number; reports: { lagEvents: number; lagSeconds: number; delivered: number; deadLettered: number }[] }[];
}

export interface RealtimeView {
  sockets(): { sync: number; ui: number };
  sse: { open: number; delivered: number; replayed: number; lagged: number };
  hub: { framesSent: number; slowClosed: number; deadTerminated: number };
  feed: { rows: number; healed: number };
}
