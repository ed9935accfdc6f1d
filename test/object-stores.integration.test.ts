// The export destinations against real servers: s3rver (S3), Azurite (Azure Blob), Firebase's
// Cloud Storage emulator (GCS JSON API) and a local folder. The same cases run against all four.
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditflowError, type ErrorCode } from '../infra/errors.ts';
import { openObjectStore, type DestinationSpec, type DestinationType, type ObjectStore } from '../infra/objectstore/object-store.ts';
import { FileSecretsProvider } from '../infra/secrets/secrets-provider.ts';
import { startAzurite, type Azurite } from './support/azurite.ts';
import { startGcsEmulator, type GcsEmulator } from './support/gcs-emulator.ts';
import { startS3rver, type S3rver } from './support/s3rver.ts';

const BUCKET = 'exports';
const MiB = 1024 * 1024;
const LARGE_BYTES = 96 * MiB; // under the GCS emulator's 130 MB request limit
// Secret values planted in the "wrong credentials" files: none may appear in any error.
const WRONG_S3_SECRET = 'wrong-secret-7f3a9c1e5b';
const WRONG_AZURE_KEY = Buffer.from('wrong-azure-account-key-0123456789abcdef0123456789abcdef').toString('base64');
const BAD_GCS_KEY_TEXT = 'not-a-key-c0ffee5ecret';

let s3: S3rver;
let azurite: Azurite;
let gcs: GcsEmulator;
let dataDir: string;
let deps: { secrets: FileSecretsProvider; dataDir: string };

beforeAll(async () => {
  [s3, azurite, gcs] = await Promise.all([startS3rver([BUCKET]), startAzurite([BUCKET]), startGcsEmulator()]);
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'object-stores-'));
  const secretsDir = path.join(dataDir, 'secrets');
  await mkdir(path.join(secretsDir, 'dest'), { recursive: true });
  const files: Record<string, unknown> = {
    's3-good': { access_key_id: s3.accessKeyId, secret_access_key: s3.secretAccessKey, region: s3.region, endpoint: s3.endpoint, force_path_style: true },
    // s3rver checks a SigV4 request's access key id, not its signature: the key id must be wrong too.
    's3-wrong': { access_key_id: 'AKIAWRONGKEYID000000', secret_access_key: WRONG_S3_SECRET, region: s3.region, endpoint: s3.endpoint, force_path_style: true },
    'gcs-good': { api_endpoint: gcs.apiEndpoint, project_id: gcs.projectId },
    'gcs-wrong': {
      type: 'service_account', project_id: gcs.projectId, client_email: 'exporter@demo-auditflow.iam.gserviceaccount.com',
      private_key: `-----BEGIN PRIVATE KEY-----\n${BAD_GCS_KEY_TEXT}\n-----END PRIVATE KEY-----\n`, api_endpoint: gcs.apiEndpoint,
    },
    'azure-good': { connection_string: azurite.connectionString },
    'azure-wrong': { connection_string: azurite.connectionStringWithKey(WRONG_AZURE_KEY) },
  };
  for (const [name, body] of Object.entries(files)) await writeFile(path.join(secretsDir, 'dest', `${name}.json`), JSON.stringify(body));
  deps = { secrets: new FileSecretsProvider(secretsDir), dataDir };
});

afterAll(async () => {
  await Promise.all([s3?.stop(), azurite?.stop(), gcs?.stop()]);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

interface Backend {
  type: DestinationType;
  good: () => DestinationSpec;
  /** The spec with wrong credentials, the code expected, and whether open() or the first put() refuses. */
  wrong: () => { spec: DestinationSpec; code: ErrorCode; at: 'open' | 'put'; secrets: string[] };
  /** Whether the backend keeps Content-Type (a local folder keeps no headers). */
  keepsContentType: boolean;
}

const backends: Backend[] = [
  {
    type: 's3',
    good: () => ({ type: 's3', bucket: BUCKET, credentials_path: 'dest/s3-good' }),
    wrong: () => ({ spec: { type: 's3', bucket: BUCKET, credentials_path: 'dest/s3-wrong' }, code: 'DESTINATION_AUTH_FAILED', at: 'put', secrets: [WRONG_S3_SECRET] }),
    keepsContentType: true,
  },
  {
    type: 'gcs',
    good: () => ({ type: 'gcs', bucket: BUCKET, credentials_path: 'dest/gcs-good' }),
    // The emulator accepts any credentials (every JSON API request is admin), so a key that cannot
    // sign is the wrong credential it lets us exercise; it is refused before any request.
    wrong: () => ({ spec: { type: 'gcs', bucket: BUCKET, credentials_path: 'dest/gcs-wrong' }, code: 'CREDENTIALS_INVALID', at: 'open', secrets: [BAD_GCS_KEY_TEXT] }),
    keepsContentType: true,
  },
  {
    type: 'azure_blob',
    good: () => ({ type: 'azure_blob', bucket: BUCKET, credentials_path: 'dest/azure-good' }),
    wrong: () => ({ spec: { type: 'azure_blob', bucket: BUCKET, credentials_path: 'dest/azure-wrong' }, code: 'DESTINATION_AUTH_FAILED', at: 'put', secrets: [WRONG_AZURE_KEY] }),
    keepsContentType: true,
  },
  {
    type: 'local',
    good: () => ({ type: 'local', bucket: BUCKET }),
    // A local folder takes no credentials: naming some is the mistake it refuses.
    wrong: () => ({ spec: { type: 'local', bucket: BUCKET, credentials_path: 'dest/s3-good' }, code: 'DESTINATION_INVALID', at: 'open', secrets: [] }),
    keepsContentType: false,
  },
];

/** `bytes` of a deterministic pattern in 64 KiB chunks, generated as read (never held whole), and its SHA-256 once read. */
function patternBody(bytes: number, failAfter?: { bytes: number; error: Error }): { body: Readable; sha256: () => string } {
  const hash = createHash('sha256');
  const chunk = 64 * 1024;
  let sent = 0;
  const body = new Readable({
    highWaterMark: chunk,
    read() {
      if (failAfter && sent >= failAfter.bytes) {
        this.destroy(failAfter.error);
        return;
      }
      if (sent >= bytes) {
        this.push(null);
        return;
      }
      const n = Math.min(chunk, bytes - sent);
      const buf = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i += 4) buf.writeUInt32LE(((sent + i) * 2654435761) >>> 0, i);
      sent += n;
      hash.update(buf);
      this.push(buf);
    },
  });
  return { body, sha256: () => hash.digest('hex') };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function hashStream(stream: Readable): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const c of stream) { hash.update(c as Buffer); bytes += (c as Buffer).length; }
  return { sha256: hash.digest('hex'), bytes };
}

// TRICKY: garbage, not what a store holds, dominates RSS while 64 KiB chunks stream through (V8
// collects external buffers only under pressure: ~40 MiB of RSS for a 48 MiB local write). So the
// sampler forces a collection before each reading and tracks live memory (heap + buffers) instead.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** The most live memory (JS heap + external buffers) seen while `fn` runs, above what was live when it started. */
async function liveGrowthDuring<T>(fn: () => Promise<T>): Promise<{ result: T; growth: number }> {
  const live = (): number => {
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.external;
  };
  const base = live();
  let peak = base;
  const timer = setInterval(() => { peak = Math.max(peak, live()); }, 100);
  try {
    const result = await fn();
    return { result, growth: peak - base };
  } finally {
    clearInterval(timer);
  }
}

async function rejection(p: Promise<unknown>): Promise<AuditflowError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e, 'expected a rejection').toBeInstanceOf(AuditflowError);
  return e as AuditflowError;
}

/** Everything an error could carry into a log line or a response body. */
function everythingIn(e: AuditflowError): string {
  const seen: string[] = [];
  for (let cur: unknown = e, depth = 0; cur && depth < 6; cur = (cur as { cause?: unknown }).cause, depth++) {
    seen.push(String((cur as Error).message), String((cur as Error).stack));
  }
  return [...seen, JSON.stringify(e.toBody()), JSON.stringify(e.details ?? [])].join('\n');
}

describe.each(backends)('object store: $type', (backend) => {
  let store: ObjectStore;
  let n = 0;
  // Every test works under its own prefix, so tests never depend on each other's objects.
  const fresh = (): string => `run-${process.pid}/t${++n}`;

  beforeAll(async () => {
    store = await openObjectStore(backend.good(), deps);
  });
  afterAll(async () => {
    await store?.close();
  });

  it('round-trips a small object with its content type', async () => {
    const key = `${fresh()}/part-0001.jsonl`;
    const text = '{"id":"log_1","action":"read"}\n{"id":"log_2","action":"write"}\n';
    const put = await store.put(key, Readable.from([Buffer.from(text)]), { contentType: 'application/x-ndjson' });
    expect(put).toEqual({ key, sizeBytes: Buffer.byteLength(text) });
    expect((await readAll(await store.get(key))).toString()).toBe(text);
    const head = await store.head(key);
    expect(head?.sizeBytes).toBe(Buffer.byteLength(text));
    if (backend.keepsContentType) expect(head?.contentType).toBe('application/x-ndjson');
  });

  it(`streams a ${LARGE_BYTES / MiB} MiB object in and out without holding it in memory`, async () => {
    const key = `${fresh()}/part-0001.jsonl`;
    const { body, sha256 } = patternBody(LARGE_BYTES);
    const { result: put, growth } = await liveGrowthDuring(() => store.put(key, body, { contentType: 'application/x-ndjson' }));
    expect(put.sizeBytes).toBe(LARGE_BYTES);
    // Loose on purpose: a store that buffered the body whole would hold all of it, and more. Seen
    // here: 11-36 MiB whatever the size (S3 the most: two 5 MiB parts in flight, one filling).
    expect(growth, `live memory grew by ${(growth / MiB).toFixed(1)} MiB during the put`).toBeLessThan(LARGE_BYTES * 0.7);
    const expected = sha256();
    const { result: got, growth: readGrowth } = await liveGrowthDuring(async () => hashStream(await store.get(key)));
    expect(got).toEqual({ sha256: expected, bytes: LARGE_BYTES });
    expect(readGrowth, `live memory grew by ${(readGrowth / MiB).toFixed(1)} MiB during the get`).toBeLessThan(LARGE_BYTES * 0.7);
    expect((await store.head(key))?.sizeBytes).toBe(LARGE_BYTES);
  });

  it('lists the objects under a prefix with their sizes, and nothing beside it', async () => {
    const base = fresh();
    const put = (key: string, bytes: number) => store.put(key, Readable.from([Buffer.alloc(bytes, 0x61)]));
    await put(`${base}/exp_1/part-0002.jsonl`, 20);
    await put(`${base}/exp_1/part-0001.jsonl`, 10);
    await put(`${base}/exp_1/nested/manifest.json`, 30);
    await put(`${base}/exp_10/part-0001.jsonl`, 40); // shares the text "exp_1" but not the folder
    await put(`${base}/exp_2/part-0001.jsonl`, 50);
    expect(await sizes(`${base}/exp_1/`)).toEqual([
      { key: `${base}/exp_1/nested/manifest.json`, sizeBytes: 30 },
      { key: `${base}/exp_1/part-0001.jsonl`, sizeBytes: 10 },
      { key: `${base}/exp_1/part-0002.jsonl`, sizeBytes: 20 },
    ]);
    // A prefix that ends inside a name matches as S3 does: by text.
    expect((await sizes(`${base}/exp_1`)).map((o) => o.key)).toEqual([
      `${base}/exp_1/nested/manifest.json`, `${base}/exp_1/part-0001.jsonl`, `${base}/exp_1/part-0002.jsonl`, `${base}/exp_10/part-0001.jsonl`,
    ]);
    expect(await sizes(`${base}/nothing-here/`)).toEqual([]);
  });

  it('deletes an object; deleting an absent one is not an error', async () => {
    const key = `${fresh()}/part-0001.csv`;
    await store.put(key, Readable.from([Buffer.from('a,b\n1,2\n')]), { contentType: 'text/csv' });
    expect(await store.head(key)).toBeDefined();
    await store.delete(key);
    expect(await store.head(key)).toBeUndefined();
    expect(await store.list(key)).toEqual([]);
    const missing = await rejection(store.get(key));
    expect(missing.code).toBe('NOT_FOUND');
    await store.delete(key);
  });

  it('keeps content-encoding gzip and returns the stored (compressed) bytes', async () => {
    const key = `${fresh()}/part-0001.jsonl.gz`;
    const text = '{"id":"log_1"}\n'.repeat(2000);
    const gz = gzipSync(text);
    await store.put(key, Readable.from([gz]), { contentType: 'application/x-ndjson', contentEncoding: 'gzip' });
    expect((await store.head(key))?.contentEncoding).toBe('gzip');
    expect((await store.list(key))[0]?.sizeBytes).toBe(gz.length);
    const got = await readAll(await store.get(key));
    expect(got.equals(gz), 'the bytes as stored, not transcoded').toBe(true);
    expect(gunzipSync(got).toString()).toBe(text);
  });

  it('a body that fails mid-way leaves no object under the key (nor replaces one) and rejects retriably', async () => {
    const base = fresh();
    const key = `${base}/part-0001.jsonl`;
    // 12 MiB before the failure: past the first S3 parts (5 MiB) and several Azure blocks (4 MiB),
    // so a multipart upload / staged blocks / a resumable session exist when it breaks.
    const failing = () => patternBody(64 * MiB, { bytes: 12 * MiB, error: new Error('source read failed') }).body;
    const err = await rejection(store.put(key, failing()));
    expect(err.code).toBe('UPLOAD_ABORTED');
    expect(err.retriable).toBe(true);
    expect(err.message).toContain(key);
    expect(err.message).toContain(store.destination);
    expect(await store.head(key)).toBeUndefined();
    expect(await store.list(`${base}/`)).toEqual([]);

    await store.put(key, Readable.from([Buffer.from('complete earlier part\n')]));
    expect((await rejection(store.put(key, failing()))).code).toBe('UPLOAD_ABORTED');
    expect((await readAll(await store.get(key))).toString()).toBe('complete earlier part\n');
    expect(await sizes(`${base}/`)).toEqual([{ key, sizeBytes: 'complete earlier part\n'.length }]);
  });

  it("a body failing with an AuditflowError keeps that error's code", async () => {
    const key = `${fresh()}/part-0001.jsonl`;
    const storeDown = new AuditflowError('STORE_UNAVAILABLE', 'the store went away');
    const err = await rejection(store.put(key, patternBody(1 * MiB, { bytes: 256 * 1024, error: storeDown }).body));
    expect(err).toBe(storeDown);
    expect(await store.head(key)).toBeUndefined();
  });

  it('a cancelled upload (signal) stores nothing', async () => {
    const key = `${fresh()}/part-0001.jsonl`;
    const ac = new AbortController();
    const { body } = patternBody(64 * MiB);
    let seen = 0;
    body.on('data', (c: Buffer) => { seen += c.length; if (seen >= 10 * MiB) ac.abort(); });
    const err = await rejection(store.put(key, body, { signal: ac.signal }));
    expect(err.code).toBe('UPLOAD_ABORTED');
    expect(err.message).toContain('cancelled');
    expect(await store.head(key)).toBeUndefined();
  });

  it('wrong credentials: a non-retriable error naming the destination, never the secret', async () => {
    const w = backend.wrong();
    const attempt = (async () => {
      const bad = await openObjectStore(w.spec, deps);
      try {
        if (w.at === 'open') throw new Error(`expected open to refuse ${w.spec.type}`);
        await bad.put(`${fresh()}/part-0001.jsonl`, Readable.from([Buffer.from('x\n')]));
      } finally {
        await bad.close();
      }
    })();
    const err = await rejection(attempt);
    expect(err.code).toBe(w.code);
    expect(err.retriable).toBe(false);
    expect(err.message).toContain(`${w.spec.type} `);
    expect(err.message).toContain(`"${BUCKET}"`);
    if (w.spec.credentials_path !== undefined && backend.type !== 'local') expect(err.message).toContain(w.spec.credentials_path);
    const text = everythingIn(err);
    for (const secret of w.secrets) expect(text).not.toContain(secret);
  });

  it('refuses keys that are not plain relative paths', async () => {
    for (const key of ['', '/abs/part-0001.jsonl', 'a/../../etc/passwd', 'a//b', 'a/./b', '.hidden', 'a\\b']) {
      const err = await rejection(store.put(key, Readable.from([Buffer.from('x')])));
      expect(err.code, JSON.stringify(key)).toBe('DESTINATION_INVALID');
    }
  });

  async function sizes(prefix: string): Promise<{ key: string; sizeBytes: number }[]> {
    return (await store.list(prefix)).map(({ key, sizeBytes }) => ({ key, sizeBytes }));
  }
});
