// RFC 5424 syslog messages for forwarded events, and their framing on the wire (pure).
//
//   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [auditflow@32473 id="…" tenant="…" …] BOM MSG
//
// - PRI = facility 13 ("log audit", RFC 5424 table 1) × 8 + the event's severity mapped below.
// - TIMESTAMP is the event's time (RFC 3339, UTC, milliseconds), not the time of sending.
// - HOSTNAME / APP-NAME / PROCID / MSGID are PRINTUSASCII (other characters → `_`), cut to their
//   RFC lengths (255 / 48 / 128 / 32); an empty one is the NILVALUE `-`.
// - STRUCTURED-DATA: one element whose SD-PARAM values escape `"`, `\` and `]` with a backslash.
//   32473 is the documentation enterprise number of RFC 5612 (we have no registered PEN).
// - MSG: CEF or JSON, UTF-8, so it starts with the BOM (RFC 5424 §6.4: MUST when MSG is UTF-8).
// Framing: TCP and TLS use octet counting (RFC 6587 §3.4.1), `<byte length> <message>`, so a
// message may hold any byte (a newline included); UDP carries one bare message per datagram.
import { SEVERITIES } from '../../schemas/event-model.ts';
import { cefRecord } from './cef.ts';
import type { ForwardedEvent } from './siem-types.ts';

export const SYSLOG_FACILITY = 13;
export const SD_ID = 'auditflow@32473';
export const DEFAULT_APP_NAME = 'auditflow';
/**
 * The largest UDP datagram sent: every RFC 5426 receiver SHOULD take 2048 octets. A longer message
 * keeps its header and structured data whole, gets `truncated="<full length>"` in it, and has its
 * MSG cut at a character boundary (the full event stays readable by its id through the API).
 */
export const UDP_MAX_BYTES = 2048;

/** Event severity → syslog severity (RFC 5424 §6.2.1: the same eight names, 0 emergency … 7 debug). */
export const SYSLOG_SEVERITY: Readonly<Record<(typeof SEVERITIES)[number], number>> = {
  emergency: 0, alert: 1, critical: 2, error: 3, warning: 4, notice: 5, info: 6, debug: 7,
};

export function syslogSeverity(severity: string): number {
  return SYSLOG_SEVERITY[severity.toLowerCase() as keyof typeof SYSLOG_SEVERITY] ?? SYSLOG_SEVERITY.info;
}

export function syslogPri(severity: string): number {
  return SYSLOG_FACILITY * 8 + syslogSeverity(severity);
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** An SD-PARAM value: `"`, `\` and `]` escaped (RFC 5424 §6.3.3). */
export function escapeSdValue(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** A header field: PRINTUSASCII only, at most `max` characters, `-` when empty. */
export function headerField(value: string, max: number): string {
  const s = value.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return s === '' ? '-' : s;
}

/** At most `max` characters, never splitting a surrogate pair. */
function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  const cut = s.slice(0, max);
  return /[\ud800-\udbff]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/** SD values besides id and tenant are routing hints, clipped; MSG carries every field in full. */
const SD_HINT_MAX = 128;

function structuredData(e: ForwardedEvent, truncatedFrom?: number): string {
  const params: [string, string][] = [['id', e.id], ['tenant', e.tenant_id]];
  const hint = (name: string, v: string): void => { if (v !== '') params.push([name, clip(v, SD_HINT_MAX)]); };
  hint('partner', e.partner_id);
  hint('category', e.category);
  hint('event_type', e.event_type);
  if (truncatedFrom !== undefined) params.push(['truncated', String(truncatedFrom)]);
  return `[${SD_ID}${params.map(([k, v]) => ` ${k}="${escapeSdValue(v)}"`).join('')}]`;
}

export interface SyslogOptions {
  format: 'cef' | 'json';
  /** The forwarder's host name (HOSTNAME). */
  hostname: string;
  appName?: string | undefined;
  procId?: string | number | undefined;
}

function header(e: ForwardedEvent, o: SyslogOptions): string {
  const t = Date.parse(e.event_time);
  const ts = Number.isFinite(t) ? new Date(t).toISOString() : '-';
  return `<${syslogPri(e.severity)}>1 ${ts} ${headerField(o.hostname, 255)} ${headerField(o.appName ?? DEFAULT_APP_NAME, 48)} `
    + `${headerField(o.procId === undefined ? '' : String(o.procId), 128)} ${headerField(e.event_type || e.action, 32)}`;
}

export function syslogBody(e: ForwardedEvent, format: 'cef' | 'json'): string {
  return format === 'cef' ? cefRecord(e) : JSON.stringify(e);
}

/** One RFC 5424 message, as bytes. */
export function syslogMessage(e: ForwardedEvent, o: SyslogOptions): Buffer {
  return Buffer.concat([Buffer.from(`${header(e, o)} ${structuredData(e)} `), BOM, Buffer.from(syslogBody(e, o.format))]);
}

/** Cuts UTF-8 bytes to at most `max` without splitting a character. */
export function utf8Prefix(bytes: Buffer, max: number): Buffer {
  if (bytes.length <= max) return bytes;
  let end = Math.max(0, max);
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--; // a continuation byte: back to its lead
  return bytes.subarray(0, end);
}

/** One message for a UDP datagram, at most `maxBytes` (see UDP_MAX_BYTES). */
export function syslogDatagram(e: ForwardedEvent, o: SyslogOptions, maxBytes = UDP_MAX_BYTES): Buffer {
  const full = syslogMessage(e, o);
  if (full.length <= maxBytes) return full;
  const head = Buffer.concat([Buffer.from(`${header(e, o)} ${structuredData(e, full.length)} `), BOM]);
  const body = Buffer.from(syslogBody(e, o.format));
  return Buffer.concat([head, utf8Prefix(body, maxBytes - head.length)]);
}

/** RFC 6587 octet-counting: `<length in bytes> <message>`. */
export function octetCounted(message: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${message.length} `), message]);
}

/** A batch for a TCP / TLS stream: every message octet-counted, back to back, in order. */
export function syslogStream(events: readonly ForwardedEvent[], o: SyslogOptions): Buffer {
  return Buffer.concat(events.map((e) => octetCounted(syslogMessage(e, o))));
}
