// OpenAPI documentation of the SIEM routes (documentation only: the routes validate bodies and
// queries themselves, ./destination-request.ts and QueryReader).
import { CATEGORIES, SEVERITIES } from '../../schemas/event-model.ts';
import { errorResponses } from '../service/openapi.ts';

const TAGS = ['siem'];
const ID = { type: 'object', properties: { id: { type: 'string' } } } as const;
const PAGE = { limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 }, cursor: { type: 'string' } } as const;
const TIME = { type: 'string', format: 'date-time' } as const;
const NULLABLE_TIME = { type: 'string', format: 'date-time', nullable: true } as const;

const CONFIG = {
  description: 'Per type. splunk_hec: {url, token, index?, sourcetype?, source?}; syslog: {host, port, transport: tcp|tls|udp, format: cef|json, app_name?, ca_pem?}; '
    + 'webhook: {url, secret (16+ characters), headers?}. Responses never carry a secret: token and secret are shown as token_set / secret_set: true, header values as "[redacted]".',
  oneOf: [
    { title: 'splunk_hec', type: 'object', required: ['url', 'token'], properties: { url: { type: 'string', format: 'uri' }, token: { type: 'string', writeOnly: true }, token_set: { type: 'boolean', readOnly: true }, index: { type: 'string' }, sourcetype: { type: 'string' }, source: { type: 'string' } } },
    {
      title: 'syslog', type: 'object', required: ['host', 'port', 'transport', 'format'],
      properties: { host: { type: 'string' }, port: { type: 'integer', minimum: 1, maximum: 65535 }, transport: { type: 'string', enum: ['tcp', 'tls', 'udp'] }, format: { type: 'string', enum: ['cef', 'json'] }, app_name: { type: 'string', maxLength: 48 }, ca_pem: { type: 'string', description: 'tls only: the CA of the receiver\'s certificate' } },
    },
    { title: 'webhook', type: 'object', required: ['url', 'secret'], properties: { url: { type: 'string', format: 'uri' }, secret: { type: 'string', minLength: 16, writeOnly: true }, secret_set: { type: 'boolean', readOnly: true }, headers: { type: 'object', additionalProperties: { type: 'string' } } } },
  ],
} as const;

const FILTER = {
  type: 'object', description: 'Every field optional; an event is forwarded when it matches all given.',
  properties: {
    categories: { type: 'array', items: { type: 'string', enum: CATEGORIES } }, min_severity: { type: 'string', enum: SEVERITIES },
    event_types: { type: 'array', items: { type: 'string' } },
  },
} as const;

const START = { type: 'string', description: '"now" (the creation time, the default), "oldest" (the oldest retained event) or an ISO 8601 date-time not in the future. Fixed at creation.' } as const;

const DESTINATION = {
  type: 'object',
  properties: {
    destination_id: { type: 'string' }, name: { type: 'string' }, type: { type: 'string', enum: ['splunk_hec', 'syslog', 'webhook'] },
    config: CONFIG, filter: FILTER, start: START, generation: { type: 'integer', description: 'Bumped by each seek' }, status: { type: 'string', enum: ['active', 'paused'] }, created_at: TIME, updated_at: TIME,
  },
} as const;

const DELIVERY = {
  delivered: { type: 'boolean' }, status: { type: 'integer', description: 'The receiver\'s HTTP status (HEC, webhook)' },
  error: { type: 'string' }, receiver_body: { type: 'string', description: 'The receiver\'s answer to a refusal (at most 2048 characters, secrets scrubbed)' },
  retry_after_ms: { type: 'integer' },
} as const;

const DEAD_LETTER = {
  type: 'object',
  properties: {
    dead_letter_id: { type: 'string' }, created_at: TIME, state: { type: 'string', enum: ['pending', 'redriven'] }, status: { type: 'integer' },
    receiver_body: { type: 'string' }, reason: { type: 'string' }, event_count: { type: 'integer' }, event_ids: { type: 'array', items: { type: 'string' } },
    redrive_attempts: { type: 'integer' }, last_redrive_error: { type: 'string', nullable: true }, redriven_at: NULLABLE_TIME,
    events: { type: 'array', items: { type: 'object' }, description: 'With include_events=true: the events as they were sent' },
  },
} as const;

const REPLAY = {
  type: 'object',
  properties: {
    replay_id: { type: 'string' }, destination_id: { type: 'string' }, status: { type: 'string', enum: ['queued', 'running', 'completed', 'failed'] },
    from: TIME, to: TIME, events_sent: { type: 'integer' }, created_at: TIME, updated_at: TIME, completed_at: NULLABLE_TIME, error: { type: 'string' },
  },
} as const;

const listOf = (key: string, item: object, extra: Record<string, unknown> = {}) => ({
  type: 'object', properties: { [key]: { type: 'array', items: item }, cursor: { type: 'string', nullable: true }, has_more: { type: 'boolean' }, ...extra },
});

export const SIEM_SCHEMAS = {
  create: {
    summary: 'Create a SIEM destination', tags: TAGS,
    body: { type: 'object', required: ['name', 'type', 'config'], properties: { name: { type: 'string', maxLength: 200 }, type: DESTINATION.properties.type, config: CONFIG, filter: FILTER, start: START } },
    response: { 201: DESTINATION, ...errorResponses(400, 403) },
  },
  list: { summary: 'List SIEM destinations (creation order)', tags: TAGS, querystring: { type: 'object', properties: PAGE }, response: { 200: listOf('destinations', DESTINATION), ...errorResponses(400, 403) } },
  get: { summary: 'A SIEM destination', tags: TAGS, params: ID, response: { 200: DESTINATION, ...errorResponses(403, 404) } },
  update: {
    summary: 'Change a destination (RFC 7396 merge patch of name, config, filter: a secret left out keeps its stored value)', tags: TAGS, params: ID,
    body: { type: 'object', properties: { name: { type: 'string' }, config: { type: 'object' }, filter: FILTER } },
    response: { 200: DESTINATION, ...errorResponses(400, 403, 404) },
  },
  remove: { summary: 'Delete a destination (forwarding stops, its consumer group is removed)', tags: TAGS, params: ID, response: { 204: { type: 'null', description: 'Deleted' }, ...errorResponses(403, 404) } },
  pause: { summary: 'Pause forwarding (the position is kept)', tags: TAGS, params: ID, response: { 200: DESTINATION, ...errorResponses(403, 404) } },
  resume: { summary: 'Resume forwarding from the kept position', tags: TAGS, params: ID, response: { 200: DESTINATION, ...errorResponses(403, 404) } },
  seek: {
    summary: 'Move forwarding to a new start ("oldest", "now" or an instant): a new generation of the destination\'s position', tags: TAGS, params: ID,
    body: { type: 'object', required: ['start'], properties: { start: { type: 'string', description: '"oldest", "now" or an ISO 8601 date-time' } } },
    response: { 200: DESTINATION, ...errorResponses(400, 403, 404) },
  },
  test: {
    summary: 'Send one test event and report the receiver\'s answer', tags: TAGS, params: ID,
    response: { 200: { type: 'object', properties: { ...DELIVERY, latency_ms: { type: 'integer' }, event_id: { type: 'string' } } }, ...errorResponses(403, 404) },
  },
  deadLetters: {
    summary: 'Batches the receiver refused (oldest first)', tags: TAGS, params: ID,
    querystring: { type: 'object', properties: { ...PAGE, limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 }, state: { type: 'string', enum: ['pending', 'redriven'] }, include_events: { type: 'boolean', default: false } } },
    response: {
      200: listOf('dead_letters', DEAD_LETTER, { counts: { type: 'object', properties: { pending: { type: 'integer' }, redriven: { type: 'integer' }, pending_events: { type: 'integer' } } } }),
      ...errorResponses(400, 403, 404),
    },
  },
  redrive: {
    summary: 'Send pending dead letters again, now (oldest first; stops at the first retriable failure)', tags: TAGS, params: ID,
    body: { type: 'object', properties: { dead_letter_ids: { type: 'array', items: { type: 'string' } }, limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 } } },
    response: {
      200: {
        type: 'object',
        properties: {
          attempted: { type: 'integer' }, redriven: { type: 'integer' }, failed: { type: 'integer' }, not_attempted: { type: 'integer' }, pending: { type: 'integer' },
          results: { type: 'array', items: { type: 'object', properties: { dead_letter_id: { type: 'string' }, event_count: { type: 'integer' }, ...DELIVERY } } },
        },
      },
      ...errorResponses(400, 403, 404, 409),
    },
  },
  replay: {
    summary: 'Re-deliver the stored events of [from, to) (queued)', tags: TAGS, params: ID,
    body: { type: 'object', required: ['from', 'to'], properties: { from: TIME, to: TIME } },
    response: { 202: { type: 'object', properties: { replay_id: { type: 'string' }, status: { type: 'string', enum: ['queued'] } } }, ...errorResponses(400, 403, 404) },
  },
  replays: { summary: 'A destination\'s replays, newest first', tags: TAGS, params: ID, querystring: { type: 'object', properties: PAGE }, response: { 200: listOf('replays', REPLAY), ...errorResponses(400, 403, 404) } },
  replayGet: {
    summary: 'One replay', tags: TAGS, params: { type: 'object', properties: { id: { type: 'string' }, replay_id: { type: 'string' } } },
    response: { 200: REPLAY, ...errorResponses(403, 404) },
  },
  health: {
    summary: 'Delivery health over the destination\'s partitions', tags: TAGS, params: ID,
    response: {
      200: {
        type: 'object',
        properties: {
          lag_events: { type: 'integer' }, lag_seconds: { type: 'number' }, last_success_at: NULLABLE_TIME, last_error: { type: 'string', nullable: true },
          delivered: { type: 'integer', description: 'Events delivered' }, dead_lettered: { type: 'integer', description: 'Events dead-lettered' },
        },
      },
      ...errorResponses(403, 404),
    },
  },
} as const;
