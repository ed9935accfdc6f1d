// bench:realtime's load, decided before anything is timed:
//  - the clients: sync sockets (a `shares` claim of a few shares of their tenant), UI sockets
//    (subscribed to one share of their tenant) and SSE streams (audit:admin, their tenant), dealt
//    round-robin over the client processes;
//  - per measured window, the rows ingest will send: ChangeLog entries spread over the tenants'
//    shares and audit events (the ingest benchmark's three producer shapes, ./events.ts), as NDJSON
//    requests of `batch` rows for one tenant each. Every row's id carries its global row number
//    after a marker (`chg_rt<tag>x<g>`, `aud_rt<tag>x<g>`), and it reaches every frame built from
//    the row (the sync entry's `id`, the UI frame's `change_id`, SSE's `auditLogId`), so a client
//    can tell which row a frame is without parsing it.
import { generateEvents, mulberry32 } from './events.ts';

export type ClientKind = 'sync' | 'ui' | 'sse';

export interface ClientSpec {
  /** global client number (what the records name) */
  i: number;
  kind: ClientKind;
  tenant: string;
  /** sync: the token's `shares` claim; ui: the one share it subscribes to (and its claim) */
  shares: string[];
}

export interface ClientPlan {
  tenants: string[];
  shares: string[][];
  clients: ClientSpec[];
  /** clients of each client process */
  perWorker: ClientSpec[][];
  /** recipients of a change row: `${tenant} ${share}` → WS clients following it (sync + ui) */
  followers: Map<string, { sync: number; ui: number }>;
  /** recipients of an audit row: SSE streams per tenant */
  sseByTenant: Map<string, number>;
}

export const shareKey = (tenant: string, share: string) => `${tenant} ${share}`;

export function planClients(o: { ws: number; sse: number; tenants: number; shares: number; uiShare: number; syncClaims: number; workers: number; seed: number }): ClientPlan {
  const rnd = mulberry32(o.seed);
  const tenants = Array.from({ length: o.tenants }, (_, t) => `tnt_live_${String(t).padStart(2, '0')}`);
  const shares = tenants.map((_, t) => Array.from({ length: o.shares }, (_, s) => `shr_t${t}s${s}`));
  const clients: ClientSpec[] = [];
  const followers = new Map<string, { sync: number; ui: number }>();
  const follow = (tenant: string, share: string, kind: 'sync' | 'ui') => {
    const k = shareKey(tenant, share);
    const f = followers.get(k) ?? { sync: 0, ui: 0 };
    f[kind]++;
    followers.set(k, f);
  };
  for (let i = 0; i < o.ws; i++) {
    const t = i % o.tenants;
    const tenant = tenants[t]!;
    // Kind by round (i / tenants), so every tenant has the same mix: UI sockets spread evenly.
    const round = Math.floor(i / o.tenants);
    const kind: ClientKind = Math.floor((round + 1) * o.uiShare) > Math.floor(round * o.uiShare) ? 'ui' : 'sync';
    const want = kind === 'ui' ? 1 : Math.min(o.syncClaims, o.shares);
    const picked = new Set<string>();
    while (picked.size < want) picked.add(shares[t]![Math.floor(rnd() * o.shares)]!);
    const list = [...picked].sort();
    for (const s of list) follow(tenant, s, kind === 'ui' ? 'ui' : 'sync');
    clients.push({ i, kind, tenant, shares: list });
  }
  const sseByTenant = new Map<string, number>();
  for (let j = 0; j < o.sse; j++) {
    const tenant = tenants[j % o.tenants]!;
    sseByTenant.set(tenant, (sseByTenant.get(tenant) ?? 0) + 1);
    clients.push({ i: o.ws + j, kind: 'sse', tenant, shares: [] });
  }
  // Dealt so every process holds clients of every tenant (i % workers would follow i % tenants).
  const perWorker: ClientSpec[][] = Array.from({ length: o.workers }, () => []);
  for (const c of clients) {
    const k = c.kind === 'sse' ? c.i - o.ws : c.i;
    perWorker[(k + Math.floor(k / o.tenants)) % o.workers]!.push(c);
  }
  return { tenants, shares, clients, perWorker, followers, sseByTenant };
}

export const marker = (tag: string) => `_rt${tag}x`;

export interface IngestRequest {
  tenant: string;
  path: '/v1/ingest/changes' | '/v1/ingest/audit-events';
  body: Buffer;
  count: number;
  /** global number of its first row (its rows are firstRow … firstRow + count - 1) */
  firstRow: number;
}

export interface WindowLoad {
  tag: string;
  requests: IngestRequest[];
  /** per row: 0 change, 1 audit event */
  kind: Uint8Array;
  tenant: Uint16Array;
  /** per row: its share (index into the tenant's shares), -1 for audit events */
  share: Int16Array;
  request: Int32Array;
  /** per row: its id as stored */
  ids: string[];
}

/**
 * `rate × seconds` rows, `changeShare` of them ChangeLog entries, in requests of `batch` rows of
 * one tenant; tenants take turns, and change and audit requests are interleaved by their share so
 * both arrive evenly over the window.
 */
export function buildLoad(o: { tag: string; plan: ClientPlan; rate: number; seconds: number; changeShare: number; batch: number; seed: number }): WindowLoad {
  const total = Math.max(o.batch, Math.round(o.rate * o.seconds));
  const nReq = Math.ceil(total / o.batch);
  const T = o.plan.tenants.length;
  const n = nReq * o.batch;
  const rnd = mulberry32(o.seed);
  const kind = new Uint8Array(n);
  const tenant = new Uint16Array(n);
  const share = new Int16Array(n);
  const request = new Int32Array(n);
  const ids: string[] = new Array<string>(n);
  // Audit bodies: the ingest benchmark's events, bucketed by tenant (their tenant_id must be the token's).
  const pool = generateEvents({ events: n + T, tenants: o.plan.tenants, batch: o.batch, runTag: `rt${o.tag}` });
  const byTenant = new Map<string, string[]>();
  for (const e of pool) {
    const l = byTenant.get(e.tenant);
    if (l) l.push(e.json);
    else byTenant.set(e.tenant, [e.json]);
  }
  const used = new Map<string, number>();
  const requests: IngestRequest[] = [];
  const now = Date.now();
  let g = 0;
  let changesSoFar = 0;
  let auditsSoFar = 0;
  for (let r = 0; r < nReq; r++) {
    // Change request when the change count is behind its share of the requests so far; each
    // kind takes the tenants in turn on its own (one turn for both would tie kind to tenant).
    const isChange = changesSoFar < Math.round((r + 1) * o.changeShare);
    const t = (isChange ? changesSoFar++ : auditsSoFar++) % T;
    const tn = o.plan.tenants[t]!;
    const lines: string[] = [];
    const first = g;
    for (let j = 0; j < o.batch; j++, g++) {
      const id = `${isChange ? 'chg' : 'aud'}${marker(o.tag)}${g}`;
      ids[g] = id;
      kind[g] = isChange ? 0 : 1;
      tenant[g] = t;
      request[g] = r;
      if (isChange) {
        const s = Math.floor(rnd() * o.plan.shares[t]!.length);
        share[g] = s;
        const created = g % 4 === 0;
        const p = `/Projects/${o.plan.shares[t]![s]}/design-spec-${g % 5000}.pdf`;
        lines.push(JSON.stringify({
          id, tenant_id: tn, resource_type: 'file', resource_id: `fil_${t}f${g % 5000}`, change_type: created ? 'created' : 'updated',
          changed_by: `usr_live${g % 300}`, changed_at: new Date(now + g).toISOString(), metadata: { size: 1000 + g, mime_type: 'application/pdf', action_source: 'desktop' },
          old_path: created ? null : p, new_path: p, version_id: `ver_${t}v${g}`, share_id: o.plan.shares[t]![s],
        }));
      } else {
        share[g] = -1;
        const list = byTenant.get(tn)!;
        const k = used.get(tn) ?? 0;
        used.set(tn, k + 1);
        // Every shape serialises its id first: swap in the marked one.
        lines.push(list[k % list.length]!.replace(/^\{"id":"[^"]*"/, `{"id":"${id}"`));
      }
    }
    requests.push({ tenant: tn, path: isChange ? '/v1/ingest/changes' : '/v1/ingest/audit-events', body: Buffer.from(`${lines.join('\n')}\n`), count: o.batch, firstRow: first });
  }
  return { tag: o.tag, requests, kind, tenant, share, request, ids };
}

/** How many deliveries row `g` should have: its share's WS followers, or its tenant's SSE streams. */
export function expectedRecipients(plan: ClientPlan, load: WindowLoad, g: number): number {
  const tn = plan.tenants[load.tenant[g]!]!;
  if (load.kind[g] === 1) return plan.sseByTenant.get(tn) ?? 0;
  const f = plan.followers.get(shareKey(tn, plan.shares[load.tenant[g]!]![load.share[g]!]!));
  return f ? f.sync + f.ui : 0;
}
