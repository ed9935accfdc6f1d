// Google Cloud Storage through @google-cloud/storage (JSON API). Uploads are resumable sessions
// streamed in one request (no chunkSize, so nothing is buffered beyond the stream's own
// highWaterMark); GCS creates the object only when the session is finalised, so a failed or
// cancelled upload leaves nothing under the key. CRC32C of the bytes sent is checked against
// what the server stored (the SDK deletes the object on a mismatch).
import { createPrivateKey } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Storage, type Bucket, type GetFilesResponse } from '@google-cloud/storage';
import { CredentialFields } from '../secrets/secrets-provider.ts';
import {
  byKey, checkBucket, checkKey, checkPrefix, destinationError, errorName, kindOfStatus, meteredPut,
  networkCode, objectNotFound, type FailureKind, type ObjectInfo, type ObjectStore, type PutOptions,
} from './object-store.ts';

// GCS's rule for names without dots (dotted names may reach 222 characters in 63-character parts).
const BUCKET_RULE = /^(?=.{3,222}$)[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$/;
const UPLOAD_TIMEOUT_MS = 120_000;

export type GcsSettings =
  | { kind: 'service_account'; projectId: string | undefined; key: Record<string, unknown>; apiEndpoint: string | undefined }
  | { kind: 'endpoint'; projectId: string | undefined; apiEndpoint: string };

/**
 * A service-account key JSON as Google issues it (`type: "service_account"`, `client_email`,
 * `private_key`, …; `api_endpoint` optional), or `{api_endpoint, project_id?}` alone for an
 * endpoint that takes no Google credentials (an emulator).
 */
export function parseGcsSettings(settings: Record<string, unknown>, credentialsPath: string, destination: string): GcsSettings {
  const f = new CredentialFields(settings, credentialsPath, destination);
  const projectId = f.optionalString('project_id');
  const apiEndpoint = f.optionalUrl('api_endpoint');
  if (f.has('private_key') || f.has('client_email') || f.has('type')) {
    f.checked('type', (v) => v === 'service_account', 'must be "service_account" (a service-account key JSON)');
    f.string('client_email');
    f.checked('private_key', isPrivateKey, 'must be a PEM private key (as in the key JSON Google issues)');
    return { kind: 'service_account', projectId, key: settings, apiEndpoint };
  }
  if (apiEndpoint === undefined) {
    throw f.invalid('private_key', 'is required: a service-account key JSON (type, client_email, private_key), or api_endpoint for an endpoint without Google credentials');
  }
  return { kind: 'endpoint', projectId, apiEndpoint };
}

function isPrivateKey(pem: string): boolean {
  try {
    createPrivateKey(pem);
    return true;
  } catch {
    return false;
  }
}

export function openGcsStore(bucket: string, credentialsPath: string, settings: Record<string, unknown>): GcsStore {
  checkBucket('gcs', bucket, BUCKET_RULE, '3-222 lowercase letters, digits, "-", "_" or ".", starting and ending with a letter or digit');
  const destination = `gcs bucket ${JSON.stringify(bucket)}`;
  return new GcsStore(bucket, credentialsPath, destination, parseGcsSettings(settings, credentialsPath, destination));
}

class GcsStore implements ObjectStore {
  readonly kind = 'gcs' as const;
  private readonly bucket: Bucket;

  constructor(bucket: string, private readonly credentialsPath: string, readonly destination: string, s: GcsSettings) {
    const storage = s.kind === 'service_account'
      ? new Storage({
        projectId: s.projectId,
        credentials: s.key as { client_email: string; private_key: string },
        ...(s.apiEndpoint === undefined ? {} : { apiEndpoint: s.apiEndpoint, useAuthWithCustomEndpoint: true }),
      })
      // A custom endpoint without credentials: the SDK sends no Authorization header.
      : new Storage({ projectId: s.projectId, apiEndpoint: s.apiEndpoint });
    this.bucket = storage.bucket(bucket);
  }

  async put(key: string, body: NodeJS.ReadableStream | Readable, opts: PutOptions = {}): Promise<{ key: string; sizeBytes: number }> {
    return meteredPut(this.destination, key, body, opts.signal,
      (stream) => pipeline(stream, this.bucket.file(key).createWriteStream({
        resumable: true,
        validation: 'crc32c',
        timeout: UPLOAD_TIMEOUT_MS,
        metadata: { contentType: opts.contentType, contentEncoding: opts.contentEncoding },
      })),
      (e) => this.error(`put ${JSON.stringify(key)}`, e));
  }

  async get(key: string): Promise<Readable> {
    checkKey(key);
    const file = this.bucket.file(key);
    // The SDK's read stream sends its request only once read; ask for the metadata first so an
    // absent key rejects here rather than inside the caller's pipeline.
    try {
      await file.getMetadata();
    } catch (e) {
      if (statusOf(e) === 404) throw objectNotFound(this.destination, key);
      throw this.error(`get ${JSON.stringify(key)}`, e);
    }
    // decompress: false — the bytes as stored (an export part stays gzip, as its manifest hashed it).
    return file.createReadStream({ decompress: false });
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    checkKey(key);
    try {
      const [md] = await this.bucket.file(key).getMetadata();
      return { key, sizeBytes: Number(md.size ?? 0), contentType: md.contentType, contentEncoding: md.contentEncoding };
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw this.error(`head ${JSON.stringify(key)}`, e);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    checkPrefix(prefix);
    const out: ObjectInfo[] = [];
    try {
      let pageToken: string | undefined;
      do {
        const page: GetFilesResponse = await this.bucket.getFiles({ prefix, maxResults: 1000, autoPaginate: false, pageToken });
        for (const f of page[0]) out.push({ key: f.name, sizeBytes: Number(f.metadata.size ?? 0), contentType: f.metadata.contentType, contentEncoding: f.metadata.contentEncoding });
        pageToken = (page[1] as { pageToken?: string } | null)?.pageToken;
      } while (pageToken);
    } catch (e) {
      throw this.error(`list ${JSON.stringify(prefix)}`, e);
    }
    return byKey(out);
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    try {
      await this.bucket.file(key).delete({ ignoreNotFound: true });
    } catch (e) {
      throw this.error(`delete ${JSON.stringify(key)}`, e);
    }
  }

  async close(): Promise<void> {}

  private error(op: string, e: unknown) {
    const status = statusOf(e);
    const net = networkCode(e);
    // A token endpoint refusing the key answers 400 invalid_grant (google-auth-library's GaxiosError).
    const oauth = (e as { response?: { data?: { error?: unknown } } } | null)?.response?.data?.error;
    let kind: FailureKind;
    if (oauth === 'invalid_grant' || oauth === 'unauthorized_client' || oauth === 'invalid_client') kind = 'auth';
    else if (net !== undefined) kind = 'unavailable';
    else kind = kindOfStatus(status) ?? 'unavailable';
    const reason = [typeof oauth === 'string' ? oauth : net ?? errorName(e), status === undefined ? undefined : `HTTP ${status}`]
      .filter(Boolean).join(', ');
    return destinationError(this.destination, op, kind, reason, this.credentialsPath);
  }
}

/** The HTTP status of an ApiError (`code` is the status there) or a GaxiosError. */
function statusOf(e: unknown): number | undefined {
  const o = e as { code?: unknown; status?: unknown; response?: { status?: unknown } } | null;
  for (const v of [o?.code, o?.status, o?.response?.status]) if (typeof v === 'number') return v;
  return undefined;
}
