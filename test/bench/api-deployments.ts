// bench:api's two deployments, each started on a store that already holds the history:
//   embedded     one `auditflow all` process on DATA_DIR, whose clickhouse/ the preload child
//                filled and whose log/ it left at the history's end (./api-store-child.ts)
//   distributed  the librdkafka mock cluster + ClickHouse HTTP over chDB on the preloaded data
//                directory, and auditflow's ingest / processor / api roles (as in
//                test/support/topologies.ts, which starts on an empty store)
// The store is filled while nothing runs on it; the system then starts on that data, and the
// sink reads each tenant's max(seq) (and the stored offsets) at assignment, so ingest continues
// the numbering.
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { parseConfig } from '../../infra/config.ts';
import { startAuditflow, type AuditflowProcess } from '../support/auditflow-process.ts';
import { startClickHouseHttp, type ClickHouseHttpServer } from '../support/clickhouse-http-server.ts';
import { startKafkaMock, type KafkaMock } from '../support/kafka-mock.ts';
import { TOPICS } from '../support/topologies.ts';
import type { HistoryPlan } from './api-history.ts';
import { runBenchChild } from './bench-child.ts';
import type { PreloadInput, PreloadResult, RawInput } from './api-store-child.ts';
import type { EngineInput } from './engine-contention.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Runs ./api-store-child.ts with `input`; resolves with its RESULT line. */
export function runStoreChild<T>(input: PreloadInput | RawInput | (EngineInput & { mode: 'engine' })): Promise<T> {
  return runBenchChild<T>(path.join(HERE, 'api-store-child.ts'), input);
}

export interface Running {
  name: 'embedded' | 'distributed';
  apiUrl: string;
  ingestUrl: string;
  /** auditflow's processes and the store's, for CPU accounting */
  processes(): { pid: number; label: string }[];
  /** first start → every role listening and the sink's partitions assigned (s) */
  startSeconds: number;
  outputs(): string;
  stop(): Promise<void>;
}

export interface Prepared {
  name: 'embedded' | 'distributed';
  preload: PreloadResult;
  secret: string;
  /** where the raw ceiling reads: the data directory (chDB) or the ClickHouse HTTP endpoint */
  rawStore: RawInput['store'];
  start(): Promise<Running>;
  /** removes what prepare() created (after stop, or when start failed) */
  cleanup(): Promise<void>;
}

export interface DeploymentOptions {
  plan: HistoryPlan;
  chunkRows: number;
  /** settings for auditflow (sink batch sizes, rate limits off, …) */
  env: Record<string, string>;
  startTimeoutMs: number;
  /** keep each preloaded store here (by deployment, plan and generator version) and start later runs on a copy */
  cacheDir?: string | undefined;
}

/** Bump when the generated history changes: a cached store of another version is not reused. */
const HISTORY_VERSION = 1;

/**
 * The preload, or a copy of the same preload made before: preloading 10M events takes minutes,
 * copying the store seconds. The copy is of a store nothing has run on yet.
 */
async function preloadOrCopy(o: DeploymentOptions, name: string, target: string, preload: () => Promise<PreloadResult>): Promise<PreloadResult> {
  if (!o.cacheDir) return preload();
  const p = o.plan;
  const key = `${name}-v${HISTORY_VERSION}-${p.audit.reduce((a, b) => a + b, 0)}-${p.changes.reduce((a, b) => a + b, 0)}-${p.tenants.length}t-${p.days}d-${p.partitions}p-${p.offsets}`;
  const dir = path.join(o.cacheDir, key);
  const meta = path.join(dir, 'preload.json');
  if (existsSync(meta)) {
    cpSync(path.join(dir, 'data'), target, { recursive: true });
    return JSON.parse(readFileSync(meta, 'utf8')) as PreloadResult;
  }
  const r = await preload();
  mkdirSync(dir, { recursive: true });
  cpSync(target, path.join(dir, 'data'), { recursive: true });
  writeFileSync(meta, JSON.stringify({ ...r, cachedAt: new Date().toISOString() }));
  return r;
}

const DEFAULTS = parseConfig({}, 'all');

export async function prepareEmbedded(o: DeploymentOptions): Promise<Prepared> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'af-bench-api-emb-'));
  const secret = randomBytes(32).toString('hex');
  const topics = DEFAULTS.kafka.topics;
  try {
    const preload = await preloadOrCopy(o, 'embedded', dataDir, () => runStoreChild<PreloadResult>({
      mode: 'preload', dir: path.join(dataDir, 'clickhouse'), plan: o.plan, chunkRows: o.chunkRows,
      log: { dir: path.join(dataDir, 'log'), topics: { audit_events: topics.auditEvents, change_log: topics.changes }, group: DEFAULTS.kafka.groupId },
    }));
    return {
      name: 'embedded', preload, secret, rawStore: { chdb: path.join(dataDir, 'clickhouse') },
      start: async () => {
        const t0 = performance.now();
        const proc = await startAuditflow('all', { DATA_DIR: dataDir, AUTH_JWT_SECRET: secret, ...o.env }, o.startTimeoutMs);
        return {
          name: 'embedded', apiUrl: proc.url!, ingestUrl: proc.url!, startSeconds: (performance.now() - t0) / 1000,
          processes: () => [{ pid: proc.pid, label: 'auditflow all' }],
          outputs: () => proc.output().slice(-4000),
          stop: async () => { await proc.stop(); },
        };
      },
      cleanup: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  } catch (e) {
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Offset 0 of every partition: the history's rows carry log_offset 0 (a fresh topic cannot start
 * past it), so the sink takes offset 0 as stored and skips it. A filler record takes that offset
 * and nothing of the bench's is lost to it.
 */
async function fillOffsetZero(brokers: string[], topics: { name: string; partitions: number }[]): Promise<void> {
  const kafka = new Kafka({ brokers, clientId: 'bench-api-filler', logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: false });
  await producer.connect();
  try {
    for (const t of topics) {
      for (let p = 0; p < t.partitions; p++) {
        await producer.send({ topic: t.name, acks: -1, messages: [{ partition: p, key: 'bench-filler', value: 'offset 0 is the preloaded history\'s' }] });
      }
    }
  } finally {
    await producer.disconnect();
  }
}

export async function prepareDistributed(o: DeploymentOptions): Promise<Prepared> {
  const chDir = mkdtempSync(path.join(os.tmpdir(), 'af-bench-api-ch-'));
  const secret = randomBytes(32).toString('hex');
  let kafka: KafkaMock | null = null;
  let ch: ClickHouseHttpServer | null = null;
  const cleanup = async () => {
    await ch?.stop();
    await kafka?.stop();
    rmSync(chDir, { recursive: true, force: true });
  };
  try {
    const preload = await preloadOrCopy(o, 'distributed', chDir, () => runStoreChild<PreloadResult>({ mode: 'preload', dir: chDir, plan: o.plan, chunkRows: o.chunkRows }));
    const topicList = [{ name: TOPICS.audit, partitions: 3 }, { name: TOPICS.changes, partitions: 3 }, { name: TOPICS.dead, partitions: 1 }, { name: TOPICS.readable, partitions: 2 }];
    kafka = await startKafkaMock(topicList);
    ch = await startClickHouseHttp({ dataDir: chDir, startTimeoutMs: o.startTimeoutMs });
    await fillOffsetZero(kafka.brokers, topicList.slice(0, 2));
    const k = kafka;
    const c = ch;
    return {
      name: 'distributed', preload, secret, rawStore: { http: c.url, pid: c.pid },
      start: async () => {
        const env = {
          AUDITFLOW_MODE: 'distributed', KAFKA_BROKERS: k.brokers.join(','),
          KAFKA_TOPIC_AUDIT_EVENTS: TOPICS.audit, KAFKA_TOPIC_CHANGES: TOPICS.changes, KAFKA_TOPIC_DEAD_LETTERS: TOPICS.dead, KAFKA_TOPIC_READABLE: TOPICS.readable,
          CLICKHOUSE_URL: c.url, AUTH_JWT_SECRET: secret, ...o.env,
        };
        const t0 = performance.now();
        const procs: AuditflowProcess[] = [];
        try {
          procs.push(await startAuditflow('ingest', env, o.startTimeoutMs));
          procs.push(await startAuditflow('processor', env, o.startTimeoutMs));
          procs.push(await startAuditflow('api', env, o.startTimeoutMs));
        } catch (e) {
          await Promise.allSettled(procs.map((p) => p.stop()));
          throw e;
        }
        const [ingest, processor, api] = procs as [AuditflowProcess, AuditflowProcess, AuditflowProcess];
        return {
          name: 'distributed', apiUrl: api.url!, ingestUrl: ingest.url!, startSeconds: (performance.now() - t0) / 1000,
          processes: () => [
            { pid: ingest.pid, label: 'auditflow ingest' }, { pid: processor.pid, label: 'auditflow processor' },
            { pid: api.pid, label: 'auditflow api' }, { pid: c.pid, label: 'clickhouse-http (chDB)' },
          ],
          outputs: () => procs.map((p, i) => `--- ${['ingest', 'processor', 'api'][i]} ---\n${p.output().slice(-3000)}`).join('\n'),
          stop: async () => { await Promise.allSettled(procs.map((p) => p.stop())); },
        };
      },
      cleanup,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
