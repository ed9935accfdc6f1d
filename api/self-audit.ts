// Self-audit: every read of audit data through the APIs, and every admin action, is itself an
// audit event (who, what, which filters, how many rows), written through the log like any other
// event and so stored once, sequenced and queryable through the admin API.
//
// These events carry `source_format: "internal"` (ingest refuses that value, so no producer can
// forge one), category `compliance`, event_type `audit.read` (or the admin action's type).
// The ScaiVault family leaves them out (a poller of /v1/audit/logs would otherwise read its own
// reads back, page after page); the admin family lists them.
//
// Decided: the record is appended after the response is decided and is not awaited by it. An
// fsync (embedded) or an acks=all round trip (Kafka) per read would double a tail poll's latency,
// and a read discloses data whether or not its record lands. Records are batched (everything
// queued while one append runs goes in the next), retried while the log is unavailable, and
// bounded in memory (SELF_AUDIT_BUFFER): past the bound the oldest are dropped, counted and logged.
// A crash loses at most the records of the last append in flight.
import type { FastifyRequest } from 'fastify';
import type { LogProducer, LogRecord } from '../infra/log/log.ts';
import type { AuditEvent } from '../schemas/event-model.ts';
import { newAuditId } from '../schemas/ids.ts';
import { logHeaders } from '../schemas/log-headers.ts';

export interface ReadRecord {
  /** What was read or done, e.g. `scaivault.logs`, `admin.audit.list`. */
  resource: string;
  /** The filters as parsed (undefined ones are dropped). */
  filters: Record<string, unknown>;
  /** How many rows (events, changes, groups) the response disclosed. */
  rows: number;
  /** Defaults: event_type `audit.read`, action `read`. */
  eventType?: string;
  action?: string;
}

export interface SelfAudit {
  record(req: FastifyRequest, what: ReadRecord): void;
}

export interface SelfAuditStats {
  recorded: number;
  dropped: number;
  failedAppends: number;
}

interface SelfAuditLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const INTERNAL_SOURCE_FORMAT = 'internal';

/** The internal audit event for one read (pure: the request's facts in, the log form out). */
export function selfAuditEvent(req: FastifyRequest, what: ReadRecord, now = Date.now()): AuditEvent {
  const p = req.principal;
  const filters: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(what.filters)) if (v !== undefined) filters[k] = v;
  return {
    id: newAuditId(),
    tenant_id: p.tenantId,
    partner_id: p.partnerId ?? '',
    event_time: new Date(now).toISOString(),
    event_type: what.eventType ?? 'audit.read',
    action: what.action ?? 'read',
    category: 'compliance',
    severity: 'info',
    outcome: 'success',
    success: true,
    actor_id: p.subject,
    actor_type: p.serviceAccount !== null ? 'service_account' : 'user',
    actor_email: p.email ?? '',
    service_account: p.serviceAccount,
    resource_type: 'audit_log',
    resource_id: what.resource,
    resource_name: what.resource,
    resource_path: req.url.split('?')[0] ?? '',
    share_id: '',
    source_ip: req.ip,
    user_agent: typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'].slice(0, 1024) : '',
    request_id: String(req.id),
    duration_ms: null,
    action_source: 'PublicAPI',
    details: JSON.stringify({ method: req.method, filters, rows: what.rows }),
    // Not one of the ingestable formats: ingest's schema refuses it, so it cannot be forged.
    source_format: INTERNAL_SOURCE_FORMAT as AuditEvent['source_format'],
  };
}

export class LogSelfAudit implements SelfAudit {
  readonly stats: SelfAuditStats = { recorded: 0, dropped: 0, failedAppends: 0 };
  private queue: LogRecord[] = [];
  private running: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly producer: LogProducer,
    private readonly topic: string,
    private readonly logger: SelfAuditLogger,
    private readonly maxBuffered = 100_000,
  ) {}

  record(req: FastifyRequest, what: ReadRecord): void {
    if (this.closed) return;
    const ev = selfAuditEvent(req, what);
    this.queue.push({ key: ev.tenant_id, value: JSON.stringify(ev), headers: logHeaders({ tenantId: ev.tenant_id, id: ev.id }) });
    if (this.queue.length > this.maxBuffered) {
      const over = this.queue.length - this.maxBuffered;
      this.queue.splice(0, over);
      this.stats.dropped += over;
      this.logger.error({ dropped: over }, 'self-audit buffer full: oldest records dropped');
    }
    this.running ??= this.pump();
  }

  /** Appends everything queued, in batches, until the queue is empty. */
  private async pump(): Promise<void> {
    let backoff = 50;
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      try {
        await this.producer.send(this.topic, batch);
        this.stats.recorded += batch.length;
        backoff = 50;
      } catch (e) {
        this.stats.failedAppends++;
        this.logger.warn({ err: (e as Error).message, records: batch.length }, 'self-audit append failed, retrying');
        this.queue = batch.concat(this.queue);
        if (this.closed) break;
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 5000);
      }
    }
    this.running = null;
  }

  /** Appends what is queued (shutdown: before the producer closes). */
  async flush(): Promise<void> {
    while (this.running) await this.running;
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }
}

