// bench:realtime's probes of the processes it runs: file-descriptor limits (a socket is a
// descriptor, and `ulimit -n` is per process and inherited), the loopback's ephemeral ports,
// /metrics counters, and memory (resident set from /proc, V8 heap from /metrics or the child).
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** The `Max open files` limits of a process (self by default). */
export function fdLimits(pid: number | 'self' = 'self'): { soft: number; hard: number } {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  const m = line ? /Max open files\s+(\S+)\s+(\S+)/.exec(line) : null;
  const n = (s: string | undefined) => (s === undefined || s === 'unlimited' ? Infinity : Number(s));
  return { soft: n(m?.[1]), hard: n(m?.[2]) };
}

/** Throws a clear message when `pid` may not open `need` descriptors. */
export function requireFds(pid: number | 'self', label: string, need: number): void {
  const { soft, hard } = fdLimits(pid);
  if (soft < need) {
    throw new Error(`${label} (pid ${pid}) may open ${soft} files (ulimit -n; hard limit ${hard}) but needs ~${need} for its sockets: `
      + `raise the limit (e.g. \`ulimit -n ${Math.max(need, 65536)}\` in the shell, or LimitNOFILE= for a service) or lower BENCH_RT_WS / BENCH_RT_SSE`);
  }
}

/** How many ephemeral ports one source address has towards one server port. */
export function ephemeralPorts(): number {
  const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  return (hi ?? 0) - (lo ?? 0) + 1;
}

export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Prometheus text → `name{labels}` → value. */
export async function scrapeMetrics(url: string): Promise<Map<string, number>> {
  const res = await fetch(`${url}/metrics`);
  const text = await res.text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

export const metricDelta = (a: Map<string, number>, b: Map<string, number>, key: string): number => (b.get(key) ?? NaN) - (a.get(key) ?? NaN);

export interface MemorySample { rss: number; heap: number }

/**
 * Memory of a process that has settled: `samples` readings a second apart (V8's memory reducer
 * runs full collections a few seconds after allocation slows down); the resident set's median
 * and the heap's minimum (the reading nearest after a collection, closest to what is live).
 */
export async function settledMemory(read: () => Promise<MemorySample>, samples = 10): Promise<MemorySample> {
  const xs: MemorySample[] = [];
  for (let i = 0; i < samples; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    xs.push(await read());
  }
  const rss = xs.map((x) => x.rss).sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { rss, heap: Math.min(...xs.map((x) => x.heap)) };
}

/**
 * Machine-wide CPU between two reads of /proc/stat: busy cores, and of them the kernel's softirq
 * time (loopback TCP's receive path, charged to no process) — what is left after our own
 * processes and softirq is someone else's work on this shared machine.
 */
export function machineSplit(): { end(): { busyCores: number; softirqCores: number; cores: number } } {
  const read = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { idle: (f[3] ?? 0) + (f[4] ?? 0), softirq: f[6] ?? 0, total: f.reduce((x, y) => x + y, 0) };
  };
  const a = read();
  const t0 = performance.now();
  return {
    end() {
      const b = read();
      const wall = Math.max(1e-9, (performance.now() - t0) / 1000);
      const tick = (b.total - a.total) / wall / os.availableParallelism();
      const cores = (ticks: number) => ticks / tick / wall;
      return { busyCores: cores(b.total - a.total - (b.idle - a.idle)), softirqCores: cores(b.softirq - a.softirq), cores: os.availableParallelism() };
    },
  };
}
