// The Store contract, run against both implementations: ChdbStore (embedded, in this process)
// and ClickHouseHttpStore (@clickhouse/client over HTTP to test/support's ClickHouse HTTP
// endpoint over chDB, in a child process). Same SQL, same parameters, same JSON shapes.
// Then @clickhouse/client's own API against that endpoint, and the endpoint's lifecycle.
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { ClickHouseError, ClickHouseLogLevel, createClient as createClientWithLogs, type ClickHouseClient } from '@clickhouse/client';
import { AuditflowError, type ErrorCode } from '../infra/errors.ts';
import { ChdbStore } from '../infra/store/chdb-store.ts';
import { ClickHouseHttpStore } from '../infra/store/clickhouse-http-store.ts';
import { loadMigrations, migrate } from '../infra/store/migrations.ts';
import type { Store } from '../infra/store/store.ts';
import { startClickHouseHttp, type ClickHouseHttpServer } from './support/clickhouse-http-server.ts';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
// The client logs every failed request to the console; the failures here are expected.
const createClient = (cfg: Parameters<typeof createClientWithLogs>[0]) => createClientWithLogs({ ...cfg, log: { level: ClickHouseLogLevel.OFF } });

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, retriable: boolean): Promise<AuditflowError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof AuditflowError, `expected an AuditflowError ${code}, got ${caught === undefined ? 'success' : String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.retriable, retriable);
  return caught;
}

const ndjson = (...rows: object[]) => Buffer.from(rows.map((r) => `${JSON.stringify(r)}\n`).join(''));

// ---- fixtures: rows as the sink writes them, and as both stores must return them ---------------
const CHANGE_IN = {
  tenant_id: 't_alpha', seq: 41, id: 'chg_0001', resource_type: 'file', resource_id: 'file_9', change_type: 'renamed',
  changed_by: 'usr_1', changed_at: '2024-05-06T07:08:09.123Z', received_at: '2024-05-06T07:08:10.456Z',
  metadata: '{"size":12,"name":"a\\"b.txt"}', old_path: '/a/old name.txt', new_path: "/a/new 'name'.txt", version_id: null,
  share_id: 'shr_1', log_partition: 3, log_offset: '123456789012',
};
const CHANGE_OUT = {
  ...CHANGE_IN, changed_at: '2024-05-06 07:08:09.123', received_at: '2024-05-06 07:08:10.456', log_offset: 123456789012,
};
const CHANGE_OTHER_TENANT = { ...CHANGE_IN, tenant_id: 't_beta', id: 'chg_0002', seq: 1 };
const CHANGE_LATER = { ...CHANGE_IN, id: 'chg_0003', seq: 42, changed_at: '2024-05-07T00:00:00.000Z', change_type: 'deleted' };

const AUDIT_IN = {
  tenant_id: 't_alpha', seq: 7, id: 'aud_0001', partner_id: 'p_1', event_time: '2024-05-06T07:08:09.001Z',
  received_at: '2024-05-06T07:08:09.500Z', event_type: 'secret.read', action: 'read', category: 'security', severity: 'info',
  outcome: 'success', success: true, actor_id: 'usr_1', actor_type: 'service_account', actor_email: 'bot@example.com',
  service_account: 'ci-runner', resource_type: 'secret', resource_id: 'sec_1', resource_name: 'db-password',
  resource_path: '/prod/db/password', share_id: '', source_ip: '10.0.0.7', user_agent: 'curl/8.0', request_id: 'req_1',
  duration_ms: 12, action_source: 'api', details: '{"k":"v"}', source_format: 'scaivault', log_partition: 0, log_offset: '99',
};
const AUDIT_OUT = {
  ...AUDIT_IN, event_time: '2024-05-06 07:08:09.001', received_at: '2024-05-06 07:08:09.500', log_offset: 99,
};
const AUDIT_DENIED = { ...AUDIT_IN, id: 'aud_0002', seq: 8, success: false, outcome: 'denied', duration_ms: null, service_account: null };

const NASTY_STRINGS = [
  "x' OR '1'='1",
  "'; DROP TABLE change_log; --",
  "a\\' OR 1=1 --",
  'tab\there\nnew line\r\nend',
  'back\\slash \\N \\0 \\x41',
  '{s:String}',
  'NULL',
  '',
  'unicode ✓ 𝄞 ü',
];

// ---- the contract -------------------------------------------------------------------------------
interface Backend {
  name: 'chdb' | 'http';
  open(): Promise<{ store: Store; dispose(): Promise<void> }>;
}
const observed: Record<string, Record<string, unknown>> = { chdb: {}, http: {} };

function contract(backend: Backend): void {
  describe(`Store contract: ${backend.name}`, () => {
    let store: Store;
    let dispose: () => Promise<void>;
    beforeAll(async () => {
      ({ store, dispose } = await backend.open());
    });
    afterAll(async () => {
      await dispose?.();
    });

    it('has the expected kind', () => {
      assert.equal(store.kind, backend.name);
    });

    it('migrate() applies every migration once, then nothing; the tables exist', async () => {
      const all = loadMigrations().map((m) => m.version);
      assert.ok(all.length >= 2);
      assert.deepEqual(await migrate(store), all);
      assert.deepEqual(await migrate(store), []);
      const tables = await store.query<{ name: string }>(
        "SELECT name FROM system.tables WHERE database = currentDatabase() AND name IN ('audit_events', 'change_log', 'schema_migrations') ORDER BY name",
      );
      assert.deepEqual(tables.map((t) => t.name), ['audit_events', 'change_log', 'schema_migrations']);
      const versions = await store.query<{ version: number }>('SELECT version FROM schema_migrations FINAL ORDER BY version');
      assert.deepEqual(versions.map((v) => v.version), all);
    });

    it('round-trips a change_log row through insertJsonEachRow and a query with bound params', async () => {
      await store.insertJsonEachRow('change_log', ndjson(CHANGE_IN, CHANGE_OTHER_TENANT, CHANGE_LATER));
      const sql = `SELECT * EXCEPT (received_at), received_at FROM change_log
        WHERE tenant_id = {tenant:String} AND seq >= {from:UInt64} AND id IN {ids:Array(String)}
          AND changed_at >= {since:DateTime64(3, 'UTC')} AND changed_at < {until:DateTime64(3, 'UTC')}
        ORDER BY seq`;
      const params = { tenant: 't_alpha', from: 41, ids: ['chg_0001', 'chg_0002', 'chg_0003'], since: '2024-05-06 07:08:09.123', until: '2024-05-07 00:00:00.000' };
      const rows = await store.query(sql, params);
      assert.deepEqual(rows, [CHANGE_OUT]);
      assert.deepEqual(Object.keys(rows[0]!), Object.keys(CHANGE_OUT).filter((k) => k !== 'received_at').concat('received_at'));
      observed[backend.name]!.change = rows;
      // The DateTime64 bound keeps its milliseconds: one ms later excludes the row.
      assert.deepEqual(await store.query(sql, { ...params, since: '2024-05-06 07:08:09.124' }), []);
      // UInt64 given as a bigint, and as a decimal string.
      assert.equal((await store.query(sql, { ...params, from: 41n })).length, 1);
      assert.equal((await store.query(sql, { ...params, from: '42' })).length, 0);
    });

    it('round-trips an audit_events row with a Bool and Nullable columns', async () => {
      await store.insertJsonEachRow('audit_events', ndjson(AUDIT_IN, AUDIT_DENIED));
      const sql = `SELECT * EXCEPT (received_at), received_at FROM audit_events
        WHERE tenant_id = {tenant:String} AND success = {ok:Bool} AND category IN {cats:Array(String)}
          AND event_time < {until:DateTime64(3, 'UTC')} ORDER BY seq`;
      const ok = await store.query(sql, { tenant: 't_alpha', ok: true, cats: ['security'], until: '2024-05-06 07:08:09.002' });
      assert.deepEqual(ok, [AUDIT_OUT]);
      const denied = await store.query<Record<string, unknown>>(sql, { tenant: 't_alpha', ok: false, cats: ['security'], until: '2030-01-01 00:00:00.000' });
      assert.equal(denied.length, 1);
      assert.equal(denied[0]!.id, 'aud_0002');
      assert.equal(denied[0]!.duration_ms, null);
      assert.equal(denied[0]!.service_account, null);
      assert.equal(denied[0]!.success, false);
      observed[backend.name]!.audit = [...ok, ...denied];
    });

    it('returns scalar types in the same JSON shapes (64-bit integers as numbers)', async () => {
      const [row] = await store.query<Record<string, unknown>>(`SELECT
          toUInt64(9007199254740991) AS u64, toInt64(-5) AS i64, toUInt32(7) AS u32, toUInt16(3) AS u16,
          toString(toUInt64('18446744073709551615')) AS u64_exact, toDecimal64(1.5, 2) AS dec, 0.25 AS f64,
          toDateTime64('2024-01-02 03:04:05.678', 3, 'UTC') AS dt64, true AS b, CAST(NULL, 'Nullable(String)') AS n,
          ['a', 'b'] AS arr, map('k', 1) AS m, 'a/b' AS slash`);
      const expected = {
        u64: 9007199254740991, i64: -5, u32: 7, u16: 3, u64_exact: '18446744073709551615', dec: 1.5, f64: 0.25,
        dt64: '2024-01-02 03:04:05.678', b: true, n: null, arr: ['a', 'b'], m: { k: 1 }, slash: 'a/b',
      };
      assert.deepEqual(row, expected);
      observed[backend.name]!.scalars = row;
    });

    it('treats injection attempts in bound String and Array(String) params as data', async () => {
      for (const s of NASTY_STRINGS) {
        const rows = await store.query<{ s: string; len: number }>('SELECT {s:String} AS s, length({s:String}) AS len', { s });
        assert.deepEqual(rows, [{ s, len: Buffer.byteLength(s) }], JSON.stringify(s));
      }
      const arr = await store.query<{ a: string[] }>('SELECT {a:Array(String)} AS a', { a: NASTY_STRINGS });
      assert.deepEqual(arr, [{ a: NASTY_STRINGS }]);
      const countFor = async (tenant: string) =>
        (await store.query<{ n: number }>('SELECT count() AS n FROM change_log WHERE tenant_id = {tenant:String}', { tenant }))[0]!.n;
      assert.equal(await countFor('t_alpha'), 2);
      assert.equal(await countFor("t_alpha' OR '1'='1"), 0);
      assert.equal(await countFor("t_alpha' OR tenant_id != '"), 0);
      await store.command('ALTER TABLE change_log DELETE WHERE id = {id:String}', { id: "x' OR 1=1 OR id = '" });
      assert.equal(await countFor('t_alpha'), 2);
      const ids = await store.query<{ id: string }>('SELECT id FROM change_log WHERE id IN {ids:Array(String)} ORDER BY id', {
        ids: ["x'] OR 1=1 --", "chg_0001') OR ('1'='1", 'chg_0001'],
      });
      assert.deepEqual(ids, [{ id: 'chg_0001' }]);
      assert.deepEqual(await store.query('EXISTS TABLE change_log'), [{ result: 1 }]);
    });

    it('rejects SQL errors with STORE_QUERY_FAILED (not retriable)', async () => {
      await rejectsWith(store.query('SELECT * FROM no_such_table'), 'STORE_QUERY_FAILED', false);
      await rejectsWith(store.command('CREATE TABEL x (a UInt8) ENGINE = Memory'), 'STORE_QUERY_FAILED', false);
      await rejectsWith(store.query('SELECT {n:UInt64} AS n', { n: 'not a number' }), 'STORE_QUERY_FAILED', false);
      await rejectsWith(store.query('SELECT {missing:String} AS s'), 'STORE_QUERY_FAILED', false);
      await rejectsWith(store.insertJsonEachRow('no_such_table', ndjson({ a: 1 })), 'STORE_QUERY_FAILED', false);
      await rejectsWith(store.insertJsonEachRow('change_log; DROP TABLE change_log', ndjson(CHANGE_IN)), 'STORE_QUERY_FAILED', false);
      const before = await store.query<{ n: number }>('SELECT count() AS n FROM change_log');
      // One malformed row fails the whole insert: the good row before it is not written either.
      const bad = Buffer.concat([ndjson({ ...CHANGE_IN, id: 'chg_bad_1' }), Buffer.from('{"tenant_id": "t_alpha", "seq": \n')]);
      await rejectsWith(store.insertJsonEachRow('change_log', bad), 'STORE_QUERY_FAILED', false);
      await rejectsWith(store.insertJsonEachRow('change_log', ndjson({ ...CHANGE_IN, changed_at: 'not a time' })), 'STORE_QUERY_FAILED', false);
      assert.deepEqual(await store.query('SELECT count() AS n FROM change_log'), before);
    });

    it('treats an empty insert as a no-op', async () => {
      const before = await store.query('SELECT count() AS n FROM change_log');
      await store.insertJsonEachRow('change_log', Buffer.alloc(0));
      await store.insertJsonEachRow('change_log', Buffer.from('\n'));
      assert.deepEqual(await store.query('SELECT count() AS n FROM change_log'), before);
    });

    it('runs DDL and parameterised DML through command()', async () => {
      await store.command('CREATE TABLE IF NOT EXISTS contract_kv (k String, v UInt64) ENGINE = MergeTree ORDER BY k');
      await store.command('INSERT INTO contract_kv (k, v) VALUES ({k:String}, {v:UInt64})', { k: "it's", v: 5 });
      assert.deepEqual(await store.query('SELECT k, v FROM contract_kv'), [{ k: "it's", v: 5 }]);
      await store.command('DROP TABLE contract_kv');
      await rejectsWith(store.query('SELECT * FROM contract_kv'), 'STORE_QUERY_FAILED', false);
    });
  });
}

contract({
  name: 'chdb',
  async open() {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'auditflow-store-chdb-'));
    const store = new ChdbStore(dir);
    return {
      store,
      async dispose() {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});

contract({
  name: 'http',
  async open() {
    const server = await startClickHouseHttp();
    const store = new ClickHouseHttpStore({ url: server.url });
    return {
      store,
      async dispose() {
        await store.close();
        await server.stop();
      },
    };
  },
});

describe('Store contract: both backends agree', () => {
  it('returned identical rows and shapes for the same statements', () => {
    for (const key of ['change', 'audit', 'scalars']) {
      assert.ok(observed.chdb![key] !== undefined && observed.http![key] !== undefined, `${key} observed on both`);
      assert.deepEqual(observed.http![key], observed.chdb![key], key);
    }
  });
});

// ---- HTTP store specifics -------------------------------------------------------------------
describe('ClickHouseHttpStore', () => {
  it('pins 64-bit integer shapes even when the server defaults to quoting them (pre-25.8 servers)', async () => {
    const server = await startClickHouseHttp({ serverSettings: { output_format_json_quote_64bit_integers: 1 } });
    const client = createClient({ url: server.url });
    const store = new ClickHouseHttpStore({ url: server.url });
    try {
      const raw = await (await client.query({ query: 'SELECT toUInt64(5) AS u', format: 'JSONEachRow' })).json();
      assert.deepEqual(raw, [{ u: '5' }], 'the server default is in effect for a client that does not pin it');
      assert.deepEqual(await store.query('SELECT toUInt64(5) AS u'), [{ u: 5 }]);
    } finally {
      await store.close();
      await client.close();
      await server.stop();
    }
  });

  it('works with gzip request and response compression', async () => {
    const server = await startClickHouseHttp();
    const store = new ClickHouseHttpStore({ url: server.url, compression: { request: true, response: true } });
    try {
      await migrate(store);
      await store.insertJsonEachRow('change_log', ndjson(CHANGE_IN));
      assert.deepEqual(await store.query('SELECT * EXCEPT (received_at), received_at FROM change_log WHERE id = {id:String}', { id: 'chg_0001' }), [CHANGE_OUT]);
    } finally {
      await store.close();
      await server.stop();
    }
  });

  it('maps a stopped server, a killed server and a closed port to STORE_UNAVAILABLE (retriable)', async () => {
    const server = await startClickHouseHttp();
    const store = new ClickHouseHttpStore({ url: server.url });
    try {
      assert.deepEqual(await store.query('SELECT 1 AS x'), [{ x: 1 }]);
      await server.stop();
      await rejectsWith(store.query('SELECT 1 AS x'), 'STORE_UNAVAILABLE', true);
      await rejectsWith(store.command('SELECT 1'), 'STORE_UNAVAILABLE', true);
      await rejectsWith(store.insertJsonEachRow('change_log', ndjson(CHANGE_IN)), 'STORE_UNAVAILABLE', true);
    } finally {
      await store.close();
    }

    const crashed = await startClickHouseHttp();
    const store2 = new ClickHouseHttpStore({ url: crashed.url });
    try {
      assert.deepEqual(await store2.query('SELECT 2 AS x'), [{ x: 2 }]);
      await crashed.kill();
      await rejectsWith(store2.query('SELECT 2 AS x'), 'STORE_UNAVAILABLE', true);
    } finally {
      await store2.close();
    }

    // A port nobody listens on: bind one, note it, release it.
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const store3 = new ClickHouseHttpStore({ url: `http://127.0.0.1:${port}` });
    try {
      await rejectsWith(store3.query('SELECT 1'), 'STORE_UNAVAILABLE', true);
    } finally {
      await store3.close();
    }
  });

  it('maps a statement that outlives its deadline to STORE_UNAVAILABLE (retriable)', async () => {
    const server = await startClickHouseHttp();
    const store = new ClickHouseHttpStore({ url: server.url, requestTimeoutMs: 100 });
    try {
      // sleep(2) takes 2 s on the server; the deadline is 100 ms.
      await rejectsWith(store.query('SELECT sleep(2) AS s'), 'STORE_UNAVAILABLE', true);
    } finally {
      await store.close();
      await server.stop();
    }
  });
});

// ---- @clickhouse/client against the endpoint, directly --------------------------------------
describe('@clickhouse/client against the chDB HTTP endpoint', () => {
  let server: ClickHouseHttpServer;
  let client: ClickHouseClient;
  beforeAll(async () => {
    server = await startClickHouseHttp();
    client = createClient({ url: server.url });
  });
  afterAll(async () => {
    await client?.close();
    await server?.stop();
  });

  it('ping() succeeds, with and without a SELECT', async () => {
    assert.deepEqual(await client.ping(), { success: true });
    assert.deepEqual(await client.ping({ select: true }), { success: true });
  });

  it('command() runs DDL; insert() writes objects, arrays and streams; query() reads them back', async () => {
    await client.command({
      query: `CREATE TABLE ev (id String, seq UInt64, at DateTime64(3, 'UTC'), tags Array(String), note Nullable(String), ok Bool)
              ENGINE = MergeTree ORDER BY seq`,
    });
    const r1 = await client.insert({
      table: 'ev',
      format: 'JSONEachRow',
      values: [
        { id: 'e1', seq: 1, at: '2024-01-02 03:04:05.678', tags: ['a', "b'c"], note: null, ok: true },
        { id: 'e2', seq: 2, at: '2024-01-02 03:04:06.000', tags: [], note: 'x\ny', ok: false },
      ],
    });
    assert.equal(r1.executed, true);
    assert.equal(r1.summary?.written_rows, '2');
    assert.match(r1.query_id, /^[0-9a-f-]{36}$/);
    // Default insert format JSONCompactEachRow, with a column list.
    await client.insert({ table: 'ev', columns: ['id', 'seq', 'at', 'tags', 'note', 'ok'], values: [['e3', 3, '2024-01-02 03:04:07.000', ['z'], null, true]] });
    // A stream of objects.
    await client.insert({ table: 'ev', format: 'JSONEachRow', values: Readable.from([{ id: 'e4', seq: 4, at: '2024-01-02 03:04:08.000', tags: [], note: null, ok: true }], { objectMode: true }) });

    const rs = await client.query({ query: 'SELECT id, seq, at, tags, note, ok FROM ev ORDER BY seq', format: 'JSONEachRow' });
    assert.deepEqual(await rs.json(), [
      { id: 'e1', seq: 1, at: '2024-01-02 03:04:05.678', tags: ['a', "b'c"], note: null, ok: true },
      { id: 'e2', seq: 2, at: '2024-01-02 03:04:06.000', tags: [], note: 'x\ny', ok: false },
      { id: 'e3', seq: 3, at: '2024-01-02 03:04:07.000', tags: ['z'], note: null, ok: true },
      { id: 'e4', seq: 4, at: '2024-01-02 03:04:08.000', tags: [], note: null, ok: true },
    ]);
  });

  it('binds query_params as the server does: strings, arrays, Date, DateTime64 text, null, bigint', async () => {
    const rs = await client.query({
      query: `SELECT {s:String} AS s, {a:Array(String)} AS a, {d:DateTime64(3, 'UTC')} AS d, {dt:DateTime64(3, 'UTC')} AS dt,
                     {n:Nullable(String)} AS n, {u:UInt64} AS u, {b:Bool} AS b, {ids:Array(UInt32)} AS ids`,
      format: 'JSONEachRow',
      query_params: {
        s: NASTY_STRINGS.join('|'), a: NASTY_STRINGS, d: new Date('2024-01-02T03:04:05.678Z'), dt: '2024-01-02 03:04:05.678',
        n: null, u: 18446744073709551615n, b: true, ids: [1, 2, 3],
      },
      clickhouse_settings: { output_format_json_quote_64bit_integers: 1 },
    });
    assert.deepEqual(await rs.json(), [{
      s: NASTY_STRINGS.join('|'), a: NASTY_STRINGS, d: '2024-01-02 03:04:05.678', dt: '2024-01-02 03:04:05.678',
      n: null, u: '18446744073709551615', b: true, ids: [1, 2, 3],
    }]);
  });

  it('sends params as multipart/form-data when asked, and still binds them', async () => {
    const big = 'x'.repeat(10_000);
    const rs = await client.query({ query: 'SELECT length({s:String}) AS n, {a:Array(String)} AS a', format: 'JSONEachRow', query_params: { s: big, a: ["q'", 'r\\'] }, use_multipart_params: true });
    assert.deepEqual(await rs.json(), [{ n: 10_000, a: ["q'", 'r\\'] }]);
  });

  it('returns the JSON format by default, TabSeparated text, and the response headers', async () => {
    const rs = await client.query({ query: 'SELECT 1 AS x', query_id: 'fixed-query-id-1' });
    assert.equal(rs.query_id, 'fixed-query-id-1');
    assert.equal(rs.response_headers['x-clickhouse-query-id'], 'fixed-query-id-1');
    assert.equal(rs.response_headers['x-clickhouse-format'], 'JSON');
    assert.equal(rs.response_headers['x-clickhouse-timezone'], 'UTC');
    const summary = JSON.parse(String(rs.response_headers['x-clickhouse-summary'])) as Record<string, string>;
    assert.equal(summary.read_rows, '1');
    const json = await rs.json<{ x: number }>();
    assert.deepEqual(json.data, [{ x: 1 }]);
    assert.equal(json.rows, 1);
    assert.deepEqual(json.meta, [{ name: 'x', type: 'UInt8' }]);
    const tsv = await client.query({ query: "SELECT 'a\\tb' AS s, 2 AS n", format: 'TabSeparated' });
    assert.equal(await tsv.text(), 'a\\tb\t2\n');
  });

  it('surfaces server errors as ClickHouseError with code and type', async () => {
    await assert.rejects(client.query({ query: 'SELECT * FROM nope' }), (e: unknown) => {
      assert.ok(e instanceof ClickHouseError);
      assert.equal(e.code, '60');
      assert.equal(e.type, 'UNKNOWN_TABLE');
      return true;
    });
    await assert.rejects(client.command({ query: 'SELEC 1' }), (e: unknown) => e instanceof ClickHouseError && e.type === 'SYNTAX_ERROR');
    await assert.rejects(client.insert({ table: 'ev', format: 'JSONEachRow', values: [{ id: 'e9', seq: 'not a number' }] }), (e: unknown) => e instanceof ClickHouseError && e.code === '27');
  });

  it('applies settings for one request only', async () => {
    const get = async (settings: Record<string, number>) =>
      (await (await client.query({ query: "SELECT getSetting('max_threads') AS t, getSetting('max_result_rows') AS r", format: 'JSONEachRow', clickhouse_settings: settings })).json<{ t: number; r: number }>())[0];
    const baseline = await get({});
    assert.deepEqual(await get({ max_threads: 1, max_result_rows: 77 }), { t: 1, r: 77 });
    assert.deepEqual(await get({}), baseline);
    await assert.rejects(
      client.query({ query: 'SELECT number FROM numbers(10)', clickhouse_settings: { max_result_rows: '5', result_overflow_mode: 'throw' } }),
      (e: unknown) => e instanceof ClickHouseError && e.type === 'TOO_MANY_ROWS_OR_BYTES',
    );
  });

  it('speaks gzip both ways with a compressing client', async () => {
    const gz = createClient({ url: server.url, compression: { request: true, response: true } });
    try {
      await gz.insert({ table: 'ev', format: 'JSONEachRow', values: [{ id: 'gz1', seq: 100, at: '2024-01-02 00:00:00.000', tags: ['g'], note: null, ok: true }] });
      const rs = await gz.query({ query: 'SELECT id, tags FROM ev WHERE seq = {s:UInt64}', format: 'JSONEachRow', query_params: { s: 100 } });
      assert.deepEqual(await rs.json(), [{ id: 'gz1', tags: ['g'] }]);
    } finally {
      await gz.close();
    }
    // And on the wire: a gzip response only when asked for, a gzip request body understood.
    const q = encodeURIComponent('SELECT id FROM ev WHERE seq = 100 FORMAT JSONEachRow');
    // (ClickHouse 26.x defaults enable_http_compression to 1: Accept-Encoding alone is enough.)
    const plain = await fetch(`${server.url}/?enable_http_compression=0&query=${q}`, { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(plain.headers.get('content-encoding'), null);
    assert.equal(await plain.text(), '{"id":"gz1"}\n');
    const zipped = await fetch(`${server.url}/?enable_http_compression=1&query=${q}`, { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(zipped.headers.get('content-encoding'), 'gzip');
    const body = await fetch(`${server.url}/`, { method: 'POST', headers: { 'Content-Encoding': 'gzip' }, body: new Uint8Array(gzipSync('SELECT 41 + 1')) });
    assert.equal(await body.text(), '42\n');
  });

  it('exec() sends a raw body as INSERT data untouched', async () => {
    const tsv = 'e5\t5\t2024-01-02 03:04:09.000\t[\'t\\\'x\']\t\\N\ttrue\n';
    const { stream } = await client.exec({ query: 'INSERT INTO ev FORMAT TabSeparated', values: Readable.from([Buffer.from(tsv)]) });
    stream.resume();
    await new Promise((r) => stream.once('end', r));
    const rs = await client.query({ query: "SELECT tags, note FROM ev WHERE id = 'e5'", format: 'JSONEachRow' });
    assert.deepEqual(await rs.json(), [{ tags: ["t'x"], note: null }]);
  });

  it('answers the raw HTTP interface like a server: status codes, exception headers, ping, read-only GET', async () => {
    const ping = await fetch(`${server.url}/ping`);
    assert.equal(ping.status, 200);
    assert.equal(await ping.text(), 'Ok.\n');
    const cases: Array<[string, RequestInit | undefined, number, string, string]> = [
      ['/?query=SELECT%20*%20FROM%20nope', undefined, 404, '60', 'UNKNOWN_TABLE'],
      ['/', { method: 'POST', body: 'SELEC 1' }, 400, '62', 'SYNTAX_ERROR'],
      ['/', { method: 'POST', body: 'SELECT 1; SELECT 2' }, 400, '62', 'SYNTAX_ERROR'],
      ['/', { method: 'POST', body: '' }, 400, '62', 'SYNTAX_ERROR'],
      ['/?no_such_setting=1&query=SELECT%201', undefined, 404, '115', 'UNKNOWN_SETTING'],
      [`/?query=${encodeURIComponent("INSERT INTO ev (id) VALUES ('g')")}`, undefined, 500, '164', 'READONLY'],
      [`/?query=${encodeURIComponent('INSERT INTO ev FORMAT JSONEachRow')}`, { method: 'POST', body: '' }, 500, '108', 'NO_DATA_TO_INSERT'],
    ];
    for (const [url, init, status, code, name] of cases) {
      const r = await fetch(`${server.url}${url}`, init);
      const text = await r.text();
      assert.equal(r.status, status, `${url} ${text}`);
      assert.equal(r.headers.get('x-clickhouse-exception-code'), code, url);
      assert.match(text, new RegExp(`^Code: ${code}\\. DB::Exception: .*\\(${name}\\) \\(version [0-9.]+\\)\\n$`, 's'));
    }
    // POST with the query in the URL and the data in the body; the format header; a FORMAT clause.
    const ins = await fetch(`${server.url}/?query=${encodeURIComponent('INSERT INTO ev (id, seq, at) FORMAT CSV')}`, { method: 'POST', body: 'h1,200,2024-01-01 00:00:00\nh2,201,2024-01-01 00:00:01\n' });
    assert.equal(ins.status, 200);
    assert.equal((JSON.parse(ins.headers.get('x-clickhouse-summary') ?? '{}') as Record<string, string>).written_rows, '2');
    const sel = await fetch(`${server.url}/?query=${encodeURIComponent('SELECT id FROM ev WHERE seq >= 200 ORDER BY seq')}`, { headers: { 'X-ClickHouse-Format': 'JSONEachRow' } });
    assert.equal(sel.headers.get('x-clickhouse-format'), 'JSONEachRow');
    assert.equal(await sel.text(), '{"id":"h1"}\n{"id":"h2"}\n');
    const fmt = await fetch(`${server.url}/?query=${encodeURIComponent('SELECT count() AS n FROM ev WHERE seq >= 200 FORMAT JSONCompact')}`);
    assert.equal(fmt.headers.get('x-clickhouse-format'), 'JSONCompact');
    assert.deepEqual((await fmt.json() as { data: unknown }).data, [[2]]);
  });
});

// ---- the endpoint's lifecycle ---------------------------------------------------------------
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped by a container's init) is not alive.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
async function waitUntil(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('ClickHouse HTTP endpoint lifecycle', () => {
  it('keeps acknowledged inserts across a SIGKILL and a restart on the same data dir', async () => {
    const first = await startClickHouseHttp();
    const store = new ClickHouseHttpStore({ url: first.url });
    await migrate(store);
    await store.insertJsonEachRow('change_log', ndjson(CHANGE_IN, CHANGE_LATER));
    await first.kill();
    assert.equal(alive(first.pid), false);
    await store.close();

    const second = await startClickHouseHttp({ dataDir: first.dataDir });
    const store2 = new ClickHouseHttpStore({ url: second.url });
    try {
      assert.notEqual(second.pid, first.pid);
      assert.deepEqual(await migrate(store2), []);
      assert.deepEqual(await store2.query('SELECT id FROM change_log ORDER BY seq'), [{ id: 'chg_0001' }, { id: 'chg_0003' }]);
    } finally {
      await store2.close();
      await second.stop();
    }
    assert.equal(alive(second.pid), false);
  });

  it('exits when the process that started it dies', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'auditflow-chhttp-orphan-'));
    const script = `
      import { startClickHouseHttp } from ${JSON.stringify(new URL('./support/clickhouse-http-server.ts', import.meta.url).href)};
      const s = await startClickHouseHttp({ dataDir: ${JSON.stringify(dataDir)} });
      process.stdout.write(JSON.stringify({ pid: s.pid }) + '\\n');
      setInterval(() => {}, 1 << 30);
    `;
    const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    const childPid = await new Promise<number>((resolve, reject) => {
      let buf = '';
      parent.stdout.setEncoding('utf8');
      parent.stdout.on('data', (s: string) => {
        buf += s;
        const nl = buf.indexOf('\n');
        if (nl >= 0) resolve((JSON.parse(buf.slice(0, nl)) as { pid: number }).pid);
      });
      parent.once('exit', (code) => reject(new Error(`parent exited early (${code})`)));
    });
    try {
      assert.equal(alive(childPid), true);
      const parentExit = new Promise((r) => parent.once('exit', r));
      parent.kill('SIGKILL');
      await parentExit;
      await waitUntil(() => !alive(childPid), 30_000, `the orphaned endpoint ${childPid} exits`);
    } finally {
      if (alive(childPid)) process.kill(childPid, 'SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
