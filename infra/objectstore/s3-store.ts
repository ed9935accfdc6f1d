// S3 (and S3-compatible endpoints: MinIO, s3rver) through @aws-sdk/client-s3, uploads through
// @aws-sdk/lib-storage's Upload: multipart in PART_BYTES parts, QUEUE_SIZE at a time, so memory per
// upload is about (QUEUE_SIZE + 2) × PART_BYTES whatever the body's size; a failed upload is
// aborted (AbortMultipartUpload), so S3 never shows a partial object under the key.
import {
  DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, S3Client, paginateListObjectsV2,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Readable } from 'node:stream';
import { CredentialFields } from '../secrets/secrets-provider.ts';
import {
  byKey, checkBucket, checkKey, checkPrefix, destinationError, kindOfStatus, meteredPut,
  networkCode, objectNotFound, type FailureKind, type ObjectInfo, type ObjectStore, type PutOptions,
} from './object-store.ts';

// S3's minimum part, two in flight: lib-storage holds the two being sent plus the one it is
// filling (and, for a moment, that one's chunks beside their concatenation): ~20 MiB per upload.
// 10,000 parts allow ~48 GiB, far beyond an export part (EXPORT_PART_BYTES, at most 5 GiB).
const PART_BYTES = 5 * 1024 * 1024;
const QUEUE_SIZE = 2;
const BUCKET_RULE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

// S3 error names that mean "these credentials do not work here" (not retriable with the same ones).
const AUTH_NAMES = new Set([
  'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'ExpiredToken', 'InvalidToken',
  'TokenRefreshRequired', 'AllAccessDisabled', 'InvalidSecurity', 'AuthorizationHeaderMalformed',
]);
const UNAVAILABLE_NAMES = new Set(['SlowDown', 'ServiceUnavailable', 'InternalError', 'RequestTimeout', 'TimeoutError', 'RequestTimeTooSkewed']);

export interface S3Settings {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string | undefined;
  region: string;
  endpoint: string | undefined;
  forcePathStyle: boolean;
}

/** `{access_key_id, secret_access_key, region, endpoint?, force_path_style?, session_token?}`. */
export function parseS3Settings(settings: Record<string, unknown>, credentialsPath: string, destination: string): S3Settings {
  const f = new CredentialFields(settings, credentialsPath, destination);
  return {
    accessKeyId: f.string('access_key_id'),
    secretAccessKey: f.string('secret_access_key'),
    sessionToken: f.optionalString('session_token'),
    region: f.checked('region', (v) => /^[a-z0-9-]{1,32}$/.test(v), 'must be an AWS region name such as "eu-west-1"'),
    endpoint: f.optionalUrl('endpoint'),
    forcePathStyle: f.optionalBoolean('force_path_style') ?? false,
  };
}

export function openS3Store(bucket: string, credentialsPath: string, settings: Record<string, unknown>): S3Store {
  checkBucket('s3', bucket, BUCKET_RULE, '3-63 lowercase letters, digits, "." or "-", starting and ending with a letter or digit');
  const destination = `s3 bucket ${JSON.stringify(bucket)}`;
  return new S3Store(bucket, credentialsPath, destination, parseS3Settings(settings, credentialsPath, destination));
}

class S3Store implements ObjectStore {
  readonly kind = 's3' as const;
  private readonly client: S3Client;

  constructor(private readonly bucket: string, private readonly credentialsPath: string, readonly destination: string, s: S3Settings) {
    this.client = new S3Client({
      region: s.region,
      endpoint: s.endpoint,
      forcePathStyle: s.forcePathStyle,
      credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey, sessionToken: s.sessionToken },
      maxAttempts: 3,
      requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000 },
    });
  }

  async put(key: string, body: NodeJS.ReadableStream | Readable, opts: PutOptions = {}): Promise<{ key: string; sizeBytes: number }> {
    // NOTE: when the abort of the multipart upload itself fails (s3rver: 405), lib-storage rejects
    // with that error instead; meteredPut still sees that the body's failure stopped the upload.
    return meteredPut(this.destination, key, body, opts.signal, async (stream) => {
      const abortController = new AbortController();
      const onAbort = (): void => abortController.abort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        await new Upload({
          client: this.client,
          params: { Bucket: this.bucket, Key: key, Body: stream, ContentType: opts.contentType, ContentEncoding: opts.contentEncoding },
          partSize: PART_BYTES,
          queueSize: QUEUE_SIZE,
          leavePartsOnError: false,
          abortController,
        }).done();
      } finally {
        opts.signal?.removeEventListener('abort', onAbort);
      }
    }, (e) => this.error(`put ${JSON.stringify(key)}`, e));
  }

  async get(key: string): Promise<Readable> {
    checkKey(key);
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      // In Node the body is an IncomingMessage with the SDK's helpers mixed in: a Readable.
      return r.Body as Readable;
    } catch (e) {
      if (nameOf(e) === 'NoSuchKey') throw objectNotFound(this.destination, key);
      throw this.error(`get ${JSON.stringify(key)}`, e);
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    checkKey(key);
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { key, sizeBytes: r.ContentLength ?? 0, contentType: r.ContentType, contentEncoding: r.ContentEncoding };
    } catch (e) {
      // A HEAD answer has no body, so an absent key and an absent bucket both read as NotFound.
      if (nameOf(e) === 'NotFound' || statusOf(e) === 404) return undefined;
      throw this.error(`head ${JSON.stringify(key)}`, e);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    checkPrefix(prefix);
    const out: ObjectInfo[] = [];
    try {
      for await (const page of paginateListObjectsV2({ client: this.client, pageSize: 1000 }, { Bucket: this.bucket, Prefix: prefix })) {
        for (const o of page.Contents ?? []) if (o.Key !== undefined) out.push({ key: o.Key, sizeBytes: o.Size ?? 0 });
      }
    } catch (e) {
      throw this.error(`list ${JSON.stringify(prefix)}`, e);
    }
    return byKey(out);
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (e) {
      if (nameOf(e) === 'NoSuchKey') return;
      throw this.error(`delete ${JSON.stringify(key)}`, e);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private error(op: string, e: unknown) {
    const name = nameOf(e);
    const status = statusOf(e);
    const net = networkCode(e);
    let kind: FailureKind;
    if (AUTH_NAMES.has(name)) kind = 'auth';
    else if (name === 'NoSuchBucket') kind = 'not_found';
    else if (UNAVAILABLE_NAMES.has(name) || net !== undefined) kind = 'unavailable';
    else kind = kindOfStatus(status) ?? 'unavailable';
    const reason = [net ?? name, status === undefined ? undefined : `HTTP ${status}`].filter(Boolean).join(', ');
    return destinationError(this.destination, op, kind, reason, this.credentialsPath);
  }
}

function nameOf(e: unknown): string {
  const n = (e as { name?: unknown } | null)?.name;
  return typeof n === 'string' ? n : '';
}

function statusOf(e: unknown): number | undefined {
  const s = (e as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode;
  return typeof s === 'number' ? s : undefined;
}
