// The default secrets provider (files under SECRETS_DIR) and the destination settings read from
// it: paths that leave SECRETS_DIR are refused, unknown paths and missing fields are named, and no
// credential value ever appears in an error. No services: openObjectStore makes no network call.
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../infra/config.ts';
import { AuditflowError, type ErrorCode } from '../infra/errors.ts';
import { openObjectStore, type DestinationSpec } from '../infra/objectstore/object-store.ts';
import { FileSecretsProvider } from '../infra/secrets/secrets-provider.ts';

// Planted in the files below: none may appear in any error's message, details or stack.
const SECRETS = [
  'AKIAPLANTEDKEY123456', 'planted-secret-access-key-9d8c7b', 'planted-session-token-55aa',
  'PlantedAccountKey0123456789abcdefPlanted==', 'sk7Q2xZ' /* short: V8's snippet shows ~10 characters */,
  'planted-not-a-pem-body-4e4e', 'sp=racwdl&sig=plantedSasSignature%3D',
];

let root: string;
let secretsDir: string;
let provider: FileSecretsProvider;
const deps = () => ({ secrets: provider, dataDir: root });

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'secrets-provider-'));
  secretsDir = path.join(root, 'secrets');
  await mkdir(path.join(secretsDir, 'tenant-a', 'exports'), { recursive: true });
  const write = (rel: string, body: string) => writeFile(path.join(secretsDir, rel), body);
  await write('tenant-a/exports/s3.json', JSON.stringify({ access_key_id: SECRETS[0], secret_access_key: SECRETS[1], session_token: SECRETS[2], region: 'eu-west-1' }));
  await write('s3-no-secret.json', JSON.stringify({ access_key_id: SECRETS[0], region: 'eu-west-1' }));
  await write('s3-no-region.json', JSON.stringify({ access_key_id: SECRETS[0], secret_access_key: SECRETS[1] }));
  await write('s3-bad-types.json', JSON.stringify({ access_key_id: SECRETS[0], secret_access_key: SECRETS[1], region: 'eu-west-1', force_path_style: 'yes' }));
  await write('s3-bad-endpoint.json', JSON.stringify({ access_key_id: SECRETS[0], secret_access_key: SECRETS[1], region: 'eu-west-1', endpoint: `ftp://${SECRETS[1]}@host` }));
  await write('azure-missing.json', JSON.stringify({ account: 'x' }));
  await write('azure-malformed.json', JSON.stringify({ connection_string: `AccountKey=${SECRETS[3]};SharedAccessSignature=${SECRETS[6]}` }));
  await write('gcs-bad-key.json', JSON.stringify({ type: 'service_account', client_email: 'e@p.iam.gserviceaccount.com', private_key: `-----BEGIN PRIVATE KEY-----\n${SECRETS[5]}\n-----END PRIVATE KEY-----\n` }));
  await write('gcs-neither.json', JSON.stringify({ project_id: 'p' }));
  await write('gcs-emulator.json', JSON.stringify({ api_endpoint: 'http://127.0.0.1:9', project_id: 'p' }));
  // Unquoted: V8 quotes the text around an unexpected token in its message.
  await write('not-json.json', `{"secret_access_key": ${SECRETS[4]}}`);
  await write('array.json', JSON.stringify([SECRETS[1]]));
  await write('huge.json', JSON.stringify({ pad: 'x'.repeat(70 * 1024) }));
  await mkdir(path.join(secretsDir, 'a-folder.json'));
  // Outside SECRETS_DIR, and a link inside pointing at it.
  await writeFile(path.join(root, 'outside.json'), JSON.stringify({ secret_access_key: SECRETS[1] }));
  await symlink(path.join(root, 'outside.json'), path.join(secretsDir, 'escape.json'));
  await symlink(path.join(secretsDir, 'tenant-a'), path.join(secretsDir, 'linked-tenant'));
  provider = new FileSecretsProvider(secretsDir);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The refusal, checked for its code and for every planted credential value (none may appear). */
async function refusal(p: Promise<unknown>, code: ErrorCode): Promise<AuditflowError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(AuditflowError);
  const err = e as AuditflowError;
  expect(err.code, err.message).toBe(code);
  expect(err.status).toBe(400);
  expect(err.retriable).toBe(false);
  const text = [err.message, err.stack, JSON.stringify(err.toBody()), String((err.cause as Error | undefined)?.message)].join('\n');
  for (const secret of SECRETS) expect(text, `${err.message} shows a credential`).not.toContain(secret);
  return err;
}

describe('FileSecretsProvider', () => {
  it('reads <SECRETS_DIR>/<credentials_path>.json', async () => {
    expect(await provider.read('tenant-a/exports/s3')).toMatchObject({ region: 'eu-west-1', secret_access_key: SECRETS[1] });
    // A symlinked folder that stays inside SECRETS_DIR is fine.
    expect(await provider.read('linked-tenant/exports/s3')).toMatchObject({ region: 'eu-west-1' });
  });

  it('refuses paths that are absolute, climb or are not plain segments — without reading them', async () => {
    for (const p of ['../outside', 'tenant-a/../../outside', '/etc/passwd', path.join(root, 'outside'), 'a//b', 'a/./b', './s3',
      'tenant-a/exports/', '.hidden', 'a\\..\\outside', 'a\0b', '']) {
      const err = await refusal(provider.read(p), 'CREDENTIALS_PATH_INVALID');
      expect(err.message).toContain('credentials_path');
    }
    await refusal(provider.read(42 as unknown as string), 'CREDENTIALS_PATH_INVALID');
  });

  it('refuses a symlink inside SECRETS_DIR that resolves outside it', async () => {
    const err = await refusal(provider.read('escape'), 'CREDENTIALS_PATH_INVALID');
    expect(err.message).toContain('"escape"');
    expect(err.message).toContain('outside the secrets directory');
  });

  it('an unknown path is CREDENTIALS_NOT_FOUND naming the path', async () => {
    const err = await refusal(provider.read('tenant-a/exports/nope'), 'CREDENTIALS_NOT_FOUND');
    expect(err.message).toContain('"tenant-a/exports/nope"');
    await refusal(provider.read('tenant-a/exports/s3/deeper'), 'CREDENTIALS_NOT_FOUND'); // a file used as a folder
    await refusal(provider.read('a-folder'), 'CREDENTIALS_NOT_FOUND'); // a folder named like a file
    await refusal(new FileSecretsProvider(path.join(root, 'no-such-dir')).read('s3'), 'CREDENTIALS_NOT_FOUND');
  });

  it('a file that is not a JSON object is CREDENTIALS_INVALID, without quoting it', async () => {
    expect((await refusal(provider.read('not-json'), 'CREDENTIALS_INVALID')).message).toContain('not valid JSON');
    expect((await refusal(provider.read('array'), 'CREDENTIALS_INVALID')).message).toContain('JSON object');
    expect((await refusal(provider.read('huge'), 'CREDENTIALS_INVALID')).message).toContain('larger than');
  });
});

describe('destination settings from the credentials file', () => {
  const open = (spec: DestinationSpec) => openObjectStore(spec, deps());

  it('names the missing or mistyped field, the path and the destination', async () => {
    const cases: { spec: DestinationSpec; field: string }[] = [
      { spec: { type: 's3', bucket: 'audit-exports', credentials_path: 's3-no-secret' }, field: 'secret_access_key' },
      { spec: { type: 's3', bucket: 'audit-exports', credentials_path: 's3-no-region' }, field: 'region' },
      { spec: { type: 's3', bucket: 'audit-exports', credentials_path: 's3-bad-types' }, field: 'force_path_style' },
      { spec: { type: 's3', bucket: 'audit-exports', credentials_path: 's3-bad-endpoint' }, field: 'endpoint' },
      { spec: { type: 'azure_blob', bucket: 'audit-exports', credentials_path: 'azure-missing' }, field: 'connection_string' },
      { spec: { type: 'azure_blob', bucket: 'audit-exports', credentials_path: 'azure-malformed' }, field: 'connection_string' },
      { spec: { type: 'gcs', bucket: 'audit-exports', credentials_path: 'gcs-bad-key' }, field: 'private_key' },
      { spec: { type: 'gcs', bucket: 'audit-exports', credentials_path: 'gcs-neither' }, field: 'private_key' },
    ];
    for (const c of cases) {
      const err = await refusal(open(c.spec), 'CREDENTIALS_INVALID');
      expect(err.message).toContain(`"${c.field}"`);
      expect(err.message).toContain(`"${c.spec.credentials_path}"`);
      expect(err.message).toContain(`${c.spec.type} `);
      expect(err.message).toContain('"audit-exports"');
      expect(err.details).toEqual([expect.objectContaining({ path: c.field })]);
    }
    expect((await refusal(open({ type: 'gcs', bucket: 'audit-exports', credentials_path: 'gcs-neither' }), 'CREDENTIALS_INVALID')).message).toContain('api_endpoint');
  });

  it('opens each type from a complete file (no network call is made)', async () => {
    const s3 = await open({ type: 's3', bucket: 'audit-exports', credentials_path: 'tenant-a/exports/s3' });
    expect([s3.kind, s3.destination]).toEqual(['s3', 's3 bucket "audit-exports"']);
    await s3.close();
    const gcs = await open({ type: 'gcs', bucket: 'audit-exports', credentials_path: 'gcs-emulator' });
    expect(gcs.kind).toBe('gcs');
    await gcs.close();
  });

  it('refuses specs the store cannot use before reading any credentials', async () => {
    await refusal(open({ type: 's3', bucket: 'audit-exports' }), 'DESTINATION_INVALID');
    await refusal(open({ type: 'gcs', bucket: 'audit-exports', credentials_path: 'tenant-a/exports/nope' }), 'CREDENTIALS_NOT_FOUND');
    await refusal(open({ type: 's3', bucket: 'Not_A_Bucket', credentials_path: 'tenant-a/exports/s3' }), 'DESTINATION_INVALID');
    await refusal(open({ type: 'azure_blob', bucket: 'double--dash', credentials_path: 'azure-missing' }), 'DESTINATION_INVALID');
    await refusal(open({ type: 'local', bucket: '../escape' }), 'DESTINATION_INVALID');
    await refusal(open({ type: 'local', bucket: 'exports', credentials_path: 'tenant-a/exports/s3' }), 'DESTINATION_INVALID');
    await refusal(open({ type: 'ftp' as 's3', bucket: 'x', credentials_path: 'tenant-a/exports/s3' }), 'DESTINATION_INVALID');
  });
});

describe('SECRETS_DIR', () => {
  it('defaults to <DATA_DIR>/secrets and can be set', () => {
    expect(parseConfig({ DATA_DIR: '/var/lib/auditflow' }, 'all').secretsDir).toBe('/var/lib/auditflow/secrets');
    expect(parseConfig({}, 'all').secretsDir).toBe('./data/secrets');
    expect(parseConfig({ DATA_DIR: '/d', SECRETS_DIR: '/run/secrets/auditflow' }, 'all').secretsDir).toBe('/run/secrets/auditflow');
  });
});
