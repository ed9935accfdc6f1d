// One config schema, parsed once in main from the environment, frozen, and passed down.
// A bad or missing setting stops start-up with a message naming the setting.
import { AuditflowError } from './errors.ts';

export type Role = 'all' | 'ingest' | 'processor' | 'api' | 'forwarder';
export type Mode = 'embedded' | 'distributed';

export interface Config {
  readonly mode: Mode;
  readonly role: Role;
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** Where the default secrets provider reads `<credentials_path>.json` for export destinations (infra/secrets/). */
  readonly secretsDir: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'silent';
  readonly auth: {
    readonly jwtSecret: string | undefined;
    readonly jwksUrl: string | undefined;
    readonly issuer: string | undefined;
    readonly audience: string | undefined;
  };
  readonly kafka: {
    readonly brokers: readonly string[];
    readonly clientId: string;
    readonly groupId: string;
    readonly sessionTimeoutMs: number;
    readonly maxWaitMs: number;
    /** readable: what the sink made readable, for every API node's realtime edge (processors/readable-topic.ts). */
    readonly topics: { readonly auditEvents: string; readonly changes: string; readonly deadLetters: string; readonly readable: string };
    readonly schemaRegistryUrl: string | undefined;
  };
  readonly clickhouse: {
    readonly url: string | undefined;
    readonly username: string;
    readonly password: string;
    readonly database: string;
  };
  readonly sink: {
    readonly batchRows: number;
    readonly batchBytes: number;
    readonly batchMs: number;
    /** Flush a partition as soon as it goes quiet rather than waiting out batchMs. */
    readonly flushWhenQuiet: boolean;
  };
  readonly embeddedLog: {
    readonly partitions: number; readonly segmentBytes: number; readonly tailBytes: number;
    /** Per partition, what the slowest consumer group may hold back (infra/log/retention.ts); Infinity: no bound. */
    readonly retentionBytes: number; readonly retentionMs: number;
  };
  readonly ingest: { readonly maxBodyBytes: number; readonly maxEvents: number };
  /** An export's parts (processors/export/part-writer.ts): a part ends at `rows` records or before `bytes` of uncompressed output, whichever comes first. */
  readonly exportParts: { readonly rows: number; readonly bytes: number };
  /** Export workers and schedules (processors/export/). */
  readonly exports: {
    /** Jobs one process runs at once. */
    readonly concurrency: number;
    /** Rows per store read (a keyset page): bounds memory and how long one read holds chDB. */
    readonly pageRows: number;
    /** How often an idle worker looks for queued jobs (a job queued in this process starts at once). */
    readonly pollMs: number;
    /** A scheduled window is exported this long after it ends, so events that arrive late are in it. */
    readonly scheduleDelayMs: number;
    /** A running job's lease: a worker that died is replaced this long after its last progress write. */
    readonly leaseMs: number;
  };
  /** SIEM forwarders (processors/siem/, infra/siem/forwarder-service.ts). */
  readonly siem: {
    /** A destination's batch ends at this many events, bytes or ms, whichever comes first. */
    readonly batchEvents: number;
    readonly batchBytes: number;
    readonly batchMs: number;
    /** How often a forwarder looks at the destinations (and writes their health). */
    readonly pollMs: number;
    /** One delivery attempt's time limit. */
    readonly timeoutMs: number;
    /** Retries: exponential with jitter from retryBaseMs up to retryMaxMs, for as long as it takes. */
    readonly retryBaseMs: number;
    readonly retryMaxMs: number;
    /** Stored events per replay page, and a replay's lease (a worker that died is replaced after it). */
    readonly replayPageRows: number;
    readonly replayLeaseMs: number;
    /** Live destinations a tenant may have: each is a consumer group that reads the whole audit topic. */
    readonly maxDestinationsPerTenant: number;
  };
  /** The realtime edge (api/realtime/): SSE and the two WebSockets. */
  readonly realtime: {
    /** `: heartbeat` comments on SSE streams (the document's 30 s). */
    readonly sseHeartbeatMs: number;
    /** WebSocket ping frames; a socket that has not answered the previous ping by the next is closed. */
    readonly wsHeartbeatMs: number;
    /** Bytes a client may have waiting to be sent before it is closed as too slow (close code 4008 / SSE end). */
    readonly sendBufferBytes: number;
  };
  /** Requests per principal (tenant + sub; the IP when unauthenticated) per window; max 0: off. */
  readonly rateLimit: { readonly max: number; readonly windowMs: number };
  /** Inbound webhooks (api/webhooks/). No ScaiKey secret: every delivery is refused (503), never accepted unsigned. */
  readonly webhooks: { readonly scaikeySecret: string | undefined; readonly toleranceSeconds: number };
  /** An Ed25519 private key PEM that signs export manifests; unset: one generated under DATA_DIR/keys (infra/export-keys.ts). */
  readonly exportSigningKeyFile: string | undefined;
}

type Env = Record<string, string | undefined>;

const KNOWN_KEYS = new Set([
  'AUDITFLOW_MODE', 'HOST', 'PORT', 'DATA_DIR', 'SECRETS_DIR', 'LOG_LEVEL',
  'AUTH_JWT_SECRET', 'AUTH_JWKS_URL', 'AUTH_ISSUER', 'AUTH_AUDIENCE',
  'KAFKA_BROKERS', 'KAFKA_CLIENT_ID', 'KAFKA_GROUP_ID', 'KAFKA_SESSION_TIMEOUT_MS', 'KAFKA_MAX_WAIT_MS',
  'KAFKA_TOPIC_AUDIT_EVENTS', 'KAFKA_TOPIC_CHANGES', 'KAFKA_TOPIC_DEAD_LETTERS', 'KAFKA_TOPIC_READABLE', 'SCHEMA_REGISTRY_URL',
  'SSE_HEARTBEAT_MS', 'WS_HEARTBEAT_MS', 'REALTIME_SEND_BUFFER_BYTES',
  'CLICKHOUSE_URL', 'CLICKHOUSE_USER', 'CLICKHOUSE_PASSWORD', 'CLICKHOUSE_DATABASE',
  'SINK_BATCH_ROWS', 'SINK_BATCH_BYTES', 'SINK_BATCH_MS', 'SINK_FLUSH_WHEN_QUIET',
  'EMBEDDED_LOG_PARTITIONS', 'EMBEDDED_LOG_SEGMENT_BYTES', 'EMBEDDED_LOG_TAIL_BYTES', 'EMBEDDED_LOG_RETENTION_BYTES', 'EMBEDDED_LOG_RETENTION_MS',
  'INGEST_MAX_BODY_BYTES', 'INGEST_MAX_EVENTS',
  'EXPORT_PART_ROWS', 'EXPORT_PART_BYTES', 'EXPORT_CONCURRENCY', 'EXPORT_PAGE_ROWS', 'EXPORT_POLL_MS', 'EXPORT_SCHEDULE_DELAY_MS', 'EXPORT_LEASE_MS',
  'RATE_LIMIT_MAX', 'RATE_LIMIT_WINDOW_MS',
  'SCAIKEY_WEBHOOK_SECRET', 'SCAIKEY_WEBHOOK_TOLERANCE_SECONDS',
  'EXPORT_SIGNING_KEY_FILE',
  'SIEM_BATCH_EVENTS', 'SIEM_BATCH_BYTES', 'SIEM_BATCH_MS', 'SIEM_POLL_MS', 'SIEM_TIMEOUT_MS', 'SIEM_RETRY_BASE_MS', 'SIEM_RETRY_MAX_MS',
  'SIEM_REPLAY_PAGE_ROWS', 'SIEM_REPLAY_LEASE_MS', 'SIEM_MAX_DESTINATIONS_PER_TENANT',
]);

function bad(key: string, why: string): never {
  throw new AuditflowError('CONFIG_INVALID', `configuration ${key}: ${why}`);
}

function int(env: Env, key: string, dflt: number, min: number, max: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return dflt;
  if (!/^\d+$/.test(raw)) bad(key, `expected an integer, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (n < min || n > max) bad(key, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** 0 means "no bound". */
const unbounded = (n: number): number => (n === 0 ? Infinity : n);

function bool(env: Env, key: string, dflt: boolean): boolean {
  const raw = env[key];
  if (raw === undefined || raw === '') return dflt;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  return bad(key, `expected true or false, got ${JSON.stringify(raw)}`);
}

function str(env: Env, key: string): string | undefined {
  const v = env[key];
  return v === undefined || v === '' ? undefined : v;
}

function url(env: Env, key: string): string | undefined {
  const v = str(env, key);
  if (v === undefined) return undefined;
  try {
    const u = new URL(v);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') bad(key, `expected an http(s) URL, got ${JSON.stringify(v)}`);
  } catch (e) {
    if (e instanceof AuditflowError) throw e;
    bad(key, `expected an http(s) URL, got ${JSON.stringify(v)}`);
  }
  return v;
}

function oneOf<T extends string>(env: Env, key: string, allowed: readonly T[], dflt: T): T {
  const v = str(env, key);
  if (v === undefined) return dflt;
  if (!(allowed as readonly string[]).includes(v)) bad(key, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

/**
 * Parses the environment. Only settings this function knows are read; an unknown
 * `AUDITFLOW_*` variable is rejected so a typo never silently falls back to a default.
 */
export function parseConfig(env: Env, role: Role): Config {
  for (const k of Object.keys(env)) {
    if (k.startsWith('AUDITFLOW_') && !KNOWN_KEYS.has(k)) bad(k, 'unknown setting');
  }
  const brokers = (str(env, 'KAFKA_BROKERS') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const b of brokers) if (!/^[^\s:]+:\d+$/.test(b)) bad('KAFKA_BROKERS', `expected host:port[,host:port], got ${JSON.stringify(b)}`);
  const mode = oneOf<Mode>(env, 'AUDITFLOW_MODE', ['embedded', 'distributed'], brokers.length > 0 ? 'distributed' : 'embedded');
  const chUrl = url(env, 'CLICKHOUSE_URL');

  if (mode === 'embedded' && role !== 'all') {
    bad('AUDITFLOW_MODE', `role "${role}" runs only in distributed mode (set KAFKA_BROKERS and CLICKHOUSE_URL); the embedded mode runs every role in one process ("auditflow all")`);
  }
  if (mode === 'distributed') {
    // Every role writes to the log (the api role: its self-audit records).
    if (brokers.length === 0) bad('KAFKA_BROKERS', `required for role "${role}" in distributed mode`);
    if ((role === 'all' || role === 'processor' || role === 'api') && chUrl === undefined) bad('CLICKHOUSE_URL', `required for role "${role}" in distributed mode`);
  }
  const jwtSecret = str(env, 'AUTH_JWT_SECRET');
  const jwksUrl = url(env, 'AUTH_JWKS_URL');
  if (jwtSecret !== undefined && jwtSecret.length < 32) bad('AUTH_JWT_SECRET', 'must be at least 32 characters');
  if (mode === 'distributed' && role !== 'processor' && jwtSecret === undefined && jwksUrl === undefined) {
    bad('AUTH_JWT_SECRET', 'one of AUTH_JWT_SECRET or AUTH_JWKS_URL is required in distributed mode');
  }
  const database = str(env, 'CLICKHOUSE_DATABASE') ?? 'default';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) bad('CLICKHOUSE_DATABASE', 'must be an identifier');

  const dataDir = str(env, 'DATA_DIR') ?? './data';
  const cfg: Config = {
    mode,
    role,
    host: str(env, 'HOST') ?? '127.0.0.1',
    port: int(env, 'PORT', 8080, 0, 65535),
    dataDir,
    secretsDir: str(env, 'SECRETS_DIR') ?? `${dataDir}/secrets`,
    logLevel: oneOf(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'silent'] as const, 'info'),
    auth: { jwtSecret, jwksUrl, issuer: str(env, 'AUTH_ISSUER'), audience: str(env, 'AUTH_AUDIENCE') },
    kafka: {
      brokers,
      clientId: str(env, 'KAFKA_CLIENT_ID') ?? 'auditflow',
      groupId: str(env, 'KAFKA_GROUP_ID') ?? 'auditflow-store-sink',
      sessionTimeoutMs: int(env, 'KAFKA_SESSION_TIMEOUT_MS', 30000, 3000, 300000),
      // How long a fetch may wait for data. Short enough that an idle partition does not delay
      // a busy one behind it (kafkajs fetches brokers in turn).
      maxWaitMs: int(env, 'KAFKA_MAX_WAIT_MS', 100, 10, 30000),
      topics: {
        auditEvents: str(env, 'KAFKA_TOPIC_AUDIT_EVENTS') ?? 'auditflow.audit-events',
        changes: str(env, 'KAFKA_TOPIC_CHANGES') ?? 'auditflow.changes',
        deadLetters: str(env, 'KAFKA_TOPIC_DEAD_LETTERS') ?? 'auditflow.dead-letters',
        readable: str(env, 'KAFKA_TOPIC_READABLE') ?? 'auditflow.readable',
      },
      schemaRegistryUrl: url(env, 'SCHEMA_REGISTRY_URL'),
    },
    clickhouse: {
      url: chUrl,
      username: str(env, 'CLICKHOUSE_USER') ?? 'default',
      password: env['CLICKHOUSE_PASSWORD'] ?? '',
      database,
    },
    sink: {
      batchRows: int(env, 'SINK_BATCH_ROWS', 20000, 1, 1_000_000),
      batchBytes: int(env, 'SINK_BATCH_BYTES', 32 * 1024 * 1024, 1024, 512 * 1024 * 1024),
      batchMs: int(env, 'SINK_BATCH_MS', 250, 1, 60000),
      flushWhenQuiet: bool(env, 'SINK_FLUSH_WHEN_QUIET', true),
    },
    embeddedLog: {
      partitions: int(env, 'EMBEDDED_LOG_PARTITIONS', 1, 1, 64),
      segmentBytes: int(env, 'EMBEDDED_LOG_SEGMENT_BYTES', 128 * 1024 * 1024, 1024 * 1024, 4 * 1024 * 1024 * 1024),
      // Room for what arrives while the sink waits for an insert (~17 MB at 75k events/s and a
      // 250 ms insert), with margin: a consumer that falls out of the tail reads the file.
      tailBytes: int(env, 'EMBEDDED_LOG_TAIL_BYTES', 64 * 1024 * 1024, 1024 * 1024, 4 * 1024 * 1024 * 1024),
      // Kafka's model: a lagging SIEM destination holds the log back only this far (0: no bound).
      // 10 GiB ≈ 15M events of ~700 bytes per partition; 7 days is Kafka's retention.ms default.
      retentionBytes: unbounded(int(env, 'EMBEDDED_LOG_RETENTION_BYTES', 10 * 1024 * 1024 * 1024, 0, Number.MAX_SAFE_INTEGER)),
      retentionMs: unbounded(int(env, 'EMBEDDED_LOG_RETENTION_MS', 7 * 24 * 3600 * 1000, 0, Number.MAX_SAFE_INTEGER)),
    },
    ingest: {
      maxBodyBytes: int(env, 'INGEST_MAX_BODY_BYTES', 64 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
      maxEvents: int(env, 'INGEST_MAX_EVENTS', 100_000, 1, 10_000_000),
    },
    exportParts: {
      // 1,000,000 rows: under a spreadsheet's 1,048,576-row sheet, so a CSV part opens whole.
      rows: int(env, 'EXPORT_PART_ROWS', 1_000_000, 1, 1_000_000_000),
      // 256 MiB of text: a part a reader downloads and checks on its own; at most 5 GiB, S3's single-PUT limit.
      bytes: int(env, 'EXPORT_PART_BYTES', 256 * 1024 * 1024, 1024, 5 * 1024 * 1024 * 1024),
    },
    exports: {
      concurrency: int(env, 'EXPORT_CONCURRENCY', 2, 1, 64),
      // ~15 MB of rows per read; a chDB read of it takes ~0.1 s, so the sink and the API get the engine between pages.
      pageRows: int(env, 'EXPORT_PAGE_ROWS', 20_000, 100, 1_000_000),
      pollMs: int(env, 'EXPORT_POLL_MS', 2_000, 50, 600_000),
      scheduleDelayMs: int(env, 'EXPORT_SCHEDULE_DELAY_MS', 60_000, 0, 86_400_000),
      // Well above the progress interval (2 s) and a slow part upload's stall.
      leaseMs: int(env, 'EXPORT_LEASE_MS', 60_000, 1_000, 3_600_000),
    },
    siem: {
      // 500 events ≈ 400 KB: within Splunk HEC's default max_content_length (1 MB) and webhook receivers' usual body limits.
      batchEvents: int(env, 'SIEM_BATCH_EVENTS', 500, 1, 100_000),
      batchBytes: int(env, 'SIEM_BATCH_BYTES', 800 * 1024, 1024, 64 * 1024 * 1024),
      batchMs: int(env, 'SIEM_BATCH_MS', 200, 1, 60_000),
      pollMs: int(env, 'SIEM_POLL_MS', 2_000, 50, 600_000),
      timeoutMs: int(env, 'SIEM_TIMEOUT_MS', 10_000, 100, 600_000),
      retryBaseMs: int(env, 'SIEM_RETRY_BASE_MS', 500, 1, 600_000),
      retryMaxMs: int(env, 'SIEM_RETRY_MAX_MS', 60_000, 1, 3_600_000),
      replayPageRows: int(env, 'SIEM_REPLAY_PAGE_ROWS', 500, 1, 100_000),
      replayLeaseMs: int(env, 'SIEM_REPLAY_LEASE_MS', 60_000, 1_000, 3_600_000),
      maxDestinationsPerTenant: int(env, 'SIEM_MAX_DESTINATIONS_PER_TENANT', 20, 1, 1_000),
    },
    realtime: {
      sseHeartbeatMs: int(env, 'SSE_HEARTBEAT_MS', 30_000, 100, 3_600_000),
      wsHeartbeatMs: int(env, 'WS_HEARTBEAT_MS', 30_000, 100, 3_600_000),
      // ~1,000 frames of a busy tenant: a client that far behind is not keeping up, and it can
      // catch up from the pull APIs (or its SSE Last-Event-ID) without holding memory here.
      sendBufferBytes: int(env, 'REALTIME_SEND_BUFFER_BYTES', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    },
    rateLimit: {
      // 1,000 per 10 s (100/s sustained per token): a poller at 10 Hz on several feeds plus a
      // backlog paged at 1,000 rows a page fits; a client in a tight loop (Fastify serves ~6.7k
      // pages/s) is stopped before it takes the edge, and the one chDB engine, from every other token.
      max: int(env, 'RATE_LIMIT_MAX', 1000, 0, 10_000_000),
      windowMs: int(env, 'RATE_LIMIT_WINDOW_MS', 10_000, 100, 3_600_000),
    },
    webhooks: {
      scaikeySecret: str(env, 'SCAIKEY_WEBHOOK_SECRET'),
      // How far a signature's t= may be from our clock, either way: a captured delivery replays
      // for at most this long (the delivery id catches replays inside it).
      toleranceSeconds: int(env, 'SCAIKEY_WEBHOOK_TOLERANCE_SECONDS', 300, 1, 3600),
    },
    // Distributed: every node that signs or publishes the key points at the same file, so one key signs every manifest.
    exportSigningKeyFile: str(env, 'EXPORT_SIGNING_KEY_FILE'),
  };
  return deepFreeze(cfg);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
