// bench:siem's raw ceiling: a bare client in a process of its own, sending the very bytes the
// forwarder sends — built with the product's own encoders from the same forwarded events, before
// the clock starts — to the same receivers, with no auditflow in between:
//   HTTP (HEC, webhook)  keep-alive POSTs (node:http), one batch in flight, as the forwarder does
//   syslog TCP / TLS     the octet-counted batches written to one connection, as fast as it takes them
//   syslog UDP           one datagram per event, each send awaited (the product's pace)
// It also reports what the forwarder's JSON work costs at least, per event, on one core: the log
// form → forwarded event (JSON.parse + build) and the encoding of each kind.
import { randomUUID } from 'node:crypto';
import dgram from 'node:dgram';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import { forwardedFromLog } from '../../processors/siem/forwarded-event.ts';
import type { DestinationConfig, ForwardedEvent } from '../../processors/siem/siem-types.ts';
import { hecBody, hecEndpoint } from '../../processors/siem/splunk-hec.ts';
import { syslogDatagram, syslogStream, type SyslogOptions } from '../../processors/siem/syslog-message.ts';
import { EVENT_COUNT_HEADER, NDJSON, SIGNATURE_HEADER, ndjsonBody, signatureHeader } from '../../processors/siem/webhook-signature.ts';
import { logForms } from './events.ts';
import { serve } from './realtime-ipc.ts';
import { benchEvents, destinationConfig, idOf, idPrefix, type Endpoints, type SiemKind } from './siem-load.ts';

const wall = () => performance.timeOrigin + performance.now();
const cpuSeconds = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

let events: ForwardedEvent[] = [];

export interface CeilingRun {
  kind: SiemKind;
  /** wall ms: the first byte sent, and the last send completed (HTTP: its 200) */
  startedAt: number;
  sentAt: number;
  bytes: number;
  /** µs per event on this process: encoding (before the clock), sending */
  encodeUs: number;
  sendUs: number;
}

function post(agent: http.Agent, url: URL, headers: Record<string, string>, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`receiver answered ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** One connection, every batch written as soon as the socket takes more (drain). */
async function writeStream(socket: net.Socket, batches: Buffer[]): Promise<void> {
  for (const b of batches) if (!socket.write(b)) await once(socket, 'drain');
  await new Promise<void>((resolve, reject) => socket.write(Buffer.alloc(0), (e) => (e ? reject(e) : resolve())));
}

async function sendHttp(dest: DestinationConfig, bodies: Buffer[], counts: number[]): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    if (dest.type === 'splunk_hec') {
      const url = new URL(hecEndpoint(dest.config.url));
      const headers = { authorization: `Splunk ${dest.config.token}`, 'content-type': 'application/json', 'x-splunk-request-channel': randomUUID() };
      for (const b of bodies) await post(agent, url, headers, b);
    } else if (dest.type === 'webhook') {
      const url = new URL(dest.config.url);
      const secret = dest.config.secret;
      const t = Date.now() / 1000;
      for (const [k, b] of bodies.entries()) {
        await post(agent, url, { 'content-type': NDJSON, [SIGNATURE_HEADER.toLowerCase()]: signatureHeader(secret, t, b), [EVENT_COUNT_HEADER.toLowerCase()]: String(counts[k]) }, b);
      }
    }
  } finally {
    agent.destroy();
  }
}

async function run(a: { kind: SiemKind; tag: string; tenant: string; batch: number; endpoints: Endpoints; procId: number }): Promise<CeilingRun> {
  const prefix = idPrefix(a.tag, a.tenant);
  events.forEach((e, i) => { e.id = idOf(prefix, i); });
  const dest = destinationConfig(a.kind, a.endpoints);
  const batches: ForwardedEvent[][] = [];
  for (let i = 0; i < events.length; i += a.batch) batches.push(events.slice(i, i + a.batch));
  const hostname = os.hostname();
  const c0 = cpuSeconds();
  let bodies: Buffer[];
  if (dest.type === 'splunk_hec') bodies = batches.map((b) => Buffer.from(hecBody(b, dest.config, { host: hostname })));
  else if (dest.type === 'webhook') bodies = batches.map((b) => Buffer.from(ndjsonBody(b)));
  else {
    const o: SyslogOptions = { format: dest.config.format, hostname, appName: dest.config.app_name, procId: a.procId };
    bodies = dest.config.transport === 'udp' ? events.map((e) => syslogDatagram(e, o)) : batches.map((b) => syslogStream(b, o));
  }
  const c1 = cpuSeconds();
  const bytes = bodies.reduce((n, b) => n + b.length, 0);
  const startedAt = wall();
  if (dest.type !== 'syslog') await sendHttp(dest, bodies, batches.map((b) => b.length));
  else if (dest.config.transport === 'udp') {
    const s = dgram.createSocket('udp4');
    s.connect(dest.config.port, dest.config.host);
    await once(s, 'connect');
    for (const d of bodies) await new Promise<void>((resolve, reject) => s.send(d, (e) => (e ? reject(e) : resolve())));
    s.close();
  } else {
    const { host, port } = dest.config;
    const socket = dest.config.transport === 'tls' ? tls.connect({ host, port, ca: [dest.config.ca_pem!] }) : net.connect({ host, port });
    await once(socket, dest.config.transport === 'tls' ? 'secureConnect' : 'connect');
    socket.setNoDelay(true);
    socket.resume();
    await writeStream(socket, bodies);
    socket.end();
  }
  const sentAt = wall();
  const c2 = cpuSeconds();
  return { kind: a.kind, startedAt, sentAt, bytes, encodeUs: ((c1 - c0) * 1e6) / events.length, sendUs: ((c2 - c1) * 1e6) / events.length };
}

serve({
  /** The events, built once: returns the log form → forwarded event cost (µs per event, this process's CPU). */
  prepare: ({ n, tenant }: { n: number; tenant: string }) => {
    const forms = logForms(benchEvents(n, tenant, 'c'));
    const c0 = cpuSeconds();
    events = forms.map((f) => forwardedFromLog(f));
    const parseUs = ((cpuSeconds() - c0) * 1e6) / n;
    return { parseUs, logFormBytes: forms.reduce((s, f) => s + f.length, 0) / n };
  },
  run,
});
