// Where auditflow's event loop was held: the longest stretches of consecutive busy samples in a
// V8 .cpuprofile (./cpu-profiler.cjs) — while one runs, no frame, no 202 and no ping answer goes
// out — each with the call paths it spent its time in. What ./cpuprofile.ts's totals cannot show:
// a 150 ms loop every 30 s is 0.5 % of the time and most of a p99.
import { readFileSync } from 'node:fs';

interface CallFrame { functionName: string; url: string }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

export interface BusyStretch { atMs: number; ms: number; paths: { path: string; ms: number }[] }

const short = (f: CallFrame) => `${f.functionName || '(anonymous)'}${f.url ? ` ${f.url.replace(/^.*\/main\//, '').replace(/^.*node_modules\//, '').replace(/^file:\/\//, '')}` : ''}`;

export function busyStretches(file: string, top = 6): BusyStretch[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // A sample's path: its innermost frames of our code or a package (node internals and natives folded in).
  const pathOf = (id: number): string => {
    const frames: string[] = [];
    for (let x: number | undefined = id; x !== undefined && frames.length < 3; x = parent.get(x)) {
      const f = byId.get(x)!.callFrame;
      if (/\/main\/|node_modules/.test(f.url)) frames.push(short(f));
    }
    return frames.join(' < ') || short(byId.get(id)!.callFrame);
  };
  const runs: { atMs: number; ms: number; paths: Map<string, number> }[] = [];
  let cur: (typeof runs)[number] | null = null;
  let t = 0;
  p.samples.forEach((id, i) => {
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    t += dt;
    if (byId.get(id)!.callFrame.functionName === '(idle)') {
      cur = null;
      return;
    }
    if (!cur) runs.push((cur = { atMs: t, ms: 0, paths: new Map() }));
    cur.ms += dt;
    const k = pathOf(id);
    cur.paths.set(k, (cur.paths.get(k) ?? 0) + dt);
  });
  return runs.sort((a, b) => b.ms - a.ms).slice(0, top).map((r) => ({
    atMs: Math.round(r.atMs), ms: Math.round(r.ms * 10) / 10,
    paths: [...r.paths].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([path, ms]) => ({ path, ms: Math.round(ms * 10) / 10 })),
  }));
}
