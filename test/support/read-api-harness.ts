// The read APIs' test harness: both stores (chDB in this process, and ClickHouse's HTTP interface
// over chDB in a child process through @clickhouse/client), migrated; row builders that insert
// audit_events / change_log rows as the store sink writes them (seq per tenant, contiguous); and
// the real Fastify app (buildApp) over a store, driven with app.inject().
//
//   const stores = await startStores();            // beforeAll
//   for (const s of stores.list) { ... s.name, s.store, s.rows.audit([...]) ... }
//   const api = await readApp(s.store);              // api.app.inject(...), api.token(...)
//   await stores.stop();                             // afterAll
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { buildApp } from '../../api/app.ts';
import type { ReadRecord, SelfAudit } from '../../api/self-audit.ts';
import { createAuthenticator, issueToken } from '../../infra/auth/jwt.ts';
import { parseConfig } from '../../infra/config.ts';
import { ChdbStore } from '../../infra/store/chdb-store.ts';
import { ClickHouseHttpStore } from '../../infra/store/clickhouse-http-store.ts';
import { migrate } from '../../infra/store/migrations.ts';
import type { Store } from '../../infra/store/store.ts';
import { WriteSignal } from '../../processors/write-signal.ts';
import { startClickHouseHttp } from './clickhouse-http-server.ts';

export type StoreName = 'chdb' | 'http';

/** A stored audit_events row (every column, as the sink writes it). */
export interface AuditRow {
  tenant_id: string; seq: number; id: string; partner_id: string; event_time: string; received_at: string;
  event_type: string; action: string; category: string; severity: string; outcome: string; success: boolean;
  actor_id: string; actor_type: string; actor_email: string; service_account: string | null;
  resource_type: string; resource_id: string; resource_name: string; resource_path: string; share_id: string;
  source_ip: string; user_agent: string; request_id: string; duration_ms: number | null; action_source: string;
  details: string; source_format: string; log_partition: number; log_offset: number;
}

/** A stored change_log row. */
export interface ChangeRow {
  tenant_id: string; seq: number; id: string; resource_type: string; resource_id: string; change_type: string;
  changed_by: string; changed_at: string; received_at: string; metadata: string; old_path: string | null;
  new_path: string | null; version_id: string | null; share_id: string; log_partition: number; log_offset: number;
}

let unique = 0;
const uid = () => `${Date.now().toString(36)}${(unique++).toString(36)}${randomBytes(3).toString('hex')}`;

/** A fresh tenant id for a test (tests never share a tenant, so they never depend on order). */
export const newTenant = (label = 't') => `${label}_${uid()}`;

/**
 * Inserts rows the way the sink does: seq per tenant continues where this writer left off
 * (contiguous from 1), ids unique unless given. Returns the rows as stored.
 */
export class RowWriter {
  private readonly seqs = new Map<string, number>();
  private offset = 0;

  constructor(readonly store: Store, private readonly signal?: WriteSignal) {}

  private nextSeq(table: string, tenant: string): number {
    const k = `${table}/${tenant}`;
    const s = (this.seqs.get(k) ?? 0) + 1;
    this.seqs.set(k, s);
    return s;
  }

  async audit(tenant: string, rows: Partial<AuditRow>[]): Promise<AuditRow[]> {
    const now = new Date().toISOString();
    const out = rows.map((r): AuditRow => ({
      tenant_id: tenant, seq: this.nextSeq('audit_events', tenant), id: `aud_${uid()}`, partner_id: '',
      event_time: now, received_at: now, event_type: 'secret.read', action: 'read', category: 'security',
      severity: 'info', outcome: 'success', success: true, actor_id: 'usr_1', actor_type: 'user',
      actor_email: 'u1@example.com', service_account: null, resource_type: 'secret', resource_id: 'sec_1',
      resource_name: 'db-password', resource_path: 'prod/db/password', share_id: '', source_ip: '10.0.0.1',
      user_agent: 'test/1.0', request_id: `req_${uid()}`, duration_ms: 3, action_source: '', details: '{}',
      source_format: 'canonical', log_partition: 0, log_offset: this.offset++,
      ...r,
    }));
    await this.insert('audit_events', out);
    return out;
  }

  async changes(tenant: string, rows: Partial<ChangeRow>[]): Promise<ChangeRow[]> {
    const now = new Date().toISOString();
    const out = rows.map((r): ChangeRow => ({
      tenant_id: tenant, seq: this.nextSeq('change_log', tenant), id: `chg_${uid()}`, resource_type: 'file',
      resource_id: `fil_${uid()}`, change_type: 'created', changed_by: 'usr_1', changed_at: now, received_at: now,
      metadata: '{}', old_path: null, new_path: '/Shared/a.txt', version_id: null, share_id: 'shr_1',
      log_partition: 0, log_offset: this.offset++,
      ...r,
    }));
    await this.insert('change_log', out);
    return out;
  }

  private async insert(table: 'audit_events' | 'change_log', rows: { tenant_id: string; seq: number }[]): Promise<void> {
    if (rows.length === 0) return;
    const ndjson = Buffer.from(rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
    await this.store.insertJsonEachRow(table, ndjson);
    // As the sink does once the store acknowledged the insert.
    const ranges = new Map<string, { tenantId: string; firstSeq: number; lastSeq: number }>();
    for (const r of rows) {
      const g = ranges.get(r.tenant_id);
      if (g === undefined) ranges.set(r.tenant_id, { tenantId: r.tenant_id, firstSeq: r.seq, lastSeq: r.seq });
      else g.lastSeq = Math.max(g.lastSeq, r.seq);
    }
    this.signal?.publish({ table, partition: 0, ranges: [...ranges.values()], rows: ndjson });
  }
}

export interface HarnessStore {
  name: StoreName;
  store: Store;
  /** What the rows' inserts announce, as the sink's WriteSignal does in the embedded deployment. */
  signal: WriteSignal;
  rows: RowWriter;
}

export interface Stores {
  list: HarnessStore[];
  stop(): Promise<void>;
}

/** Both stores, migrated. */
export async function startStores(): Promise<Stores> {
  const dir = mkdtempSync(path.join(tmpdir(), 'af-read-'));
  const chdb = new ChdbStore(path.join(dir, 'chdb'));
  const ch = await startClickHouseHttp();
  const http = new ClickHouseHttpStore({ url: ch.url, username: 'default', password: '', database: 'default' });
  await migrate(chdb);
  await migrate(http);
  const make = (name: StoreName, store: Store): HarnessStore => {
    const signal = new WriteSignal();
    return { name, store, signal, rows: new RowWriter(store, signal) };
  };
  return {
    list: [make('chdb', chdb), make('http', http)],
    stop: async () => {
      await http.close();
      await ch.stop();
      await chdb.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Self-audit records kept in memory, for assertions on what a read recorded. */
export class RecordedReads implements SelfAudit {
  readonly records: { tenantId: string; subject: string; url: string; what: ReadRecord }[] = [];
  record(req: FastifyRequest, what: ReadRecord): void {
    this.records.push({ tenantId: req.principal.tenantId, subject: req.principal.subject, url: req.url, what });
  }
}

export interface ReadApp {
  app: FastifyInstance;
  reads: RecordedReads;
  /** An HS256 token the app accepts. */
  token(tenant: string, scope: string, extra?: Record<string, unknown>): Promise<string>;
  /** GET with a bearer token; the body parsed when it is JSON. */
  get(url: string, token: string | null, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Record<string, unknown>; raw: string }>;
  close(): Promise<void>;
}

/** The real app (buildApp) serving reads over `h`'s store, following its signal. */
export async function readApp(h: HarnessStore, env: Record<string, string> = {}): Promise<ReadApp> {
  const secret = randomBytes(32).toString('hex');
  const config = parseConfig({ AUTH_JWT_SECRET: secret, DATA_DIR: tmpdir(), ...env }, 'all');
  const reads = new RecordedReads();
  const app = await buildApp({ config, auth: createAuthenticator({ jwtSecret: secret }), store: h.store, selfAudit: reads, signal: h.signal });
  await app.ready();
  return {
    app,
    reads,
    token: (tenant, scope, extra = {}) => issueToken(secret, { sub: 'usr_test', tid: tenant, scope, ...extra }),
    async get(url, token, headers = {}) {
      const res = await app.inject({ method: 'GET', url, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
      let body: unknown = undefined;
      if (res.body.length > 0 && String(res.headers['content-type'] ?? '').includes('json')) body = JSON.parse(res.body);
      return { status: res.statusCode, body, headers: res.headers, raw: res.body };
    },
    close: () => app.close(),
  };
}
