// A bench:realtime client process (forked by the benchmark, never in the server's process): opens
// its share of the clients — `ws` sockets and plain node:http SSE streams — against auditflow
// (the documented paths, a JWT per client) or the bare ceiling server (./realtime-ceiling.ts, same
// frames without auth), and while recording stamps every frame that names a row of the window
// (its marker, ./realtime-plan.ts) with its receive time on the wall clock, the moment the
// frame's bytes reach this process's JS. A frame is matched by searching its bytes for the marker,
// not parsed: the clients share the two cores with the server, and what they spend is taken
// from it. Records go to a binary file: f64 count, then f64 times, i32 rows, i32 clients.
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { WebSocket } from 'ws';
import { issueToken } from '../../infra/auth/jwt.ts';
import { serve } from './realtime-ipc.ts';
import type { ClientSpec } from './realtime-plan.ts';

const wallNow = () => performance.timeOrigin + performance.now();

class Records {
  n = 0;
  t = new Float64Array(1 << 16);
  g = new Int32Array(1 << 16);
  c = new Int32Array(1 << 16);
  push(t: number, g: number, c: number): void {
    if (this.n === this.t.length) {
      const grow = <A extends Float64Array | Int32Array>(a: A, make: (n: number) => A): A => { const b = make(a.length * 2); b.set(a); return b; };
      this.t = grow(this.t, (n) => new Float64Array(n));
      this.g = grow(this.g, (n) => new Int32Array(n));
      this.c = grow(this.c, (n) => new Int32Array(n));
    }
    this.t[this.n] = t;
    this.g[this.n] = g;
    this.c[this.n++] = c;
  }
}

interface Recording { marker: Buffer; records: Records; other: number; capture: boolean; seen: Record<string, Set<number>>; samples: string[]; pings: number[] }
let rec: Recording | null = null;

/** One frame's bytes [start, end) of `buf`, received at `t` by client `c`. */
function onFrame(buf: Buffer, start: number, end: number, t: number, c: ClientSpec): void {
  const r = rec;
  if (!r) return;
  const p = buf.indexOf(r.marker, start);
  if (p < 0 || p >= end) {
    r.other++;
    return;
  }
  let g = 0;
  for (let k = p + r.marker.length; k < end; k++) {
    const d = buf[k]! - 48;
    if (d < 0 || d > 9) break;
    g = g * 10 + d;
  }
  r.records.push(t, g, c.i);
  if (r.capture) {
    const seen = (r.seen[c.kind] ??= new Set());
    if (!seen.has(g)) {
      seen.add(g);
      r.samples.push(JSON.stringify({ g, k: c.kind, t: buf.toString('utf8', start, end) }));
    }
  }
}

interface Open { spec: ClientSpec; close(): void; closedAt?: { code: number | string } }
const open = new Map<number, Open>();
const closes: Record<string, number> = {};
let closing = false;

interface ConnectArgs { mode: 'product' | 'ceiling'; url: string; secret: string; clients: ClientSpec[]; concurrency: number; localAddress: string; timeoutMs: number }

function wsPath(a: ConnectArgs, c: ClientSpec, token: string): string {
  if (a.mode === 'ceiling') return c.kind === 'sync' ? `/sync?tenant=${c.tenant}&shares=${c.shares.join(',')}` : `/ui?tenant=${c.tenant}`;
  return c.kind === 'sync' ? `/api/v1/sync/ws/dev_${c.i}?token=${token}` : `/api/v1/realtime/ws?token=${token}`;
}

function lost(o: Open, code: number | string): void {
  open.delete(o.spec.i);
  if (closing) return;
  closes[String(code)] = (closes[String(code)] ?? 0) + 1;
}

function connectWs(a: ConnectArgs, c: ClientSpec, token: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${a.url.replace(/^http/, 'ws')}${wsPath(a, c, token)}`, { perMessageDeflate: false, localAddress: a.localAddress });
    const o: Open = { spec: c, close: () => ws.close() };
    let ready = false;
    const timer = setTimeout(() => { ws.terminate(); reject(new Error(`client ${c.i} (${c.kind}): no answer within ${a.timeoutMs} ms`)); }, a.timeoutMs);
    const done = () => { ready = true; clearTimeout(timer); open.set(c.i, o); resolve(); };
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => { clearTimeout(timer); reject(new Error(`client ${c.i} (${c.kind}): upgrade refused ${res.statusCode}: ${body.slice(0, 200)}`)); });
    });
    ws.on('error', (e) => { if (!ready) { clearTimeout(timer); reject(e); } });
    ws.on('open', () => {
      if (c.kind === 'sync') return done();
      ws.send(JSON.stringify({ action: 'subscribe', share_id: c.shares[0] }));
    });
    ws.on('message', (data: Buffer) => {
      const t = wallNow();
      if (!ready) {
        const s = data.toString('utf8');
        if (s.includes('"subscribed"')) done();
        else if (s.includes('"error"')) { clearTimeout(timer); ws.terminate(); reject(new Error(`client ${c.i}: ${s}`)); }
        return;
      }
      onFrame(data, 0, data.length, t, c);
    });
    // The server's heartbeats, stamped: the benchmark lines them up with the frames' latencies.
    ws.on('ping', () => { rec?.pings.push(wallNow()); });
    ws.on('close', (code) => { if (ready) lost(o, code); });
  });
}

const NL2 = Buffer.from('\n\n');

function connectSse(a: ConnectArgs, c: ClientSpec, token: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const u = new URL(a.url);
    const path = a.mode === 'ceiling' ? `/events?tenant=${c.tenant}` : '/api/events';
    const req = http.get({ host: u.hostname, port: u.port, path, agent: false, localAddress: a.localAddress, headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        let body = '';
        res.on('data', (d: Buffer) => { body += d.toString(); });
        res.on('end', () => reject(new Error(`SSE client ${c.i}: ${res.statusCode} ${body.slice(0, 200)}`)));
        return;
      }
      const o: Open = { spec: c, close: () => req.destroy() };
      let ready = false;
      let pending: Buffer | null = null;
      res.on('data', (chunk: Buffer) => {
        const t = wallNow();
        const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
        pending = null;
        let s = 0;
        for (;;) {
          const e = buf.indexOf(NL2, s);
          if (e < 0) break;
          if (!ready) {
            ready = true;
            clearTimeout(timer);
            open.set(c.i, o);
            resolve();
          } else onFrame(buf, s, e + 2, t, c);
          s = e + 2;
        }
        if (s < buf.length) pending = Buffer.from(buf.subarray(s));
      });
      res.on('close', () => { if (ready) lost(o, 'sse closed'); });
    });
    const timer = setTimeout(() => { req.destroy(); reject(new Error(`SSE client ${c.i}: no connected frame within ${a.timeoutMs} ms`)); }, a.timeoutMs);
    req.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

async function connect(a: ConnectArgs): Promise<{ connected: number; seconds: number }> {
  closing = false;
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(a.concurrency, a.clients.length) }, async () => {
    while (next < a.clients.length) {
      const c = a.clients[next++]!;
      const token = a.mode === 'ceiling' ? 'none' : await issueToken(a.secret, {
        sub: `usr_c${c.i}`, tid: c.tenant, scope: c.kind === 'sse' ? 'audit:admin' : 'drive:sync', ...(c.kind === 'sse' ? {} : { shares: c.shares }),
      }, 6 * 3600);
      await (c.kind === 'sse' ? connectSse(a, c, token) : connectWs(a, c, token));
    }
  }));
  return { connected: open.size, seconds: (performance.now() - t0) / 1000 };
}

async function closeAll(): Promise<{ closed: number }> {
  closing = true;
  const n = open.size;
  for (const o of open.values()) o.close();
  const deadline = performance.now() + 15_000;
  while (open.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  open.clear();
  return { closed: n };
}

serve({
  connect,
  record: (a: { marker: string; capture: boolean }) => {
    rec = { marker: Buffer.from(a.marker), records: new Records(), other: 0, capture: a.capture, seen: {}, samples: [], pings: [] };
    return { ok: true };
  },
  count: () => ({ n: rec?.records.n ?? 0, other: rec?.other ?? 0 }),
  /** Stops recording and writes the records (and the frame samples, when captured). */
  dump: (a: { file: string; samples?: string }) => {
    const r = rec;
    rec = null;
    if (!r) throw new Error('not recording');
    const n = r.records.n;
    const out = Buffer.alloc(8 + n * 16);
    out.writeDoubleLE(n, 0);
    Buffer.from(r.records.t.buffer, 0, n * 8).copy(out, 8);
    Buffer.from(r.records.g.buffer, 0, n * 4).copy(out, 8 + n * 8);
    Buffer.from(r.records.c.buffer, 0, n * 4).copy(out, 8 + n * 12);
    writeFileSync(a.file, out);
    if (a.samples) writeFileSync(a.samples, r.samples.join('\n'));
    return { n, other: r.other, samples: r.samples.length, pings: r.pings };
  },
  status: () => ({ open: open.size, unexpectedCloses: { ...closes }, memory: process.memoryUsage() }),
  close: closeAll,
});
