// Builds the process's SIEM forwarders on whichever log it runs (embedded or Kafka): the log
// admin, a consumer per destination group, the senders, the metrics.
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { EmbeddedLogAdmin } from '../log/embedded-admin.ts';
import { EmbeddedLogConsumer } from '../log/embedded-consumer.ts';
import type { EmbeddedLog } from '../log/embedded-log.ts';
import { KafkaLogAdmin } from '../log/kafka-admin.ts';
import { KafkaLogConsumer } from '../log/kafka-consumer.ts';
import type { LogProducer } from '../log/log.ts';
import type { Metrics } from '../metrics.ts';
import type { RetentionStats } from '../log/retention.ts';
import type { Store } from '../store/store.ts';
import type { MessageCodec } from '../../schemas/message-codec.ts';
import { ForwarderService } from './forwarder-service.ts';
import { createSender } from './sender-factory.ts';

export async function startForwarders(opts: {
  config: Config; store: Store; producer: LogProducer; codec: MessageCodec; embeddedLog: EmbeddedLog | null; logger: Logger; metrics: Metrics;
  /** The process's out-of-retention counters (embedded groups count into the log's own). */
  retentionStats: RetentionStats;
}): Promise<ForwarderService> {
  const { config, embeddedLog } = opts;
  const log = opts.logger.child({ component: 'siem-forwarder' });
  const topic = config.kafka.topics.auditEvents;
  const kafka = { brokers: [...config.kafka.brokers], clientId: `${config.kafka.clientId}-siem` };
  const admin = embeddedLog ? new EmbeddedLogAdmin(embeddedLog) : new KafkaLogAdmin(kafka);
  const service = new ForwarderService({
    siem: config.siem, store: opts.store, topic, admin, codec: opts.codec, logger: log,
    partitionCount: (t) => opts.producer.partitionCount(t),
    // A position out of retention stops the destination's consumer (the default): it is reported, never skipped.
    consumerFor: (group) => embeddedLog
      ? new EmbeddedLogConsumer(embeddedLog, { group, topics: [topic], maxBatchMessages: config.siem.batchEvents * 4 })
      : new KafkaLogConsumer({ ...kafka, groupId: group, topics: [topic], sessionTimeoutMs: config.kafka.sessionTimeoutMs, maxWaitTimeInMs: config.kafka.maxWaitMs, retentionStats: opts.retentionStats }),
    senderFor: (d) => createSender(d, { timeoutMs: config.siem.timeoutMs, logger: log }),
  });
  opts.metrics.watchForwarders(service);
  await service.start();
  return service;
}
