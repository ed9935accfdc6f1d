// Runs a benchmark's child script (chDB allows one engine per process and one process per data
// directory, so each engine a benchmark needs lives in a child of its own). Input: one JSON
// document in BENCH_CHILD; the child prints one line "RESULT <json>". Children still running when
// the benchmark exits are killed.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const children = new Set<ChildProcess>();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

export function runBenchChild<T>(script: string, input: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: ROOT, env: { ...process.env, TZ: 'UTC', BENCH_CHILD: JSON.stringify(input) }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-4000); });
    child.once('exit', (code) => {
      children.delete(child);
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code === 0 && line) resolve(JSON.parse(line.slice(7)) as T);
      else reject(new Error(`${path.basename(script)} exited ${code}: ${err || out}`));
    });
  });
}
