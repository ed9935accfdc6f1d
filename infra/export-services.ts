// The export family's wiring, shared by the roles: the secrets provider, the manifest signing
// key (loaded once), how an export's audit event reaches the log, and — where the store sink runs
// (embedded `all`, distributed `processor`) — the workers and the scheduler.
import type { Logger } from 'pino';
import { ExportScheduler } from '../processors/export/export-scheduler.ts';
import { ExportWorker } from '../processors/export/export-worker.ts';
import type { WriteSignal } from '../processors/write-signal.ts';
import type { AuditEvent } from '../schemas/event-model.ts';
import { logHeaders } from '../schemas/log-headers.ts';
import type { MessageCodec } from '../schemas/message-codec.ts';
import { HighWater } from '../api/query/high-water.ts';
import type { Config } from './config.ts';
import { loadExportSigningKey, type ExportSigningKey } from './export-keys.ts';
import type { LogProducer } from './log/log.ts';
import { openObjectStore } from './objectstore/object-store.ts';
import { FileSecretsProvider, type SecretsProvider } from './secrets/secrets-provider.ts';
import type { Store } from './store/store.ts';

export interface ExportServices {
  secrets: SecretsProvider;
  signingKey(): Promise<ExportSigningKey>;
  appendAudit(e: AuditEvent): Promise<void>;
}

export function exportServices(config: Config, producer: LogProducer, codec: MessageCodec): ExportServices {
  let key: Promise<ExportSigningKey> | null = null;
  return {
    secrets: new FileSecretsProvider(config.secretsDir),
    signingKey: () => {
      key ??= loadExportSigningKey({ dataDir: config.dataDir, exportSigningKeyFile: config.exportSigningKeyFile });
      key.catch(() => { key = null; }); // a failed load is retried on the next use
      return key;
    },
    appendAudit: async (e) => {
      const value = codec.encodeSync ? codec.encodeSync('audit', e) : await codec.encode('audit', e);
      await producer.send(config.kafka.topics.auditEvents, [{ key: e.tenant_id, value, headers: logHeaders({ tenantId: e.tenant_id, id: e.id }) }]);
    },
  };
}

/** Scheduler ticks at most this often (each reads every schedule). */
const SCHEDULER_EVERY_MS = 10_000;

export function startExportWorker(config: Config, store: Store, services: ExportServices, signal: WriteSignal | undefined, logger: Logger): ExportWorker {
  const log = logger.child({ component: 'exports' });
  const deps = {
    store, highWater: new HighWater(store, signal),
    checkCredentials: async () => undefined, // checked when the schedule was created; a run that cannot open its destination fails visibly
    appendAudit: services.appendAudit,
  };
  const scheduler = new ExportScheduler(deps, { delayMs: config.exports.scheduleDelayMs, everyMs: SCHEDULER_EVERY_MS, log });
  const worker = new ExportWorker({
    store, log, signingKey: services.signingKey,
    openDestination: (job) => openObjectStore(job.spec.destination, { secrets: services.secrets, dataDir: config.dataDir }),
    config: { concurrency: config.exports.concurrency, pageRows: config.exports.pageRows, pollMs: config.exports.pollMs, parts: config.exportParts },
    beforePoll: async () => { await scheduler.tick(); },
    leaseMs: config.exports.leaseMs,
  });
  worker.start();
  return worker;
}
