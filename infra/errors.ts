// The one error catalogue. Every error the product raises or returns carries a stable `code`,
// the HTTP status it maps to, and whether retrying the same operation may succeed. Callers
// classify errors by `code` (or `retriable`), never by message text.

export const ERROR_CATALOGUE = {
  // configuration
  CONFIG_INVALID: { status: 500, retriable: false },
  // request-level
  AUTH_MISSING: { status: 401, retriable: false },
  AUTH_INVALID: { status: 401, retriable: false },
  AUTH_SCOPE: { status: 403, retriable: false },
  /** The SSE stream's documented 401 (sse-events-stream.txt): no valid token with audit:admin. */
  ADMIN_AUTH_REQUIRED: { status: 401, retriable: false },
  /** A Last-Event-ID that is not a position of the SSE stream (api/realtime/stream-position.ts). */
  EVENT_ID_INVALID: { status: 400, retriable: false },
  TENANT_MISMATCH: { status: 403, retriable: false },
  SHARE_FORBIDDEN: { status: 403, retriable: false },
  VALIDATION_FAILED: { status: 400, retriable: false },
  BODY_MALFORMED: { status: 400, retriable: false },
  BODY_TOO_LARGE: { status: 413, retriable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retriable: false },
  // refused by the HTTP layer before a route ran (Node's parser, Fastify's router): api/error-bodies.ts
  REQUEST_MALFORMED: { status: 400, retriable: false },
  URL_MALFORMED: { status: 400, retriable: false },
  REQUEST_TIMEOUT: { status: 408, retriable: true },
  URI_TOO_LONG: { status: 414, retriable: false },
  EXPECTATION_FAILED: { status: 417, retriable: false },
  HEADERS_TOO_LARGE: { status: 431, retriable: false },
  QUERY_INVALID: { status: 400, retriable: false },
  CURSOR_INVALID: { status: 400, retriable: false },
  NOT_FOUND: { status: 404, retriable: false },
  /** Cancelling an export that already completed or failed (api/exports/). */
  EXPORT_FINISHED: { status: 409, retriable: false },
  /** Retrying an export that did not fail. */
  EXPORT_NOT_FAILED: { status: 409, retriable: false },
  /** An export wrote fewer or more rows than its query holds (never expected; the job fails rather than pass it off as complete). */
  EXPORT_INCOMPLETE: { status: 500, retriable: true },
  /** Redriving dead letters of a paused destination (api/siem/): resume it first. */
  SIEM_DESTINATION_PAUSED: { status: 409, retriable: false },
  /** The tenant has SIEM_MAX_DESTINATIONS destinations already (each one reads the whole audit topic). */
  SIEM_DESTINATION_LIMIT: { status: 409, retriable: false },
  /** A redrive of the destination's dead letters is already running in this process. */
  SIEM_REDRIVE_RUNNING: { status: 409, retriable: true },
  RATE_LIMITED: { status: 429, retriable: true },
  // inbound webhooks (api/webhooks/): the sender signs the body instead of sending a token
  WEBHOOK_SIGNATURE_MISSING: { status: 401, retriable: false },
  WEBHOOK_SIGNATURE_INVALID: { status: 401, retriable: false },
  WEBHOOK_TIMESTAMP_OUT_OF_RANGE: { status: 401, retriable: false },
  // No secret configured: refused, never accepted unsigned. Not retriable until an operator sets it.
  WEBHOOK_NOT_CONFIGURED: { status: 503, retriable: false },
  // export destinations and their credentials (infra/objectstore/, infra/secrets/). Messages name the
  // credentials path, the field and the destination, never a credential's value.
  CREDENTIALS_PATH_INVALID: { status: 400, retriable: false },
  CREDENTIALS_NOT_FOUND: { status: 400, retriable: false },
  /** The credentials file is unreadable as settings, or lacks a field the destination needs (named). */
  CREDENTIALS_INVALID: { status: 400, retriable: false },
  /** A destination spec or object key the store cannot use (bad bucket name, a key leaving a local folder). */
  DESTINATION_INVALID: { status: 400, retriable: false },
  /** The bucket / container does not exist. */
  DESTINATION_NOT_FOUND: { status: 400, retriable: false },
  /** The destination refused the credentials (bad key, signature, or no permission). */
  DESTINATION_AUTH_FAILED: { status: 400, retriable: false },
  /** Network failure, timeout or a 5xx/throttling answer from the destination. */
  DESTINATION_UNAVAILABLE: { status: 503, retriable: true },
  /** An upload stopped because its body failed or was cancelled; nothing was left under the key. */
  UPLOAD_ABORTED: { status: 503, retriable: true },
  // infrastructure
  LOG_UNAVAILABLE: { status: 503, retriable: true },
  /** A consumer group's position is below the earliest offset the log still holds: the records in
   * between are gone. Retrying the read cannot help; the group needs a new position (infra/log/). */
  LOG_POSITION_OUT_OF_RETENTION: { status: 500, retriable: false },
  /** A group's position cannot be set or deleted while a member of it is running (infra/log/ LogAdmin). */
  LOG_GROUP_ACTIVE: { status: 409, retriable: true },
  STORE_UNAVAILABLE: { status: 503, retriable: true },
  STORE_QUERY_FAILED: { status: 500, retriable: false },
  SCHEMA_REGISTRY_FAILED: { status: 503, retriable: true },
  SHUTTING_DOWN: { status: 503, retriable: true },
  NOT_READY: { status: 503, retriable: true },
  INTERNAL: { status: 500, retriable: false },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export interface ErrorDetail {
  index?: number;
  path: string;
  message: string;
  /** The kind of problem, in pydantic v2's vocabulary (`int_parsing`, `extra_forbidden`, …): the admin family's 422 bodies carry it. */
  type?: string;
}

export class AuditflowError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retriable: boolean;
  readonly details: ErrorDetail[] | undefined;

  constructor(code: ErrorCode, message: string, opts: { details?: ErrorDetail[]; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AuditflowError';
    this.code = code;
    this.status = ERROR_CATALOGUE[code].status;
    this.retriable = ERROR_CATALOGUE[code].retriable;
    this.details = opts.details;
  }

  toBody(): { error: string; code: ErrorCode; details?: ErrorDetail[] } {
    return this.details ? { error: this.message, code: this.code, details: this.details } : { error: this.message, code: this.code };
  }
}

export function isAuditflowError(e: unknown): e is AuditflowError {
  return e instanceof AuditflowError;
}
