// Azure Blob Storage through @azure/storage-blob. Uploads go through uploadStream: the body is cut
// into BLOCK_BYTES blocks staged MAX_BUFFERS at most in memory, and the blob appears only when the
// block list is committed at the end — a failed or cancelled upload commits nothing (Azure drops
// uncommitted blocks after 7 days), so the key keeps its previous content or stays absent.
// `bucket` names the container; the account comes from the connection string.
import { BlobServiceClient, type ContainerClient, type StoragePipelineOptions } from '@azure/storage-blob';
import type { Readable } from 'node:stream';
import { AuditflowError } from '../errors.ts';
import { CredentialFields } from '../secrets/secrets-provider.ts';
import {
  byKey, checkBucket, checkKey, checkPrefix, destinationError, errorName, kindOfStatus, meteredPut,
  networkCode, objectNotFound, type FailureKind, type ObjectInfo, type ObjectStore, type PutOptions,
} from './object-store.ts';

// 4 MiB blocks, 4 buffers (3 staged at a time): ~16 MiB per upload; 50,000 blocks allow ~195 GiB.
const BLOCK_BYTES = 4 * 1024 * 1024;
const MAX_BUFFERS = 4;
const CONTAINER_RULE = /^(?=.{3,63}$)[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]$/;
const AUTH_CODES = new Set(['AuthenticationFailed', 'AuthorizationFailure', 'AuthorizationPermissionMismatch', 'InsufficientAccountPermissions', 'InvalidAuthenticationInfo', 'AccountIsDisabled']);
const NOT_FOUND_CODES = new Set(['ContainerNotFound', 'ResourceNotFound', 'AccountNotFound']);
const UNAVAILABLE_CODES = new Set(['ServerBusy', 'InternalError', 'OperationTimedOut', 'REQUEST_SEND_ERROR']);

const PIPELINE: StoragePipelineOptions = {
  // The SDK's defaults wait up to 2 minutes between tries; an export job has its own retry.
  retryOptions: { maxTries: 3, retryDelayInMs: 1_000, maxRetryDelayInMs: 10_000, tryTimeoutInMs: 120_000 },
};

/** `{connection_string}`: an account key or SAS connection string, as the Azure portal shows it. */
export function parseAzureSettings(settings: Record<string, unknown>, credentialsPath: string, destination: string): BlobServiceClient {
  const f = new CredentialFields(settings, credentialsPath, destination);
  const connectionString = f.string('connection_string');
  try {
    return BlobServiceClient.fromConnectionString(connectionString, PIPELINE);
  } catch {
    // The SDK's message may quote the string; say only which field is wrong.
    throw new AuditflowError('CREDENTIALS_INVALID',
      `credentials at ${JSON.stringify(credentialsPath)} for ${destination}: field "connection_string" is not an Azure Storage connection string (AccountName and AccountKey, or a SharedAccessSignature with BlobEndpoint)`,
      { details: [{ path: 'connection_string', message: 'is not an Azure Storage connection string' }] });
  }
}

export function openAzureBlobStore(bucket: string, credentialsPath: string, settings: Record<string, unknown>): AzureBlobStore {
  checkBucket('azure_blob', bucket, CONTAINER_RULE, '3-63 lowercase letters, digits or single "-", starting and ending with a letter or digit');
  const destination = `azure_blob container ${JSON.stringify(bucket)}`;
  return new AzureBlobStore(credentialsPath, destination, parseAzureSettings(settings, credentialsPath, destination).getContainerClient(bucket));
}

class AzureBlobStore implements ObjectStore {
  readonly kind = 'azure_blob' as const;

  constructor(private readonly credentialsPath: string, readonly destination: string, private readonly container: ContainerClient) {}

  async put(key: string, body: NodeJS.ReadableStream | Readable, opts: PutOptions = {}): Promise<{ key: string; sizeBytes: number }> {
    return meteredPut(this.destination, key, body, opts.signal,
      (stream) => this.container.getBlockBlobClient(key).uploadStream(stream, BLOCK_BYTES, MAX_BUFFERS, {
        blobHTTPHeaders: { blobContentType: opts.contentType, blobContentEncoding: opts.contentEncoding },
        abortSignal: opts.signal,
      }),
      (e) => this.error(`put ${JSON.stringify(key)}`, e));
  }

  async get(key: string): Promise<Readable> {
    checkKey(key);
    try {
      const r = await this.container.getBlobClient(key).download();
      // In Node: a Readable that re-requests the rest of the blob if the connection drops.
      return r.readableStreamBody as Readable;
    } catch (e) {
      if (statusOf(e) === 404) throw objectNotFound(this.destination, key);
      throw this.error(`get ${JSON.stringify(key)}`, e);
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    checkKey(key);
    try {
      const p = await this.container.getBlobClient(key).getProperties();
      return { key, sizeBytes: p.contentLength ?? 0, contentType: p.contentType, contentEncoding: p.contentEncoding };
    } catch (e) {
      if (statusOf(e) === 404 && codeOf(e) !== 'ContainerNotFound') return undefined;
      throw this.error(`head ${JSON.stringify(key)}`, e);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    checkPrefix(prefix);
    const out: ObjectInfo[] = [];
    try {
      for await (const page of this.container.listBlobsFlat({ prefix }).byPage({ maxPageSize: 1000 })) {
        for (const b of page.segment.blobItems) {
          out.push({ key: b.name, sizeBytes: b.properties.contentLength ?? 0, contentType: b.properties.contentType, contentEncoding: b.properties.contentEncoding });
        }
      }
    } catch (e) {
      throw this.error(`list ${JSON.stringify(prefix)}`, e);
    }
    return byKey(out);
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    try {
      await this.container.getBlobClient(key).deleteIfExists();
    } catch (e) {
      throw this.error(`delete ${JSON.stringify(key)}`, e);
    }
  }

  async close(): Promise<void> {}

  private error(op: string, e: unknown) {
    const status = statusOf(e);
    const code = codeOf(e);
    const net = networkCode(e);
    let kind: FailureKind;
    if (AUTH_CODES.has(code)) kind = 'auth';
    else if (NOT_FOUND_CODES.has(code)) kind = 'not_found';
    else if (UNAVAILABLE_CODES.has(code) || net !== undefined) kind = 'unavailable';
    else kind = kindOfStatus(status) ?? 'unavailable';
    const reason = [net ?? (code || errorName(e)), status === undefined ? undefined : `HTTP ${status}`].filter(Boolean).join(', ');
    return destinationError(this.destination, op, kind, reason, this.credentialsPath);
  }
}

/** RestError: `statusCode` and the service's error `code` (also in the x-ms-error-code header). */
function statusOf(e: unknown): number | undefined {
  const s = (e as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

function codeOf(e: unknown): string {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : '';
}
