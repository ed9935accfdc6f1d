// OpenAPI documentation of the Egnyte routes (documentation only: QueryReader validates, and the
// bodies go out as ./events-routes.ts builds them: api/service/openapi.ts documentationOnly).
// Shapes as in egnyte-events-api.txt; errors are our catalogue's bodies.
import { errorResponses } from '../service/openapi.ts';

const eventSchema = {
  type: 'object',
  required: ['id', 'timestamp', 'actor', 'type', 'action', 'data', 'action_source'],
  properties: {
    id: { type: 'integer', description: "The event id: the tenant's ChangeLog seq (strictly increasing)" },
    timestamp: { type: 'string', format: 'date-time', description: 'When the change happened (changed_at), ISO 8601 with milliseconds' },
    actor: { type: 'integer', description: 'changed_by when it is a number, else a stable 48-bit hash of it' },
    type: { type: 'string', enum: ['file_system', 'permission_change'] },
    action: { type: 'string', enum: ['create', 'delete', 'move', 'copy', 'rename', 'permission_change'] },
    data: {
      type: 'object',
      properties: {
        target_path: { type: 'string' },
        source_path: { type: 'string', description: 'move, rename: the old path; copy: metadata.copied_from' },
        is_folder: { type: 'boolean', description: 'permission_change: always false' },
      },
    },
    action_source: { type: 'string', description: 'metadata.action_source, else "Other"' },
    eventTypeSpecificAttributes: {
      type: 'object',
      description: 'permission_change only',
      properties: {
        changeGroupEvents: { type: 'array', items: {} },
        changePermissionEvent: {
          type: 'object',
          properties: {
            changedPermissions: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  entry: { type: 'object', properties: { priv: { type: 'string' }, subject: { type: 'string' } } },
                  action: { type: 'string' },
                },
              },
            },
          },
        },
      },
    },
  },
} as const;

export const cursorSchema = {
  summary: 'Get a cursor: the latest and oldest event ids available',
  description: "Scope audit:read; the token's tenant. Errors: 400 QUERY_INVALID (any parameter), 403 AUTH_SCOPE.",
  tags: ['egnyte'],
  querystring: { type: 'object', additionalProperties: false, properties: {} },
  response: {
    200: {
      type: 'object',
      required: ['timestamp', 'latest_event_id', 'oldest_event_id'],
      properties: {
        timestamp: { type: 'string', format: 'date-time', description: 'Of the latest event (the request time when there is none)' },
        latest_event_id: { type: 'integer' },
        oldest_event_id: { type: 'integer', description: 'The first id of the window (latest 500,000 events, up to 30 days)' },
      },
    },
    ...errorResponses(400, 403),
  },
} as const;

export function eventsSchema(version: 'v1' | 'v2') {
  return {
    summary: version === 'v1'
      ? 'List events after a cursor (file_system and note; permission_change when asked for)'
      : 'List events after a cursor (file_system, note and permission_change)',
    description: "Scope audit:read; the token's tenant. 204 with no body when no event follows the cursor. " +
      'Errors: 400 QUERY_INVALID (missing id, a bad or unknown parameter), 403 AUTH_SCOPE.',
    tags: ['egnyte'],
    querystring: {
      type: 'object',
      additionalProperties: false,
      required: ['id'],
      properties: {
        id: { type: 'integer', minimum: 0, description: 'Events after this id (reverse: up to and including it)' },
        folder: { type: 'string', description: 'Only events whose new or old path is this folder or under it' },
        suppress: { type: 'string', enum: ['app', 'user', 'none'], default: 'none' },
        type: { type: 'string', description: 'file_system, note, permission_change separated by |' },
        count: { type: 'integer', minimum: 1, maximum: 100, default: 50 },
        reverse: { type: 'string', enum: ['0', '1'], default: '0' },
      },
    },
    response: {
      200: {
        type: 'object',
        required: ['count', 'events', 'latest_id'],
        properties: {
          count: { type: 'integer' },
          events: { type: 'array', items: eventSchema },
          latest_id: { type: 'integer', description: 'The highest id in this set' },
        },
      },
      204: { type: 'null', description: 'No events after the cursor (no body)' },
      ...errorResponses(400, 403),
    },
  } as const;
}
