// The body of POST /v1/audit/export (and the shared part of a schedule's body), checked field by
// field: every problem is reported at once as 400 VALIDATION_FAILED with its path.
// `filters` are the /v1/audit/logs filters with the same names and rules (read through the same
// reader as its query string); `from` / `to` are the body's own, so they are not also filters.
import { AuditflowError, type ErrorDetail } from '../../infra/errors.ts';
import type { ExportDestination } from '../../processors/export/export-jobs.ts';
import { QueryReader } from '../query/query-params.ts';
import { readAuditLogFilters, type AuditLogFilters } from '../scaivault/scaivault-log.ts';
import { toUtcIso } from '../../schemas/instant.ts';

export const DESTINATION_TYPES = ['s3', 'gcs', 'azure_blob', 'local'] as const;
const BUCKET = /^[A-Za-z0-9][A-Za-z0-9._-]{0,221}$/;
const PREFIX = /^[A-Za-z0-9!_.*'()\-/]{0,512}$/;
const CREDENTIALS_PATH = /^[A-Za-z0-9_.\-/]{1,256}$/;

export interface ExportOutput {
  format: 'jsonl' | 'csv';
  compression: 'gzip' | null;
  filters: Record<string, string>;
  parsedFilters: AuditLogFilters;
  destination: ExportDestination;
}

export class BodyReader {
  readonly details: ErrorDetail[] = [];
  constructor(readonly body: Record<string, unknown>) {}

  fail(path: string, message: string): undefined {
    this.details.push({ path, message });
    return undefined;
  }

  string(name: string, opts: { required?: boolean; max?: number } = {}): string | undefined {
    const v = this.body[name];
    if (v === undefined || v === null) return opts.required ? this.fail(`/${name}`, 'is required') : undefined;
    if (typeof v !== 'string' || v === '') return this.fail(`/${name}`, 'must be a non-empty string');
    if (v.length > (opts.max ?? 1024)) return this.fail(`/${name}`, `must be at most ${opts.max ?? 1024} characters`);
    return v;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], opts: { required?: boolean } = {}): T | undefined {
    const v = this.string(name, opts);
    if (v !== undefined && !(allowed as readonly string[]).includes(v)) return this.fail(`/${name}`, `must be one of ${allowed.join(', ')}`);
    return v as T | undefined;
  }

  instant(name: string): string | undefined {
    const v = this.string(name, { required: true, max: 64 });
    if (v === undefined) return undefined;
    const iso = toUtcIso(v);
    return iso ?? this.fail(`/${name}`, 'must be an ISO 8601 date-time');
  }

  /** Refuses fields the body does not define (a typo must not silently export everything). */
  onlyKnown(known: readonly string[], path = ''): void {
    for (const k of Object.keys(this.body)) if (!known.includes(k)) this.fail(`${path}/${k}`, 'unknown field');
  }

  done(): void {
    if (this.details.length > 0) throw new AuditflowError('VALIDATION_FAILED', 'invalid request body', { details: this.details });
  }
}

export function objectBody(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new AuditflowError('VALIDATION_FAILED', 'invalid request body', { details: [{ path: '', message: 'the body must be a JSON object' }] });
  }
  return body as Record<string, unknown>;
}

/** format, compression, filters and destination (what a one-off export and a schedule share). */
export function readExportOutput(r: BodyReader): Partial<ExportOutput> {
  const format = r.oneOf('format', ['jsonl', 'csv'] as const, { required: true });
  const compression = r.oneOf('compression', ['gzip'] as const) ?? null;
  const filters = readFilters(r);
  const destination = readDestination(r);
  return { format, compression, ...filters, destination };
}

function readFilters(r: BodyReader): { filters?: Record<string, string>; parsedFilters?: AuditLogFilters } {
  const raw = r.body['filters'];
  if (raw === undefined || raw === null) return { filters: {}, parsedFilters: {} };
  if (typeof raw !== 'object' || Array.isArray(raw)) return r.fail('/filters', 'must be an object') ?? {};
  // The same names and rules as the /v1/audit/logs query string: values as its text.
  const text: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v === 'string') text[k] = v;
    else if (typeof v === 'boolean' || typeof v === 'number') text[k] = String(v);
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) text[k] = v.join(',');
    else r.fail(`/filters/${k}`, 'must be a string, a boolean or a list of strings');
  }
  const q = new QueryReader(text);
  const parsed = readAuditLogFilters(q, ['from', 'to']);
  try {
    q.done();
  } catch (e) {
    for (const d of (e as AuditflowError).details ?? []) r.fail(`/filters/${d.path}`, d.message);
  }
  return { filters: text, parsedFilters: parsed };
}

function readDestination(r: BodyReader): ExportDestination | undefined {
  const raw = r.body['destination'];
  if (raw === undefined || raw === null) return r.fail('/destination', 'is required');
  if (typeof raw !== 'object' || Array.isArray(raw)) return r.fail('/destination', 'must be an object');
  const d = new BodyReader(raw as Record<string, unknown>);
  const type = d.oneOf('type', DESTINATION_TYPES, { required: true });
  const bucket = d.string('bucket', { required: true, max: 222 });
  if (bucket !== undefined && !BUCKET.test(bucket)) d.fail('/bucket', 'must be letters, digits, dots, dashes and underscores');
  const prefix = (d.string('prefix', { max: 512 }) ?? '').replace(/^\/+|\/+$/g, '');
  if (!PREFIX.test(prefix) || prefix.split('/').some((s) => s === '..' || s === '.')) d.fail('/prefix', 'must be a relative key prefix without . or .. segments');
  const credentials = d.string('credentials_path', { required: type !== undefined && type !== 'local', max: 256 });
  if (credentials !== undefined && (!CREDENTIALS_PATH.test(credentials) || credentials.split('/').includes('..'))) d.fail('/credentials_path', 'must be a relative path without .. segments');
  d.onlyKnown(['type', 'bucket', 'prefix', 'credentials_path']);
  for (const x of d.details) r.fail(`/destination${x.path}`, x.message);
  if (d.details.length > 0 || type === undefined || bucket === undefined) return undefined;
  return { type, bucket, prefix, ...(credentials !== undefined ? { credentials_path: credentials } : {}) };
}
