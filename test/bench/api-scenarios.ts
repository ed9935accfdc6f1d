// bench:api's scenarios: which request each one sends, with which token, and the target it is held
// to. A scenario whose route the app does not register (404 "no route") is reported as not
// available, never faked: the benchmark covers each family as it lands in api/read-api.ts.
import type { PreloadResult, RawRequest } from './api-store-child.ts';

export interface TokenSpec { tenant: string; scope: string; claims?: Record<string, unknown> }

export interface Scenario {
  name: string;
  route: string;
  /** 'loop': closed loops of the same request (or a per-client cursor chain); 'egnyte': the tail pollers */
  kind: 'loop' | 'egnyte';
  token: TokenSpec;
  /** client `client`'s next request path, given its state (the cursor it follows, if any) */
  path(state: { cursor?: string | undefined }): string;
  /** a 200 answer's body → the client's next state (cursor chains) */
  follow?(body: Buffer): { cursor?: string | undefined };
  /** the requests whose SQL is the raw ceiling (captured from the app on the same data) */
  raw: { label: string; path: string }[];
  target?: { p99Ms?: number; rps?: number; what: string };
}

export interface ScenarioData {
  preload: PreloadResult;
  /** ms: "now" for the time windows (the history ends here) */
  now: number;
}

const iso = (ms: number) => new Date(ms).toISOString();
const day = 86_400_000;
const enc = (p: string) => p.split('/').map(encodeURIComponent).join('/');

export function scenarios(d: ScenarioData): Scenario[] {
  const top = d.preload.tenants[0]!;
  const read: TokenSpec = { tenant: top.tenant, scope: 'audit:read' };
  const logs = `/v1/audit/logs?action=read,write&identity_type=service_account&from=${iso(d.now - 7 * day)}&limit=100`;
  const summary = `/v1/audit/summary?from=${iso(d.now - 30 * day)}&to=${iso(d.now)}`;
  const secret = `/v1/audit/secrets/${enc(d.preload.hotSecretPath)}`;
  const identity = `/v1/audit/identities/${encodeURIComponent(d.preload.hotIdentity)}`;
  const admin = `/api/v1/admin/audit/?page=1&per_page=50&action=download&start_time=${iso(d.now - 7 * day)}&end_time=${iso(d.now)}`;
  const latest = top.changesMaxSeq;
  return [
    {
      name: 'logs: filtered page', route: 'GET /v1/audit/logs', kind: 'loop', token: read, path: () => logs,
      raw: [{ label: 'page', path: logs }], target: { p99Ms: 50, what: 'p99 < 50 ms' },
    },
    {
      name: 'summary: 30 days', route: 'GET /v1/audit/summary', kind: 'loop', token: read, path: () => summary,
      raw: [{ label: '30 days', path: summary }], target: { p99Ms: 100, what: 'p99 < 100 ms' },
    },
    { name: 'trail: secret', route: 'GET /v1/audit/secrets/{path}', kind: 'loop', token: read, path: () => secret, raw: [{ label: 'trail', path: secret }] },
    { name: 'trail: identity', route: 'GET /v1/audit/identities/{identity_id}', kind: 'loop', token: read, path: () => identity, raw: [{ label: 'trail', path: identity }] },
    {
      name: 'admin: filtered page', route: 'GET /api/v1/admin/audit/', kind: 'loop', token: { tenant: top.tenant, scope: 'audit:admin' },
      path: () => admin, raw: [{ label: 'page 1', path: admin }],
    },
    {
      // A device catching up: each client pages forward through the ChangeLog from the start.
      name: 'sync: catch-up pages', route: 'GET /api/v1/sync/changes', kind: 'loop', token: { tenant: top.tenant, scope: 'drive:sync drive:all' },
      path: (s) => `/api/v1/sync/changes?limit=500${s.cursor ? `&cursor=${encodeURIComponent(s.cursor)}` : ''}`,
      // At the end of the log the device is caught up: the next client starts a new device from the start.
      follow: (body) => {
        const page = JSON.parse(body.toString('utf8')) as { cursor?: string; has_more?: boolean };
        return page.has_more ? { cursor: page.cursor } : {};
      },
      raw: [{ label: 'first page', path: '/api/v1/sync/changes?limit=500' }],
    },
    {
      name: 'egnyte: tail polling, 100 pollers', route: 'GET /pubapi/v2/events', kind: 'egnyte', token: read,
      path: () => `/pubapi/v2/events?id=${latest}`,
      raw: [{ label: 'nothing new', path: `/pubapi/v2/events?id=${latest}` }, { label: '20 new events', path: `/pubapi/v2/events?id=${Math.max(0, latest - 20)}` }],
      target: { rps: 5000, what: '≥ 5,000 req/s' },
    },
  ];
}

/** The raw-ceiling requests of every scenario, named `<scenario> / <label>`. */
export function rawRequests(list: Scenario[]): RawRequest[] {
  return list.flatMap((s) => s.raw.map((r) => ({ name: `${s.name} / ${r.label}`, path: r.path, tenant: s.token.tenant, scope: s.token.scope, ...(s.token.claims ? { claims: s.token.claims } : {}) })));
}

/** Fastify's not-found handler answers an unregistered route with code NOT_FOUND, "no route …". */
export function isNoRoute(status: number, body: string): boolean {
  if (status !== 404) return false;
  try {
    const b = JSON.parse(body) as { code?: string; error?: string };
    return b.code === 'NOT_FOUND' && /^no route/.test(b.error ?? '');
  } catch {
    return false;
  }
}
