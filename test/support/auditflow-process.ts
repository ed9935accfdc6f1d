// Starts `bin/auditflow.js <role>` as a real child process (so tests can SIGKILL it) and waits
// until it reports where it listens.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';

const BIN = fileURLToPath(new URL('../../bin/auditflow.js', import.meta.url));

export interface AuditflowProcess {
  url: string | null;
  token: string | null;
  pid: number;
  output(): string;
  /** SIGTERM and wait (graceful drain). */
  stop(): Promise<number | null>;
  /** SIGKILL and wait: a crash. */
  kill(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

const live = new Set<ChildProcess>();
process.on('exit', () => { for (const c of live) c.kill('SIGKILL'); });

export async function startAuditflow(role: string, env: Record<string, string>, timeoutMs = 60_000): Promise<AuditflowProcess> {
  const port = env['PORT'] ?? String(await freePort());
  const child = spawn(process.execPath, [BIN, role], {
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', LOG_LEVEL: 'warn', ...env, PORT: port, HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { live.delete(child); resolve(code); }));
  const started = await new Promise<boolean>((resolve) => {
    const t = setTimeout(() => resolve(false), timeoutMs);
    const check = () => {
      if (/started/.test(out)) { clearTimeout(t); resolve(true); }
    };
    child.stdout!.on('data', check);
    void exited.then(() => { clearTimeout(t); resolve(false); });
  });
  if (!started) {
    child.kill('SIGKILL');
    throw new Error(`auditflow ${role} did not start:\n${out}`);
  }
  const url = /listening on (http:\/\/\S+)/.exec(out)?.[1] ?? null;
  const token = /admin token[^\n]*\n(\S+)/.exec(out)?.[1] ?? null;
  return {
    url, token, pid: child.pid!,
    output: () => out,
    stop: async () => { child.kill('SIGTERM'); return exited; },
    kill: async () => { child.kill('SIGKILL'); await exited; },
  };
}
