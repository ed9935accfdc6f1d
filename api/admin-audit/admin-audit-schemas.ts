// OpenAPI (JSON Schema) documentation of the admin audit routes. Documentation only: QueryReader
// validates and bodies go out exactly as the routes build them.
import { MAX_TEXT, PAGE_MAX, PER_PAGE_DEFAULT, PER_PAGE_MAX } from './admin-audit-log.ts';
import { TOP_ACTORS } from './admin-audit-stats.ts';
import { errorResponses } from '../service/openapi.ts';
import { HTTP_VALIDATION_ERROR_SCHEMA } from './validation-error.ts';

const text = (description?: string) => ({ type: 'string', minLength: 1, maxLength: MAX_TEXT, ...(description ? { description } : {}) });
const time = (description: string) => ({ type: 'string', format: 'date-time', description });
// JSON Schema's spelling; @fastify/swagger writes it as OpenAPI 3.0's `nullable`.
const nullable = (type: string) => ({ type: [type, 'null'] });
const counts = { type: 'object', additionalProperties: { type: 'integer' } };

export const LIST_QUERY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    page: { type: 'integer', minimum: 1, maximum: PAGE_MAX, default: 1 },
    per_page: { type: 'integer', minimum: 1, maximum: PER_PAGE_MAX, default: PER_PAGE_DEFAULT },
    tenant_id: text('Only this tenant (within the token\'s reach, else 403)'),
    partner_id: text('Filter by partner (all tenants in partner)'),
    actor_id: text(),
    actor_email: text('Exact match'),
    action: text(),
    resource_type: text(),
    resource_id: text(),
    result: text('The event\'s outcome: success, failure, denied, error, …'),
    start_time: time('event_time ≥ start_time (RFC 3339 with a zone)'),
    end_time: time('event_time < end_time (RFC 3339 with a zone)'),
    ip_address: text('The source IP address'),
  },
} as const;

export const STATS_QUERY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    tenant_id: LIST_QUERY_SCHEMA.properties.tenant_id,
    start_time: LIST_QUERY_SCHEMA.properties.start_time,
    end_time: LIST_QUERY_SCHEMA.properties.end_time,
  },
} as const;

export const NO_QUERY_SCHEMA = { type: 'object', additionalProperties: false, properties: {} } as const;

export const ENTRY_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    tenant_id: { type: 'string' },
    partner_id: nullable('string'),
    timestamp: { type: 'string', format: 'date-time', description: 'When the event happened (event_time)' },
    received_at: { type: 'string', format: 'date-time', description: 'When the pipeline stored it' },
    event_type: { type: 'string' },
    action: { type: 'string' },
    category: { type: 'string' },
    severity: { type: 'string' },
    result: { type: 'string', description: 'The outcome: success, failure, denied, error, …' },
    success: { type: 'boolean' },
    actor_id: nullable('string'),
    actor_email: nullable('string'),
    actor_type: nullable('string'),
    service_account: { ...nullable('string'), description: 'RFC 8693 act.client_id' },
    resource_type: nullable('string'),
    resource_id: nullable('string'),
    resource_name: nullable('string'),
    resource_path: nullable('string'),
    share_id: nullable('string'),
    ip_address: nullable('string'),
    user_agent: nullable('string'),
    request_id: nullable('string'),
    duration_ms: nullable('integer'),
    action_source: nullable('string'),
    details: { type: 'object' },
    is_internal: { type: 'boolean', description: 'An internal self-audit event: a read or action of this API itself' },
  },
} as const;

export const STATS_SCHEMA = {
  type: 'object',
  properties: {
    total: { type: 'integer' },
    tenants: { type: 'integer' },
    unique_actors: { type: 'integer' },
    internal_events: { type: 'integer' },
    first_event_time: { ...nullable('string'), format: 'date-time' },
    last_event_time: { ...nullable('string'), format: 'date-time' },
    by_result: counts,
    by_action: counts,
    by_category: counts,
    by_severity: counts,
    by_resource_type: counts,
    top_actors: {
      type: 'array',
      maxItems: TOP_ACTORS,
      items: {
        type: 'object',
        properties: { tenant_id: { type: 'string' }, actor_id: { type: 'string' }, actor_email: nullable('string'), count: { type: 'integer' } },
      },
    },
    tenant_id: nullable('string'),
    start_time: { ...nullable('string'), format: 'date-time' },
    end_time: { ...nullable('string'), format: 'date-time' },
  },
} as const;

/** A route's responses: its 200 body, the documented 422, and the catalogue's 401/403 (and 404). */
export function responses(ok: object, notFound = false): Record<number, object> {
  // 401, 403 and 404 keep the catalogue body on these routes; only 422 is the document's shape.
  return { 200: ok, ...(errorResponses(401, 403, ...(notFound ? [404] : [])) as Record<number, object>), 422: HTTP_VALIDATION_ERROR_SCHEMA };
}
