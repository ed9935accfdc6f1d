import { test } from 'vitest';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../infra/config.ts';

const bad = (env: Record<string, string>, role: 'all' | 'ingest' | 'processor' | 'api', setting: string) =>
  assert.throws(() => parseConfig(env, role), (e: { code?: string; message?: string }) => e.code === 'CONFIG_INVALID' && e.message!.includes(setting), setting);

test('the embedded default needs no configuration and is frozen', () => {
  const c = parseConfig({}, 'all');
  assert.equal(c.mode, 'embedded');
  assert.equal(c.port, 8080);
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.dataDir, './data');
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.sink));
});

test('distributed mode follows KAFKA_BROKERS and requires what each role needs', () => {
  const c = parseConfig({ KAFKA_BROKERS: 'a:9092,b:9092', CLICKHOUSE_URL: 'http://ch:8123', AUTH_JWT_SECRET: 's'.repeat(32) }, 'all');
  assert.equal(c.mode, 'distributed');
  assert.deepEqual(c.kafka.brokers, ['a:9092', 'b:9092']);
  bad({ KAFKA_BROKERS: 'a:9092', AUTH_JWT_SECRET: 's'.repeat(32) }, 'processor', 'CLICKHOUSE_URL');
  bad({ AUDITFLOW_MODE: 'distributed', CLICKHOUSE_URL: 'http://ch:8123', AUTH_JWT_SECRET: 's'.repeat(32) }, 'ingest', 'KAFKA_BROKERS');
  bad({ KAFKA_BROKERS: 'a:9092', CLICKHOUSE_URL: 'http://ch:8123' }, 'api', 'AUTH_JWT_SECRET');
  assert.equal(parseConfig({ KAFKA_BROKERS: 'a:9092', CLICKHOUSE_URL: 'http://ch:8123' }, 'processor').role, 'processor');
  bad({}, 'ingest', 'AUDITFLOW_MODE');
});

test('bad values name the setting', () => {
  bad({ PORT: 'eighty' }, 'all', 'PORT');
  bad({ PORT: '70000' }, 'all', 'PORT');
  bad({ KAFKA_BROKERS: 'nohost' }, 'all', 'KAFKA_BROKERS');
  bad({ CLICKHOUSE_URL: 'ftp://x' }, 'all', 'CLICKHOUSE_URL');
  bad({ SINK_BATCH_ROWS: '0' }, 'all', 'SINK_BATCH_ROWS');
  bad({ SINK_FLUSH_WHEN_QUIET: 'yes' }, 'all', 'SINK_FLUSH_WHEN_QUIET');
  assert.equal(parseConfig({ SINK_FLUSH_WHEN_QUIET: 'false' }, 'all').sink.flushWhenQuiet, false);
  assert.equal(parseConfig({}, 'all').sink.flushWhenQuiet, true);
  bad({ EMBEDDED_LOG_TAIL_BYTES: '1000' }, 'all', 'EMBEDDED_LOG_TAIL_BYTES');
  assert.equal(parseConfig({}, 'all').embeddedLog.tailBytes, 64 * 1024 * 1024);
  assert.equal(parseConfig({ EMBEDDED_LOG_TAIL_BYTES: String(8 << 20) }, 'all').embeddedLog.tailBytes, 8 << 20);
  bad({ AUTH_JWT_SECRET: 'short' }, 'all', 'AUTH_JWT_SECRET');
  bad({ LOG_LEVEL: 'loud' }, 'all', 'LOG_LEVEL');
  bad({ AUDITFLOW_MODEE: 'embedded' }, 'all', 'AUDITFLOW_MODEE');
  bad({ CLICKHOUSE_DATABASE: 'x; DROP' }, 'all', 'CLICKHOUSE_DATABASE');
});

test('the CLI stops start-up with the setting named and exit code 2', () => {
  const bin = fileURLToPath(new URL('../bin/auditflow.js', import.meta.url));
  const r = spawnSync(process.execPath, [bin, 'processor'], { env: { PATH: process.env['PATH'], KAFKA_BROKERS: 'localhost:1' }, encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /CLICKHOUSE_URL/);
  const role = spawnSync(process.execPath, [bin, 'everything'], { env: { PATH: process.env['PATH'] }, encoding: 'utf8' });
  assert.equal(role.status, 2);
  assert.match(role.stderr, /unknown role/);
});
