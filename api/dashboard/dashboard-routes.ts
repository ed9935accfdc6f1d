// The dashboard: a static page served at `/` and its assets under `/dashboard/` (a prefix no
// API family uses). No build step: the files in ./public are sent as they are, read once at start.
// The page needs no token; every data call it makes carries one (Authorization: Bearer for the
// JSON APIs, `?token=` for the EventSource, which cannot set headers).
//
// Headers: a strict Content-Security-Policy (scripts and styles only from this origin, no inline
// script, connections only back to this origin, no framing); `Cache-Control: no-cache` with an
// ETag, so a browser revalidates (304) and an upgraded server is picked up at once — the names
// carry no content hash, so a long max-age would pin old files.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AuditflowError } from '../../infra/errors.ts';
import { errorResponses, NO_TOKEN } from '../service/openapi.ts';

export const DASHBOARD_PREFIX = '/dashboard';

export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** The files under ./public the page loads (any other name is a 404). */
export const DASHBOARD_ASSETS = ['dashboard.js', 'dashboard-dom.js', 'summary-chart.js', 'dashboard.css'] as const;

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

function load(name: string): Asset {
  const body = readFileSync(new URL(`./public/${name}`, import.meta.url));
  const type = TYPES[name.slice(name.lastIndexOf('.') + 1)];
  if (type === undefined) throw new AuditflowError('INTERNAL', `dashboard asset without a content type: ${name}`);
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

function send(req: FastifyRequest, reply: FastifyReply, a: Asset): FastifyReply {
  void reply
    .header('content-security-policy', DASHBOARD_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-cache')
    .header('etag', a.etag);
  if (req.headers['if-none-match'] === a.etag) return reply.code(304).send();
  return reply.code(200).type(a.type).send(a.body);
}

const page = (types: string[], description: string) => ({
  200: { description, content: Object.fromEntries(types.map((t) => [t, { schema: { type: 'string' } }])) },
  304: { description: 'Not modified (If-None-Match matched the ETag)', type: 'null' },
});

export async function dashboardRoutes(app: FastifyInstance): Promise<void> {
  const index = load('index.html');
  const assets = new Map(DASHBOARD_ASSETS.map((n) => [n as string, load(n)]));

  app.get('/', {
    schema: {
      summary: 'The dashboard (HTML page: live tail, search, event detail, summary chart)',
      description: 'Needs no token itself; paste one, or open `/#token=<JWT>`. The page calls /v1/audit/logs, '
        + '/v1/audit/summary, /api/v1/admin/audit/{log_id} and /api/events with it.',
      tags: ['dashboard'], security: NO_TOKEN,
      response: page(['text/html'], 'The page'),
    },
  }, async (req, reply) => send(req, reply, index));

  app.get<{ Params: { file: string } }>(`${DASHBOARD_PREFIX}/:file`, {
    schema: {
      summary: "The dashboard's scripts (ES modules) and style sheet",
      tags: ['dashboard'], security: NO_TOKEN,
      params: { type: 'object', required: ['file'], properties: { file: { type: 'string', enum: [...assets.keys()] } } },
      response: { ...page(['text/javascript', 'text/css'], 'the file: text/javascript for *.js, text/css for *.css'), ...errorResponses(404) },
    },
  }, async (req, reply) => {
    const a = assets.get(req.params.file);
    if (a === undefined) throw new AuditflowError('NOT_FOUND', `no dashboard asset ${req.params.file}`);
    return send(req, reply, a);
  });
}
