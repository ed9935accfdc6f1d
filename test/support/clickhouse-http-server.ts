// Starts clickhouse-http-child.ts — ClickHouse's HTTP interface over chDB — in its own process
// (chDB allows one engine per process and one process per data directory) on a free loopback
// port, so @clickhouse/client and multi-process topologies run against the real engine.
//
//   const ch = await startClickHouseHttp();           // fresh temp data dir
//   const client = createClient({ url: ch.url });
//   ...
//   await ch.stop();                                  // SIGTERM, waits for exit
//   await ch.kill();                                  // SIGKILL (crash tests), waits for exit
//
// Restarting on the same data dir (`startClickHouseHttp({ dataDir: ch.dataDir })`) keeps the
// data. The child also exits when this process dies (it watches its stdin pipe). A temp data dir
// created here is removed when this process exits.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ClickHouseHttpServer {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  pid: number;
  dataDir: string;
  /** SIGTERM and wait for the process to exit (idempotent). */
  stop(): Promise<void>;
  /** SIGKILL and wait for the process to exit (idempotent). */
  kill(): Promise<void>;
}

export interface StartClickHouseHttpOptions {
  /** Data directory (default: a fresh temp dir). */
  dataDir?: string;
  /**
   * Server-level defaults for ClickHouse settings, as a server's default profile would set them
   * (e.g. `{ output_format_json_quote_64bit_integers: 1 }` to behave like a pre-25.8 server).
   * Requests can still override them with URL parameters.
   */
  serverSettings?: Record<string, string | number>;
  /** How long to wait for the child to listen (default 60 s). */
  startTimeoutMs?: number;
}

const CHILD = fileURLToPath(new URL('./clickhouse-http-child.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const tempDirs = new Set<string>();
let exitHookInstalled = false;
function removeTempDirsAtExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const d of tempDirs) {
      try {
        rmSync(d, { recursive: true, force: true });
      } catch {
        // best effort at exit
      }
    }
  });
}

export async function startClickHouseHttp(opts: StartClickHouseHttpOptions = {}): Promise<ClickHouseHttpServer> {
  let dataDir = opts.dataDir;
  if (dataDir === undefined) {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'auditflow-chhttp-'));
    tempDirs.add(dataDir);
    removeTempDirsAtExit();
  }
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    cwd: REPO_ROOT,
    // stdin stays open as a lifeline: the child exits when it closes (i.e. when we die).
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      ...process.env,
      TZ: 'UTC',
      CHHTTP_DATA_DIR: dataDir,
      CHHTTP_SERVER_SETTINGS: JSON.stringify(opts.serverSettings ?? {}),
    },
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('clickhouse-http-child: spawn failed');

  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  let stderrTail = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    stderrTail = (stderrTail + s).slice(-8192);
    if (process.env.CHHTTP_DEBUG) process.stderr.write(s);
  });
  // A write to a dead child's stdin must not crash us.
  child.stdin.on('error', () => undefined);

  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => {
      fail(new Error(`clickhouse-http-child did not start within ${opts.startTimeoutMs ?? 60_000} ms\n${stderrTail}`));
    }, opts.startTimeoutMs ?? 60_000);
    const onData = (s: string) => {
      buf += s;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      try {
        const msg = JSON.parse(buf.slice(0, nl)) as { port?: unknown };
        if (typeof msg.port === 'number' && msg.port > 0) done(msg.port);
        else fail(new Error(`clickhouse-http-child: unexpected first line ${buf.slice(0, nl)}`));
      } catch {
        fail(new Error(`clickhouse-http-child: unexpected first line ${buf.slice(0, nl)}`));
      }
    };
    const onExit = (code: number | null, signal: string | null) =>
      fail(new Error(`clickhouse-http-child exited before listening (code ${code}, signal ${signal})\n${stderrTail}`));
    function cleanup() {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
      // Keep draining stdout so the child never blocks on a full pipe.
      child.stdout.resume();
    }
    function done(p: number) {
      cleanup();
      resolve(p);
    }
    function fail(e: Error) {
      cleanup();
      if (!exited) child.kill('SIGKILL');
      reject(e);
    }
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', onData);
    child.once('exit', onExit);
  });

  const signal = async (sig: NodeJS.Signals) => {
    if (!exited) {
      try {
        process.kill(pid, sig);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
      }
    }
    await exit;
  };
  return {
    url: `http://127.0.0.1:${port}`,
    pid,
    dataDir,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
  };
}
