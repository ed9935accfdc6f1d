// Splunk HTTP Event Collector: the JSON event protocol of `/services/collector/event` (pure).
// A batch is the event objects one after another (HEC reads a stream of JSON objects), one a line:
//
//   {"time":1776939305.123,"host":"fwd-1","source":"auditflow","sourcetype":"_json","index":"audit","event":{…}}
//
// `time` is the event's time in epoch seconds with milliseconds; `index` is sent only when
// configured (otherwise the token's default index); `event` is the forwarded event.
import type { ForwardedEvent, SplunkHecConfig } from './siem-types.ts';

export const HEC_PATH = '/services/collector/event';
export const HEC_DEFAULT_SOURCE = 'auditflow';
/** `_json`: Splunk extracts the event's fields at search time without an add-on. */
export const HEC_DEFAULT_SOURCETYPE = '_json';

/** `<url>/services/collector/event`, whatever the configured base ends with. */
export function hecEndpoint(baseUrl: string): string {
  const u = new URL(baseUrl);
  const base = u.pathname.replace(/\/+$/, '');
  u.pathname = base.endsWith(HEC_PATH) ? base : `${base}${HEC_PATH}`;
  return u.toString();
}

/** Epoch seconds with exactly three decimals, as a JSON number token (`1776939305.120`). */
export function hecTime(iso: string): string | null {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return null;
  const s = Math.floor(ms / 1000);
  return `${s}.${String(ms - s * 1000).padStart(3, '0')}`;
}

export interface HecOptions {
  /** HEC `host`: the forwarder's host name. */
  host: string;
}

/** The metadata every event of a destination shares, serialised once. */
function envelope(config: SplunkHecConfig, o: HecOptions): string {
  let s = `"host":${JSON.stringify(o.host)},"source":${JSON.stringify(config.source || HEC_DEFAULT_SOURCE)},`
    + `"sourcetype":${JSON.stringify(config.sourcetype || HEC_DEFAULT_SOURCETYPE)},`;
  if (config.index) s += `"index":${JSON.stringify(config.index)},`;
  return s;
}

function hecEvent(e: ForwardedEvent, env: string): string {
  const t = hecTime(e.event_time);
  // No time → HEC stamps the event when it receives it.
  return `{${t === null ? '' : `"time":${t},`}${env}"event":${JSON.stringify(e)}}`;
}

/** The request body for a batch. */
export function hecBody(events: readonly ForwardedEvent[], config: SplunkHecConfig, o: HecOptions): string {
  const env = envelope(config, o);
  return events.map((e) => hecEvent(e, env)).join('\n');
}

/** What HEC's JSON answer codes mean (Splunk's documented table); the HTTP status decides retry vs dead letter. */
export const HEC_CODES: Readonly<Record<number, string>> = {
  0: 'Success', 1: 'Token disabled', 2: 'Token is required', 3: 'Invalid authorization', 4: 'Invalid token',
  5: 'No data', 6: 'Invalid data format', 7: 'Incorrect index', 8: 'Internal server error', 9: 'Server is busy',
  10: 'Data channel is missing', 11: 'Invalid data channel', 12: 'Event field is required',
  13: 'Event field cannot be blank', 14: 'ACK is disabled', 15: 'Error in handling indexed fields',
  16: 'Query string authorization is not enabled', 17: 'HEC is healthy', 18: 'HEC is unhealthy, queues are full',
  19: 'HEC is unhealthy, ack service unavailable', 20: 'HEC is unhealthy, queues are full',
};

/** `HEC code 9 (Server is busy)` from an answer body `{"text":…,"code":9}`, or null when it is not one. */
export function describeHecAnswer(body: string): string | null {
  try {
    const v: unknown = JSON.parse(body);
    if (v === null || typeof v !== 'object') return null;
    const code = (v as { code?: unknown }).code;
    const text = (v as { text?: unknown }).text;
    if (typeof code !== 'number') return null;
    const invalid = (v as { 'invalid-event-number'?: unknown })['invalid-event-number'];
    return `HEC code ${code} (${typeof text === 'string' ? text : HEC_CODES[code] ?? 'unknown'})`
      + (typeof invalid === 'number' ? `, event ${invalid} of the batch` : '');
  } catch {
    return null;
  }
}
