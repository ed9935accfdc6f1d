// Each SIEM sender against a real receiver: Debian rsyslogd (imtcp, imudp, imtcp + TLS) whose
// files are read back and parsed, and a real HTTP server for HEC and webhooks; the answers a
// receiver can give classified as delivered / retry / rejected.
import dgram from 'node:dgram';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSender } from '../infra/siem/sender-factory.ts';
import { MAX_ANSWER_BYTES } from '../infra/siem/http-sender.ts';
import { cefRecord } from '../processors/siem/cef.ts';
import { forwardedFromEvent } from '../processors/siem/forwarded-event.ts';
import type { DeliveryResult, ForwardedEvent, SiemSender, SyslogConfig } from '../processors/siem/siem-types.ts';
import { syslogMessage, UDP_MAX_BYTES } from '../processors/siem/syslog-message.ts';
import { SIGNATURE_HEADER, verifyWebhookSignature } from '../processors/siem/webhook-signature.ts';
import type { AuditEvent } from '../schemas/event-model.ts';
import { startRsyslog, type Rsyslog } from './support/rsyslog.ts';
import { auditEvent } from './support/siem-events.ts';
import { startSiemReceiver, type SiemReceiver } from './support/siem-receiver.ts';

const HOST = 'fwd-test';
let n = 0;
const ev = (over: Partial<AuditEvent> = {}): ForwardedEvent => forwardedFromEvent(auditEvent({ id: `aud_${++n}_${Date.now().toString(36)}`, ...over }));
/** Events whose text exercises every escaping rule and multi-byte UTF-8. */
const awkward = (): ForwardedEvent[] => [
  ev({ resource_name: 'pipe|equals=back\\slash', resource_path: '/a/b c/ünï ✓ 日本', severity: 'error' }),
  ev({ resource_name: 'line\nbreak\r\nand tab\t', tenant_id: 'tnt_"quoted]\\', severity: 'critical' }),
  ev({ resource_name: '', details: JSON.stringify({ emoji: '🔐', eq: 'k=v', nested: { a: [1, 2] } }), severity: 'debug' }),
];

/** A message as rsyslog writes it: control characters escaped on receipt (a tab is `#011`). */
const asWritten = (m: string): string => m.replace(/[\x00-\x1f]/g, (c) => `#${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
/** The MSG after the BOM of a line as rsyslog wrote it. */
const msgOf = (line: string): string => line.slice(line.indexOf('\uFEFF') + 1);
const closeAll: SiemSender[] = [];
const sender = (...args: Parameters<typeof createSender>): SiemSender => {
  const s = createSender(args[0], { hostname: HOST, ...args[1] });
  closeAll.push(s);
  return s;
};
afterAll(async () => { for (const s of closeAll) await s.close(); });

describe('syslog senders against rsyslogd', () => {
  let rs: Rsyslog;
  beforeAll(async () => { rs = await startRsyslog(); });
  afterAll(async () => { await rs?.dispose(); });
  const syslog = (c: Partial<SyslogConfig>): SyslogConfig => ({ host: '127.0.0.1', port: rs.ports.tcp, transport: 'tcp', format: 'cef', ...c });

  it('TCP + CEF: octet-counted frames arrive as exactly the RFC 5424 messages sent, escaping intact', async () => {
    const events = awkward();
    const s = sender({ type: 'syslog', config: syslog({ app_name: 'af-test' }) });
    expect(await s.send(events)).toEqual({ kind: 'delivered' });
    const lines = await rs.waitForLines('tcp', 3);
    const expected = events.map((e) => asWritten(syslogMessage(e, { format: 'cef', hostname: HOST, appName: 'af-test', procId: process.pid }).toString('utf8')));
    expect(lines.slice(-3)).toEqual(expected);
    const [first, second] = lines.slice(-3);
    expect(first!.startsWith(`<107>1 ${events[0]!.event_time} ${HOST} af-test ${process.pid} file.create [auditflow@32473 id="${events[0]!.id}" tenant="tnt_01J3A"`)).toBe(true);
    expect(second).toContain('tenant="tnt_\\"quoted\\]\\\\"');
    expect(second!.startsWith('<106>1 ')).toBe(true);
    // The CEF escapes survived the trip: fname is still one escaped value, pipes and all.
    expect(msgOf(first!)).toBe(cefRecord(events[0]!));
    expect(msgOf(second!)).toBe(asWritten(cefRecord(events[1]!)));
    expect(msgOf(first!)).toContain('fname=pipe|equals\\=back\\\\slash filePath=/a/b c/ünï ✓ 日本 ');
    expect(msgOf(second!)).toContain('fname=line\\nbreak\\r\\nand tab#011 ');
  });

  it('TLS + JSON: verified against the destination CA; each line is the forwarded event after the BOM', async () => {
    const events = awkward();
    const s = sender({ type: 'syslog', config: syslog({ port: rs.ports.tls, transport: 'tls', format: 'json', ca_pem: rs.caPem }) });
    expect(await s.send(events)).toEqual({ kind: 'delivered' });
    const lines = (await rs.waitForLines('tls', 3)).slice(-3);
    expect(lines.map((l) => JSON.parse(msgOf(l)) as ForwardedEvent)).toEqual(events);
    expect(lines[2]!.startsWith('<111>1 ')).toBe(true); // debug
  });

  it('TLS with a CA that did not sign the certificate: retry, nothing written', async () => {
    const before = (await rs.lines('tls')).length;
    const otherCa = (await import('node:tls')).rootCertificates[0]!;
    const s = sender({ type: 'syslog', config: syslog({ port: rs.ports.tls, transport: 'tls', ca_pem: otherCa }) }, { timeoutMs: 3000 });
    const r = await s.send([ev()]);
    expect(r.kind).toBe('retry');
    expect(r.kind === 'retry' && r.reason).toMatch(/^connection error \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|DEPTH_ZERO_SELF_SIGNED_CERT)\)$/);
    expect((await rs.lines('tls')).length).toBe(before);
  });

  it('UDP: one bare message a datagram; one over 2048 bytes is cut with truncated= in its SD', async () => {
    const events = [ev(), ev({ details: JSON.stringify({ blob: 'é'.repeat(3000) }) })];
    const s = sender({ type: 'syslog', config: syslog({ port: rs.ports.udp, transport: 'udp' }) });
    expect(await s.send(events)).toEqual({ kind: 'delivered' });
    const [small, big] = (await rs.waitForLines('udp', 2)).slice(-2);
    expect(small).toBe(syslogMessage(events[0]!, { format: 'cef', hostname: HOST, procId: process.pid }).toString('utf8'));
    const full = syslogMessage(events[1]!, { format: 'cef', hostname: HOST, procId: process.pid });
    expect(big).toContain(`id="${events[1]!.id}" tenant="tnt_01J3A" category="file_modification" event_type="file.create" truncated="${full.length}"]`);
    expect(Buffer.byteLength(big!)).toBeLessThanOrEqual(UDP_MAX_BYTES);
    expect(Buffer.byteLength(big!)).toBeGreaterThan(UDP_MAX_BYTES - 4);
    expect(big!.endsWith('é') || big!.endsWith('\\')).toBe(true); // cut between whole characters
    expect(big).not.toContain('\uFFFD');
  });

  it('connection refused is a retry', async () => {
    const port = await freePort();
    const r = await sender({ type: 'syslog', config: syslog({ port }) }).send([ev()]);
    expect(r).toEqual({ kind: 'retry', reason: 'connection error (ECONNREFUSED)' });
  });

  it('UDP to a closed port: the kernel takes the first datagram (delivered), the ICMP error makes the next a retry', async () => {
    const port = await freeUdpPort();
    const s = sender({ type: 'syslog', config: syslog({ port, transport: 'udp' }) });
    expect(await s.send([ev()])).toEqual({ kind: 'delivered' });
    await new Promise((r) => setTimeout(r, 100));
    expect(await s.send([ev()])).toEqual({ kind: 'retry', reason: 'socket error (ECONNREFUSED)' });
  });

  it('a receiver that stops reading: the write times out and is retried on a new connection', async () => {
    const sockets: net.Socket[] = [];
    const stalled = net.createServer((sock) => { sockets.push(sock); sock.pause(); });
    await new Promise<void>((r) => stalled.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (stalled.address() as net.AddressInfo).port;
      const s = sender({ type: 'syslog', config: syslog({ port, format: 'json' }) }, { timeoutMs: 500 });
      const big = Array.from({ length: 16 }, () => ev({ details: JSON.stringify({ blob: 'x'.repeat(1 << 20) }) }));
      expect(await s.send(big)).toEqual({ kind: 'retry', reason: 'write timeout after 500 ms' });
      expect(await s.send([ev()])).toEqual({ kind: 'delivered' });
      expect(sockets).toHaveLength(2);
    } finally {
      for (const sock of sockets) sock.destroy();
      await new Promise((r) => stalled.close(r));
    }
  });

  it('reconnects after rsyslogd restarts: refused while down, and nothing reported delivered is missing', async () => {
    const warnings: string[] = [];
    const logger = { info: () => undefined, warn: (o: object, m: string) => warnings.push(`${m} ${JSON.stringify(o)}`) };
    const s = sender({ type: 'syslog', config: syslog({}) }, { logger });
    const before = (await rs.lines('tcp')).length;
    const delivered: ForwardedEvent[] = [];
    const send = async (events: ForwardedEvent[]): Promise<DeliveryResult> => {
      const r = await s.send(events);
      if (r.kind === 'delivered') delivered.push(...events);
      return r;
    };
    expect((await send([ev(), ev()])).kind).toBe('delivered');
    const pidBefore = rs.pid();
    await rs.stop();
    expect(await send([ev()])).toEqual({ kind: 'retry', reason: 'connection error (ECONNREFUSED)' });
    await rs.start();
    expect(rs.pid()).not.toBe(pidBefore);
    expect((await send([ev(), ev()])).kind).toBe('delivered');
    // Restarted between two sends, without a send while it was down: the FIN is seen first.
    await rs.stop();
    await rs.start();
    expect((await send([ev()])).kind).toBe('delivered');
    const lines = await rs.waitForLines('tcp', before + 5);
    const ids = new Set(lines.map((l) => /id="([^"]+)"/.exec(l)?.[1]));
    expect(delivered.filter((e) => !ids.has(e.id))).toEqual([]);
    expect(delivered).toHaveLength(5);
    expect(warnings.some((w) => w.includes('syslog connection dropped') && w.includes('closed by the receiver'))).toBe(true);
  });
});

describe('HTTP senders against a real HTTP receiver', () => {
  let rx: SiemReceiver;
  beforeAll(async () => { rx = await startSiemReceiver(); });
  afterAll(async () => { await rx?.stop(); });
  const TOKEN = 'hec-token-3f9a2c71';
  const SECRET = 'whsec_7d1e0b5a9c3f';
  const hec = (over: Record<string, string> = {}) => sender({ type: 'splunk_hec', config: { url: rx.url, token: TOKEN, index: 'audit', ...over } });
  const webhook = (headers?: Record<string, string>) => sender({ type: 'webhook', config: { url: `${rx.url}/hooks/siem?k=1`, secret: SECRET, ...(headers ? { headers } : {}) } });
  const results: DeliveryResult[] = [];
  const send = async (s: SiemSender, events: ForwardedEvent[]) => { const r = await s.send(events); results.push(r); return r; };
  afterAll(() => {
    // No result, reason or kept body ever carries a secret.
    const all = JSON.stringify(results);
    expect(all).not.toContain(TOKEN);
    expect(all).not.toContain(SECRET);
  });

  it('HEC: POST /services/collector/event, Splunk auth, a channel, one event object a line with time in seconds.ms', async () => {
    rx.clear();
    rx.script([]);
    const events = awkward();
    expect(await send(hec(), events)).toEqual({ kind: 'delivered', status: 200 });
    const [req] = await rx.waitFor(1);
    expect(req!.method).toBe('POST');
    expect(req!.path).toBe('/services/collector/event');
    expect(req!.headers['authorization']).toBe(`Splunk ${TOKEN}`);
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.headers['x-splunk-request-channel']).toMatch(/^[0-9a-f-]{36}$/);
    const lines = req!.text.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual(events.map((e) => ({ time: Date.parse(e.event_time) / 1000, host: HOST, source: 'auditflow', sourcetype: '_json', index: 'audit', event: e })));
    expect(req!.text).toMatch(/^\{"time":\d+\.\d{3},/);
  });

  it('HEC answers: 503 code 9 and 500 retry, 400 / 403 are rejected with the body, an echoed token is masked', async () => {
    rx.script([
      { status: 503, body: { text: 'Server is busy', code: 9 } },
      { status: 500, body: { text: 'Internal server error', code: 8 } },
      { status: 400, body: { text: 'Incorrect index', code: 7 } },
      { status: 403, body: `{"text":"Invalid token","code":4,"echo":"${TOKEN}"}` },
    ]);
    const s = hec();
    expect(await send(s, [ev()])).toEqual({ kind: 'retry', reason: 'HTTP 503: HEC code 9 (Server is busy)', status: 503 });
    expect(await send(s, [ev()])).toEqual({ kind: 'retry', reason: 'HTTP 500: HEC code 8 (Internal server error)', status: 500 });
    expect(await send(s, [ev()])).toEqual({ kind: 'rejected', status: 400, body: '{"text":"Incorrect index","code":7}' });
    expect(await send(s, [ev()])).toEqual({ kind: 'rejected', status: 403, body: '{"text":"Invalid token","code":4,"echo":"[redacted]"}' });
  });

  it('429 honours Retry-After in seconds and as an HTTP date', async () => {
    const at = new Date(Date.now() + 60_000).toUTCString();
    rx.script([{ status: 429, headers: { 'retry-after': '7' } }, { status: 429, headers: { 'retry-after': at } }, { status: 429 }]);
    const s = webhook();
    expect(await send(s, [ev()])).toEqual({ kind: 'retry', reason: 'HTTP 429', status: 429, retryAfterMs: 7000 });
    const r = await send(s, [ev()]);
    expect(r.kind === 'retry' && r.retryAfterMs).toBeGreaterThan(55_000);
    expect(r.kind === 'retry' && r.retryAfterMs).toBeLessThanOrEqual(60_000);
    expect(await send(s, [ev()])).toEqual({ kind: 'retry', reason: 'HTTP 429', status: 429 });
  });

  it('a timeout, a reset and a closed listener are retries; back up, it delivers', async () => {
    rx.script([{ delayMs: 3000 }, { reset: true }]);
    const s = createSender({ type: 'webhook', config: { url: rx.url, secret: SECRET } }, { timeoutMs: 300, hostname: HOST });
    closeAll.push(s);
    expect(await send(s, [ev()])).toEqual({ kind: 'retry', reason: 'timeout after 300 ms' });
    const reset = await send(s, [ev()]);
    expect(reset.kind === 'retry' && reset.reason).toMatch(/^connection error \((ECONNRESET|UND_ERR_SOCKET)\)$/);
    await rx.down();
    try {
      // A pooled keep-alive connection the receiver closed may fail first ("other side closed").
      const first = await send(s, [ev()]);
      expect(first.kind === 'retry' && first.reason).toMatch(/^connection error \((ECONNREFUSED|UND_ERR_SOCKET)\)$/);
      expect(await send(s, [ev()])).toEqual({ kind: 'retry', reason: 'connection error (ECONNREFUSED)' });
    } finally {
      await rx.up();
    }
    expect(await send(s, [ev()])).toEqual({ kind: 'delivered', status: 200 });
  });

  it('webhook: NDJSON with every id, a signature the receiver verifies; configured headers never override ours', async () => {
    rx.clear();
    // The receiver verifies as a real one would: 204 when the signature holds, 401 otherwise.
    rx.respond((req) => {
      const v = verifyWebhookSignature(req.headers['x-auditflow-signature'] as string, req.body, { secret: SECRET, nowMs: Date.now() });
      return v.ok ? { status: 204 } : { status: 401, body: v.reason };
    });
    const events = awkward();
    const s = webhook({ 'X-Custom': 'yes', 'X-Auditflow-Signature': 'forged', 'Content-Type': 'text/plain', Authorization: 'Bearer receiver-key' });
    expect(await send(s, events)).toEqual({ kind: 'delivered', status: 204 });
    const [req] = await rx.waitFor(1);
    expect(req!.path).toBe('/hooks/siem?k=1');
    expect(req!.headers['content-type']).toBe('application/x-ndjson');
    expect(req!.headers['x-custom']).toBe('yes');
    expect(req!.headers['authorization']).toBe('Bearer receiver-key');
    expect(req!.headers['x-auditflow-event-count']).toBe('3');
    const sig = req!.headers[SIGNATURE_HEADER.toLowerCase()] as string;
    expect(verifyWebhookSignature(sig, req!.body, { secret: SECRET, nowMs: Date.now() })).toMatchObject({ ok: true });
    expect(verifyWebhookSignature(sig, Buffer.concat([req!.body, Buffer.from(' ')]), { secret: SECRET, nowMs: Date.now() })).toEqual({ ok: false, reason: 'mismatch' });
    const lines = req!.text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as ForwardedEvent);
    expect(lines).toEqual(events);
    expect(lines.map((l) => l.id)).toEqual(events.map((e) => e.id));
    // The same receiver refuses a sender with the wrong secret: a 401 is a dead letter.
    const wrong = sender({ type: 'webhook', config: { url: rx.url, secret: 'not-the-secret' } });
    expect(await send(wrong, events)).toEqual({ kind: 'rejected', status: 401, body: 'mismatch' });
    rx.script([]);
  });

  it('webhook: a 400 is rejected with the first 4 KiB of the answer; a redirect is not followed', async () => {
    const other = await startSiemReceiver();
    try {
      rx.script([
        { status: 400, body: `bad batch: ${'x'.repeat(10_000)}` },
        { status: 302, headers: { location: `${other.url}/stolen` } },
        { status: 404, body: '' },
      ]);
      const s = webhook();
      const r = await send(s, [ev()]);
      expect(r.kind).toBe('rejected');
      expect(r.kind === 'rejected' && r.status).toBe(400);
      expect(r.kind === 'rejected' && r.body.startsWith('bad batch: xxx')).toBe(true);
      expect(r.kind === 'rejected' && r.body.length).toBe(MAX_ANSWER_BYTES);
      expect(await send(s, [ev()])).toEqual({ kind: 'rejected', status: 302, body: '' });
      expect(other.requests).toHaveLength(0);
      expect(await send(s, [ev()])).toEqual({ kind: 'rejected', status: 404, body: '' });
    } finally {
      await other.stop();
    }
  });

  it('each attempt is signed afresh, so a retried batch is the same body with a new, valid signature', async () => {
    rx.clear();
    rx.script([{ status: 502 }]);
    const s = createSender({ type: 'webhook', config: { url: rx.url, secret: SECRET } }, { hostname: HOST });
    closeAll.push(s);
    const events = [ev()];
    expect(await send(s, events)).toEqual({ kind: 'retry', reason: 'HTTP 502', status: 502 });
    await new Promise((r) => setTimeout(r, 1100));
    expect(await send(s, events)).toEqual({ kind: 'delivered', status: 200 });
    const [a, b] = await rx.waitFor(2);
    expect(a!.body.equals(b!.body)).toBe(true);
    const t = (h: unknown) => Number(/t=(\d+)/.exec(String(h))?.[1]);
    expect(t(b!.headers['x-auditflow-signature'])).toBeGreaterThan(t(a!.headers['x-auditflow-signature']));
    expect(verifyWebhookSignature(b!.headers['x-auditflow-signature'] as string, b!.body, { secret: SECRET, nowMs: Date.now() }).ok).toBe(true);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    sock.bind(0, '127.0.0.1', () => {
      const { port } = sock.address();
      sock.close(() => resolve(port));
    });
  });
}
