// OpenAPI documentation of the export routes (documentation only: the routes validate bodies
// themselves, ./export-request.ts).
import { errorResponses } from '../service/openapi.ts';

const TAGS = ['exports'];
const DESTINATION = {
  type: 'object', required: ['type', 'bucket'],
  properties: {
    type: { type: 'string', enum: ['s3', 'gcs', 'azure_blob', 'local'] }, bucket: { type: 'string' },
    prefix: { type: 'string' }, credentials_path: { type: 'string', description: 'Resolved by the secrets provider: <SECRETS_DIR>/<credentials_path>.json (not for local)' },
  },
} as const;
const FILTERS = { type: 'object', description: 'The /v1/audit/logs filters: action, identity_id, identity_type, path_prefix, success, source_ip, request_id', additionalProperties: true } as const;
export const OUTPUT_PROPERTIES = {
  format: { type: 'string', enum: ['jsonl', 'csv'] }, compression: { type: 'string', enum: ['gzip'] }, filters: FILTERS, destination: DESTINATION,
} as const;
const EXPORT = {
  type: 'object',
  properties: {
    export_id: { type: 'string' }, status: { type: 'string', enum: ['queued', 'running', 'completed', 'failed', 'cancelled'] },
    record_count: { type: 'integer' }, files: { type: 'array', items: { type: 'object', properties: { key: { type: 'string' }, size_bytes: { type: 'integer' } } } },
    completed_at: { type: 'string', format: 'date-time', nullable: true }, created_at: { type: 'string', format: 'date-time' },
    schedule_id: { type: 'string', nullable: true }, estimated_records: { type: 'integer' }, manifest_key: { type: 'string' },
    progress: { type: 'object', properties: { records_written: { type: 'integer' }, parts_done: { type: 'integer' }, estimated_records: { type: 'integer' } } },
    error: { type: 'string' },
  },
} as const;
const ID = { type: 'object', properties: { id: { type: 'string' } } } as const;

export const EXPORT_SCHEMAS = {
  create: {
    summary: 'Create an export job', tags: TAGS,
    body: { type: 'object', required: ['from', 'to', 'format', 'destination'], properties: { from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' }, ...OUTPUT_PROPERTIES } },
    response: { 202: { type: 'object', properties: { export_id: { type: 'string' }, status: { type: 'string' }, estimated_records: { type: 'integer' } } }, ...errorResponses(400, 403) },
  },
  list: {
    summary: 'List exports, newest first', tags: TAGS,
    querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 }, cursor: { type: 'string' }, schedule_id: { type: 'string' } } },
    response: { 200: { type: 'object', properties: { exports: { type: 'array', items: EXPORT }, cursor: { type: 'string', nullable: true }, has_more: { type: 'boolean' } } }, ...errorResponses(400, 403) },
  },
  get: { summary: 'Export status and manifest', tags: TAGS, params: ID, response: { 200: EXPORT, ...errorResponses(403, 404) } },
  retry: {
    summary: 'Retry a failed export (the same export id, query and snapshot, from its first part)', tags: TAGS, params: ID,
    response: { 202: EXPORT, ...errorResponses(403, 404, 409) },
  },
  cancel: {
    summary: 'Cancel an export (queued: at once; running: at its next part)', tags: TAGS, params: ID,
    response: { 200: EXPORT, 202: EXPORT, ...errorResponses(403, 404, 409) },
  },
} as const;
