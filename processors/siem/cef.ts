// ArcSight Common Event Format (CEF:0) for one forwarded event (pure).
//
//   CEF:0|Auditflow|auditflow|1|<signature id>|<name>|<severity>|<extension>
//
// Escaping, as the CEF specification and logstash-codec-cef do it:
//  - header fields: `\` → `\\`, `|` → `\|`; CR / LF are not allowed there and become a space;
//  - extension values: `\` → `\\`, `=` → `\=`, LF → `\n`, CR → `\r` (each kept, so a parser gets the
//    original text back); `|` needs no escaping in the extension.
// Keys are ours and fixed. An empty or null field is left out (its label with it). The free-text
// `details` JSON goes last, so a receiver that truncates long messages cuts it before anything else.
import { isIPv4, isIPv6 } from 'node:net';
import { SEVERITIES } from '../../schemas/event-model.ts';
import type { ForwardedEvent } from './siem-types.ts';

export const CEF_VENDOR = 'Auditflow';
export const CEF_PRODUCT = 'auditflow';
/** Device Version: the version of this mapping (a SIEM parser can key on it), not of the product. */
export const CEF_MAPPING_VERSION = '1';

/** Event severity → CEF 0–10 (0–3 Low, 4–6 Medium, 7–8 High, 9–10 Very-High). */
export const CEF_SEVERITY: Readonly<Record<(typeof SEVERITIES)[number], number>> = {
  debug: 0, info: 3, notice: 4, warning: 6, error: 7, critical: 8, alert: 9, emergency: 10,
};

export function cefSeverity(severity: string): number {
  return CEF_SEVERITY[severity.toLowerCase() as keyof typeof CEF_SEVERITY] ?? CEF_SEVERITY.info;
}

export function escapeCefHeader(value: string): string {
  return value.replace(/[\\|]/g, (c) => `\\${c}`).replace(/\r\n|[\r\n]/g, ' ');
}

export function escapeCefValue(value: string): string {
  return value.replace(/[\\=\r\n]/g, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\${c}`));
}

/**
 * The extension keys, in order: [key, value] (a `…Label` pair for the custom fields). Standard
 * ArcSight keys where one means the same thing; cs1–cs6 / cn1 / flexString1–2 with labels for the rest.
 */
export function cefExtension(e: ForwardedEvent): [string, string][] {
  const out: [string, string][] = [];
  const add = (key: string, value: string | number | null | undefined): void => {
    if (value === null || value === undefined || value === '') return;
    out.push([key, String(value)]);
  };
  const custom = (key: string, label: string, value: string | number | null | undefined): void => {
    if (value === null || value === undefined || value === '') return;
    out.push([key, String(value)], [`${key}Label`, label]);
  };
  const t = Date.parse(e.event_time);
  add('rt', Number.isFinite(t) ? t : null); // milliseconds since the epoch: no time-zone ambiguity
  add('externalId', e.id);
  add('cat', e.category);
  add('act', e.action);
  add('outcome', e.outcome);
  add('suid', e.actor_id);
  add('suser', e.actor_email);
  if (isIPv4(e.source_ip)) add('src', e.source_ip);
  else if (isIPv6(e.source_ip)) custom('c6a2', 'Source IPv6 Address', e.source_ip);
  else custom('flexString2', 'source_ip', e.source_ip); // not an address: kept as text
  add('requestClientApplication', e.user_agent);
  add('fileType', e.resource_type);
  add('fileId', e.resource_id);
  add('fname', e.resource_name);
  add('filePath', e.resource_path);
  custom('cn1', 'duration_ms', e.duration_ms);
  custom('cs1', 'tenant_id', e.tenant_id);
  custom('cs2', 'request_id', e.request_id);
  custom('cs3', 'share_id', e.share_id);
  custom('cs4', 'service_account', e.service_account);
  custom('cs5', 'partner_id', e.partner_id);
  custom('flexString1', 'actor_type', e.actor_type);
  add('sourceServiceName', e.action_source);
  const details = e.details !== null && typeof e.details === 'object' && Object.keys(e.details).length > 0 ? JSON.stringify(e.details) : '';
  // Label first: a cut at the end of a long message leaves the label standing.
  if (details !== '') out.push(['cs6Label', 'details'], ['cs6', details]);
  return out;
}

/** The CEF:0 record for an event (no syslog header: syslog-message.ts adds it). */
export function cefRecord(e: ForwardedEvent): string {
  const signature = e.event_type || e.action || 'audit';
  const name = [e.action, e.resource_type].filter((s) => s !== '').join(' ') || signature;
  const header = ['CEF:0', CEF_VENDOR, CEF_PRODUCT, CEF_MAPPING_VERSION, signature, name].map(escapeCefHeader).join('|');
  const ext = cefExtension(e).map(([k, v]) => `${k}=${escapeCefValue(v)}`).join(' ');
  return `${header}|${cefSeverity(e.severity)}|${ext}`;
}
