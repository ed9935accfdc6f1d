// Runs a storage emulator (s3rver, Azurite, the GCS emulator child) as a child process of the test:
// waits for the line that says where it listens, keeps the last of its output for error messages,
// stops it by pid, and kills whatever is left when the test process exits (or dies: exit-with-parent.cjs).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface EmulatorProcess {
  pid: number;
  /** The capture groups of the line matched by `ready`. */
  match: RegExpMatchArray;
  output(): string;
  stop(): Promise<void>;
}

const EXIT_WITH_PARENT = fileURLToPath(new URL('./exit-with-parent.cjs', import.meta.url));
const running = new Set<number>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pid of running) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
  });
}

/**
 * The path of a file inside an installed npm package; a missing package fails loudly, naming it
 * (they are devDependencies: `npm ci` installs them).
 */
export function packageFile(pkg: string, file: string): string {
  const req = createRequire(import.meta.url);
  let manifest: string;
  try {
    manifest = req.resolve(`${pkg}/package.json`);
  } catch {
    throw new Error(`the npm package ${pkg} is not installed: it is a devDependency of auditflow (run npm ci)`);
  }
  return path.join(path.dirname(manifest), file);
}

export async function startEmulatorProcess(opts: {
  name: string;
  args: string[];
  /** Matched against each stdout line; the first match means ready. */
  ready: RegExp;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}): Promise<EmulatorProcess> {
  installExitHook();
  // The preload ends the child once this process is gone: the exit hook does not run on SIGKILL.
  const child = spawn(process.execPath, ['--require', EXIT_WITH_PARENT, ...opts.args], { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
  if (child.pid === undefined) {
    const err = await new Promise<Error>((resolve) => child.once('error', resolve));
    throw new Error(`cannot start ${opts.name}: ${err.message}`);
  }
  const pid = child.pid;
  running.add(pid);
  let out = '';
  const keep = (d: string): void => { out = (out + d).slice(-8000); };
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', keep);
  child.stdout.setEncoding('utf8');
  const exited = new Promise<void>((resolve) => child.once('exit', () => { running.delete(pid); resolve(); }));

  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    let pending = '';
    const timer = setTimeout(() => fail(new Error(`${opts.name} did not report that it listens within ${opts.timeoutMs ?? 30_000} ms:\n${out}`)), opts.timeoutMs ?? 30_000);
    const onData = (d: string): void => {
      keep(d);
      pending += d;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        const m = line.match(opts.ready);
        if (m) { cleanup(); resolve(m); return; }
      }
    };
    const onExit = (code: number | null, signal: string | null): void => fail(new Error(`${opts.name} exited early (code ${code}, signal ${signal}):\n${out}`));
    function cleanup(): void {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
    }
    function fail(e: Error): void {
      cleanup();
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      reject(e);
    }
    child.stdout.on('data', onData);
    child.once('exit', onExit);
  });
  // Keep draining: an emulator that logs each request must never block on a full pipe.
  child.stdout.on('data', keep);

  let stopping: Promise<void> | null = null;
  return {
    pid,
    match,
    output: () => out,
    stop(): Promise<void> {
      stopping ??= (async () => {
        if (!running.has(pid)) return;
        try { process.kill(pid, 'SIGTERM'); } catch { return; }
        const killTimer = setTimeout(() => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }, 5_000);
        await exited;
        clearTimeout(killTimer);
      })();
      return stopping;
    },
  };
}
