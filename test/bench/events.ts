// Deterministic load for the ingest benchmark: realistic ~600-byte audit events in the three
// producer shapes the ingest accepts (canonical, ScaiDrive audit event, ScaiVault log entry, as in
// test/fixtures/seed-examples.ts), spread over several tenants, plus
//  - the request bodies (NDJSON or a JSON array, one tenant per request), and
//  - the exact rows the store sink would insert for them (JSONEachRow lines
//    `{"seq":N,"received_at":"…","log_partition":p,"log_offset":o,…log form…}`), built with the
//    project's own normaliser, so a raw-insert ceiling inserts the same bytes as the pipeline.
// Everything is a pure function of the options (seeded PRNG, explicit ids), so a child process
// rebuilds the very same rows without receiving hundreds of MB over a pipe.
import { createHash } from 'node:crypto';
import { normalizeAudit } from '../../schemas/normalize.ts';
import { partitionForKey } from '../../infra/log/partitioner.ts';

export interface LoadOptions {
  /** Total events (spread evenly over the tenants). */
  events: number;
  tenants: string[];
  /** Events per HTTP request (and per Kafka produce batch in the produce ceiling). */
  batch: number;
  /** Distinguishes runs: part of every event id. */
  runTag: string;
  seed?: number;
}

export interface BenchEvent {
  tenant: string;
  id: string;
  /** The event as a producer sends it (one of the three shapes). */
  json: string;
}

export interface BenchRequest {
  tenant: string;
  count: number;
  /** Id of the request's last event: the tenant's newest once this request is acknowledged. */
  lastId: string;
  body: Buffer;
}

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = ['alice', 'bob', 'carol', 'dmitri', 'elena', 'farid', 'grace', 'hiro', 'ines', 'jonas', 'kemal', 'lucia'];
const LAST = ['martin', 'nguyen', 'okafor', 'petrov', 'quinn', 'rossi', 'schmidt', 'tanaka', 'usman', 'varga'];
const DEPTS = ['Finance', 'Engineering', 'Legal', 'Sales', 'People', 'Marketing', 'Security'];
const DOCS = ['board-deck', 'contract-draft', 'payroll-export', 'roadmap', 'incident-report', 'customer-list', 'design-spec', 'budget'];
const EXTS: [string, string][] = [['pdf', 'application/pdf'], ['csv', 'text/csv'], ['png', 'image/png'], ['zip', 'application/zip'], ['docx', 'application/msword']];
const UAS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/130.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) Version/18.0 Safari/605.1.15',
  'ScaiDrive-Desktop/4.12.3 (Windows 11; x64) sync-engine/2.8.1',
  'scaivault-python/1.4.2 (CPython 3.12.4; Linux x86_64)',
  'ScaiSpeak/1.0 (+https://scaispeak.example.com/bot)',
];
const DRIVE_ACTIONS: [string, string, string][] = [
  ['file.download', 'download', 'file_access'], ['file.read', 'read', 'file_access'], ['file.create', 'create', 'file_modification'],
  ['file.update', 'update', 'file_modification'], ['share.create', 'share', 'sharing'], ['permission.check', 'check', 'authorization'],
  ['auth.login', 'login', 'authentication'],
];
const VAULT_ACTIONS = ['read', 'read', 'read', 'write', 'list', 'rotate', 'policy_evaluate', 'delete'];
const VAULT_PATHS = ['integrations/salesforce/oauth', 'databases/prod/postgres-primary', 'ci/github-actions/deploy-key', 'payments/stripe/api-key', 'infra/aws/billing-readonly'];

/** Event `i` (global index) for `tenant`, as its producer would send it. ~600 bytes on average. */
function makeEvent(rnd: () => number, tenant: string, id: string, i: number): string {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rnd() * 16).toString(16)).join('');
  const t = new Date(Date.UTC(2026, 10, 23, 8, 0, 0) + i * 7).toISOString();
  const first = pick(FIRST);
  const last = pick(LAST);
  const user = `usr_01J${hex(7).toUpperCase()}`;
  const email = `${first}.${last}@example.com`;
  const dept = pick(DEPTS);
  const [ext, mime] = pick(EXTS);
  const doc = `${pick(DOCS)}-${2024 + Math.floor(rnd() * 3)}-v${1 + Math.floor(rnd() * 9)}.${ext}`;
  const ip = `${pick(['203.0.113', '198.51.100', '10.20.4', '172.16.9'])}.${1 + Math.floor(rnd() * 254)}`;
  const ok = rnd() > 0.08;
  const shape = rnd();
  if (shape < 0.4) {
    const [eventType, action, category] = pick(DRIVE_ACTIONS);
    return JSON.stringify({
      id, tenant_id: tenant, event_time: t, event_type: eventType, action, category,
      severity: ok ? 'info' : 'warning', outcome: ok ? 'success' : 'denied', success: ok,
      actor: { id: user, type: 'user', email, service_account: rnd() < 0.2 ? `sa_${hex(12)}` : null },
      resource: { type: 'file', id: `fil_01J${hex(8).toUpperCase()}`, name: doc, path: `/${dept}/Shared/${doc}` },
      share_id: `shr_01J${hex(6).toUpperCase()}`, source_ip: ip, user_agent: pick(UAS), request_id: `req_${hex(16)}`,
      duration_ms: Math.floor(rnd() * 400), action_source: pick(['web', 'desktop', 'api', 'mobile']),
      details: { size: Math.floor(rnd() * 5e7), version: 1 + Math.floor(rnd() * 20), mime_type: mime },
    });
  }
  if (shape < 0.75) {
    const [eventType, action, category] = pick(DRIVE_ACTIONS);
    return JSON.stringify({
      id, tenant_id: tenant, event_type: eventType, category, severity: ok ? 'info' : 'warning',
      user_id: user, user_email: email, service_account: rnd() < 0.3 ? hex(32) : null,
      resource_type: 'file', resource_id: `fil_01J${hex(8).toUpperCase()}`, resource_name: doc, resource_path: `/${dept}/Projects/${doc}`,
      share_id: `shr_01J${hex(6).toUpperCase()}`, action, outcome: ok ? 'success' : 'failure',
      ip_address: ip, user_agent: pick(UAS), request_id: `req_${hex(16)}`,
      details: { version: 1 + Math.floor(rnd() * 20), size: Math.floor(rnd() * 5e7) },
      event_time: t,
    });
  }
  const action = pick(VAULT_ACTIONS);
  const sa = rnd() < 0.6;
  return JSON.stringify({
    id, tenant_id: tenant, timestamp: t, action, identity_type: sa ? 'service_account' : 'user',
    identity_id: sa ? `sa:${pick(['reporting', 'billing-sync', 'ci-deployer', 'etl-nightly'])}` : user,
    secret_path: `${pick(VAULT_PATHS)}/${hex(4)}`, source_ip: ip, user_agent: pick(UAS), success: ok,
    duration_ms: Math.floor(rnd() * 60), request_id: `req_${hex(16)}`,
    extra_data: { version: 1 + Math.floor(rnd() * 12), mount: 'kv-v2' },
  });
}

/** Every event, in the order the load generator sends them per tenant. */
export function generateEvents(o: LoadOptions): BenchEvent[] {
  const rnd = mulberry32(o.seed ?? 0x5eed);
  const out: BenchEvent[] = [];
  const perTenant = new Map<string, number>();
  for (let i = 0; i < o.events; i++) {
    const tenant = o.tenants[i % o.tenants.length]!;
    const n = perTenant.get(tenant) ?? 0;
    perTenant.set(tenant, n + 1);
    const id = `aud_${o.runTag}_${tenant.slice(-2)}_${String(n).padStart(7, '0')}`;
    out.push({ tenant, id, json: makeEvent(rnd, tenant, id, i) });
  }
  return out;
}

/** Per-tenant requests of `batch` events, interleaved round-robin across tenants. */
export function buildRequests(events: BenchEvent[], o: LoadOptions, format: 'ndjson' | 'json'): BenchRequest[] {
  const byTenant = new Map<string, BenchEvent[]>();
  for (const e of events) {
    const l = byTenant.get(e.tenant);
    if (l) l.push(e);
    else byTenant.set(e.tenant, [e]);
  }
  const perTenant: BenchRequest[][] = [];
  for (const [tenant, list] of byTenant) {
    const reqs: BenchRequest[] = [];
    for (let k = 0; k < list.length; k += o.batch) {
      const chunk = list.slice(k, k + o.batch);
      const text = format === 'ndjson' ? `${chunk.map((e) => e.json).join('\n')}\n` : `[${chunk.map((e) => e.json).join(',')}]`;
      reqs.push({ tenant, count: chunk.length, lastId: chunk[chunk.length - 1]!.id, body: Buffer.from(text) });
    }
    perTenant.push(reqs);
  }
  const out: BenchRequest[] = [];
  for (let r = 0; perTenant.some((l) => r < l.length); r++) for (const l of perTenant) if (r < l.length) out.push(l[r]!);
  return out;
}

/** The log form of every event: exactly the bytes HTTP ingest appends to the log. */
export function logForms(events: BenchEvent[]): string[] {
  return events.map((e, i) => {
    const n = normalizeAudit(JSON.parse(e.json), { tenantId: e.tenant }, i);
    if (!n.ok) throw new Error(`bench event ${e.id} is invalid: ${JSON.stringify(n.errors)}`);
    return JSON.stringify(n.value);
  });
}

export function digest(bodies: string[]): string {
  const h = createHash('sha1');
  for (const b of bodies) h.update(b).update('\n');
  return h.digest('hex').slice(0, 16);
}

/**
 * The insert payloads the store sink would build for these events: per log partition (tenants
 * keyed by Kafka's partitioner over `partitions`), in log order, `batchRows` rows per insert,
 * per-tenant seq 1, 2, 3, …, one received_at per batch. Built before any timing.
 */
export function sinkBatches(events: BenchEvent[], bodies: string[], partitions: number, batchRows: number): Buffer[] {
  const byPart: { offset: number; seq: Map<string, number>; rows: string[] }[] =
    Array.from({ length: partitions }, () => ({ offset: 0, seq: new Map(), rows: [] }));
  const out: Buffer[] = [];
  const flush = (p: number) => {
    const st = byPart[p]!;
    if (st.rows.length === 0) return;
    const receivedAt = new Date().toISOString();
    out.push(Buffer.from(st.rows.map((r) => r.replace('\u0000', receivedAt)).join('')));
    st.rows = [];
  };
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const p = partitions === 1 ? 0 : partitionForKey(e.tenant, partitions);
    const st = byPart[p]!;
    const seq = (st.seq.get(e.tenant) ?? 0) + 1;
    st.seq.set(e.tenant, seq);
    // Same template as StoreSink.insert (received_at filled in per batch).
    st.rows.push(`{"seq":${seq},"received_at":"\u0000","log_partition":${p},"log_offset":${st.offset++},${bodies[i]!.slice(1)}\n`);
    if (st.rows.length >= batchRows) flush(p);
  }
  for (let p = 0; p < partitions; p++) flush(p);
  return out;
}

/** Tenant names, chosen so Kafka's partitioner spreads them as evenly as possible over `partitions`. */
export function balancedTenants(n: number, partitions: number, prefix = 'tnt_bench_'): string[] {
  const want = Array.from({ length: partitions }, (_, p) => Math.floor(n / partitions) + (p < n % partitions ? 1 : 0));
  const out: string[] = [];
  for (let k = 0; out.length < n && k < 10_000; k++) {
    const name = `${prefix}${String(k).padStart(2, '0')}`;
    const p = partitionForKey(name, partitions);
    if (want[p]! > 0) {
      want[p]!--;
      out.push(name);
    }
  }
  return out;
}
