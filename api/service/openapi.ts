// The API's description: OpenAPI 3 generated from the route schemas (@fastify/swagger) at
// GET /openapi.json, and a browsable UI at /docs (@fastify/swagger-ui). Neither needs a token.
//
// Route schemas are documentation only (documentationOnly below). Every route declares
// `schema: { summary, tags, querystring, params, response }`; the helpers here give the shared
// parts (the catalogue's error body, "no token needed").
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { ERROR_CATALOGUE } from '../../infra/errors.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered after the service surface (HEAD twins left out): what /openapi.json must cover. */
    routeTable: readonly RouteEntry[];
  }
}

export interface RouteEntry {
  method: string;
  url: string;
  /** `schema.hide`: deliberately out of the document (the docs UI's own files). */
  hidden: boolean;
}

/** `security` of a route that needs no token. */
export const NO_TOKEN: readonly Record<string, string[]>[] = [];

/** The catalogue's error body (infra/errors.ts), as every error response carries it. */
export const errorBodySchema = {
  type: 'object',
  required: ['error', 'code'],
  properties: {
    error: { type: 'string', description: 'Human-readable message (may change; classify by `code`)' },
    code: { type: 'string', enum: Object.keys(ERROR_CATALOGUE) },
    details: {
      type: 'array',
      items: {
        type: 'object',
        required: ['path', 'message'],
        properties: { index: { type: 'integer' }, path: { type: 'string' }, message: { type: 'string' }, type: { type: 'string', description: 'what kind of problem (pydantic-style, e.g. int_parsing)' } },
      },
    },
  },
} as const;

const STATUS_TEXT: Record<number, string> = {
  400: 'Invalid request (see `details`)', 401: 'Missing or invalid token', 403: 'Token lacks the scope or the tenant',
  404: 'Not found', 413: 'Body too large', 415: 'Unsupported media type', 422: 'Validation error',
  429: 'Rate limited: retry after `Retry-After` seconds', 500: 'Internal error', 503: 'Unavailable: retry later',
};

/** Error responses for `schema.response`, each with the catalogue body. */
export function errorResponses(...statuses: number[]): Record<number, unknown> {
  const out: Record<number, unknown> = {};
  for (const s of statuses) out[s] = { description: STATUS_TEXT[s] ?? 'Error', ...errorBodySchema };
  return out;
}

/** A model schema from schemas/json-schemas.ts for the document: its `$id` as a title, so it stays inline. */
export function docSchema<T extends { $id?: string }>(s: T): Omit<T, '$id'> & { title?: string } {
  const { $id, ...rest } = s;
  return $id === undefined ? rest : { title: $id, ...rest };
}

/**
 * Route schemas describe, they do not act. QueryReader (api/query/query-params.ts) validates
 * queries so that every problem comes back in our error body with the parameter's name and
 * unknown parameters are refused; ingest validates its raw bytes itself. And a body is sent
 * exactly as the mapping code built it: fast-json-stringify would drop any field the schema does
 * not list and coerce types, so a schema slightly out of date would silently change the API.
 */
export function documentationOnly(app: FastifyInstance): void {
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
}

/** Records every route registered from here on (the test holds /openapi.json to it). */
export function collectRoutes(app: FastifyInstance): void {
  const routes: RouteEntry[] = [];
  app.decorate('routeTable', routes);
  app.addHook('onRoute', (r: RouteOptions) => {
    for (const method of Array.isArray(r.method) ? r.method : [r.method]) {
      if (method === 'HEAD') continue; // Fastify's automatic twin of each GET
      routes.push({ method, url: r.url, hidden: (r.schema as { hide?: boolean } | undefined)?.hide === true });
    }
  });
}

/** Adds the responses every token-protected route can give (401, 429) where a route did not list them. */
function withCommonResponses(schema: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!schema || (Array.isArray(schema['security']) && schema['security'].length === 0)) return schema;
  const response = { ...(schema['response'] as Record<string, unknown> | undefined) };
  for (const [status, r] of Object.entries(errorResponses(401, 429))) response[status] ??= r;
  return { ...schema, response };
}

/** @fastify/swagger (before any documented route: it collects them as they register) and /docs. */
export async function registerOpenApi(app: FastifyInstance, info: { version: string }): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'auditflow',
        version: info.version,
        description: 'Audit and compliance events: ingest, and the ScaiVault, Egnyte, ScaiDrive and admin read APIs. '
          + 'Every error body is `{error, code, details?}` with a stable `code`.',
      },
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Claims: sub, tid, scope, exp (see README "Auth")' } },
      },
      security: [{ bearerAuth: [] }],
    },
    transform: ({ schema, url }) => ({ schema: withCommonResponses(schema as Record<string, unknown> | undefined) as typeof schema, url }),
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', {
    schema: {
      summary: 'This API as an OpenAPI 3 document', tags: ['service'], security: NO_TOKEN,
      response: { 200: { description: 'OpenAPI 3.0 document', type: 'object', additionalProperties: true } },
    },
  }, async () => app.swagger());
}
