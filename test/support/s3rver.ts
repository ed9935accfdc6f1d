// A real S3 API for tests: s3rver (npm) in a child process on a free loopback port, its data in a
// temporary folder, the given buckets created at start (--configure-bucket). Its one account is
// S3RVER / S3RVER.
// Quirks (s3rver 3.7): for SigV4 requests (every current SDK) it checks only the access key id —
// an unknown one is 403 InvalidAccessKeyId — and never the signature, so a wrong secret with the
// right key id is accepted; AbortMultipartUpload answers 405 MethodNotAllowed and
// ListMultipartUploads is NotImplemented, so an aborted upload's parts stay in its folder (never
// visible as an object).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { packageFile, startEmulatorProcess } from './emulator-process.ts';

export interface S3rver {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startS3rver(buckets: string[]): Promise<S3rver> {
  const bin = packageFile('s3rver', 'bin/s3rver.js');
  const dir = await mkdtemp(path.join(os.tmpdir(), 's3rver-'));
  const proc = await startEmulatorProcess({
    name: 's3rver',
    // -p 0: the kernel picks a free port; s3rver prints the one it got.
    args: [bin, '-d', dir, '-a', '127.0.0.1', '-p', '0', ...buckets.flatMap((b) => ['--configure-bucket', b])],
    ready: /S3rver listening on 127\.0\.0\.1:(\d+)/,
  });
  return {
    endpoint: `http://127.0.0.1:${proc.match[1]}`,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    region: 'us-east-1',
    pid: proc.pid,
    async stop() {
      await proc.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
