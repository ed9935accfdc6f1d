// What the Kafka producer, consumer and admin share: options, the kafkajs client, error mapping.
import { Kafka, logLevel as KafkaLogLevel, type Admin } from 'kafkajs';
import { AuditflowError } from '../errors.ts';
import type { OutOfRetentionPolicy } from './log.ts';
import type { RetentionStats } from './retention.ts';

export interface KafkaLogOptions {
  brokers: string[];
  clientId: string;
  /** Consumer only (required there). */
  groupId?: string;
  /** Consumer only (required there): the topics to subscribe to. */
  topics?: string[];
  /** Where a group without a committed offset starts: the beginning (default), or the end (a reader of only what comes next). */
  fromBeginning?: boolean;
  /** Consumer session timeout (kafkajs default 30 s). Rebalances against the mock cluster take about this long. */
  sessionTimeoutMs?: number;
  /** Longest a fetch waits for data (kafkajs default 5 s). */
  maxWaitTimeInMs?: number;
  logLevel?: KafkaLogLevel;
  /** Consumer only: when the group's position is below the partition's low watermark (default 'stop'). */
  outOfRetention?: OutOfRetentionPolicy;
  /** Consumer only: where out-of-retention positions are counted (for the metrics); default a private one. */
  retentionStats?: RetentionStats;
}

export function unavailable(what: string, e: unknown): AuditflowError {
  if (e instanceof AuditflowError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new AuditflowError('LOG_UNAVAILABLE', `${what}: ${msg}`, { cause: e });
}

export function checkBrokers(opts: KafkaLogOptions): void {
  if (!Array.isArray(opts.brokers) || opts.brokers.length === 0) {
    throw new AuditflowError('CONFIG_INVALID', 'Kafka: at least one broker is required');
  }
  if (!opts.clientId) throw new AuditflowError('CONFIG_INVALID', 'Kafka: clientId is required');
}

export function makeKafka(opts: KafkaLogOptions): Kafka {
  return new Kafka({ brokers: opts.brokers, clientId: opts.clientId, logLevel: opts.logLevel ?? KafkaLogLevel.WARN });
}

export const keyOf = (topic: string, partition: number): string => `${partition}\u0000${topic}`;

/** A connection made on first use, made again after a failed attempt, refused once closed. */
export class LazyConnection<T> {
  private conn: Promise<T> | null = null;
  private closed = false;

  constructor(private readonly what: string, private readonly connect: () => Promise<T>, private readonly disconnect: (c: T) => Promise<void>) {}

  get(): Promise<T> {
    if (this.closed) return Promise.reject(new AuditflowError('SHUTTING_DOWN', `${this.what} is closed`));
    this.conn ??= this.connect().catch((e: unknown) => {
      this.conn = null;
      throw unavailable(`cannot connect ${this.what}`, e);
    });
    return this.conn;
  }

  async close(): Promise<void> {
    this.closed = true;
    const c = this.conn;
    this.conn = null;
    await c?.then(this.disconnect).catch(() => undefined);
  }
}

/** kafkajs' admin client, connected on first use. */
export function lazyAdmin(kafka: Kafka): LazyConnection<Admin> {
  return new LazyConnection('the Kafka admin client', async () => {
    const admin = kafka.admin();
    await admin.connect();
    return admin;
  }, (a) => a.disconnect());
}
