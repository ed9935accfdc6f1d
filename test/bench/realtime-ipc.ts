// bench:realtime's child processes (the client processes and the bare ws server) are driven by
// request/answer messages over the IPC channel of child_process.fork: `call(cmd, args)` on the
// parent's side, `serve(handlers)` in the child. Bulk data (per-frame records, frame samples,
// the ceiling's schedule) goes through files, not the channel.
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const live = new Set<ChildProcess>();
process.on('exit', () => { for (const c of live) c.kill('SIGKILL'); });

interface Answer { id: number; ok: boolean; result?: unknown; error?: string }

export class BenchProcess {
  private next = 1;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private stderr = '';
  private exited: Promise<number | null>;

  constructor(readonly label: string, private readonly child: ChildProcess) {
    live.add(child);
    child.stderr?.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-4000); });
    child.stdout?.on('data', (d: Buffer) => { process.stdout.write(`[${label}] ${d.toString()}`); });
    child.on('message', (m: Answer) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.ok) w.resolve(m.result);
      else w.reject(new Error(`${label}: ${m.error}`));
    });
    this.exited = new Promise((resolve) => child.once('exit', (code) => {
      live.delete(child);
      for (const w of this.waiting.values()) w.reject(new Error(`${label} exited ${code}: ${this.stderr}`));
      this.waiting.clear();
      resolve(code);
    }));
  }

  get pid(): number {
    return this.child.pid!;
  }

  static start(script: string, label: string, env: Record<string, string> = {}): BenchProcess {
    const child = fork(script, [], {
      cwd: ROOT, execArgv: ['--import', 'tsx'], env: { ...process.env, TZ: 'UTC', ...env }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    return new BenchProcess(label, child);
  }

  call<T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, cmd, args });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(t);
  }
}

/** The child's side: answers each message with its handler's result (or error). */
export function serve(handlers: Record<string, (args: any) => unknown>): void {
  process.on('message', (m: { id: number; cmd: string; args: Record<string, unknown> }) => {
    const h = handlers[m.cmd];
    Promise.resolve()
      .then(() => {
        if (!h) throw new Error(`unknown command ${m.cmd}`);
        return h(m.args);
      })
      .then(
        (result) => process.send!({ id: m.id, ok: true, result }),
        (e: unknown) => process.send!({ id: m.id, ok: false, error: (e as Error).stack ?? String(e) }),
      );
  });
  process.on('disconnect', () => process.exit(0));
}
