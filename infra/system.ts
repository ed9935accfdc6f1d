// Wiring: the same components assembled for each deployment and role.
//  embedded (default):  chDB store + durable embedded log + sink + HTTP edge, one process.
//  distributed:         Kafka + ClickHouse over HTTP; `ingest`, `processor`, `api`, `forwarder` or `all`.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { buildApp } from '../api/app.ts';
import { LogSelfAudit } from '../api/self-audit.ts';
import { StoreSink } from '../processors/store-sink.ts';
import { EdgeNotices } from '../api/realtime/edge-notices.ts';
import { ReadableFeed } from '../api/realtime/readable-feed.ts';
import { ReadablePublisher, ReadableTopicReader } from '../processors/readable-topic.ts';
import { WriteSignal } from '../processors/write-signal.ts';
import type { ExportWorker } from '../processors/export/export-worker.ts';
import { exportServices, startExportWorker } from './export-services.ts';
import { avroCodec, jsonCodec, type MessageCodec } from '../schemas/message-codec.ts';
import { createAuthenticator, issueToken } from './auth/jwt.ts';
import type { Config } from './config.ts';
import { EmbeddedLog, EmbeddedLogConsumer, EmbeddedLogProducer } from './log/embedded-log.ts';
import { KafkaLogConsumer, KafkaLogProducer } from './log/kafka-log.ts';
import { RetentionStats } from './log/retention.ts';
import type { LogConsumer, LogProducer } from './log/log.ts';
import { Metrics, type EndOffsets } from './metrics.ts';
import { ChdbStore } from './store/chdb-store.ts';
import { ClickHouseHttpStore } from './store/clickhouse-http-store.ts';
import { migrate } from './store/migrations.ts';
import { createSender } from './siem/sender-factory.ts';
import type { ForwarderService } from './siem/forwarder-service.ts';
import { startForwarders } from './siem/forwarder-start.ts';
import type { Store } from './store/store.ts';

export interface RunningSystem {
  config: Config;
  /** The HTTP edge; on the processor role only /healthz, /readyz and /metrics. */
  app: FastifyInstance | null;
  /** Where the HTTP edge listens. */
  url: string | null;
  sink: StoreSink | null;
  /** A ready-to-use token, when the embedded mode generated its own secret. */
  startupToken: string | null;
  /**
   * Rejects if the store sink stops for good (a non-retriable error): the process should then
   * exit and be restarted, since it would otherwise go on accepting events it never stores.
   */
  fatal: Promise<never>;
  stop(): Promise<void>;
}

/** How long an API process waits at start-up for its readable-topic reader to join (a new group joins in seconds). */
const READABLE_JOIN_WAIT_MS = 30_000;

/**
 * The realtime edge's sources. Embedded: the sink's own signal and in-process notices.
 * Distributed: a reader of the readable topic with a consumer group of its own (every node reads
 * every record, from the end at start-up) feeding a local signal, and notices through the topic.
 */
async function startRealtimeSources(config: Config, store: Store, producer: LogProducer, sinkSignal: WriteSignal | undefined, logger: Logger) {
  const log = logger.child({ component: 'realtime' });
  let feed: ReadableFeed;
  let notices: EdgeNotices;
  let consumer: KafkaLogConsumer | null = null;
  if (sinkSignal) {
    feed = new ReadableFeed(sinkSignal, store, log);
    notices = new EdgeNotices();
  } else {
    const local = new WriteSignal();
    feed = new ReadableFeed(local, store, log);
    notices = new EdgeNotices({ producer, topic: config.kafka.topics.readable });
    const n = notices;
    consumer = new KafkaLogConsumer({
      brokers: [...config.kafka.brokers], clientId: `${config.kafka.clientId}-edge`,
      groupId: `${config.kafka.groupId}-edge-${randomBytes(6).toString('hex')}`, topics: [config.kafka.topics.readable],
      sessionTimeoutMs: config.kafka.sessionTimeoutMs, maxWaitTimeInMs: config.kafka.maxWaitMs, fromBeginning: false,
      // A live tail: what it missed the feed heals from the store.
      outOfRetention: 'continue',
    });
    await consumer.run(new ReadableTopicReader(local, (x) => n.deliver(x)));
    // The stored positions are read once the reader has joined (it reads from the end from then
    // on), so what was written before comes from the store and what after from the topic. Not
    // joined in time: serve anyway (the feed heals a tenant's gap from the store on its next row).
    const joined = await Promise.race([consumer.joined.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), READABLE_JOIN_WAIT_MS).unref())]);
    if (!joined) log.warn({ waitedMs: READABLE_JOIN_WAIT_MS }, 'the readable-topic reader has not joined its group yet; starting anyway');
  }
  await feed.start();
  const c = consumer;
  return { feed, notices, stop: async () => { feed.close(); await c?.stop(); } };
}

/** Embedded mode without AUTH_JWT_SECRET: generate one, keep it under DATA_DIR (0600). */
function embeddedSecret(dataDir: string): string {
  const file = path.join(dataDir, 'auth-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, secret, { mode: 0o600 });
  chmodSync(file, 0o600);
  return secret;
}

export async function startSystem(
  config: Config,
  logger: Logger = pino({ level: config.logLevel }),
  /** The process's one metrics registry, read at /metrics. */
  metrics: Metrics = new Metrics(),
): Promise<RunningSystem> {
  const role = config.role;
  const embedded = config.mode === 'embedded';
  const needsStore = role !== 'ingest';
  const needsSink = role === 'all' || role === 'processor';
  // SIEM forwarders: one consumer group per destination (infra/siem/forwarder-service.ts).
  const needsForwarders = role === 'all' || role === 'forwarder';
  const needsApp = role !== 'processor' && role !== 'forwarder';
  const cleanups: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const c of cleanups.reverse()) await c().catch((e: unknown) => logger.error({ err: e }, 'shutdown step failed'));
  };

  try {
    let jwtSecret = config.auth.jwtSecret;
    let startupToken: string | null = null;
    if (embedded) mkdirSync(config.dataDir, { recursive: true });
    if (embedded && !jwtSecret && !config.auth.jwksUrl) {
      jwtSecret = embeddedSecret(config.dataDir);
      startupToken = await issueToken(jwtSecret, {
        sub: 'admin', tid: 'default', platform: true,
        scope: 'audit:write audit:read audit:export audit:admin drive:sync drive:all',
      });
    }

    let store: Store | null = null;
    if (needsStore) {
      store = embedded
        ? new ChdbStore(path.join(config.dataDir, 'clickhouse'))
        : new ClickHouseHttpStore({ url: config.clickhouse.url!, username: config.clickhouse.username, password: config.clickhouse.password, database: config.clickhouse.database });
      const s = store;
      cleanups.push(() => s.close());
      const applied = await migrate(store);
      if (applied.length > 0) logger.info({ applied }, 'migrations applied');
    }

    let producer: LogProducer | null = null;
    let embeddedLog: EmbeddedLog | null = null;
    if (embedded) {
      embeddedLog = new EmbeddedLog({
        dir: path.join(config.dataDir, 'log'), partitions: config.embeddedLog.partitions, segmentBytes: config.embeddedLog.segmentBytes, tailBytes: config.embeddedLog.tailBytes,
        // Retention follows the slowest group within these bounds, which never pass the store sink:
        // until an event is stored, the log is its only copy.
        retention: { maxBytes: config.embeddedLog.retentionBytes, maxAgeMs: config.embeddedLog.retentionMs, protectedGroups: [config.kafka.groupId] },
      });
      const l = embeddedLog;
      cleanups.push(async () => l.close());
    }
    // Consumer groups found out of retention, and records lost to its bounds (one set per process).
    const retentionStats = embeddedLog?.retentionStats ?? new RetentionStats();
    metrics.watchLogRetention(retentionStats);
    // Every role writes to the log: ingest its events, the processor dead letters, the API its self-audit.
    // endOffsets: the log's durable end per partition, for the sink's lag at scrape time.
    let endOffsets: EndOffsets;
    if (embeddedLog) {
      const l = embeddedLog;
      producer = new EmbeddedLogProducer(l);
      endOffsets = async (topic) => new Map(Array.from({ length: l.opts.partitions }, (_, p) => [p, l.partition(topic, p).durableEnd]));
    } else {
      const k = new KafkaLogProducer({ brokers: [...config.kafka.brokers], clientId: `${config.kafka.clientId}-producer` });
      producer = k;
      endOffsets = (topic) => k.endOffsets(topic);
    }
    const prodToClose = producer;
    cleanups.push(() => prodToClose.close());

    const topics = config.kafka.topics;
    const codec: MessageCodec = config.kafka.schemaRegistryUrl
      ? await avroCodec(config.kafka.schemaRegistryUrl, { audit: `${topics.auditEvents}-value`, change: `${topics.changes}-value` })
      : jsonCodec();

    // What the sink made readable: told in-process (embedded, and the readable topic's publisher).
    const signal = needsSink ? new WriteSignal() : undefined;
    if (signal && producer && !embedded) {
      // Distributed: every API node learns it from the readable topic (processors/readable-topic.ts).
      const pub = new ReadablePublisher(producer, topics.readable, signal, logger.child({ component: 'readable-publisher' }));
      metrics.watchReadablePublisher(pub.stats);
      // Registered before the sink's drain, so it runs after it (cleanups run in reverse) and sends what the drain wrote.
      cleanups.push(() => pub.close());
    }
    let sink: StoreSink | null = null;
    let fatal: Promise<never> = new Promise<never>(() => undefined);
    if (needsSink && store && producer) {
      let consumer: LogConsumer;
      if (embeddedLog) {
        consumer = new EmbeddedLogConsumer(embeddedLog, { group: config.kafka.groupId, topics: [topics.auditEvents, topics.changes] });
      } else {
        consumer = new KafkaLogConsumer({
          brokers: [...config.kafka.brokers], clientId: `${config.kafka.clientId}-sink`, groupId: config.kafka.groupId,
          topics: [topics.auditEvents, topics.changes], sessionTimeoutMs: config.kafka.sessionTimeoutMs,
          maxWaitTimeInMs: config.kafka.maxWaitMs,
          // Kafka owns retention: past a gap the sink reads on and counts it (stats.offsetGaps), as before.
          outOfRetention: 'continue', retentionStats,
        });
      }
      const prod = producer;
      sink = new StoreSink({
        store, producer: prod, codec,
        commit: (t, p, o) => consumer.commit(t, p, o),
        topics: [
          { topic: topics.auditEvents, kind: 'audit', table: 'audit_events' },
          { topic: topics.changes, kind: 'change', table: 'change_log' },
        ],
        deadLetterTopic: topics.deadLetters,
        batch: config.sink,
        logger: logger.child({ component: 'store-sink' }),
        signal,
        onInsert: (table, seconds) => metrics.insertDuration.observe({ table }, seconds),
      });
      metrics.watchSink(sink, endOffsets);
      const s = sink;
      // SIGTERM: flush and commit what is buffered, then leave the group.
      cleanups.push(async () => {
        s.stop();
        await s.drain();
        await consumer.stop();
      });
      await consumer.run(sink);
      if (consumer instanceof EmbeddedLogConsumer) {
        const loop = consumer.done();
        fatal = loop.then(() => new Promise<never>(() => undefined));
      }
    }

    // Exports: the API queues them, the workers run beside the sink (they read the store).
    const exports = store && producer ? exportServices(config, producer, codec) : undefined;
    let exportWorker: ExportWorker | null = null;
    if (needsSink && store && exports) {
      const w = startExportWorker(config, store, exports, signal, logger);
      exportWorker = w;
      cleanups.push(() => w.stop());
    }

    let forwarders: ForwarderService | null = null;
    if (needsForwarders && store && producer) {
      const f = await startForwarders({ config, store, producer, codec, embeddedLog, logger, metrics, retentionStats });
      forwarders = f;
      cleanups.push(() => f.stop());
    }

    let app: FastifyInstance;
    if (needsApp) {
      const auth = createAuthenticator({ ...config.auth, jwtSecret });
      let selfAudit: LogSelfAudit | undefined;
      if (store && producer) {
        const sa = new LogSelfAudit(producer, topics.auditEvents, logger.child({ component: 'self-audit' }));
        selfAudit = sa;
        metrics.watchSelfAudit(sa.stats);
        // Runs before the producer closes (cleanups run in reverse order of registration).
        cleanups.push(() => sa.close());
      }
      let realtime: { feed: ReadableFeed; notices: EdgeNotices } | undefined;
      if (store && producer) {
        const rt = await startRealtimeSources(config, store, producer, embedded ? signal : undefined, logger);
        cleanups.push(rt.stop);
        realtime = rt;
      }
      app = await buildApp({
        config, auth, producer: role === 'api' ? undefined : producer ?? undefined, codec, store: store ?? undefined,
        selfAudit, signal: needsSink ? signal : undefined, realtime, logger: logger.child({ component: 'http' }),
        exports: exports ? { ...exports, onQueued: exportWorker ? () => exportWorker?.nudge() : undefined } : undefined,
        // The SIEM destinations API: its audit events go the exports' way; test sends and redrives use the real senders.
        siem: exports ? {
          appendAudit: exports.appendAudit, senderFor: (d, o) => createSender(d, { ...o, logger: logger.child({ component: 'siem-api' }) }),
          // In this process's forwarders, a change is acted on at once (elsewhere at their next poll).
          onChanged: forwarders ? () => forwarders?.nudge() : undefined,
          sendTimeoutMs: config.siem.timeoutMs, maxDestinations: config.siem.maxDestinationsPerTenant,
        } : undefined,
        service: { metrics, producer: producer ?? undefined },
        // ScaiKey's webhooks, wherever reads are served; onUserDeleted: the realtime edge closes the user's sockets.
        webhooks: store && producer ? {
          producer,
          // Every node closes the user's sockets (the notice goes through the readable topic when distributed).
          onUserDeleted: realtime ? (tenantId: string, userId: string) => realtime.notices.publish({ kind: 'user_deleted', tenantId, userId }) : undefined,
        } : undefined,
      });
    } else {
      // The processor serves no API, but is probed and scraped like every role, on PORT.
      app = await buildApp({ config, logger: logger.child({ component: 'http' }), service: { metrics, store: store ?? undefined, producer: producer ?? undefined, probesOnly: true } });
    }
    await app.listen({ host: config.host, port: config.port });
    const addr = app.server.address();
    const url = typeof addr === 'object' && addr ? `http://${config.host}:${addr.port}` : null;
    const a = app;
    // Closed first (cleanups run in reverse): in-flight ingest requests finish durably.
    cleanups.push(() => a.close());

    let stopped: Promise<void> | null = null;
    return { config, app, url, sink, startupToken, fatal, stop: () => (stopped ??= stopAll()) };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
