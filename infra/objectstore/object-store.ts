// One narrow storage interface for export destinations: S3, GCS, Azure Blob and a local folder.
// Keys are relative to the bucket; the caller composes `<prefix>/<export_id>/part-0001.jsonl`.
// Every failure is an AuditflowError whose message names the destination (type and bucket) and
// the key, and whose reason is the backend's error code or HTTP status — never an SDK message,
// which may quote request details, and never a credential.
import { Transform, finished, type Readable } from 'node:stream';
import { AuditflowError, isAuditflowError, type ErrorCode } from '../errors.ts';
import type { SecretsProvider } from '../secrets/secrets-provider.ts';

export type DestinationType = 's3' | 'gcs' | 'azure_blob' | 'local';

export interface DestinationSpec {
  type: DestinationType;
  bucket: string;
  /** Not used by the store (keys arrive whole); part of the spec the caller keys objects with. */
  prefix?: string | undefined;
  /** Resolved by the SecretsProvider; required for every type but `local`, refused for `local`. */
  credentials_path?: string | undefined;
}

export interface ObjectInfo {
  key: string;
  sizeBytes: number;
  contentType?: string | undefined;
  contentEncoding?: string | undefined;
}

export interface PutOptions {
  contentType?: string | undefined;
  contentEncoding?: string | undefined;
  signal?: AbortSignal | undefined;
}

export interface ObjectStore {
  readonly kind: DestinationType;
  /** `s3 bucket "x"`, `local folder "x"`: how errors and logs name this destination. */
  readonly destination: string;
  /**
   * Streams `body` to `key` (multipart / resumable / staged blocks, with bounded buffers) and
   * resolves once the object is durable and complete, with the bytes written. If the body errors
   * or `signal` aborts, rejects with UPLOAD_ABORTED (or the body's own AuditflowError) and leaves
   * no object under `key` (an earlier object under the same key stays as it was).
   */
  put(key: string, body: NodeJS.ReadableStream | Readable, opts?: PutOptions): Promise<{ key: string; sizeBytes: number }>;
  /** The stored bytes exactly as put (never decompressed); NOT_FOUND when absent. */
  get(key: string): Promise<Readable>;
  /** Size and content headers, or undefined when absent (a crash-restarted job checks what is already there). */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Every object under a prefix (paged through), sorted by key. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Removes `key`; absent is not an error. */
  delete(key: string): Promise<void>;
  close(): Promise<void>;
}

export interface ObjectStoreDeps {
  secrets: SecretsProvider;
  /** DATA_DIR: local destinations live in `<dataDir>/exports/<bucket>`. */
  dataDir: string;
}

/**
 * Opens the store for a destination: validates the spec and reads its credentials, but makes no
 * network call (the clients connect lazily), so an API can call it to refuse a bad destination
 * before queueing a job.
 */
export async function openObjectStore(spec: DestinationSpec, deps: ObjectStoreDeps): Promise<ObjectStore> {
  const type = spec?.type;
  if (type === 'local') {
    if (spec.credentials_path !== undefined) {
      throw new AuditflowError('DESTINATION_INVALID', `local folder ${JSON.stringify(spec.bucket)} takes no credentials_path (a local destination writes under DATA_DIR/exports)`);
    }
    const { openLocalStore } = await import('./local-store.ts');
    return openLocalStore(spec.bucket, deps.dataDir);
  }
  if (type !== 's3' && type !== 'gcs' && type !== 'azure_blob') {
    throw new AuditflowError('DESTINATION_INVALID', 'destination.type must be one of s3, gcs, azure_blob, local');
  }
  if (spec.credentials_path === undefined) {
    throw new AuditflowError('DESTINATION_INVALID', `${type} bucket ${JSON.stringify(spec.bucket)} needs a credentials_path`);
  }
  const settings = await deps.secrets.read(spec.credentials_path);
  // Imported on demand: each SDK costs start-up time and memory a deployment may never use.
  switch (type) {
    case 's3': return (await import('./s3-store.ts')).openS3Store(spec.bucket, spec.credentials_path, settings);
    case 'gcs': return (await import('./gcs-store.ts')).openGcsStore(spec.bucket, spec.credentials_path, settings);
    case 'azure_blob': return (await import('./azure-blob-store.ts')).openAzureBlobStore(spec.bucket, spec.credentials_path, settings);
  }
}

/** Checks a bucket / container / folder name against the backend's rule; DESTINATION_INVALID names the rule. */
export function checkBucket(kind: DestinationType, bucket: unknown, rule: RegExp, ruleText: string): string {
  if (typeof bucket !== 'string' || !rule.test(bucket)) {
    const shown = typeof bucket === 'string' ? JSON.stringify(bucket.slice(0, 80)) : String(typeof bucket);
    throw new AuditflowError('DESTINATION_INVALID', `destination.bucket ${shown} is not a valid ${kind} bucket name: ${ruleText}`);
  }
  return bucket;
}

const MAX_KEY_BYTES = 1024; // S3's and GCS's limit; Azure allows 1,024 characters

/**
 * The same key rule for every backend, so an export that works on one works on all: `/`-separated
 * segments, none empty and none starting with `.` (so no `.`/`..`, and the local store's
 * temporary `.name.partial` files can never collide with a key), no NUL, at most 1,024 bytes.
 */
export function checkKey(key: unknown, what = 'object key'): string {
  if (typeof key !== 'string' || key === '') throw new AuditflowError('DESTINATION_INVALID', `${what} must be a non-empty string`);
  const shown = JSON.stringify(key.slice(0, 120));
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw new AuditflowError('DESTINATION_INVALID', `${what} ${shown}… is longer than ${MAX_KEY_BYTES} bytes`);
  if (key.includes('\0') || key.includes('\\')) throw new AuditflowError('DESTINATION_INVALID', `${what} ${shown} contains NUL or a backslash`);
  for (const seg of key.split('/')) {
    if (seg === '' || seg.startsWith('.')) {
      throw new AuditflowError('DESTINATION_INVALID', `${what} ${shown}: segments between '/' must be non-empty and must not start with '.'`);
    }
  }
  return key;
}

/** A list prefix: empty, or a key prefix (it may end inside a segment, or with '/'). */
export function checkPrefix(prefix: unknown): string {
  if (prefix === '') return '';
  if (typeof prefix !== 'string') throw new AuditflowError('DESTINATION_INVALID', 'list prefix must be a string');
  checkKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix, 'list prefix');
  return prefix;
}

/** What went wrong at the destination, in the store's vocabulary; `reason` is a code or status, safe to show. */
export type FailureKind = 'auth' | 'not_found' | 'unavailable' | 'invalid';

const KIND_CODE: Record<FailureKind, ErrorCode> = {
  auth: 'DESTINATION_AUTH_FAILED',
  not_found: 'DESTINATION_NOT_FOUND',
  unavailable: 'DESTINATION_UNAVAILABLE',
  invalid: 'DESTINATION_INVALID',
};

const KIND_TEXT: Record<FailureKind, string> = {
  auth: 'refused the credentials',
  not_found: 'does not exist',
  unavailable: 'is unavailable',
  invalid: 'refused the request',
};

export function destinationError(destination: string, op: string, kind: FailureKind, reason: string, credentialsPath?: string): AuditflowError {
  const creds = kind === 'auth' && credentialsPath !== undefined ? ` at credentials_path ${JSON.stringify(credentialsPath)}` : '';
  return new AuditflowError(KIND_CODE[kind], `${op}: ${destination} ${KIND_TEXT[kind]}${creds} (${reason})`);
}

/** get() of an absent key. */
export function objectNotFound(destination: string, key: string): AuditflowError {
  return new AuditflowError('NOT_FOUND', `no object ${JSON.stringify(key)} in ${destination}`);
}

/** Node's network errno codes: the connection failed or was cut, retrying may succeed. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH',
  'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'ERR_STREAM_PREMATURE_CLOSE',
]);

/** The errno-style code of a network failure anywhere in the cause chain, if any. */
export function networkCode(e: unknown): string | undefined {
  for (let cur: unknown = e, depth = 0; cur && typeof cur === 'object' && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
  }
  return undefined;
}

/** Maps an HTTP status from a destination to a failure kind. */
export function kindOfStatus(status: number | undefined): FailureKind | undefined {
  if (status === undefined) return undefined;
  if (status === 401 || status === 403) return 'auth';
  if (status === 404) return 'not_found';
  if (status === 408 || status === 429 || status >= 500) return 'unavailable';
  if (status >= 400) return 'invalid';
  return undefined;
}

/**
 * The body as the backend reads it: a pass-through that counts bytes. Every way the body can fail
 * — an error, a destroy without one (premature close), the signal aborting — becomes an error on
 * the stream the SDK reads, so no SDK can mistake a cut body for a complete one.
 */
interface MeteredBody {
  stream: Transform;
  bytes(): number;
  /**
   * After the SDK failed: the body's own failure (or the signal's), if that is what stopped the
   * upload; undefined when the destination failed first. Waits a turn of the event loop so the
   * body's error events have been delivered.
   */
  failure(): Promise<unknown>;
}

function meterBody(body: NodeJS.ReadableStream | Readable, signal: AbortSignal | undefined, chunkBytes = 64 * 1024): MeteredBody {
  let bytes = 0;
  let failure: unknown;
  // TRICKY: not stream.pipeline — it destroys the body with the SDK's error when the SDK destroys
  // the stream it reads, and the destination's failure would then look like the body's.
  let state: 'flowing' | 'ended' | 'body_failed' | 'sdk_stopped' = 'flowing';
  const stream = new Transform({
    highWaterMark: chunkBytes,
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  // The SDK may attach its listeners late (GCS pipes once its session exists): an error before
  // then must not be an unhandled 'error' event. The SDK still sees it when it reads.
  stream.on('error', () => {});
  const src = body as Readable;
  const onAbort = (): void => {
    bodyFailed(signal?.reason ?? new Error('aborted'));
    src.destroy?.();
  };
  const leave = (to: 'ended' | 'body_failed' | 'sdk_stopped'): boolean => {
    if (state !== 'flowing') return false;
    state = to;
    signal?.removeEventListener('abort', onAbort);
    return true;
  };
  function bodyFailed(err: unknown): void {
    if (!leave('body_failed')) return;
    failure = err;
    src.unpipe?.(stream);
    stream.destroy(err instanceof Error ? err : new Error(String(err)));
  }
  finished(src, (err) => {
    if (err) bodyFailed(err);
    else leave('ended');
  });
  stream.once('close', () => {
    // The SDK gave up reading: release the producer; its end is not the body's failure.
    if (!leave('sdk_stopped')) return;
    src.unpipe?.(stream);
    src.destroy?.();
  });
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  if (state === 'flowing') src.pipe(stream);
  return {
    stream,
    bytes: () => bytes,
    failure: async () => {
      await new Promise((r) => setImmediate(r));
      return failure;
    },
  };
}

/**
 * What every put shares: check the key, meter the body, run the backend's `upload` of the metered
 * stream, and on failure decide whose it was — the body's (abortedUpload) or the destination's
 * (`classify`, the backend's mapping of its SDK's error).
 */
export async function meteredPut(
  destination: string, key: string, body: NodeJS.ReadableStream | Readable, signal: AbortSignal | undefined,
  upload: (stream: Readable) => Promise<unknown>, classify: (e: unknown) => AuditflowError, chunkBytes?: number,
): Promise<{ key: string; sizeBytes: number }> {
  checkKey(key);
  const metered = meterBody(body, signal, chunkBytes);
  try {
    await upload(metered.stream);
    return { key, sizeBytes: metered.bytes() };
  } catch (e) {
    const failure = await metered.failure();
    if (failure !== undefined) throw abortedUpload(destination, key, failure, signal);
    throw classify(e);
  }
}

/** Listings come back sorted by key (as S3, GCS and Azure list), whatever order a backend read them in. */
export function byKey<T extends { key: string }>(items: T[]): T[] {
  return items.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * The error a failed put rejects with. A failed body wins over whatever the SDK made of it (an
 * abort, a premature close): the body's own AuditflowError passes through (a store read that
 * failed keeps its code), anything else is UPLOAD_ABORTED, retriable.
 */
function abortedUpload(destination: string, key: string, failure: unknown, signal: AbortSignal | undefined): AuditflowError {
  if (isAuditflowError(failure)) return failure;
  const why = signal?.aborted ? 'the upload was cancelled' : `its body failed (${errorName(failure)})`;
  return new AuditflowError('UPLOAD_ABORTED', `upload of ${JSON.stringify(key)} to ${destination} stopped: ${why}; nothing was stored under the key`, { cause: failure });
}

/** A short, safe name for an error: its code or name, never its message. */
export function errorName(e: unknown): string {
  if (e && typeof e === 'object') {
    const o = e as { code?: unknown; name?: unknown };
    if (typeof o.code === 'string' && o.code !== '') return o.code;
    if (typeof o.name === 'string' && o.name !== '') return o.name;
  }
  return typeof e;
}
