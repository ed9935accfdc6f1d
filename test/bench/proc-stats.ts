// CPU accounting from /proc (Linux): per process and per thread, so a benchmark can say which
// process — and inside it which thread (the JS main thread, the libuv pool where chDB inserts
// and fsyncs run, ClickHouse's own pools) — used the cores during a measured window.
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let clkTck = 100;
try {
  clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // 100 on every Linux this runs on
}

interface StatLine {
  comm: string;
  ppid: number;
  /** utime + stime, seconds */
  cpu: number;
}

function readStat(file: string): StatLine | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null; // gone
  }
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const comm = text.slice(open + 1, close);
  const f = text.slice(close + 2).split(' ');
  // f[0] = state (field 3); utime = field 14, stime = field 15 → f[11], f[12]; ppid = field 4 → f[1]
  return { comm, ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / clkTck };
}

export interface ProcSample {
  pid: number;
  label: string;
  at: number;
  cpu: number;
  /** per thread id: its name and CPU seconds */
  threads: Map<number, { comm: string; cpu: number }>;
}

export function sampleProcess(pid: number, label: string): ProcSample | null {
  const main = readStat(`/proc/${pid}/stat`);
  if (!main) return null;
  const threads = new Map<number, { comm: string; cpu: number }>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    // gone
  }
  // Node names every thread it starts "node". At start-up it creates 6 (4 V8 platform workers,
  // the delayed-task scheduler, the signal/inspector thread); the libuv pool (where fs work and
  // chDB's async calls run) is created later, on first use. So among "node" threads, the 6 lowest
  // ids are V8's (GC, JIT) and the rest the libuv pool — a heuristic, labelled as such.
  let nodeRank = 0;
  for (const t of tids.map(Number).sort((a, b) => a - b)) {
    const s = readStat(`/proc/${pid}/task/${t}/stat`);
    if (!s) continue;
    let comm = s.comm;
    if (t === pid) comm = 'main (JS)';
    else if (comm === 'node') comm = nodeRank++ < 6 ? 'V8 platform (GC, JIT)' : 'libuv pool (chDB calls, fs)';
    threads.set(t, { comm, cpu: s.cpu });
  }
  return { pid, label, at: performance.now(), cpu: main.cpu, threads };
}

/** Direct children of `ppid`, labelled from their command line. */
export function childProcesses(ppid = process.pid): { pid: number; label: string }[] {
  const out: { pid: number; label: string }[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const s = readStat(`/proc/${d}/stat`);
    if (!s || s.ppid !== ppid) continue;
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      continue;
    }
    out.push({ pid: Number(d), label: labelOf(cmd) });
  }
  return out;
}

function labelOf(cmd: string): string {
  const af = /auditflow\.js (\w+)/.exec(cmd);
  if (af) return `auditflow ${af[1]}`;
  if (cmd.includes('clickhouse-http-child')) return 'clickhouse-http (chDB)';
  if (cmd.includes('kafka-mock')) return 'kafka mock cluster';
  if (cmd.includes('chdb-child')) return 'chDB ceiling child';
  return cmd.slice(0, 60);
}

export interface CpuUse {
  label: string;
  pid: number;
  seconds: number;
  /** average cores used over the window */
  cores: number;
  /** CPU seconds by thread group (main JS thread, libuv-worker, ClickHouse pools, …) */
  byThread: { group: string; seconds: number; cores: number }[];
}

/** Thread names grouped: chDB names its threads after their pool; number suffixes are dropped. */
function groupOf(comm: string): string {
  if (comm === 'main (JS)' || comm.startsWith('V8 platform') || comm.startsWith('libuv pool')) return comm;
  return comm.replace(/[0-9]+$/, '').replace(/[_\-:]+$/, '') || comm;
}

export function cpuBetween(a: ProcSample, b: ProcSample): CpuUse {
  const wall = (b.at - a.at) / 1000;
  const groups = new Map<string, number>();
  for (const [tid, t] of b.threads) {
    const before = a.threads.get(tid)?.cpu ?? 0;
    const d = t.cpu - before;
    if (d <= 0) continue;
    const g = groupOf(t.comm);
    groups.set(g, (groups.get(g) ?? 0) + d);
  }
  const seconds = b.cpu - a.cpu;
  return {
    label: b.label,
    pid: b.pid,
    seconds,
    cores: wall > 0 ? seconds / wall : 0,
    byThread: [...groups].sort((x, y) => y[1] - x[1]).map(([group, s]) => ({ group, seconds: s, cores: wall > 0 ? s / wall : 0 })),
  };
}

/** Samples every direct child and this process; `end()` returns CPU use over the window. */
export function cpuWindow(extra: { pid: number; label: string }[] = []): { end(): CpuUse[] } {
  const targets = [{ pid: process.pid, label: 'bench (load generator)' }, ...childProcesses(), ...extra];
  const start = targets.map((t) => sampleProcess(t.pid, t.label));
  return {
    end(): CpuUse[] {
      const out: CpuUse[] = [];
      targets.forEach((t, i) => {
        const a = start[i];
        const b = sampleProcess(t.pid, t.label);
        if (a && b) out.push(cpuBetween(a, b));
      });
      return out;
    },
  };
}

/** Machine-wide CPU: busy fraction of all cores between two samples of /proc/stat. */
export function machineCpu(): { end(): { busyCores: number; cores: number } } {
  const read = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    const total = f.reduce((x, y) => x + y, 0);
    return { idle, total };
  };
  const a = read();
  const t0 = performance.now();
  return {
    end() {
      const b = read();
      const wall = (performance.now() - t0) / 1000;
      const busy = (b.total - a.total - (b.idle - a.idle)) / clkTck;
      return { busyCores: wall > 0 ? busy / wall : 0, cores: (b.total - a.total) / clkTck / Math.max(wall, 1e-9) };
    },
  };
}

/**
 * This machine is shared: waits (up to `maxMs`) until a one-second window shows less than
 * `thresholdCores` busy, so a measured phase does not start on top of someone else's work.
 */
export async function waitForQuiet(maxMs: number, thresholdCores = 0.35): Promise<{ waitedMs: number; busyCores: number }> {
  const t0 = performance.now();
  for (;;) {
    const m = machineCpu();
    await new Promise((r) => setTimeout(r, 1000));
    const { busyCores } = m.end();
    if (busyCores < thresholdCores || performance.now() - t0 > maxMs) return { waitedMs: Math.round(performance.now() - t0 - 1000), busyCores };
  }
}
