// An exporter's V8 CPU profile (main thread) by export stage: each sample goes to the nearest
// frame on its stack that belongs to a stage — a builtin leaf first (JSON.parse is the store rows'
// parse, JSON.stringify the JSONL encoder's), then the module it runs in — so Buffer and stream
// work counts for the stage that asked for it. zlib's deflate and ClickHouse's reading run on
// other threads: the profile sees only their main-thread side (the thread split of the pass
// says the rest). Self and inclusive tops come from ./cpuprofile.ts.
import { readFileSync } from 'node:fs';
import { summarizeProfile, type ProfileSummary } from './cpuprofile.ts';

interface CallFrame { functionName: string; url: string }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

// First match wins; matched against "url functionName" of each frame from the leaf up.
const STAGES: [RegExp, string][] = [
  [/chdb-store\.ts|node_modules\/chdb\//, 'store read (chDB call, result slices)'],
  [/scaivault-log\.ts/, 'mapping (toScaiVaultLog)'],
  [/export-formats\.ts/, 'encode (JSONL / CSV line)'],
  [/^node:internal\/crypto/, 'SHA-256 of the parts'],
  [/^node:zlib|^node:internal\/zlib/, 'gzip (main-thread side; deflate runs on the libuv pool)'],
  [/infra\/objectstore\/local-store\.ts|^node:internal\/fs/, 'upload: local folder (fs writes)'],
  [/node_modules\/@(aws-sdk|smithy)\//, 'upload: S3 SDK'],
  [/node_modules\/@azure\//, 'upload: Azure SDK'],
  [/node_modules\/(@google-cloud|gaxios|google-auth-library|gcp-metadata|teeny-request|retry-request)\//, 'upload: GCS SDK'],
  [/infra\/objectstore\//, 'upload: object store (metering)'],
  [/node_modules\/@clickhouse\/|clickhouse-http-store\.ts/, 'store read (ClickHouse HTTP client)'],
  // Either an upload's or (store over HTTP) the store read's: a socket's callbacks carry no caller.
  [/^node:(http|_http|net|internal\/http|internal\/net|internal\/stream_base)|node_modules\/undici/, 'HTTP client (upload, or the store read over HTTP)'],
  [/part-writer\.ts/, 'part writer (chunks, streams, back-pressure)'],
  [/export-pages\.ts/, 'pages (bounds, line alignment, markers, the JS fallback)'],
  // JSON.parse is a C++ builtin: V8 gives it no frame of its own, its time is its caller's.
  [/export-runner\.ts|export-child\.ts/, 'runner / bench child (incl. JSON.parse of read passes)'],
];
const BUILTIN_LEAVES: Record<string, string> = { parse: 'JSON.parse of the store rows', stringify: 'encode (JSONL / CSV line)' };

export interface ExportProfileSummary {
  totalMs: number;
  stages: { stage: string; ms: number; pct: number }[];
  selfTop: ProfileSummary['selfTop'];
}

export function summarizeExportProfile(file: string, top = 15): ExportProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stageOf = new Map<number, string>();
  const classify = (leafId: number): string => {
    const cached = stageOf.get(leafId);
    if (cached) return cached;
    const leaf = byId.get(leafId)!.callFrame;
    let stage: string | undefined;
    if (leaf.functionName === '(garbage collector)') stage = 'GC';
    else if (leaf.functionName === '(idle)') stage = 'idle (waiting: engine, zlib, upload)';
    else if (leaf.functionName === '(program)') stage = 'V8 / native outside JS';
    else if (leaf.url === '') stage = BUILTIN_LEAVES[leaf.functionName];
    for (let id: number | undefined = leafId; stage === undefined && id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)!.callFrame;
      const key = `${f.url} ${f.functionName}`;
      stage = STAGES.find(([re]) => re.test(key))?.[1];
    }
    stage ??= leaf.url.startsWith('node:') ? 'node internals (streams, timers)' : 'other';
    stageOf.set(leafId, stage);
    return stage;
  };
  const ms = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    const s = classify(id);
    ms.set(s, (ms.get(s) ?? 0) + dt);
  });
  return {
    totalMs: Math.round(total),
    stages: [...ms].sort((a, b) => b[1] - a[1]).map(([stage, v]) => ({ stage, ms: Math.round(v), pct: Math.round((v / total) * 1000) / 10 })),
    selfTop: summarizeProfile(file, top).selfTop,
  };
}

const isMain = process.argv[1] && process.argv[1].endsWith('export-profile.ts');
if (isMain) console.log(JSON.stringify(summarizeExportProfile(process.argv[2]!, Number(process.argv[3] ?? 15)), null, 2));
