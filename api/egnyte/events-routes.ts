// The Egnyte Events API (egnyte-events-api.txt): GET /pubapi/v1/events/cursor and
// GET /pubapi/v1|v2/events?id=… over the caller's tenant's ChangeLog (scope audit:read).
// Ids are the ChangeLog's per-tenant seq; the mapping and filters are ./egnyte-event.ts, the
// window and the tail cache ./event-stream.ts. Bad parameters are our 400 QUERY_INVALID.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { requireScope } from '../../infra/auth/jwt.ts';
import type { Store } from '../../infra/store/store.ts';
import type { HighWater } from '../query/high-water.ts';
import { QueryReader } from '../query/query-params.ts';
import type { SelfAudit } from '../self-audit.ts';
import { DEFAULT_TYPES, EVENT_TYPES, type EventFilter, type EventType } from './egnyte-event.ts';
import { EgnyteEventStream, type EventStreamOptions } from './event-stream.ts';
import { cursorSchema, eventsSchema } from './events-schemas.ts';

export interface EgnyteDeps {
  store: Store;
  selfAudit: SelfAudit;
  highWater: HighWater;
}

type Version = 'v1' | 'v2';

interface EventsQuery {
  id: number;
  count: number;
  reverse: boolean;
  folder: string | undefined;
  suppress: 'app' | 'user' | 'none';
  types: EventType[];
}

function readEventsQuery(req: FastifyRequest, version: Version): EventsQuery {
  const raw = req.query as Record<string, unknown>;
  const q = new QueryReader(raw);
  const id = q.int('id', 0, Number.MAX_SAFE_INTEGER);
  if (raw['id'] === undefined) q.fail('id', 'required: the cursor (an event id) to read after');
  const folder = q.string('folder', 4096);
  if (folder !== undefined && !folder.startsWith('/')) q.fail('folder', 'must be an absolute path (starting with /)');
  const suppress = q.oneOf('suppress', ['app', 'user', 'none'] as const) ?? 'none';
  const typeList = q.list('type', '|');
  const unknown = typeList?.filter((t) => !(EVENT_TYPES as readonly string[]).includes(t)) ?? [];
  if (unknown.length > 0) q.fail('type', `unknown event type ${unknown.join(', ')}: must be ${EVENT_TYPES.join(', ')}, separated by |`);
  const count = q.int('count', 1, 100) ?? 50;
  const reverse = q.oneOf('reverse', ['0', '1'] as const) === '1';
  q.done();
  return { id: id!, count, reverse, folder: normaliseFolder(folder), suppress, types: (typeList as EventType[] | undefined) ?? [...DEFAULT_TYPES[version]] };
}

/** `/Shared/Docs/` → `/Shared/Docs`; `/` → every path. */
function normaliseFolder(folder: string | undefined): string | undefined {
  if (folder === undefined) return undefined;
  const f = folder.replace(/\/+$/, '');
  return f === '' ? undefined : f;
}

export async function egnyteRoutes(app: FastifyInstance, deps: EgnyteDeps, options: Partial<EventStreamOptions> = {}): Promise<void> {
  const stream = new EgnyteEventStream(deps.store, deps.highWater, options);

  app.get('/pubapi/v1/events/cursor', { schema: cursorSchema }, async (req) => {
    requireScope(req.principal, 'audit:read');
    new QueryReader(req.query as Record<string, unknown>).done();
    const cursor = await stream.cursor(req.principal.tenantId);
    deps.selfAudit.record(req, { resource: 'egnyte.events.cursor', filters: {}, rows: 0 });
    return cursor;
  });

  for (const version of ['v1', 'v2'] as const) {
    app.get(`/pubapi/${version}/events`, { schema: eventsSchema(version) }, async (req, reply: FastifyReply) => {
      requireScope(req.principal, 'audit:read');
      const p = readEventsQuery(req, version);
      const principal = req.principal;
      const filter: EventFilter = {
        types: new Set(p.types),
        folder: p.folder,
        notBy: p.suppress === 'user' ? principal.subject : undefined,
        // A token without act.client_id has no app whose events could be left out.
        notApp: p.suppress === 'app' ? principal.serviceAccount ?? undefined : undefined,
      };
      const events = await stream.list(principal.tenantId, { id: p.id, count: p.count, reverse: p.reverse, filter });
      // Nothing after the cursor: 204 with no body (and no self-audit record: it discloses nothing).
      if (events.length === 0) return reply.code(204).send();
      let latest = 0;
      let body = `{"count":${events.length},"events":[`;
      for (let i = 0; i < events.length; i++) {
        const e = events[i]!;
        if (e.seq > latest) latest = e.seq;
        body += i === 0 ? e.json : `,${e.json}`;
      }
      body += `],"latest_id":${latest}}`;
      deps.selfAudit.record(req, {
        resource: 'egnyte.events',
        filters: { version, id: p.id, folder: p.folder, suppress: p.suppress, type: p.types.join('|'), count: p.count, reverse: p.reverse },
        rows: events.length,
      });
      // The events' JSON was built once, when they were mapped: sent as it stands.
      return reply.code(200).header('content-type', 'application/json; charset=utf-8').send(body);
    });
  }
}
