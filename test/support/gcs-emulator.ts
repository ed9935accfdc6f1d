// A real GCS JSON API for tests: firebase-tools' Cloud Storage emulator, its StorageEmulator class
// started in a child process (gcs-emulator-child.ts explains what is stubbed: the Java rules
// runtime). A child rather than this process, because the emulator holds each upload request's
// whole body in memory (body-parser, up to 130 MB) — a test measuring the client's memory must
// not count it — and so its CPU stays off the test's event loop.
// Quirks (firebase-tools 15.34): no authentication on the JSON API (every request is admin, any
// credentials or none are accepted); buckets appear on first use (createBucket is not
// implemented, a missing bucket never answers 404); a resumable upload is finalised by its first
// PUT (chunked resumable uploads of several PUTs do not work: upload in one streamed request, no
// chunkSize); an upload request body is limited to 130 MB; no x-goog-stored-content-encoding
// header, so the SDK skips hash validation on download.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageFile, startEmulatorProcess } from './emulator-process.ts';

const CHILD = fileURLToPath(new URL('./gcs-emulator-child.ts', import.meta.url));

export interface GcsEmulator {
  /** For @google-cloud/storage's `apiEndpoint` (or STORAGE_EMULATOR_HOST). */
  apiEndpoint: string;
  projectId: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startGcsEmulator(projectId = 'demo-auditflow'): Promise<GcsEmulator> {
  packageFile('firebase-tools', 'package.json'); // fails loudly, naming the package, if absent
  const blobDir = await mkdtemp(path.join(os.tmpdir(), 'gcs-emulator-'));
  const proc = await startEmulatorProcess({
    name: 'the firebase-tools Cloud Storage emulator',
    args: ['--import', 'tsx', CHILD],
    ready: /^\{"port":(\d+)\}$/,
    env: { ...process.env, GCS_EMULATOR_BLOB_DIR: blobDir, GCS_EMULATOR_PROJECT: projectId },
    timeoutMs: 60_000,
  });
  return {
    apiEndpoint: `http://127.0.0.1:${proc.match[1]}`,
    projectId,
    pid: proc.pid,
    async stop() {
      await proc.stop();
      await rm(blobDir, { recursive: true, force: true });
    },
  };
}
