// OpenAPI description of GET /api/v1/sync/changes (documentation only: QueryReader validates and
// the body goes out as toChangeEntry builds it: api/service/openapi.ts documentationOnly).
import { errorResponses } from '../service/openapi.ts';

/** Page size bounds of the sync pull. */
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

// JSON Schema's spelling; @fastify/swagger writes it as OpenAPI 3.0's `nullable`.
const nullableString = { type: ['string', 'null'] } as const;

export const changeEntrySchema = {
  type: 'object',
  required: ['id', 'resource_type', 'resource_id', 'change_type', 'changed_by', 'changed_at', 'metadata', 'old_path', 'new_path', 'version_id'],
  properties: {
    id: { type: 'string', examples: ['chg_01J3L'] },
    resource_type: { type: 'string', enum: ['file', 'folder', 'share'] },
    resource_id: { type: 'string' },
    change_type: { type: 'string', enum: ['created', 'updated', 'deleted', 'moved', 'renamed'] },
    changed_by: { type: 'string' },
    changed_at: { type: 'string', format: 'date-time', description: 'ISO 8601, UTC, with milliseconds' },
    metadata: { type: 'object', additionalProperties: true },
    old_path: nullableString,
    new_path: nullableString,
    version_id: nullableString,
  },
} as const;

export const syncChangesSchema = {
  summary: "The tenant's ChangeLog from a cursor, oldest first (the sync pull)",
  description:
    'Scope drive:sync. Lists the changes of the shares the token may read (its `shares` claim, or every share with drive:all). ' +
    'Keep the returned cursor and pass it back: it never skips or repeats a change. Pull again at once while has_more is true. ' +
    'Errors: 400 QUERY_INVALID (bad or unknown parameter), 400 CURSOR_INVALID (a cursor not issued for this tenant and these shares: ' +
    'start again without one), 403 AUTH_SCOPE (no drive:sync), 403 SHARE_FORBIDDEN (share_id outside the token\'s shares).',
  tags: ['sync'],
  querystring: {
    type: 'object',
    properties: {
      cursor: { type: 'string', maxLength: 512, description: 'Opaque; from the previous response. Absent: from the start of the log.' },
      limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT },
      share_id: { type: 'string', maxLength: 256, description: 'Only this share (403 SHARE_FORBIDDEN if the token may not read it).' },
    },
  },
  response: {
    200: {
      description: 'A page of changes, oldest first, and the cursor to resume from',
      type: 'object',
      required: ['changes', 'cursor', 'has_more'],
      properties: {
        changes: { type: 'array', items: changeEntrySchema },
        cursor: { type: 'string', description: 'Always present: resume from it, also at the end of the log.' },
        has_more: { type: 'boolean', description: 'More changes were past this page when it was read.' },
      },
    },
    ...errorResponses(400, 403),
  },
} as const;
