// bench:realtime's raw ceiling, in a process of its own: a bare `ws` server (and plain node:http
// SSE) with none of the product — no auth, no store, no feed, no back-pressure checks — that
// broadcasts the very frames auditflow sent in the measured window (captured by the clients) to
// the same clients (same processes, same kinds, same shares, so the same fan-out per share), in
// the same batches (one per sink insert) at the same moments relative to each other. Each batch
// is sent in one synchronous loop, row by row, to every follower — what the product's listeners
// do — and its start is stamped on the wall clock: a client's receive time minus it is the bare
// server's "readable → delivered".
//   paced: each batch at its moment (the product's spacing)   flood: every batch back to back
//   (a macrotask between batches so sockets flush): the most deliveries/s the bare server makes
//   paced, coalesced: as paced, each socket's frames of a batch in one write (corked socket) —
//   what one TCP write per socket per batch, instead of per frame, would be worth.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { serve } from './realtime-ipc.ts';

const wallNow = () => performance.timeOrigin + performance.now();

export interface CeilingRow { tenant: string; share: string | null; sync?: string; ui?: string; sse?: string }
export interface CeilingBatch { at: number; rows: CeilingRow[] }

const byShare = new Map<string, { sync: Set<WebSocket>; ui: Set<WebSocket> }>();
const sseByTenant = new Map<string, Set<http.ServerResponse>>();
let connections = 0;

function followers(key: string) {
  let f = byShare.get(key);
  if (!f) byShare.set(key, (f = { sync: new Set(), ui: new Set() }));
  return f;
}

const server = http.createServer((req, res) => {
  const u = new URL(req.url ?? '/', 'http://x');
  if (u.pathname !== '/events') {
    res.writeHead(404).end();
    return;
  }
  const tenant = u.searchParams.get('tenant') ?? '';
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.write(`id: 0:0\ndata: {"type":"connected","data":{"resumed":false}}\n\n`);
  let set = sseByTenant.get(tenant);
  if (!set) sseByTenant.set(tenant, (set = new Set()));
  set.add(res);
  connections++;
  res.on('close', () => { set.delete(res); connections--; });
});
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws, req) => {
  const u = new URL(req.url ?? '/', 'http://x');
  const tenant = u.searchParams.get('tenant') ?? '';
  const joined: { key: string; kind: 'sync' | 'ui' }[] = [];
  connections++;
  if (u.pathname === '/sync') {
    for (const s of (u.searchParams.get('shares') ?? '').split(',')) {
      followers(`${tenant} ${s}`).sync.add(ws);
      joined.push({ key: `${tenant} ${s}`, kind: 'sync' });
    }
  } else {
    ws.send(JSON.stringify({ type: 'connected', user_id: 'usr', timestamp: new Date().toISOString() }));
    ws.on('message', (d: Buffer) => {
      const m = JSON.parse(d.toString('utf8')) as { action?: string; share_id?: string };
      if (m.action !== 'subscribe' || !m.share_id) return;
      followers(`${tenant} ${m.share_id}`).ui.add(ws);
      joined.push({ key: `${tenant} ${m.share_id}`, kind: 'ui' });
      ws.send(JSON.stringify({ type: 'subscribed', share_id: m.share_id }));
    });
  }
  ws.on('close', () => {
    connections--;
    for (const j of joined) byShare.get(j.key)?.[j.kind].delete(ws);
  });
});

/** A ws's TCP socket (private in ws): corked, its frames go out in one write when uncorked. */
const tcp = (ws: WebSocket) => (ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket;

/**
 * `coalesce`: every socket a batch writes to is corked at its first frame and uncorked after the
 * batch — one write per socket per batch instead of one per frame (what node:http does for SSE).
 */
function sendBatch(b: CeilingBatch, coalesce: boolean): number {
  const corked = new Set<WebSocket>();
  const send = (ws: WebSocket, text: string) => {
    if (coalesce && !corked.has(ws)) {
      corked.add(ws);
      tcp(ws).cork();
    }
    ws.send(text);
  };
  let n = 0;
  for (const r of b.rows) {
    if (r.share === null) {
      const set = sseByTenant.get(r.tenant);
      if (set && r.sse) for (const res of set) { res.write(r.sse); n++; }
      continue;
    }
    const f = byShare.get(`${r.tenant} ${r.share}`);
    if (!f) continue;
    if (r.sync) for (const ws of f.sync) { send(ws, r.sync); n++; }
    if (r.ui) for (const ws of f.ui) { send(ws, r.ui); n++; }
  }
  for (const ws of corked) tcp(ws).uncork();
  return n;
}

async function replay(a: { file: string; paced: boolean; coalesce?: boolean }): Promise<{ starts: number[]; sent: number; seconds: number }> {
  const batches = JSON.parse(readFileSync(a.file, 'utf8')) as CeilingBatch[];
  const starts: number[] = [];
  let sent = 0;
  const t0 = performance.now() + 50;
  for (const b of batches) {
    const wait = a.paced ? t0 + b.at - performance.now() : 0;
    await new Promise((r) => (wait > 1 ? setTimeout(r, wait) : setImmediate(r)));
    starts.push(wallNow());
    sent += sendBatch(b, a.coalesce === true);
  }
  return { starts, sent, seconds: (performance.now() - t0) / 1000 };
}

serve({
  listen: () => new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const addr = server.address();
    resolve({ url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}` });
  })),
  status: () => ({ connections, memory: process.memoryUsage() }),
  replay,
});
