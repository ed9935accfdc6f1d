// What the real app answers on a real socket when Node's HTTP server refuses a request before
// Fastify sees it (oversized heads, bad request lines, a missing Host, an Expect, a timeout), while
// it shuts down, and for bodies it must refuse whole: raw bytes over node:net, responses parsed
// by hand, and the embedded log read back to prove nothing was accepted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { auditEvent as event, edgeApp, type EdgeApp } from './support/edge-app.ts';

interface RawResponse {
  status: number;
  reason: string;
  headers: Record<string, string>;
  body: string;
}

/** Sends `data` on a fresh connection and reads until the server closes it (or `idleMs` of quiet). */
function exchange(port: number, data: string | Buffer | (() => Promise<string | Buffer | null>)[], idleMs = 3000): Promise<{ responses: RawResponse[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      s.destroy();
      try {
        resolve({ responses: parseResponses(Buffer.concat(chunks)), closed });
      } catch (err) {
        reject(err);
      }
    };
    const idle = () => { clearTimeout(timer); timer = setTimeout(() => finish(false), idleMs); };
    s.on('data', (d) => { chunks.push(d); idle(); });
    // A server that refuses a head mid-stream may reset the rest of what we were sending.
    s.on('error', () => undefined);
    s.on('close', () => finish(true));
    idle();
    if (Array.isArray(data)) {
      void (async () => { for (const step of data) { const out = await step(); if (out !== null) s.write(out); } })();
    } else {
      s.write(data);
    }
  });
}

function parseResponses(buf: Buffer): RawResponse[] {
  const out: RawResponse[] = [];
  let at = 0;
  while (at < buf.length) {
    const headEnd = buf.indexOf('\r\n\r\n', at);
    if (headEnd === -1) throw new Error(`incomplete response head: ${JSON.stringify(buf.toString('latin1', at, at + 200))}`);
    const [statusLine, ...lines] = buf.toString('latin1', at, headEnd).split('\r\n');
    const m = /^HTTP\/1\.1 (\d{3}) (.*)$/.exec(statusLine ?? '');
    if (!m) throw new Error(`not a status line: ${statusLine}`);
    const headers: Record<string, string> = {};
    for (const l of lines) { const i = l.indexOf(':'); headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim(); }
    const length = Number(headers['content-length'] ?? 0);
    const bodyStart = headEnd + 4;
    out.push({ status: Number(m[1]), reason: m[2]!, headers, body: buf.toString('utf8', bodyStart, bodyStart + length) });
    at = bodyStart + length;
  }
  return out;
}

/** Exactly one response, a catalogue body on a closed connection. */
function expectRefusal(r: { responses: RawResponse[]; closed: boolean }, status: number, reason: string, body: { error: string; code: string }, retryAfter?: string) {
  expect(r.responses.length).toBe(1);
  const res = r.responses[0]!;
  expect({ status: res.status, reason: res.reason, type: res.headers['content-type'], connection: res.headers['connection'], retryAfter: res.headers['retry-after'], body: JSON.parse(res.body) })
    .toEqual({ status, reason, type: 'application/json; charset=utf-8', connection: 'close', retryAfter, body });
  expect(r.closed).toBe(true);
}

const startApp = async (extend?: (app: FastifyInstance) => void) => {
  const e = await edgeApp(extend);
  await e.app.listen({ host: '127.0.0.1', port: 0 });
  return { e, port: (e.app.server.address() as net.AddressInfo).port };
};

describe('requests Node refuses before Fastify sees them', () => {
  let e: EdgeApp;
  let port: number;
  beforeAll(async () => {
    ({ e, port } = await startApp());
  });
  afterAll(async () => { await e?.close(); });

  it('headers over maxHeaderSize: 431 HEADERS_TOO_LARGE', async () => {
    const r = await exchange(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`);
    expectRefusal(r, 431, 'Request Header Fields Too Large', { error: 'the request line and headers are longer than 16384 bytes', code: 'HEADERS_TOO_LARGE' });
  });

  it('a request line over maxHeaderSize: Node says HPE_HEADER_OVERFLOW, we answer 414 URI_TOO_LONG (once, even for 100 kB)', async () => {
    const body = { error: 'the request line is longer than the 16384 bytes a request head may have', code: 'URI_TOO_LONG' };
    expectRefusal(await exchange(port, `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`), 414, 'URI Too Long', body);
    expectRefusal(await exchange(port, `GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`), 414, 'URI Too Long', body);
  });

  it('an invalid request line, method or header: 400 REQUEST_MALFORMED', async () => {
    expectRefusal(await exchange(port, 'hello world\r\n\r\n'), 400, 'Bad Request', { error: 'malformed HTTP request: Invalid method encountered', code: 'REQUEST_MALFORMED' });
    expectRefusal(await exchange(port, 'GET /a b HTTP/1.1\r\nHost: x\r\n\r\n'), 400, 'Bad Request', { error: 'malformed HTTP request: Expected HTTP/, RTSP/ or ICE/', code: 'REQUEST_MALFORMED' });
    expectRefusal(await exchange(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n'), 400, 'Bad Request', { error: 'malformed HTTP request: Invalid header token', code: 'REQUEST_MALFORMED' });
  });

  it('HTTP/1.1 without Host: 400 REQUEST_MALFORMED; HTTP/1.0 without Host is served', async () => {
    expectRefusal(await exchange(port, 'GET /healthz HTTP/1.1\r\n\r\n'), 400, 'Bad Request', { error: 'an HTTP/1.1 request must carry a Host header', code: 'REQUEST_MALFORMED' });
    const ok = await exchange(port, 'GET /healthz HTTP/1.0\r\n\r\n');
    expect(ok.responses.map((x) => x.status)).toEqual([200]);
  });

  it('an Expect other than 100-continue: 417 EXPECTATION_FAILED', async () => {
    const r = await exchange(port, 'POST /nope HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 2\r\n\r\n');
    expectRefusal(r, 417, 'Expectation Failed', { error: 'Expect: teapot is not supported (only 100-continue)', code: 'EXPECTATION_FAILED' });
  });

  it('malformed JSON to a route outside ingest: 400 BODY_MALFORMED', async () => {
    const r = await exchange(port, 'POST /nope HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\n\r\n{bad');
    expect(r.responses.map((x) => [x.status, x.headers['content-type'], JSON.parse(x.body)])).toEqual([
      [400, 'application/json; charset=utf-8', { error: "Body is not valid JSON but content-type is set to 'application/json'", code: 'BODY_MALFORMED' }],
    ]);
  });

  it('invalid UTF-8 to ingest (JSON, NDJSON, gzipped NDJSON): 400 BODY_MALFORMED, and nothing reaches the log', async () => {
    const token = await e.token('audit:write');
    const post = (body: Buffer, headers: string) => exchange(port, Buffer.concat([
      Buffer.from(`POST /v1/ingest/audit-events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n${headers}Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`), body,
    ]));
    // A Latin-1 "é" (0xE9) where UTF-8 was due: once decoded it would have become U+FFFD and been stored.
    const latin1 = (ev: object) => Buffer.from(JSON.stringify({ ...ev, resource: { type: 'file', id: 'fil_1', path: '/caf\u00e9.txt' } }), 'latin1');
    const good = Buffer.from(JSON.stringify(event()));
    const bad = latin1(event());
    const badAt = bad.indexOf(0xe9);

    const json = await post(Buffer.concat([Buffer.from('['), good, Buffer.from(','), bad, Buffer.from(']')]), 'Content-Type: application/json\r\n');
    expect(json.responses.map((x) => [x.status, JSON.parse(x.body)])).toEqual([[400, { error: `body is not valid UTF-8 (at byte ${good.length + 2 + badAt})`, code: 'BODY_MALFORMED' }]]);

    const ndjson = Buffer.concat([good, Buffer.from('\n'), bad, Buffer.from('\n')]);
    const expected = [[400, {
      error: '1 of 2 lines are not valid UTF-8; nothing was accepted', code: 'BODY_MALFORMED',
      details: [{ index: 1, path: '/', message: `line is not valid UTF-8 (at byte ${good.length + 1 + badAt} of the body)` }],
    }]];
    const nd = await post(ndjson, 'Content-Type: application/x-ndjson\r\n');
    expect(nd.responses.map((x) => [x.status, JSON.parse(x.body)])).toEqual(expected);
    const gz = await post(gzipSync(ndjson), 'Content-Type: application/x-ndjson\r\nContent-Encoding: gzip\r\n');
    expect(gz.responses.map((x) => [x.status, JSON.parse(x.body)])).toEqual(expected);

    const sentinel = event();
    const ok = await post(Buffer.from(JSON.stringify([sentinel])), 'Content-Type: application/json\r\n');
    expect(ok.responses.map((x) => x.status)).toEqual([202]);
    expect(await e.loggedIds(sentinel.id)).toEqual([sentinel.id]);
  });
});

describe('timeouts and shutdown', () => {
  it('a head not received within headersTimeout: 408 REQUEST_TIMEOUT with Retry-After', async () => {
    const e = await edgeApp();
    try {
      // Node's own knobs on the real server, short enough for a test (checked every 100 ms).
      Object.assign(e.app.server, { headersTimeout: 300, connectionsCheckingInterval: 100 });
      await e.app.listen({ host: '127.0.0.1', port: 0 });
      const port = (e.app.server.address() as net.AddressInfo).port;
      const r = await exchange(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n');
      expectRefusal(r, 408, 'Request Timeout', { error: 'the request was not received in time', code: 'REQUEST_TIMEOUT' }, '1');
    } finally {
      await e.close();
    }
  });

  it('a request that arrives while the app closes: 503 SHUTTING_DOWN; the one in flight completes', async () => {
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => { entered = r; });
    let release!: () => void;
    const released = new Promise<void>((r) => { release = r; });
    let closingSeen!: () => void;
    const closing = new Promise<void>((r) => { closingSeen = r; });
    const { e, port } = await startApp((app) => {
      app.get('/t/slow', async () => { entered(); await released; return { slow: 'done' }; });
      // After the app's own preClose hook (registration order): the app knows it is closing.
      app.addHook('preClose', (done) => { closingSeen(); done(); });
    });
    let closed: Promise<void> | undefined;
    const r = await exchange(port, [
      async () => 'GET /t/slow HTTP/1.1\r\nHost: x\r\n\r\n',
      async () => { await inHandler; closed = e.app.close(); await closing; return 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'; },
      async () => { await new Promise((t) => setTimeout(t, 100)); release(); return null; },
    ]);
    await closed;
    expect(r.responses.map((x) => [x.status, JSON.parse(x.body)])).toEqual([
      [200, { slow: 'done' }],
      [503, { error: 'the server is shutting down; retry on a new connection', code: 'SHUTTING_DOWN' }],
    ]);
    expect(r.responses[1]!.headers).toMatchObject({ connection: 'close', 'retry-after': '1' });
    await e.close();
  });
});
