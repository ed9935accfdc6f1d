// Firebase's Cloud Storage emulator (firebase-tools, Google's implementation of the GCS JSON API)
// in a process of its own, started by gcs-emulator.ts. Prints {"port":N} as a line once it
// listens on 127.0.0.1; exits on SIGTERM/SIGINT, and with its parent (exit-with-parent.cjs).
//
// NOTE — how it is started, and what is stubbed. `firebase emulators:start` needs Java 21 and
// downloads the storage rules jar; neither is possible here. StorageEmulator.start() would do
// three things: start the rules runtime (StorageRulesRuntime: download the jar, spawn java), start
// the rules manager (load a ruleset through that runtime, watch the rules file), and listen on
// args.port (0 there means "the default 9199"). We skip start() and do only the third ourselves:
// createApp(projectId, emulator) from lib/emulator/storage/server.js, listening on port 0, and
// register the instance in EmulatorRegistry as start() would (metadata links need its port). The
// rules runtime is constructed but never started — a stub in effect — which is safe for the GCS
// JSON API: apis/gcloud.js serves every route through emulator.adminStorageLayer, whose rules
// validator always allows. Only the Firebase SDK's /v0 routes consult rules; with no ruleset
// loaded they refuse (403), and nothing here uses them.
// TRICKY: StorageEmulator keeps upload staging files in `${os.tmpdir()}/firebase/storage/blobs`,
// shared by every emulator on the machine, and stop() deletes that whole folder; the subclass
// below gives each instance its own folder (GCS_EMULATOR_BLOB_DIR).
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';

interface StorageEmulatorInstance {
  args: { port: number };
  stop(): Promise<void>;
}
interface StorageEmulatorClass {
  new (args: { projectId: string; host: string; port: number; auto_download: boolean }): StorageEmulatorInstance;
  prototype: { getPersistenceTmpDir(): string };
}
interface ExpressApp {
  listen(port: number, host: string, cb: () => void): Server;
}

const blobDir = process.env['GCS_EMULATOR_BLOB_DIR'];
const projectId = process.env['GCS_EMULATOR_PROJECT'] ?? 'demo-auditflow';
if (!blobDir) throw new Error('gcs-emulator-child: GCS_EMULATOR_BLOB_DIR is required');

const req = createRequire(import.meta.url);
const base = path.join(path.dirname(req.resolve('firebase-tools')), 'emulator', 'storage');
const { StorageEmulator } = req(path.join(base, 'index.js')) as { StorageEmulator: StorageEmulatorClass };
const { createApp } = req(path.join(base, 'server.js')) as { createApp(projectId: string, emulator: StorageEmulatorInstance): Promise<ExpressApp> };
const { EmulatorRegistry } = req(path.join(base, '..', 'registry.js')) as { EmulatorRegistry: { set(name: string, instance: StorageEmulatorInstance): void } };

class IsolatedStorageEmulator extends StorageEmulator {
  // Called from StorageEmulator's constructor (and reset()): reads only module state.
  getPersistenceTmpDir(): string {
    return blobDir as string;
  }
}

const emulator = new IsolatedStorageEmulator({ projectId, host: '127.0.0.1', port: 0, auto_download: false });
const app = await createApp(projectId, emulator);
const server: Server = await new Promise((resolve) => {
  const s = app.listen(0, '127.0.0.1', () => resolve(s));
});
const addr = server.address();
const port = typeof addr === 'object' && addr ? addr.port : 0;
// Objects' metadata (bucket selfLink, mediaLink) is built from the registry's host and port —
// what EmulatorRegistry.start() would have recorded — so record the port we actually got.
emulator.args.port = port;
EmulatorRegistry.set('storage', emulator);
process.stdout.write(`${JSON.stringify({ port })}\n`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await emulator.stop().catch(() => {}); // deletes the staging folder
  process.exit(0);
}
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
