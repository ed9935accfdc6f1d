// SIEM forwarding's shared vocabulary: what a destination is, what is forwarded to it, and what a
// delivery attempt can come to. The API (api/siem/), the senders (infra/siem/) and the forwarder
// (processors/siem/forwarder*.ts) all speak it.
import type { AuditEvent } from '../../schemas/event-model.ts';

export const DESTINATION_TYPES = ['splunk_hec', 'syslog', 'webhook'] as const;
export type DestinationType = (typeof DESTINATION_TYPES)[number];

export interface SplunkHecConfig {
  /** Base URL of the HEC endpoint (`https://splunk:8088`); events go to `<url>/services/collector/event`. */
  url: string;
  token: string;
  index?: string;
  sourcetype?: string;
  source?: string;
}

export interface SyslogConfig {
  host: string;
  port: number;
  transport: 'tcp' | 'tls' | 'udp';
  format: 'cef' | 'json';
  app_name?: string;
  /** TLS only: PEM of the CA that signed the receiver's certificate (default: the system's CAs). */
  ca_pem?: string;
}

export interface WebhookConfig {
  url: string;
  secret: string;
  headers?: Record<string, string>;
}

export type DestinationConfig =
  | { type: 'splunk_hec'; config: SplunkHecConfig }
  | { type: 'syslog'; config: SyslogConfig }
  | { type: 'webhook'; config: WebhookConfig };

/** Which config fields are secrets: stored, never returned in responses or written to logs. */
export const SECRET_FIELDS: Readonly<Record<DestinationType, readonly string[]>> = {
  splunk_hec: ['token'],
  syslog: [],
  webhook: ['secret'],
};

export interface DestinationFilter {
  categories?: string[];
  /** The lowest severity forwarded (schemas/event-model.ts SEVERITIES, debug lowest). */
  min_severity?: string;
  event_types?: string[];
}

/**
 * What is forwarded: the canonical audit event (every field, tenant included) with `details`
 * parsed into an object. Decided: SIEMs want the full record (category, severity, event_type),
 * which the ScaiVault `logs[]` entry leaves out.
 */
export type ForwardedEvent = Omit<AuditEvent, 'details'> & { details: unknown };

/** How one delivery attempt of a batch ended. */
export type DeliveryResult =
  /** The receiver took the batch (2xx; for syslog, the bytes were written and the socket stayed up). */
  | { kind: 'delivered'; status?: number }
  /** Worth retrying: 5xx, 429, a timeout, a connection error. `retryAfterMs` from a 429's Retry-After. */
  | { kind: 'retry'; reason: string; status?: number; retryAfterMs?: number }
  /** Refused for good (any other 4xx): the batch goes to the destination's dead letters. */
  | { kind: 'rejected'; status: number; body: string };

/** Sends batches to one destination. One sender per destination; `send` calls are never concurrent. */
export interface SiemSender {
  send(events: readonly ForwardedEvent[]): Promise<DeliveryResult>;
  close(): Promise<void>;
}
