// bench:siem's receiving side, in a process of its own (so it never shares an event loop with the
// forwarder or the bare client it measures), driven over IPC (./realtime-ipc.ts):
//  - a lean HTTP receiver for HEC and webhooks: it answers 200 as soon as a request's body is in,
//    then counts the body's lines;
//  - tails of rsyslogd's output files (one message a line, test/support/rsyslog.ts), read every
//    TAIL_MS: a message counts as received when rsyslogd has written it (resolution TAIL_MS).
// Counting: each line holding the current run's id prefix is event number <7 digits after it>;
// per number the copies (duplicates) and the wall time of the first (lag). Lines without the
// prefix (self-audit events, a previous run's stragglers) are counted as `other`.
import { fstatSync, openSync, readSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from './realtime-ipc.ts';

const TAIL_MS = 5;
const NL = 0x0a;
const HEC_OK = Buffer.from('{"text":"Success","code":0}');
const wall = () => performance.timeOrigin + performance.now();

let prefix = Buffer.alloc(0);
let copies = new Uint8Array(0);
let firstAt = new Float64Array(0);
const run = { unique: 0, total: 0, other: 0, requests: 0, startedAt: 0, completeAt: 0, lastAt: 0 };

/** Event number: the digits at `from` (up to `end`), -1 when there are none. */
function numberAt(buf: Buffer, from: number, end: number): number {
  let n = 0;
  let i = from;
  for (; i < end; i++) {
    const c = buf[i]!;
    if (c < 0x30 || c > 0x39) break;
    n = n * 10 + (c - 0x30);
  }
  return i === from ? -1 : n;
}

function record(n: number, at: number): void {
  if (n < 0 || n >= copies.length) { run.other++; return; }
  run.total++;
  run.lastAt = at;
  if (run.startedAt === 0) run.startedAt = at;
  if (copies[n] === 0) {
    firstAt[n] = at;
    if (++run.unique === copies.length) run.completeAt = at;
  }
  if (copies[n]! < 255) copies[n]!++;
}

/** Counts every line of `buf` (the last one may lack its newline). */
function countLines(buf: Buffer, at: number): void {
  let match = prefix.length > 0 ? buf.indexOf(prefix) : -1;
  for (let start = 0; start < buf.length;) {
    let end = buf.indexOf(NL, start);
    if (end === -1) end = buf.length;
    if (end > start) {
      if (match !== -1 && match < start) match = buf.indexOf(prefix, start);
      if (match !== -1 && match < end) record(numberAt(buf, match + prefix.length, end), at);
      else run.other++;
    }
    start = end + 1;
  }
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const at = wall();
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': HEC_OK.length });
    res.end(HEC_OK);
    run.requests++;
    countLines(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), at);
  });
});
server.keepAliveTimeout = 60_000;

interface Tail { file: string; fd: number | null; pos: number; carry: Buffer }
const tails: Tail[] = [];
const chunk = Buffer.allocUnsafe(8 * 2 ** 20);

function readTails(): void {
  for (const t of tails) {
    if (t.fd === null) {
      try { t.fd = openSync(t.file, 'r'); } catch { continue; } // not written yet
    }
    for (;;) {
      const size = fstatSync(t.fd).size;
      if (size <= t.pos) break;
      const got = readSync(t.fd, chunk, 0, Math.min(chunk.length, size - t.pos), t.pos);
      if (got <= 0) break;
      t.pos += got;
      const data = t.carry.length > 0 ? Buffer.concat([t.carry, chunk.subarray(0, got)]) : chunk.subarray(0, got);
      const last = data.lastIndexOf(NL);
      // A line rsyslogd is still writing waits for its newline.
      t.carry = Buffer.from(data.subarray(last + 1));
      if (last >= 0) countLines(data.subarray(0, last + 1), wall());
    }
  }
}
setInterval(readTails, TAIL_MS);

serve({
  listen: () => new Promise<{ port: number }>((resolve) => server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as AddressInfo).port }))),
  tail: ({ files }: { files: string[] }) => { for (const file of files) tails.push({ file, fd: null, pos: 0, carry: Buffer.alloc(0) }); },
  /** Starts counting a run: event numbers 0 … n-1 after `idPrefix`. */
  expect: ({ idPrefix, n }: { idPrefix: string; n: number }) => {
    readTails(); // what is already written belongs to the run before
    prefix = Buffer.from(idPrefix);
    copies = new Uint8Array(n);
    firstAt = new Float64Array(n);
    Object.assign(run, { unique: 0, total: 0, other: 0, requests: 0, startedAt: 0, completeAt: 0, lastAt: 0 });
  },
  status: () => {
    let duplicates = 0;
    for (const c of copies) if (c > 1) duplicates += c - 1;
    return { ...run, expected: copies.length, duplicates, cpu: process.cpuUsage() };
  },
  /** The first arrival of every event (wall ms, 0: never), as float64 in a file. */
  arrivals: ({ file }: { file: string }) => { writeFileSync(file, Buffer.from(firstAt.buffer, firstAt.byteOffset, firstAt.byteLength)); },
});
