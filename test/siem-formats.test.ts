// The SIEM wire formats, pure: CEF escaping and mapping, RFC 5424 messages and framing, HEC
// bodies, the webhook signature, the destination filter and the forwarded event itself.
import { describe, expect, it } from 'vitest';
import { cefExtension, cefRecord, cefSeverity, escapeCefHeader, escapeCefValue } from '../processors/siem/cef.ts';
import { forwardedFromEvent, forwardedFromLog, forwardedFromRow, parseDetailsObject } from '../processors/siem/forwarded-event.ts';
import { compileFilter } from '../processors/siem/siem-filter.ts';
import type { ForwardedEvent } from '../processors/siem/siem-types.ts';
import { describeHecAnswer, hecBody, hecEndpoint, hecTime } from '../processors/siem/splunk-hec.ts';
import {
  escapeSdValue, octetCounted, syslogDatagram, syslogMessage, syslogPri, syslogSeverity, syslogStream, UDP_MAX_BYTES, utf8Prefix,
} from '../processors/siem/syslog-message.ts';
import { ndjsonBody, signatureHeader, verifyWebhookSignature } from '../processors/siem/webhook-signature.ts';
import { SEVERITIES, type AuditEvent } from '../schemas/event-model.ts';
import { auditEvent } from './support/siem-events.ts';
import { maskSecrets, parseRetryAfter } from '../infra/siem/http-sender.ts';

const ev = (over: Partial<AuditEvent> = {}): ForwardedEvent => forwardedFromEvent(auditEvent(over));

/** A CEF extension parsed back as a receiver does: split at unescaped ` key=`, unescape values. */
function parseCefExtension(ext: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /(?:^| )([A-Za-z0-9]+)=((?:[^\\=]|\\.)*?)(?= [A-Za-z0-9]+=|$)/g;
  for (const m of ext.matchAll(re)) {
    out[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c));
  }
  return out;
}
/** The 7 header fields (split at unescaped pipes) and the extension. */
function parseCef(rec: string): { header: string[]; ext: Record<string, string> } {
  const parts: string[] = [];
  let cur = '';
  let i = 0;
  for (; i < rec.length && parts.length < 7; i++) {
    const c = rec[i]!;
    if (c === '\\') { cur += rec[i + 1]; i++; } else if (c === '|') { parts.push(cur); cur = ''; } else cur += c;
  }
  return { header: parts, ext: parseCefExtension(rec.slice(i)) };
}

describe('forwarded event', () => {
  it('parses details into an object; invalid or non-object JSON becomes {}', () => {
    expect(ev().details).toEqual({ version: 1, size: 22300000 });
    for (const bad of ['not json', '[1,2]', '5', 'null', '']) expect(parseDetailsObject(bad)).toEqual({});
  });

  it('is the same object from the log form, a canonical event and a stored row', () => {
    const a = auditEvent();
    const fromLog = forwardedFromLog(Buffer.from(JSON.stringify(a)));
    const row = { ...a, seq: '17', received_at: '2026-04-23 10:15:06.000', log_partition: 2, log_offset: '99', event_time: '2026-04-23 10:15:05.123', success: 1, duration_ms: '12' };
    const fromRow = forwardedFromRow(row);
    expect(fromLog).toEqual(forwardedFromEvent(a));
    expect(JSON.stringify(fromRow)).toBe(JSON.stringify(fromLog)); // same keys, same order: a replay is byte-identical
    expect(fromRow).not.toHaveProperty('seq');
    expect(fromRow.event_time).toBe('2026-04-23T10:15:05.123Z');
    expect(() => forwardedFromLog('[1]')).toThrow(TypeError);
  });
});

describe('destination filter', () => {
  it('categories, event types and min severity must all hold; empty lists do not restrict', () => {
    const f = compileFilter({ categories: ['security', 'admin'], min_severity: 'warning', event_types: ['secret.read'] });
    expect(f({ category: 'security', severity: 'warning', event_type: 'secret.read' })).toBe(true);
    expect(f({ category: 'security', severity: 'emergency', event_type: 'secret.read' })).toBe(true);
    expect(f({ category: 'security', severity: 'notice', event_type: 'secret.read' })).toBe(false);
    expect(f({ category: 'sharing', severity: 'error', event_type: 'secret.read' })).toBe(false);
    expect(f({ category: 'admin', severity: 'error', event_type: 'secret.write' })).toBe(false);
    expect(compileFilter({ categories: [], event_types: [] })({ category: 'x', severity: 'debug', event_type: 'y' })).toBe(true);
    expect(compileFilter(undefined)({ category: 'x', severity: 'debug', event_type: 'y' })).toBe(true);
  });

  it('ranks by SEVERITIES order (each level passes its own minimum, not the next)', () => {
    for (let i = 0; i < SEVERITIES.length; i++) {
      const f = compileFilter({ min_severity: SEVERITIES[i] });
      expect(f({ category: 'c', severity: SEVERITIES[i]!, event_type: 't' })).toBe(true);
      if (i > 0) expect(f({ category: 'c', severity: SEVERITIES[i - 1]!, event_type: 't' })).toBe(false);
    }
  });
});

describe('CEF', () => {
  it('escapes backslash and pipe in the header, and turns newlines there into spaces', () => {
    expect(escapeCefHeader('a|b\\c')).toBe('a\\|b\\\\c');
    expect(escapeCefHeader('x\r\ny\nz')).toBe('x y z');
    expect(escapeCefHeader('a=b')).toBe('a=b'); // equals is fine in the header
  });

  it('escapes backslash, equals, CR and LF in extension values; pipes stay', () => {
    expect(escapeCefValue('a=b\\c|d')).toBe('a\\=b\\\\c|d');
    expect(escapeCefValue('l1\nl2\r\nl3')).toBe('l1\\nl2\\r\\nl3');
    expect(escapeCefValue('\\=')).toBe('\\\\\\=');
  });

  it('maps the event to standard keys, cs1-cs6 with labels, details last; the record parses back', () => {
    const e = ev({
      resource_name: 'we|ird=name\\x', resource_path: '/a b/c=d\nnext', user_agent: 'UA=1 | 2', action: 'read',
      event_type: 'file|read', request_id: 'r\\1', partner_id: 'ptn_1', service_account: 'sa_9',
      details: JSON.stringify({ note: 'ünïcødé ✓ 日本', eq: 'a=b' }),
    });
    const rec = cefRecord(e);
    expect(rec.startsWith('CEF:0|Auditflow|auditflow|1|file\\|read|read file|3|rt=1776939305123 externalId=aud_01J3L ')).toBe(true);
    const { header, ext } = parseCef(rec);
    expect(header).toEqual(['CEF:0', 'Auditflow', 'auditflow', '1', 'file|read', 'read file', '3']);
    expect(ext).toMatchObject({
      rt: '1776939305123', externalId: 'aud_01J3L', cat: 'file_modification', act: 'read', outcome: 'success',
      suid: 'usr_01J3N', suser: 'alice@example.com', src: '203.0.113.7', requestClientApplication: 'UA=1 | 2',
      fileType: 'file', fileId: 'fil_01J3M', fname: 'we|ird=name\\x', filePath: '/a b/c=d\nnext',
      cn1: '12', cn1Label: 'duration_ms', cs1: 'tnt_01J3A', cs1Label: 'tenant_id', cs2: 'r\\1', cs2Label: 'request_id',
      cs3: 'shr_01J3K', cs4: 'sa_9', cs5: 'ptn_1', cs6Label: 'details', flexString1: 'user', flexString1Label: 'actor_type',
      sourceServiceName: 'api',
    });
    expect(JSON.parse(ext['cs6']!)).toEqual({ note: 'ünïcødé ✓ 日本', eq: 'a=b' });
    expect(cefExtension(e).slice(-2).map(([k]) => k)).toEqual(['cs6Label', 'cs6']); // details last
  });

  it('leaves out empty fields with their labels; IPv6 goes to c6a2, a non-address to flexString2', () => {
    const e = ev({ partner_id: '', service_account: null, share_id: '', request_id: '', duration_ms: null, details: '{}', source_ip: '2001:db8::1', actor_email: '' });
    const keys = cefExtension(e).map(([k]) => k);
    for (const k of ['cs2', 'cs2Label', 'cs3', 'cs4', 'cs5', 'cs5Label', 'cn1', 'cs6', 'suser', 'src']) expect(keys).not.toContain(k);
    expect(parseCef(cefRecord(e)).ext).toMatchObject({ c6a2: '2001:db8::1', c6a2Label: 'Source IPv6 Address' });
    expect(parseCef(cefRecord(ev({ source_ip: 'unknown' }))).ext).toMatchObject({ flexString2: 'unknown', flexString2Label: 'source_ip' });
    expect(parseCef(cefRecord(ev({ action: '', resource_type: '', event_type: '' }))).header.slice(4, 6)).toEqual(['audit', 'audit']);
  });

  it('maps severities to 0-10 monotonically; unknown is info', () => {
    const mapped = SEVERITIES.map(cefSeverity);
    expect(mapped).toEqual([0, 3, 4, 6, 7, 8, 9, 10]);
    expect(cefSeverity('bogus')).toBe(3);
  });
});

describe('syslog (RFC 5424)', () => {
  const opts = { format: 'cef' as const, hostname: 'fwd-1.example', appName: 'auditflow', procId: 4242 };

  it('PRI is facility 13 (log audit) × 8 + the severity', () => {
    const table = Object.fromEntries(SEVERITIES.map((s) => [s, syslogPri(s)]));
    expect(table).toEqual({ debug: 111, info: 110, notice: 109, warning: 108, error: 107, critical: 106, alert: 105, emergency: 104 });
    expect(syslogSeverity('unknown')).toBe(6);
  });

  it('has the header, structured data with escaped values, a BOM, then the CEF record', () => {
    const e = ev({ tenant_id: 'tnt_"q]\\', severity: 'error', event_type: 'secret.read' });
    const msg = syslogMessage(e, opts);
    const text = msg.toString('utf8');
    expect(text.startsWith('<107>1 2026-04-23T10:15:05.123Z fwd-1.example auditflow 4242 secret.read [auditflow@32473 id="aud_01J3L" tenant="tnt_\\"q\\]\\\\" category="file_modification" event_type="secret.read"] \uFEFFCEF:0|')).toBe(true);
    const bom = msg.indexOf(Buffer.from([0xef, 0xbb, 0xbf]));
    expect(msg.subarray(bom + 3).toString('utf8')).toBe(cefRecord(e));
    expect(escapeSdValue('a"b\\c]d')).toBe('a\\"b\\\\c\\]d');
  });

  it('header fields are PRINTUSASCII within their lengths; empty ones are -', () => {
    const text = syslogMessage(ev({ event_type: 'typé with spaces and a very long name beyond thirty-two', action: '' }), { format: 'json', hostname: 'h ost', appName: '' }).toString();
    const [, , host, app, proc, msgid] = text.split(' ');
    expect(host).toBe('h_ost');
    expect(app).toBe('-');
    expect(proc).toBe('-');
    expect(msgid).toBe('typ__with_spaces_and_a_very_long');
    expect(msgid!.length).toBe(32);
  });

  it('JSON format carries the whole forwarded event after the BOM', () => {
    const e = ev({ resource_name: 'line\nbreak "quoted" ✓' });
    const msg = syslogMessage(e, { ...opts, format: 'json' });
    const bom = msg.indexOf(Buffer.from([0xef, 0xbb, 0xbf]));
    expect(JSON.parse(msg.subarray(bom + 3).toString('utf8'))).toEqual(e);
    expect(msg.includes(0x0a)).toBe(false); // JSON escapes the newline: one line on the wire
  });

  it('octet counting counts bytes, not characters', () => {
    const m = Buffer.from('<110>1 - - - - - - \uFEFF日本語 ✓', 'utf8');
    const framed = octetCounted(m);
    const [len, ...rest] = framed.toString('utf8').split(' ');
    expect(Number(len)).toBe(m.length);
    expect(Number(len)).toBeGreaterThan(rest.join(' ').length); // more bytes than UTF-16 units
    const stream = syslogStream([ev({ resource_name: 'ü' }), ev({ resource_name: '日本' })], opts);
    // Walk the frames as a receiver does.
    let at = 0;
    const frames: Buffer[] = [];
    while (at < stream.length) {
      const sp = stream.indexOf(0x20, at);
      const n = Number(stream.subarray(at, sp).toString());
      frames.push(stream.subarray(sp + 1, sp + 1 + n));
      at = sp + 1 + n;
    }
    expect(at).toBe(stream.length);
    expect(frames.map((f) => f.toString('utf8').includes('fname=ü') || f.toString('utf8').includes('fname=日本'))).toEqual([true, true]);
  });

  it('a UDP datagram over the limit keeps header and SD, says truncated, and cuts MSG on a character boundary', () => {
    const small = syslogDatagram(ev(), opts);
    expect(small.equals(syslogMessage(ev(), opts))).toBe(true);
    const big = ev({ details: JSON.stringify({ text: '日'.repeat(2000) }) });
    const full = syslogMessage(big, opts);
    const d = syslogDatagram(big, opts);
    expect(full.length).toBeGreaterThan(UDP_MAX_BYTES);
    expect(d.length).toBeLessThanOrEqual(UDP_MAX_BYTES);
    expect(d.length).toBeGreaterThan(UDP_MAX_BYTES - 3);
    const text = d.toString('utf8');
    expect(text).toContain(`truncated="${full.length}"`);
    expect(text).toContain('id="aud_01J3L" tenant="tnt_01J3A"');
    expect(text.includes('\uFFFD')).toBe(false); // no broken character at the cut
    expect(utf8Prefix(Buffer.from('aé'), 2).toString()).toBe('a');
  });
});

describe('Splunk HEC', () => {
  it('time is epoch seconds with milliseconds', () => {
    expect(hecTime('2026-04-23T10:15:05.123Z')).toBe('1776939305.123');
    expect(hecTime('2026-04-23T10:15:05.007Z')).toBe('1776939305.007');
    expect(hecTime('2026-04-23T10:15:05Z')).toBe('1776939305.000');
    expect(hecTime('garbage')).toBeNull();
  });

  it('a batch is event objects one a line with host/source/sourcetype/index and the event', () => {
    const events = [ev(), ev({ id: 'aud_2', event_time: '2026-04-23T10:15:06.5Z' })];
    const body = hecBody(events, { url: 'https://splunk:8088', token: 't', index: 'audit', sourcetype: 'auditflow:audit' }, { host: 'fwd-1' });
    const lines = body.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      { time: 1776939305.123, host: 'fwd-1', source: 'auditflow', sourcetype: 'auditflow:audit', index: 'audit', event: events[0] },
      { time: 1776939306.5, host: 'fwd-1', source: 'auditflow', sourcetype: 'auditflow:audit', index: 'audit', event: events[1] },
    ]);
    expect(body.startsWith('{"time":1776939305.123,"host"')).toBe(true);
    const noIndex = JSON.parse(hecBody([ev()], { url: 'https://s', token: 't' }, { host: 'h' })) as Record<string, unknown>;
    expect(noIndex).not.toHaveProperty('index');
    expect(noIndex['sourcetype']).toBe('_json');
  });

  it('the endpoint is <url>/services/collector/event, and its answers are described', () => {
    expect(hecEndpoint('https://splunk:8088')).toBe('https://splunk:8088/services/collector/event');
    expect(hecEndpoint('https://splunk:8088/')).toBe('https://splunk:8088/services/collector/event');
    expect(hecEndpoint('https://splunk:8088/services/collector/event')).toBe('https://splunk:8088/services/collector/event');
    expect(hecEndpoint('https://proxy/splunk/')).toBe('https://proxy/splunk/services/collector/event');
    expect(describeHecAnswer('{"text":"Invalid data format","code":6,"invalid-event-number":3}')).toBe('HEC code 6 (Invalid data format), event 3 of the batch');
    expect(describeHecAnswer('<html>')).toBeNull();
  });
});

describe('webhook signature', () => {
  const secret = 'whsec_0123456789abcdef';
  const body = ndjsonBody([ev(), ev({ id: 'aud_2' })]);
  const now = 1_776_939_305_000;

  it('the body is NDJSON, one event a line, each carrying its id', () => {
    const lines = body.split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(0, -1).map((l) => (JSON.parse(l) as ForwardedEvent).id)).toEqual(['aud_01J3L', 'aud_2']);
  });

  it('verifies: v1 is HMAC-SHA256 of "<t>.<body>"', () => {
    const h = signatureHeader(secret, now / 1000, body);
    expect(h).toMatch(/^t=1776939305,v1=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature(h, body, { secret, nowMs: now })).toEqual({ ok: true, timestamp: 1776939305 });
    expect(verifyWebhookSignature(h, Buffer.from(body), { secret, nowMs: now + 299_000 }).ok).toBe(true);
  });

  it('refuses a tampered body, a wrong secret, an old t, a missing or malformed header', () => {
    const h = signatureHeader(secret, now / 1000, body);
    expect(verifyWebhookSignature(h, body.replace('aud_2', 'aud_3'), { secret, nowMs: now })).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifyWebhookSignature(h, body, { secret: 'other', nowMs: now })).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifyWebhookSignature(h, body, { secret, nowMs: now + 301_000 })).toEqual({ ok: false, reason: 'expired' });
    expect(verifyWebhookSignature(h, body, { secret, nowMs: now - 301_000 })).toEqual({ ok: false, reason: 'expired' });
    // The t is signed: moving it to a fresh time breaks the HMAC.
    expect(verifyWebhookSignature(h.replace('t=1776939305', 't=1776939999'), body, { secret, nowMs: now + 694_000 })).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifyWebhookSignature(undefined, body, { secret, nowMs: now })).toEqual({ ok: false, reason: 'missing' });
    for (const bad of ['v1=abc', 't=1,v1=xyz', 't=abc,v1=' + '0'.repeat(64), 'garbage']) {
      expect(verifyWebhookSignature(bad, body, { secret, nowMs: now })).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  it('accepts any one matching v1 among several (secret rotation)', () => {
    const h = signatureHeader(secret, now / 1000, body);
    const other = signatureHeader('old-secret', now / 1000, body).split(',v1=')[1];
    expect(verifyWebhookSignature(`${h},v1=${other}`, body, { secret, nowMs: now }).ok).toBe(true);
  });
});

describe('HTTP answer helpers', () => {
  it('Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-04-23T10:15:05Z');
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter('Thu, 23 Apr 2026 10:15:35 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Thu, 23 Apr 2026 10:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('masks secrets a receiver echoes back', () => {
    expect(maskSecrets('bad token abcd1234 here abcd1234', ['abcd1234'])).toBe('bad token [redacted] here [redacted]');
  });
});
