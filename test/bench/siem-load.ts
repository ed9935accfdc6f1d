// bench:siem's vocabulary, shared by the bench, its ceiling client and its receivers: the five
// destination kinds measured, their destination configs, and the events — the ingest
// benchmark's realistic audit events (./events.ts), one tenant, ids `aud_<tag>_<tt>_<0000042>`
// so a receiver counts each event by its number without keeping ids.
import { forwardedFromLog } from '../../processors/siem/forwarded-event.ts';
import type { DestinationConfig, ForwardedEvent } from '../../processors/siem/siem-types.ts';
import { generateEvents, logForms, type BenchEvent } from './events.ts';

export const KINDS = [
  { kind: 'splunk_hec', label: 'Splunk HEC' },
  { kind: 'webhook', label: 'webhook (signed NDJSON)' },
  { kind: 'syslog_tcp', label: 'syslog TCP, CEF' },
  { kind: 'syslog_tls', label: 'syslog TLS, JSON' },
  { kind: 'syslog_udp', label: 'syslog UDP, CEF' },
] as const;
export type SiemKind = (typeof KINDS)[number]['kind'];
export const labelOf = (k: SiemKind): string => KINDS.find((x) => x.kind === k)!.label;

/** Where the receivers listen: the lean HTTP receiver, and rsyslogd's three inputs. */
export interface Endpoints {
  httpUrl: string;
  ports: Record<'tcp' | 'tls' | 'udp', number>;
  caPem: string;
}

export const HEC_TOKEN = 'bench-hec-token-0123456789';
export const WEBHOOK_SECRET = 'whsec_bench_0123456789abcdef';
/** Paths on the HTTP receiver (the HEC sender appends /services/collector/event). */
export const HEC_BASE = '/hec';
export const WEBHOOK_PATH = '/hook';

/** The destination as POST /v1/siem/destinations takes it (and as the ceiling client encodes for it). */
export function destinationConfig(kind: SiemKind, e: Endpoints): DestinationConfig {
  switch (kind) {
    case 'splunk_hec': return { type: 'splunk_hec', config: { url: `${e.httpUrl}${HEC_BASE}`, token: HEC_TOKEN } };
    case 'webhook': return { type: 'webhook', config: { url: `${e.httpUrl}${WEBHOOK_PATH}`, secret: WEBHOOK_SECRET } };
    case 'syslog_tcp': return { type: 'syslog', config: { host: '127.0.0.1', port: e.ports.tcp, transport: 'tcp', format: 'cef' } };
    case 'syslog_tls': return { type: 'syslog', config: { host: '127.0.0.1', port: e.ports.tls, transport: 'tls', format: 'json', ca_pem: e.caPem } };
    case 'syslog_udp': return { type: 'syslog', config: { host: '127.0.0.1', port: e.ports.udp, transport: 'udp', format: 'cef' } };
  }
}

/** Every event id of a run starts with this; the event's number follows, 7 digits. */
export const idPrefix = (tag: string, tenant: string): string => `aud_${tag}_${tenant.slice(-2)}_`;
export const idOf = (prefix: string, i: number): string => `${prefix}${String(i).padStart(7, '0')}`;

/** `n` events of one tenant as a producer sends them (the ids: idOf(idPrefix(tag, tenant), i)). */
export function benchEvents(n: number, tenant: string, tag: string): BenchEvent[] {
  return generateEvents({ events: n, tenants: [tenant], batch: 1, runTag: tag, seed: 0x51e0 });
}

/** What the forwarder sends for them: the log form (what HTTP ingest appends) → the forwarded event. */
export function forwardedEvents(events: BenchEvent[]): ForwardedEvent[] {
  return logForms(events).map((f) => forwardedFromLog(f));
}
