// The two deployments the integration suite runs the same pipeline tests on:
//  (a) embedded: one `auditflow all` process on chDB and the embedded log;
//  (b) distributed: the librdkafka mock cluster + ClickHouse HTTP over chDB, with auditflow's
//      roles as separate processes (ingest, processor, api).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { issueToken } from '../../infra/auth/jwt.ts';
import { startAuditflow, type AuditflowProcess } from './auditflow-process.ts';
import { startKafkaMock } from './kafka-mock.ts';
import { startClickHouseHttp } from './clickhouse-http-server.ts';
import { startSchemaRegistry } from './schema-registry.ts';

export interface Topology {
  name: 'embedded' | 'distributed';
  /** Base URL of the ingest edge and of the read API (the same process when embedded). */
  ingestUrl(): string;
  apiUrl(): string;
  token(tenant: string, scope: string, extra?: Record<string, unknown>): Promise<string>;
  /** Distributed: one more API process (another node behind the load balancer); its base URL. */
  startApi?(): Promise<string>;
  /** Distributed: one more `auditflow forwarder` process (SIEM forwarding; several share each destination's group). */
  startForwarder?(env?: Record<string, string>): Promise<AuditflowProcess>;
  /** Crash the component that writes to the store (the processor), then start it again. */
  killProcessor(): Promise<void>;
  /** SIGTERM the processor (graceful drain); resolves with its exit code. */
  terminateProcessor(): Promise<number | null>;
  restartProcessor(): Promise<void>;
  env: Record<string, string>;
  /** The tail of every auditflow process's output (for failure messages). */
  outputs(): string;
  brokers?: string[];
  clickhouseUrl?: string;
  schemaRegistryUrl?: string;
  stop(): Promise<void>;
}

export const TOPICS = { audit: 'it.audit-events', changes: 'it.changes', dead: 'it.dead-letters', readable: 'it.readable' };

export async function startEmbedded(extraEnv: Record<string, string> = {}): Promise<Topology> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'af-embedded-'));
  const secret = randomBytes(32).toString('hex');
  const env = { DATA_DIR: dataDir, AUTH_JWT_SECRET: secret, SINK_BATCH_MS: '50', ...extraEnv };
  let proc: AuditflowProcess = await startAuditflow('all', env);
  let port = new URL(proc.url!).port;
  const all = [proc];
  return {
    name: 'embedded',
    env,
    ingestUrl: () => proc.url!,
    apiUrl: () => proc.url!,
    token: (tenant, scope, extra = {}) => issueToken(secret, { sub: 'test', tid: tenant, scope, ...extra }),
    killProcessor: () => proc.kill(),
    terminateProcessor: () => proc.stop(),
    restartProcessor: async () => { proc = await startAuditflow('all', { ...env, PORT: port }); port = new URL(proc.url!).port; all.push(proc); },
    outputs: () => tails(all),
    stop: async () => { await proc.stop(); rmSync(dataDir, { recursive: true, force: true }); },
  };
}

export async function startDistributed(extraEnv: Record<string, string> = {}, opts: { schemaRegistry?: boolean } = {}): Promise<Topology> {
  const registry = opts.schemaRegistry ? await startSchemaRegistry() : null;
  const kafka = await startKafkaMock([
    { name: TOPICS.audit, partitions: 3 }, { name: TOPICS.changes, partitions: 3 }, { name: TOPICS.dead, partitions: 1 },
    { name: TOPICS.readable, partitions: 2 },
  ]);
  const ch = await startClickHouseHttp();
  const secret = randomBytes(32).toString('hex');
  const env = {
    AUDITFLOW_MODE: 'distributed',
    KAFKA_BROKERS: kafka.brokers.join(','),
    KAFKA_TOPIC_AUDIT_EVENTS: TOPICS.audit, KAFKA_TOPIC_CHANGES: TOPICS.changes, KAFKA_TOPIC_DEAD_LETTERS: TOPICS.dead,
    KAFKA_TOPIC_READABLE: TOPICS.readable,
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    CLICKHOUSE_URL: ch.url,
    AUTH_JWT_SECRET: secret,
    SINK_BATCH_MS: '50',
    ...(registry ? { SCHEMA_REGISTRY_URL: registry.url } : {}),
    ...extraEnv,
  };
  const ingest = await startAuditflow('ingest', env);
  let processor = await startAuditflow('processor', env);
  const api = await startAuditflow('api', env);
  const all = [ingest, processor, api];
  const extraApis: AuditflowProcess[] = [];
  return {
    name: 'distributed',
    env,
    brokers: kafka.brokers,
    clickhouseUrl: ch.url,
    ...(registry ? { schemaRegistryUrl: registry.url } : {}),
    ingestUrl: () => ingest.url!,
    apiUrl: () => api.url!,
    token: (tenant, scope, extra = {}) => issueToken(secret, { sub: 'test', tid: tenant, scope, ...extra }),
    killProcessor: () => processor.kill(),
    terminateProcessor: () => processor.stop(),
    restartProcessor: async () => { processor = await startAuditflow('processor', env); all.push(processor); },
    startApi: async () => {
      const p = await startAuditflow('api', env);
      all.push(p);
      extraApis.push(p);
      return p.url!;
    },
    startForwarder: async (more = {}) => {
      const p = await startAuditflow('forwarder', { ...env, ...more });
      all.push(p);
      extraApis.push(p);
      return p;
    },
    outputs: () => tails(all),
    stop: async () => {
      await Promise.allSettled([ingest.stop(), processor.stop(), api.stop(), ...extraApis.map((p) => p.stop())]);
      await ch.stop();
      await kafka.stop();
      await registry?.stop();
    },
  };
}

function tails(procs: AuditflowProcess[]): string {
  return procs.map((p, i) => `--- process ${i} (pid ${p.pid}) ---\n${p.output().slice(-4000)}`).join('\n');
}

export async function until<T>(fn: () => Promise<T | undefined | false>, ms = 30_000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
