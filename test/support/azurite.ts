// A real Azure Blob API for tests: Microsoft's Azurite (npm), its blob service alone, in a child
// process on a free loopback port with its data in a temporary folder. It checks Shared Key
// signatures against the well-known development account, so a wrong AccountKey is refused (403).
// --skipApiVersionCheck: without it the current SDK's x-ms-version gets 400 InvalidHeaderValue.
import { BlobServiceClient } from '@azure/storage-blob';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { packageFile, startEmulatorProcess } from './emulator-process.ts';

// Azurite's published development account (https://learn.microsoft.com/azure/storage/common/storage-use-azurite).
const ACCOUNT = 'devstoreaccount1';
const ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Azurite {
  blobEndpoint: string;
  /** A connection string with the real development key. */
  connectionString: string;
  /** The same account with another (well-formed) key: Azurite refuses its signatures. */
  connectionStringWithKey(accountKey: string): string;
  pid: number;
  stop(): Promise<void>;
}

export async function startAzurite(containers: string[]): Promise<Azurite> {
  const bin = packageFile('azurite', 'dist/src/blob/main.js');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'azurite-'));
  const proc = await startEmulatorProcess({
    name: 'azurite-blob',
    args: [bin, '--blobHost', '127.0.0.1', '--blobPort', '0', '--location', dir, '--skipApiVersionCheck', '--disableTelemetry', '--silent'],
    ready: /successfully listens on http:\/\/127\.0\.0\.1:(\d+)/,
  });
  const blobEndpoint = `http://127.0.0.1:${proc.match[1]}/${ACCOUNT}`;
  const withKey = (key: string): string => `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${key};BlobEndpoint=${blobEndpoint};`;
  const az: Azurite = {
    blobEndpoint,
    connectionString: withKey(ACCOUNT_KEY),
    connectionStringWithKey: withKey,
    pid: proc.pid,
    async stop() {
      await proc.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    const service = BlobServiceClient.fromConnectionString(az.connectionString);
    for (const c of containers) await service.getContainerClient(c).createIfNotExists();
  } catch (e) {
    await az.stop();
    throw e;
  }
  return az;
}
