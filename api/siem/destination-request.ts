// The bodies of POST /v1/siem/destinations and PATCH /v1/siem/destinations/{id}, checked field by
// field: every problem is reported at once as 400 VALIDATION_FAILED with its JSON pointer.
// A PATCH is an RFC 7396 merge patch of the stored {name, config, filter} — so a secret left out
// keeps its stored value and `null` removes an optional field — and the merged result is checked
// like a new destination. `type` and `start` are fixed at creation (the forwarder resolved `start`
// into the destination's position; a replay re-delivers a range).
import { isIP } from 'node:net';
import { CATEGORIES, SEVERITIES } from '../../schemas/event-model.ts';
import { toUtcIso } from '../../schemas/instant.ts';
import type { Destination, DestinationInput, DestinationStart } from '../../processors/siem/destinations.ts';
import { DESTINATION_TYPES, SECRET_FIELDS, type DestinationConfig, type DestinationFilter, type DestinationType } from '../../processors/siem/siem-types.ts';
import { isReservedWebhookHeader } from '../../infra/siem/http-sender.ts';
import { BodyReader, objectBody } from '../exports/export-request.ts';

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** RFC 5424 APP-NAME: 1 to 48 printable US-ASCII characters. */
const APP_NAME = /^[\x21-\x7e]{1,48}$/;
const EVENT_TYPE = /^[\x21-\x7e]{1,128}$/;
const CONTROL = /[\x00-\x1f\x7f]/;
export const WEBHOOK_SECRET_MIN = 16;
/** `start` may lie this far ahead of our clock (a client's clock skew), no further. */
const START_SKEW_MS = 60_000;

type Config = DestinationConfig['config'];

/** Reads a nested object's fields into its own reader; its problems are reported under `path`. */
function nested(r: BodyReader, path: string, raw: unknown, read: (n: BodyReader) => void): void {
  if (raw === undefined || raw === null) return void r.fail(path, 'is required');
  if (typeof raw !== 'object' || Array.isArray(raw)) return void r.fail(path, 'must be an object');
  const n = new BodyReader(raw as Record<string, unknown>);
  read(n);
  for (const d of n.details) r.fail(`${path}${d.path}`, d.message);
}

function text(r: BodyReader, name: string, opts: { required?: boolean; max: number; pattern?: RegExp; patternMessage?: string }): string | undefined {
  const v = r.string(name, opts);
  if (v === undefined) return undefined;
  if (opts.pattern ? !opts.pattern.test(v) : CONTROL.test(v)) return r.fail(`/${name}`, opts.patternMessage ?? 'must not contain control characters');
  return v;
}

function httpUrl(r: BodyReader, name: string): string | undefined {
  const v = r.string(name, { required: true, max: 2048 });
  if (v === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return r.fail(`/${name}`, 'must be an absolute http or https URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return r.fail(`/${name}`, 'must be an absolute http or https URL');
  // Credentials belong in the secret fields, which are never shown; a URL is.
  if (u.username !== '' || u.password !== '') return r.fail(`/${name}`, 'must not carry credentials (user:password@): use the token, secret or headers');
  if (u.hash !== '') return r.fail(`/${name}`, 'must not have a #fragment');
  return v;
}

/** Secret fields: `<field>_set` is how views show them, so a client echoing a view back is told what to send. */
function refuseUnknown(r: BodyReader, type: DestinationType, known: readonly string[]): void {
  for (const k of Object.keys(r.body)) {
    if (known.includes(k)) continue;
    const secret = SECRET_FIELDS[type].find((f) => k === `${f}_set`);
    r.fail(`/${k}`, secret ? `is read-only: send ${secret} to replace the stored one, or leave it out to keep it` : 'unknown field');
  }
}

function readSplunk(r: BodyReader): Config | undefined {
  const url = httpUrl(r, 'url');
  const token = text(r, 'token', { required: true, max: 512, pattern: /^[\x21-\x7e]+$/, patternMessage: 'must be printable ASCII without spaces' });
  const index = text(r, 'index', { max: 256 });
  const sourcetype = text(r, 'sourcetype', { max: 256 });
  const source = text(r, 'source', { max: 256 });
  refuseUnknown(r, 'splunk_hec', ['url', 'token', 'index', 'sourcetype', 'source']);
  if (url === undefined || token === undefined) return undefined;
  return { url, token, ...(index !== undefined ? { index } : {}), ...(sourcetype !== undefined ? { sourcetype } : {}), ...(source !== undefined ? { source } : {}) };
}

function readSyslog(r: BodyReader): Config | undefined {
  const host = r.string('host', { required: true, max: 253 });
  if (host !== undefined && isIP(host) === 0 && !HOSTNAME.test(host)) r.fail('/host', 'must be a host name or an IP address');
  const port = r.body['port'];
  const portOk = typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535;
  if (!portOk) r.fail('/port', port === undefined || port === null ? 'is required' : 'must be an integer from 1 to 65535');
  const transport = r.oneOf('transport', ['tcp', 'tls', 'udp'] as const, { required: true });
  const format = r.oneOf('format', ['cef', 'json'] as const, { required: true });
  const appName = text(r, 'app_name', { max: 48, pattern: APP_NAME, patternMessage: 'must be 1 to 48 printable US-ASCII characters (RFC 5424 APP-NAME)' });
  const ca = r.string('ca_pem', { max: 65_536 });
  if (ca !== undefined && transport !== undefined && transport !== 'tls') r.fail('/ca_pem', 'is only for transport tls');
  else if (ca !== undefined && !ca.includes('-----BEGIN CERTIFICATE-----')) r.fail('/ca_pem', 'must be PEM (-----BEGIN CERTIFICATE-----)');
  refuseUnknown(r, 'syslog', ['host', 'port', 'transport', 'format', 'app_name', 'ca_pem']);
  if (host === undefined || !portOk || transport === undefined || format === undefined) return undefined;
  return { host, port: port as number, transport, format, ...(appName !== undefined ? { app_name: appName } : {}), ...(ca !== undefined ? { ca_pem: ca } : {}) };
}

function readHeaders(r: BodyReader): Record<string, string> | undefined {
  const raw = r.body['headers'];
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) return r.fail('/headers', 'must be an object of header names to values');
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length > 32) return r.fail('/headers', 'must have at most 32 headers');
  const seen = new Set<string>();
  const out: Record<string, string> = {};
  for (const [name, value] of entries) {
    const lower = name.toLowerCase();
    if (!HEADER_NAME.test(name)) r.fail(`/headers/${name}`, 'is not a valid header name');
    else if (isReservedWebhookHeader(name)) r.fail(`/headers/${name}`, 'is set by auditflow (or by HTTP itself) and cannot be overridden');
    else if (seen.has(lower)) r.fail(`/headers/${name}`, 'is given twice (header names are case-insensitive)');
    else if (typeof value !== 'string' || value.length > 4096) r.fail(`/headers/${name}`, 'must be a string of at most 4096 characters');
    else if (/[\r\n\0]/.test(value)) r.fail(`/headers/${name}`, 'must not contain CR, LF or NUL');
    else out[name] = value;
    seen.add(lower);
  }
  return out;
}

function readWebhook(r: BodyReader): Config | undefined {
  const url = httpUrl(r, 'url');
  const secret = r.string('secret', { required: true, max: 512 });
  if (secret !== undefined && secret.length < WEBHOOK_SECRET_MIN) r.fail('/secret', `must be at least ${WEBHOOK_SECRET_MIN} characters`);
  const headers = readHeaders(r);
  refuseUnknown(r, 'webhook', ['url', 'secret', 'headers']);
  if (url === undefined || secret === undefined || secret.length < WEBHOOK_SECRET_MIN) return undefined;
  return { url, secret, ...(headers !== undefined && Object.keys(headers).length > 0 ? { headers } : {}) };
}

const CONFIG_READERS: Record<DestinationType, (r: BodyReader) => Config | undefined> = { splunk_hec: readSplunk, syslog: readSyslog, webhook: readWebhook };

function stringList(r: BodyReader, name: string, max: number, check: (s: string) => string | null): string[] | undefined {
  const v = r.body[name];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length === 0) return r.fail(`/${name}`, 'must be a non-empty list (leave it out to forward all)');
  if (v.length > max) return r.fail(`/${name}`, `must have at most ${max} items`);
  let ok = true;
  v.forEach((x, i) => {
    const problem = typeof x === 'string' ? check(x) : 'must be a string';
    if (problem !== null) {
      ok = false;
      r.fail(`/${name}/${i}`, problem);
    }
  });
  return ok ? [...new Set(v as string[])] : undefined;
}

function readFilter(r: BodyReader): DestinationFilter {
  const categories = stringList(r, 'categories', CATEGORIES.length, (s) => ((CATEGORIES as readonly string[]).includes(s) ? null : `must be one of ${CATEGORIES.join(', ')}`));
  const minSeverity = r.oneOf('min_severity', SEVERITIES);
  const eventTypes = stringList(r, 'event_types', 100, (s) => (EVENT_TYPE.test(s) ? null : 'must be 1 to 128 printable characters without spaces'));
  r.onlyKnown(['categories', 'min_severity', 'event_types']);
  return { ...(categories ? { categories } : {}), ...(minSeverity ? { min_severity: minSeverity } : {}), ...(eventTypes ? { event_types: eventTypes } : {}) };
}

function readStart(r: BodyReader, now: number): DestinationStart {
  const v = r.string('start', { max: 64 });
  if (v === undefined || v === 'now' || v === 'oldest') return v ?? 'now';
  const iso = toUtcIso(v);
  if (iso === null) return r.fail('/start', 'must be "now", "oldest" or an ISO 8601 date-time') ?? 'now';
  if (Date.parse(iso) > now + START_SKEW_MS) return r.fail('/start', 'must not be in the future') ?? 'now';
  return iso;
}

/** name, type, config and filter: what a new destination and a merged PATCH both have. */
function readCommon(r: BodyReader, typeFixed?: DestinationType): (DestinationConfig & { name: string; filter: DestinationFilter }) | undefined {
  const name = text(r, 'name', { required: true, max: 200 });
  const type = typeFixed ?? r.oneOf('type', DESTINATION_TYPES, { required: true });
  let config: Config | undefined;
  if (type !== undefined) nested(r, '/config', r.body['config'], (n) => { config = CONFIG_READERS[type](n); });
  let filter: DestinationFilter = {};
  if (r.body['filter'] !== undefined && r.body['filter'] !== null) nested(r, '/filter', r.body['filter'], (n) => { filter = readFilter(n); });
  if (name === undefined || type === undefined || config === undefined) return undefined;
  return { name, filter, ...({ type, config } as DestinationConfig) };
}

/** POST /v1/siem/destinations. */
export function readNewDestination(body: unknown, now = Date.now()): DestinationInput {
  const r = new BodyReader(objectBody(body));
  const common = readCommon(r);
  const start = readStart(r, now);
  r.onlyKnown(['name', 'type', 'config', 'filter', 'start']);
  r.done();
  return { ...common!, start };
}

/** POST …/{id}/seek `{start}`: "oldest" or an instant ("now" is resolved to the request's time). */
export function readSeek(body: unknown, now = Date.now()): DestinationStart {
  const r = new BodyReader(objectBody(body));
  if (r.body['start'] === undefined) r.fail('/start', 'is required');
  const start = readStart(r, now);
  r.onlyKnown(['start']);
  r.done();
  return start === 'now' ? new Date(now).toISOString() : start;
}

/** RFC 7396: objects merge key by key, `null` removes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** PATCH /v1/siem/destinations/{id}: the stored destination with the patch merged in, checked whole. */
export function readDestinationPatch(stored: Destination, body: unknown): Pick<DestinationInput, 'name' | 'config' | 'filter'> {
  const patch = objectBody(body);
  const fixed = new BodyReader(patch);
  for (const k of ['type', 'start'] as const) if (k in patch) fixed.fail(`/${k}`, 'is fixed when the destination is created (create a new destination, or request a replay)');
  if ('status' in patch) fixed.fail('/status', 'is changed with POST …/pause and …/resume');
  fixed.onlyKnown(['name', 'config', 'filter', 'type', 'start', 'status']);
  fixed.done();
  const merged = mergePatch({ name: stored.name, config: stored.config, filter: stored.filter }, patch) as Record<string, unknown>;
  const r = new BodyReader(merged);
  const common = readCommon(r, stored.type);
  r.done();
  return { name: common!.name, config: common!.config, filter: common!.filter } as Pick<DestinationInput, 'name' | 'config' | 'filter'>;
}
