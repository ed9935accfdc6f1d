// The log codecs against the schema registry test server, and that server against the real
// @kafkajs/confluent-schema-registry client.
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { isAuditflowError } from '../infra/errors.ts';
import type { AuditEvent, ChangeEntry } from '../schemas/event-model.ts';
import { AVRO_SCHEMA_FILES, avroCodec, jsonCodec, type AvroMessageCodec } from '../schemas/message-codec.ts';
import { startSchemaRegistry, type SchemaRegistryServer } from './support/schema-registry.ts';

const audit: AuditEvent = {
  id: 'aud_01HZX', tenant_id: 'tenant-a', partner_id: 'partner-1', event_time: '2024-05-01T12:00:00.123Z',
  event_type: 'secret.read', action: 'read', category: 'security', severity: 'info', outcome: 'success', success: true,
  actor_id: 'user-1', actor_type: 'service_account', actor_email: 'a@example.com', service_account: 'ci-bot',
  resource_type: 'secret', resource_id: 'sec-1', resource_name: 'db-password', resource_path: '/prod/db/password',
  share_id: '', source_ip: '10.0.0.1', user_agent: 'curl/8', request_id: 'req-1', duration_ms: 4294967295,
  action_source: 'api', details: '{"k":"v","n":[1,2]}', source_format: 'scaivault',
};
const auditNulls: AuditEvent = { ...audit, id: 'aud_nulls', service_account: null, duration_ms: null, success: false, details: '{}' };
const change: ChangeEntry = {
  id: 'chg_01HZX', tenant_id: 'tenant-a', resource_type: 'file', resource_id: 'f-1', change_type: 'moved',
  changed_by: 'user-1', changed_at: '2024-05-01T12:00:00.000Z', metadata: '{"size":12}', old_path: '/a/b.txt',
  new_path: '/c/b.txt', version_id: 'v3', share_id: 'share-1',
};
const changeNulls: ChangeEntry = { ...change, id: 'chg_nulls', old_path: null, new_path: null, version_id: null };

const SUBJECTS = { audit: 'auditflow.audit-events-value', change: 'auditflow.changes-value' };

function isCode(code: string) {
  return (e: unknown): boolean => {
    assert.ok(isAuditflowError(e), `expected an AuditflowError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  };
}

let registry: SchemaRegistryServer;
let codec: AvroMessageCodec;

beforeAll(async () => {
  registry = await startSchemaRegistry();
  codec = await avroCodec(registry.url, SUBJECTS);
});
afterAll(async () => {
  await registry?.stop();
});

test('the .avsc files match the canonical model field for field', () => {
  const cases: Array<[keyof typeof AVRO_SCHEMA_FILES, object, string]> = [['audit', audit, 'AuditEvent'], ['change', change, 'ChangeEntry']];
  for (const [kind, sample, name] of cases) {
    const schema = JSON.parse(readFileSync(AVRO_SCHEMA_FILES[kind], 'utf8')) as {
      type: string; name: string; namespace: string; fields: Array<{ name: string; type: unknown; default?: unknown }>;
    };
    assert.equal(schema.type, 'record');
    assert.equal(schema.name, name);
    assert.equal(schema.namespace, 'io.auditflow');
    assert.deepEqual(schema.fields.map((f) => f.name), Object.keys(sample), `${kind}: same fields, same order`);
    for (const f of schema.fields) {
      const v = (sample as Record<string, unknown>)[f.name];
      const nullable = Array.isArray(f.type);
      const expectNullable = ['service_account', 'duration_ms', 'old_path', 'new_path', 'version_id'].includes(f.name);
      assert.equal(nullable, expectNullable, `${kind}.${f.name} nullable`);
      if (nullable) {
        assert.equal((f.type as unknown[])[0], 'null');
        assert.ok('default' in f && f.default === null, `${kind}.${f.name} defaults to null`);
      }
      const base = nullable ? (f.type as unknown[])[1] : f.type;
      const expected = typeof v === 'boolean' ? 'boolean' : typeof v === 'number' ? 'long' : 'string';
      assert.equal(base, expected, `${kind}.${f.name} type`);
    }
  }
});

test('Avro: both kinds round-trip through the Confluent wire format, nulls included', async () => {
  for (const [kind, value] of [['audit', audit], ['audit', auditNulls], ['change', change], ['change', changeNulls]] as const) {
    const bytes = await codec.encode(kind, value);
    assert.equal(bytes[0], 0, 'magic byte');
    assert.equal(bytes.readInt32BE(1), codec.schemaIds[kind], 'schema id');
    assert.ok(bytes.length < Buffer.byteLength(JSON.stringify(value)), 'Avro is smaller than the JSON');
    // deepStrictEqual also compares prototypes: the result must be a plain object with plain nulls.
    assert.deepStrictEqual(await codec.decode(bytes), value);
  }
  assert.notEqual(codec.schemaIds.audit, codec.schemaIds.change);
});

test('Avro codec: JSON still decodes; a second codec reuses the registered ids', async () => {
  assert.deepStrictEqual(await codec.decode(Buffer.from(JSON.stringify(audit))), audit);
  assert.deepStrictEqual(await codec.decode(Buffer.from(`\ufeff${JSON.stringify(changeNulls)}\n`)), changeNulls);
  const again = await avroCodec(`${registry.url}/`, SUBJECTS);
  assert.deepStrictEqual(again.schemaIds, codec.schemaIds);
  assert.deepStrictEqual(await again.decode(await codec.encode('change', change)), change);
});

test('JSON codec: round trip, and a clear error for Avro bytes', async () => {
  const json = jsonCodec();
  const bytes = await json.encode('audit', auditNulls);
  assert.deepStrictEqual(JSON.parse(bytes.toString('utf8')), auditNulls);
  assert.deepStrictEqual(await json.decode(bytes), auditNulls);
  const avro = await codec.encode('change', change);
  await assert.rejects(json.decode(avro), (e) => isCode('VALIDATION_FAILED')(e) && /no schema registry is configured/.test((e as Error).message));
});

test('bytes that are neither JSON nor decodable Avro are VALIDATION_FAILED', async () => {
  const good = await codec.encode('audit', audit);
  const bad: Array<[string, Buffer]> = [
    ['garbage', Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x01])],
    ['text', Buffer.from('not json at all')],
    ['truncated JSON', Buffer.from('{"id": "aud_1"')],
    ['empty', Buffer.alloc(0)],
    ['short frame', Buffer.from([0, 0, 0])],
    ['unknown schema id', Buffer.concat([Buffer.from([0, 0, 0, 0x7f, 0x7f]), good.subarray(5)])],
    ['truncated Avro', good.subarray(0, good.length - 10)],
    ['trailing bytes', Buffer.concat([good, Buffer.from([1, 2, 3])])],
  ];
  for (const c of [codec, jsonCodec()]) {
    for (const [what, bytes] of bad) {
      await assert.rejects(c.decode(bytes), isCode('VALIDATION_FAILED'), what);
    }
  }
  await assert.rejects(codec.encode('audit', { ...audit, duration_ms: 1.5 }), isCode('VALIDATION_FAILED'));
  await assert.rejects(codec.encode('change', { ...change, old_path: 7 } as unknown as ChangeEntry), (e) => {
    isCode('VALIDATION_FAILED')(e);
    assert.deepEqual((e as { details?: Array<{ path: string }> }).details?.map((d) => d.path), ['old_path']);
    return true;
  });
});

test('an unreachable registry is SCHEMA_REGISTRY_FAILED (retriable)', async () => {
  const gone = await startSchemaRegistry();
  const url = gone.url;
  await gone.stop();
  await assert.rejects(avroCodec(url, SUBJECTS), (e) => isCode('SCHEMA_REGISTRY_FAILED')(e) && (e as { retriable: boolean }).retriable);
});

test('Avro written with an evolved schema version is resolved into the current shape', async () => {
  const client = new SchemaRegistry({ host: registry.url });
  const current = JSON.parse(readFileSync(AVRO_SCHEMA_FILES.change, 'utf8')) as { fields: unknown[] };
  const evolved = { ...current, fields: [...current.fields, { name: 'region', type: 'string', default: 'eu' }] };
  const { id } = await client.register({ type: SchemaType.AVRO, schema: JSON.stringify(evolved) }, { subject: SUBJECTS.change });
  assert.notEqual(id, codec.schemaIds.change, 'a new schema gets a new id');
  const bytes = await client.encode(id, { ...changeNulls, region: 'us' });
  assert.deepStrictEqual(await codec.decode(bytes), changeNulls);
});

test('the real @kafkajs/confluent-schema-registry client works against the test server', async () => {
  const client = new SchemaRegistry({ host: registry.url });
  const subject = 'io.example.Thing';
  const v1 = { type: 'record', name: 'Thing', namespace: 'io.example', fields: [{ name: 'a', type: 'string' }] };
  // Default subject naming (namespace.name), compatibility set on first registration.
  const { id } = await client.register(v1 as never);
  assert.deepEqual(await client.register(v1 as never), { id }, 'same schema, same id');
  assert.equal(await client.getLatestSchemaId(subject), id);
  assert.equal(await client.getRegistryId(subject, 1), id);
  assert.equal(await client.getRegistryIdBySchema(subject, { type: SchemaType.AVRO, schema: JSON.stringify(v1) }), id);
  const config = await fetch(`${registry.url}/config/${encodeURIComponent(subject)}`);
  assert.deepEqual(await config.json(), { compatibilityLevel: 'BACKWARD' });

  // Encode/decode through a fresh client, so the schema is fetched by id from the server.
  const bytes = await client.encode(id, { a: 'hello' });
  const fresh = new SchemaRegistry({ host: registry.url });
  assert.deepEqual({ ...(await fresh.decode(bytes)) }, { a: 'hello' });

  // BACKWARD: adding a field with a default is allowed (new version), without a default it is not.
  const v2 = { ...v1, fields: [...v1.fields, { name: 'b', type: ['null', 'long'], default: null }] };
  const r2 = await client.register(v2 as never);
  assert.notEqual(r2.id, id);
  assert.equal(await client.getLatestSchemaId(subject), r2.id);
  const v3 = { ...v1, fields: [...v1.fields, { name: 'c', type: 'int' }] };
  await assert.rejects(client.register(v3 as never), (e: Error & { status?: number }) => e.status === 409 && /incompatible/.test(e.message));
  // A client expecting another compatibility level is refused by the client itself.
  await assert.rejects(client.register(v2 as never, { compatibility: COMPATIBILITY.FULL }), /Compatibility does not match/);

  const compat = async (schema: object): Promise<unknown> => {
    const r = await fetch(`${registry.url}/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest`, {
      method: 'POST', headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' }, body: JSON.stringify({ schema: JSON.stringify(schema) }),
    });
    return r.json();
  };
  assert.deepEqual(await compat({ ...v2, fields: [...v2.fields, { name: 'd', type: 'string', default: '' }] }), { is_compatible: true });
  assert.deepEqual(await compat(v3), { is_compatible: false });

  const subjects = await (await fetch(`${registry.url}/subjects`)).json();
  assert.ok(Array.isArray(subjects) && subjects.includes(subject) && subjects.includes(SUBJECTS.audit));
  assert.deepEqual(await (await fetch(`${registry.url}/subjects/${encodeURIComponent(subject)}/versions`)).json(), [1, 2]);
});

test('the test server answers errors the way Confluent does', async () => {
  const get = async (path: string, init?: RequestInit): Promise<{ status: number; type: string | null; body: unknown }> => {
    const r = await fetch(`${registry.url}${path}`, init);
    return { status: r.status, type: r.headers.get('content-type'), body: await r.json() };
  };
  const post = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' }, body: JSON.stringify(body) });
  assert.deepEqual(await get('/subjects/nope/versions'), { status: 404, type: 'application/vnd.schemaregistry.v1+json', body: { error_code: 40401, message: "Subject 'nope' not found." } });
  assert.deepEqual((await get(`/subjects/${SUBJECTS.audit}/versions/99`)).body, { error_code: 40402, message: 'Version 99 not found.' });
  assert.equal(((await get(`/subjects/${SUBJECTS.audit}/versions/abc`)).body as { error_code: number }).error_code, 42202);
  assert.deepEqual((await get('/schemas/ids/9999')).body, { error_code: 40403, message: 'Schema 9999 not found' });
  assert.equal(((await get('/config/never-configured')).body as { error_code: number }).error_code, 40408);
  assert.deepEqual((await get('/config/never-configured?defaultToGlobal=true')).body, { compatibilityLevel: 'BACKWARD' });
  assert.equal(((await get('/subjects/x/versions', post({ schema: '{not json' }))).body as { error_code: number }).error_code, 42201);
  assert.equal(((await get(`/subjects/${SUBJECTS.audit}`, post({ schema: '"string"' }))).body as { error_code: number }).error_code, 40403);
  assert.equal(((await get('/config', { method: 'PUT', body: JSON.stringify({ compatibility: 'SIDEWAYS' }) })).body as { error_code: number }).error_code, 42203);
  assert.deepEqual((await get('/config/x', { method: 'PUT', body: JSON.stringify({ compatibility: 'none' }) })).body, { compatibility: 'NONE' });
  assert.deepEqual((await get('/config/x')).body, { compatibilityLevel: 'NONE' });
  const latest = (await get(`/subjects/${SUBJECTS.audit}/versions/latest`)).body as Record<string, unknown>;
  assert.deepEqual(Object.keys(latest).sort(), ['id', 'schema', 'subject', 'version']);
  assert.equal(latest['id'], codec.schemaIds.audit);
  assert.deepEqual(JSON.parse(latest['schema'] as string), JSON.parse(readFileSync(AVRO_SCHEMA_FILES.audit, 'utf8')));
});
