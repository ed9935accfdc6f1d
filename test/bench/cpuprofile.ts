// Summarises a V8 .cpuprofile (node --cpu-prof) of the auditflow child: self time by function,
// inclusive time by function, and time by pipeline stage (each sample attributed to the nearest
// frame on its stack that belongs to a known stage, so JSON.parse called by the NDJSON parser
// counts as "ingest: body parse", and Buffer work called by the sink as "store sink", rather than
// as anonymous builtins or node internals).
import { readFileSync } from 'node:fs';

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

// First match wins; matched against "url functionName".
const STAGES: [RegExp, string][] = [
  [/request-body\.ts/, 'ingest: body parse (NDJSON/JSON.parse)'],
  [/schemas\/normalize\.ts|node_modules\/ajv/, 'ingest: validate + normalise (ajv)'],
  [/schemas\/message-codec\.ts/, 'ingest: encode log form (JSON.stringify → Buffer)'],
  [/ingest-routes\.ts/, 'ingest: route (records, headers)'],
  [/infra\/log\/embedded-log\.ts/, 'embedded log (frames, sha1, read, decode)'],
  [/processors\/store-sink\.ts|processors\/event-processor\.ts|processors\/id-filter\.ts/, 'store sink (dedupe, seq, row build)'],
  [/infra\/store\/|node_modules\/chdb\//, 'store client (chDB / HTTP)'],
  [/infra\/log\/kafka-log\.ts|node_modules\/kafkajs/, 'kafkajs'],
  [/api\/audit-logs|api\/query-params|api\/cursor/, 'api: reads'],
  [/node_modules\/jose|infra\/auth|api\/auth-plugin/, 'auth (JWT verify)'],
  [/node_modules\/(fastify|find-my-way|avvio|light-my-request|pino|fast-json-stringify|@fastify)/, 'fastify / pino'],
  [/@clickhouse\/client/, 'store client (chDB / HTTP)'],
];
// Used only when no frame of the stack matches a stage above (e.g. the HTTP parser, streams).
const FALLBACK: [RegExp, string] = [/^node:/, 'node internals (http, streams, fs)'];

export interface ProfileSummary {
  totalMs: number;
  stages: { stage: string; ms: number; pct: number }[];
  selfTop: { fn: string; ms: number; pct: number }[];
  inclusiveTop: { fn: string; ms: number; pct: number }[];
}

const label = (f: CallFrame) => `${f.functionName || '(anonymous)'} ${f.url ? `${f.url.replace(/^.*\/(node_modules\/[^/]+|main)\//, '$1/').replace(/^file:\/\//, '')}:${f.lineNumber + 1}` : '(native)'}`;

export function summarizeProfile(file: string, top = 20): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) byId.set(n.id, n);
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  const stages = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    const leaf = byId.get(p.samples[i]!)!;
    total += dt;
    const leafName = leaf.callFrame.functionName;
    if (leafName === '(idle)' || leafName === '(program)' || leafName === '(garbage collector)') {
      self.set(leafName, (self.get(leafName) ?? 0) + dt);
      stages.set(leafName === '(garbage collector)' ? 'GC' : leafName === '(idle)' ? 'idle (event loop waiting)' : 'V8/native outside JS ((program))', (stages.get(leafName === '(garbage collector)' ? 'GC' : leafName === '(idle)' ? 'idle (event loop waiting)' : 'V8/native outside JS ((program))') ?? 0) + dt);
      continue;
    }
    const l = label(leaf.callFrame);
    self.set(l, (self.get(l) ?? 0) + dt);
    const seen = new Set<string>();
    let stage: string | null = null;
    let fallback: string | null = null;
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const n = byId.get(id)!;
      const name = label(n.callFrame);
      if (!seen.has(name)) {
        seen.add(name);
        incl.set(name, (incl.get(name) ?? 0) + dt);
      }
      if (stage === null && n.callFrame.url) {
        const key = `${n.callFrame.url} ${n.callFrame.functionName}`;
        for (const [re, s] of STAGES) if (re.test(key)) { stage = s; break; }
        if (fallback === null && FALLBACK[0].test(n.callFrame.url)) fallback = FALLBACK[1];
      }
    }
    stage ??= fallback ?? 'other JS';
    stages.set(stage, (stages.get(stage) ?? 0) + dt);
  }
  const rank = (m: Map<string, number>, key: 'fn' | 'stage') =>
    [...m].sort((a, b) => b[1] - a[1]).map(([k, ms]) => ({ [key]: k, ms: Math.round(ms), pct: Math.round((ms / total) * 1000) / 10 }));
  return {
    totalMs: Math.round(total),
    stages: rank(stages, 'stage') as ProfileSummary['stages'],
    selfTop: (rank(self, 'fn') as ProfileSummary['selfTop']).slice(0, top),
    inclusiveTop: (rank(incl, 'fn') as ProfileSummary['inclusiveTop']).filter((x) => !/^\(root\)|^\(anonymous\) \(native\)/.test(x.fn)).slice(0, top),
  };
}

const isMain = process.argv[1] && process.argv[1].endsWith('cpuprofile.ts');
if (isMain) {
  const s = summarizeProfile(process.argv[2]!, Number(process.argv[3] ?? 25));
  console.log(JSON.stringify(s, null, 2));
}
