// A real HTTP receiver for the SIEM tests (the HEC and webhook endpoint): a node:http server on a
// free loopback port that records every request (method, path, headers, raw body) and answers
// from a script.
//
//   const r = await startSiemReceiver();
//   r.respond((req, n) => (n < 2 ? { status: 503 } : { status: 200 }));   // or r.script([...])
//   ... await r.waitFor(3) ...  r.requests[0].body ...
//   await r.down(); await r.up();   // connection refused meanwhile, same port after
//   await r.stop();
//
// The default answer is HEC's success, 200 {"text":"Success","code":0}.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  /** Path and query, as sent. */
  path: string;
  /** Lower-cased names, as node:http gives them. */
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
  receivedAt: number;
  /** The status it was answered with, once answered (a reset or an unanswered request: none). */
  status?: number;
}

export interface Answer {
  status?: number;
  headers?: Record<string, string>;
  /** A string is sent as it is; anything else as JSON. */
  body?: unknown;
  /** Wait this long before answering (a client's timeout). */
  delayMs?: number;
  /** Reset the connection instead of answering. */
  reset?: boolean;
}

export type Responder = (req: ReceivedRequest, index: number) => Answer | Promise<Answer>;

export interface SiemReceiver {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Every request, in arrival order (also those answered with a failure). */
  requests: ReceivedRequest[];
  respond(fn: Responder): void;
  /** Answers in order, then the default for every request after. */
  script(answers: Answer[]): void;
  waitFor(n: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  clear(): void;
  /** Closes the listener and every connection: clients get connection refused until up(). */
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

export const HEC_SUCCESS: Answer = { status: 200, body: { text: 'Success', code: 0 } };

export async function startSiemReceiver(): Promise<SiemReceiver> {
  const requests: ReceivedRequest[] = [];
  let responder: Responder = () => HEC_SUCCESS;
  const waiters = new Set<() => void>();
  const timers = new Set<NodeJS.Timeout>();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const r: ReceivedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, text: body.toString('utf8'), receivedAt: Date.now() };
      const index = requests.push(r) - 1;
      for (const w of waiters) w();
      void Promise.resolve(responder(r, index)).then((a) => {
        const answer = () => {
          if (a.reset) { req.socket.destroy(); return; }
          const payload = a.body === undefined ? '' : typeof a.body === 'string' ? a.body : JSON.stringify(a.body);
          r.status = a.status ?? 200;
          res.writeHead(r.status, { 'content-type': typeof a.body === 'string' ? 'text/plain' : 'application/json', ...a.headers });
          res.end(payload);
        };
        if (!a.delayMs) return answer();
        const t = setTimeout(() => { timers.delete(t); if (!res.destroyed) answer(); }, a.delayMs);
        timers.add(t);
      });
    });
    res.on('error', () => undefined); // the client gave up (a timeout test)
  });
  server.keepAliveTimeout = 5_000;

  const listen = (port: number) => new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  await listen(0);
  const port = (server.address() as AddressInfo).port;
  let listening = true;

  const close = async () => {
    if (!listening) return;
    listening = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  };

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    respond(fn) { responder = fn; },
    script(answers) {
      let next = 0;
      responder = () => answers[next++] ?? HEC_SUCCESS;
    },
    waitFor(n, timeoutMs = 10_000) {
      if (requests.length >= n) return Promise.resolve(requests.slice());
      return new Promise((resolve, reject) => {
        const done = () => {
          if (requests.length < n) return;
          waiters.delete(done);
          clearTimeout(t);
          resolve(requests.slice());
        };
        const t = setTimeout(() => { waiters.delete(done); reject(new Error(`receiver: ${requests.length} of ${n} requests within ${timeoutMs} ms`)); }, timeoutMs);
        waiters.add(done);
      });
    },
    clear() { requests.length = 0; },
    down: close,
    async up() {
      if (listening) return;
      await listen(port);
      listening = true;
    },
    async stop() {
      for (const t of timers) clearTimeout(t);
      await close();
    },
  };
}
