// Child process of bench:api (chDB allows one engine per process and one process per data
// directory). Input: one JSON document in BENCH_CHILD; output: one line "RESULT <json>".
//
//  mode "preload": the stored history (./api-history.ts) inserted straight into a data directory
//    with the project's migrations and ChdbStore, as chunks of JSONEachRow rows shaped exactly as
//    the sink writes them (checked against the normaliser), then OPTIMIZE … FINAL (a store that has
//    run for weeks has merged its history; without it the merges would run during the measurement).
//    With `log`, the embedded log is left where a system that stored those rows would have left it:
//    per partition an empty segment starting at the next offset and the consumer group's commit
//    there, so the sink resumes numbering and offsets after the history.
//  mode "raw": the raw ceiling of each scenario. The route's own SQL is captured by serving the
//    scenario's request once from the real app (buildApp) over a recording store, on the same
//    data; then exactly those statements, with their bound parameters, are run straight on the
//    store (ChdbStore in this process, or ClickHouseHttpStore against the deployment's ClickHouse
//    HTTP endpoint), one call at a time, bounded by `runs` and `maxMs`.
//  mode "engine": reads while sink-sized inserts run, on the engine alone (./engine-contention.ts).
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyRequest } from 'fastify';
import { buildApp } from '../../api/app.ts';
import type { ReadRecord, SelfAudit } from '../../api/self-audit.ts';
import { createAuthenticator, issueToken } from '../../infra/auth/jwt.ts';
import { parseConfig } from '../../infra/config.ts';
import { ChdbStore } from '../../infra/store/chdb-store.ts';
import { ClickHouseHttpStore } from '../../infra/store/clickhouse-http-store.ts';
import { migrate } from '../../infra/store/migrations.ts';
import type { QueryParams, Store } from '../../infra/store/store.ts';
import { WriteSignal } from '../../processors/write-signal.ts';
import { checkRowShape, historyChunks, type HistoryPlan, type HistoryTable } from './api-history.ts';
import { engineContention, type EngineInput } from './engine-contention.ts';
import { cpuBetween, sampleProcess } from './proc-stats.ts';

export interface PreloadInput {
  mode: 'preload';
  dir: string;
  plan: HistoryPlan;
  chunkRows: number;
  log?: { dir: string; topics: Record<HistoryTable, string>; group: string };
}

export interface PreloadResult {
  rows: Record<HistoryTable, number>;
  seconds: { generateAndInsert: Record<HistoryTable, number>; optimize: number };
  /** per tenant: count and max(seq) per table (contiguous when equal) */
  tenants: { tenant: string; audit: number; auditMaxSeq: number; changes: number; changesMaxSeq: number }[];
  parts: { table: string; parts: number; bytesOnDisk: number }[];
  /** the largest tenant's busiest service account and secret path over the last 30 days */
  hotIdentity: string;
  hotSecretPath: string;
  engineVersion: string;
  /** set when the store is a copy of one preloaded before (BENCH_API_CACHE) */
  cachedAt?: string;
}

export interface RawRequest { name: string; path: string; tenant: string; scope: string; claims?: Record<string, unknown> }

export interface RawInput {
  mode: 'raw';
  store: { chdb: string } | { http: string; pid: number };
  secret: string;
  requests: RawRequest[];
  runs: number;
  maxMs: number;
}

export interface RawTiming {
  statements: { sql: string; params: QueryParams }[];
  /** one run = every statement in order; ms */
  runs: number;
  p50: number;
  p99: number;
  mean: number;
  /** CPU seconds per run of this process and (HTTP) of the ClickHouse endpoint */
  cpuPerRun: number;
}

export interface RawResult {
  name: string;
  status: number;
  /** what a warm system runs for the request (null: nothing, it answers from memory) */
  warm: RawTiming | null;
  /** what the first request ran (loading the high-water mark, a tail or a summary's counts) */
  cold: RawTiming | null;
  error?: string;
}

async function preload(input: PreloadInput): Promise<PreloadResult> {
  const store = new ChdbStore(input.dir);
  try {
    await migrate(store);
    const seconds: PreloadResult['seconds'] = { generateAndInsert: { audit_events: 0, change_log: 0 }, optimize: 0 };
    const rows: Record<HistoryTable, number> = { audit_events: 0, change_log: 0 };
    for (const table of ['audit_events', 'change_log'] as const) {
      const t0 = performance.now();
      let next: number[] = [];
      let first = true;
      let inflight: Promise<void> | null = null;
      // The next chunk is generated while the previous one is inserted (chDB works off the main thread).
      for (const chunk of historyChunks(input.plan, table, input.chunkRows, (o) => { next = o; })) {
        if (first) checkRowShape(chunk, table);
        first = false;
        await inflight;
        inflight = store.insertJsonEachRow(table, chunk);
      }
      await inflight;
      seconds.generateAndInsert[table] = (performance.now() - t0) / 1000;
      rows[table] = next.reduce((a, b) => a + b, 0);
      if (input.log) {
        const topicDir = path.join(input.log.dir, input.log.topics[table]);
        next.forEach((offset, p) => {
          if (offset === 0) return;
          const dir = path.join(topicDir, String(p));
          mkdirSync(dir, { recursive: true });
          closeSync(openSync(path.join(dir, `${String(offset).padStart(20, '0')}.seg`), 'a'));
          writeFileSync(path.join(dir, `committed.${input.log!.group}`), String(offset));
        });
      }
    }
    const t1 = performance.now();
    for (const table of ['audit_events', 'change_log']) await store.command(`OPTIMIZE TABLE ${table} FINAL`);
    seconds.optimize = (performance.now() - t1) / 1000;
    const top = input.plan.tenants[0]!;
    const since = new Date(input.plan.endMs - 30 * 86_400_000).toISOString().replace('T', ' ').replace('Z', '');
    const hot = async (where: string, col: string) => (await store.query<{ v: string }>(
      `SELECT ${col} AS v FROM audit_events WHERE tenant_id = {t:String} AND ${where} AND event_time >= {since:DateTime64(3)} GROUP BY v ORDER BY count() DESC LIMIT 1`,
      { t: top, since },
    ))[0]?.v ?? '';
    const counts = async (table: string) => new Map((await store.query<{ t: string; n: number; m: number }>(
      `SELECT tenant_id AS t, count() AS n, max(seq) AS m FROM ${table} GROUP BY t`,
    )).map((r) => [r.t, r]));
    const a = await counts('audit_events');
    const c = await counts('change_log');
    return {
      rows, seconds,
      tenants: input.plan.tenants.map((t) => ({ tenant: t, audit: Number(a.get(t)?.n ?? 0), auditMaxSeq: Number(a.get(t)?.m ?? 0), changes: Number(c.get(t)?.n ?? 0), changesMaxSeq: Number(c.get(t)?.m ?? 0) })),
      parts: (await store.query<{ table: string; parts: number; bytesOnDisk: number }>(
        "SELECT table, count() AS parts, sum(bytes_on_disk) AS bytesOnDisk FROM system.parts WHERE active AND database = currentDatabase() AND table IN ('audit_events', 'change_log') GROUP BY table ORDER BY table",
      )).map((p) => ({ table: p.table, parts: Number(p.parts), bytesOnDisk: Number(p.bytesOnDisk) })),
      hotIdentity: await hot("actor_type = 'service_account'", 'actor_id'),
      hotSecretPath: await hot("resource_type = 'secret'", 'resource_path'),
      engineVersion: (await store.query<{ v: string }>('SELECT version() AS v'))[0]?.v ?? '?',
    };
  } finally {
    await store.close();
  }
}

/** The store the app reads through, noting every statement while `recording` is on. */
class RecordingStore implements Store {
  recording = false;
  statements: { sql: string; params: QueryParams }[] = [];
  constructor(readonly inner: Store) {}
  get kind() { return this.inner.kind; }
  command(sql: string, params?: QueryParams) { return this.inner.command(sql, params); }
  query<T>(sql: string, params: QueryParams = {}): Promise<T[]> {
    if (this.recording) this.statements.push({ sql, params });
    return this.inner.query<T>(sql, params);
  }
  insertJsonEachRow(table: string, ndjson: Buffer) { return this.inner.insertJsonEachRow(table, ndjson); }
  stream(sql: string, params?: QueryParams, opts?: { signal?: AbortSignal }) { return this.inner.stream(sql, params, opts); }
  close() { return this.inner.close(); }
}

/** Reads are not recorded here: the ceiling is the route's reads, not its self-audit append. */
const noSelfAudit: SelfAudit = { record(_req: FastifyRequest, _what: ReadRecord) { /* the raw ceiling has no log */ } };

async function raw(input: RawInput): Promise<RawResult[]> {
  const inner: Store = 'chdb' in input.store ? new ChdbStore(input.store.chdb) : new ClickHouseHttpStore({ url: input.store.http });
  const enginePid = 'pid' in input.store ? input.store.pid : null;
  const store = new RecordingStore(inner);
  const config = parseConfig({ AUTH_JWT_SECRET: input.secret, LOG_LEVEL: 'silent', RATE_LIMIT_MAX: '0' }, 'all');
  // Embedded, the sink's WriteSignal keeps the high-water marks current (never re-read): a
  // signal nobody publishes on gives the same "loaded once" behaviour. The api role has none.
  const app = await buildApp({
    config, auth: createAuthenticator({ jwtSecret: input.secret, jwksUrl: undefined, issuer: undefined, audience: undefined }),
    store, selfAudit: noSelfAudit, signal: 'chdb' in input.store ? new WriteSignal() : undefined,
  });
  const out: RawResult[] = [];
  try {
    for (const r of input.requests) {
      const token = await issueToken(input.secret, { sub: 'bench', tid: r.tenant, scope: r.scope, ...r.claims });
      const inject = () => app.inject({ method: 'GET', url: r.path, headers: { authorization: `Bearer ${token}` } });
      // The first request loads the high-water mark (and a tail cache, a summary's counts), as the
      // running system's first request does; the second is what a warm system serves.
      store.statements = [];
      store.recording = true;
      await inject();
      const first = store.statements;
      store.statements = [];
      const res = await inject();
      store.recording = false;
      const second = store.statements;
      if (res.statusCode >= 300 && res.statusCode !== 204) {
        out.push({ name: r.name, status: res.statusCode, warm: null, cold: null, error: res.body.slice(0, 300) });
        continue;
      }
      out.push({ name: r.name, status: res.statusCode, warm: await time(inner, second, input, enginePid), cold: await time(inner, first, input, enginePid) });
    }
  } finally {
    await app.close();
    await store.close();
  }
  return out;
}

/** The statements run in order, over and over (3 untimed first), straight on the store. */
async function time(store: Store, statements: RawTiming['statements'], o: { runs: number; maxMs: number }, enginePid: number | null): Promise<RawTiming | null> {
  if (statements.length === 0) return null;
  for (let w = 0; w < 3; w++) for (const s of statements) await store.query(s.sql, s.params);
  const times: number[] = [];
  const self0 = sampleProcess(process.pid, 'raw');
  const eng0 = enginePid ? sampleProcess(enginePid, 'engine') : null;
  const deadline = performance.now() + o.maxMs;
  while (times.length < o.runs && performance.now() < deadline) {
    const t0 = performance.now();
    for (const s of statements) await store.query(s.sql, s.params);
    times.push(performance.now() - t0);
  }
  const self1 = sampleProcess(process.pid, 'raw');
  const eng1 = enginePid ? sampleProcess(enginePid, 'engine') : null;
  const cpu = (self0 && self1 ? cpuBetween(self0, self1).seconds : 0) + (eng0 && eng1 ? cpuBetween(eng0, eng1).seconds : 0);
  times.sort((a, b) => a - b);
  const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]!;
  return { statements, runs: times.length, p50: q(0.5), p99: q(0.99), mean: times.reduce((a, b) => a + b, 0) / times.length, cpuPerRun: cpu / times.length };
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname);
if (isMain) {
  const input = JSON.parse(process.env['BENCH_CHILD'] ?? '{}') as PreloadInput | RawInput | (EngineInput & { mode: 'engine' });
  (input.mode === 'preload' ? preload(input) : input.mode === 'raw' ? raw(input) : engineContention(input)).then(
    (r) => {
      process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
      process.exit(0);
    },
    (e: unknown) => {
      process.stderr.write(`api-store-child failed: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
