// HTTP senders: Splunk HEC and signed webhooks, over Node's fetch with a timeout. One POST per
// batch; the answer becomes a DeliveryResult:
//   2xx → delivered · 5xx, 408, timeouts, connection errors → retry · 429 → retry with Retry-After
//   (seconds or an HTTP date; a 503's Retry-After is honoured too) · any other status → rejected,
//   with the status and the first 4 KiB of the answer (secrets masked) for the dead letter.
// Redirects are not followed (a 3xx is rejected): a token never goes to a host nobody configured.
// Reasons name the status or the error code only — never the URL (it may carry a key), a header or a secret.
import { randomUUID } from 'node:crypto';
import { describeHecAnswer, hecBody, hecEndpoint } from '../../processors/siem/splunk-hec.ts';
import type { DeliveryResult, ForwardedEvent, SiemSender, SplunkHecConfig, WebhookConfig } from '../../processors/siem/siem-types.ts';
import { EVENT_COUNT_HEADER, NDJSON, SIGNATURE_HEADER, ndjsonBody, signatureHeader } from '../../processors/siem/webhook-signature.ts';

export const DEFAULT_TIMEOUT_MS = 10_000;
/** How much of a refusal's body is kept (the dead letter's `body`). */
export const MAX_ANSWER_BYTES = 4096;
const USER_AGENT = 'auditflow-siem/1';

export interface SenderLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface HttpSenderOptions {
  timeoutMs?: number | undefined;
  logger?: SenderLogger | undefined;
  /** HEC `host`. */
  hostname: string;
  /** The clock, for the signature's `t` and an HTTP-date Retry-After. */
  now?: () => number;
}

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP date → milliseconds from now; undefined when unusable. */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : undefined;
}

/** Replaces every secret in `text` (a receiver might echo a header back). */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let s = text;
  for (const secret of secrets) if (secret.length >= 4) s = s.split(secret).join('[redacted]');
  return s;
}

/** At most `max` bytes of a body, then the rest is cancelled (a huge error page is not read). */
async function readSnippet(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const all = Buffer.concat(chunks);
  return new TextDecoder('utf-8', { fatal: false }).decode(all.subarray(0, max));
}

/** What a thrown fetch error was, without its message (undici's can quote a header value). */
function errorReason(e: unknown, timeoutMs: number): string {
  const err = e as { name?: string; cause?: { code?: string; name?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return `timeout after ${timeoutMs} ms`;
  const code = err.cause?.code ?? err.cause?.name;
  return code ? `connection error (${code})` : `request not sent (${err.name ?? 'error'})`;
}

interface Post {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** Masked out of any answer kept. */
  secrets: string[];
  /** A readable reason from an answer body (HEC's codes). */
  describe?: (body: string) => string | null;
}

async function post(p: Post, timeoutMs: number, nowMs: () => number): Promise<DeliveryResult> {
  let res: Response;
  try {
    res = await fetch(p.url, { method: 'POST', headers: p.headers, body: p.body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    return { kind: 'retry', reason: errorReason(e, timeoutMs) };
  }
  let text: string;
  try {
    text = maskSecrets(await readSnippet(res, MAX_ANSWER_BYTES), p.secrets);
  } catch (e) {
    // The answer's status arrived but its body broke off: a 2xx still counts, anything else is retried.
    if (res.status >= 200 && res.status < 300) return { kind: 'delivered', status: res.status };
    return { kind: 'retry', reason: errorReason(e, timeoutMs), status: res.status };
  }
  const status = res.status;
  if (status >= 200 && status < 300) return { kind: 'delivered', status };
  const described = p.describe?.(text);
  const reason = `HTTP ${status}${described ? `: ${described}` : ''}`;
  if (status === 429 || status === 503) {
    const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), nowMs());
    return retryAfterMs === undefined ? { kind: 'retry', reason, status } : { kind: 'retry', reason, status, retryAfterMs };
  }
  if (status >= 500 || status === 408) return { kind: 'retry', reason, status };
  return { kind: 'rejected', status, body: text };
}

/** Splunk HEC: `Authorization: Splunk <token>`, one channel per sender (tokens with indexer acknowledgement require one). */
export function splunkHecSender(config: SplunkHecConfig, opts: HttpSenderOptions): SiemSender {
  const url = hecEndpoint(config.url);
  const channel = randomUUID();
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const now = opts.now ?? Date.now;
  return {
    send(events: readonly ForwardedEvent[]) {
      return post({
        url,
        headers: {
          authorization: `Splunk ${config.token}`,
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          'x-splunk-request-channel': channel,
        },
        body: hecBody(events, config, { host: opts.hostname }),
        secrets: [config.token],
        describe: describeHecAnswer,
      }, timeoutMs, now);
    },
    async close() { /* fetch keeps no state of ours */ },
  };
}

/** Header names a destination's `headers` may not set: ours, and those fetch or HTTP own. */
const RESERVED = new Set(['content-type', 'content-length', 'content-encoding', 'host', 'connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'expect']);
export function isReservedWebhookHeader(name: string): boolean {
  const n = name.toLowerCase();
  return RESERVED.has(n) || n.startsWith('x-auditflow-');
}

const CREDENTIAL_HEADER = /auth|token|key|secret|cookie|signature|password/i;

/** Signed NDJSON batches (processors/siem/webhook-signature.ts). */
export function webhookSender(config: WebhookConfig, opts: HttpSenderOptions): SiemSender {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const now = opts.now ?? Date.now;
  const extra: Record<string, string> = { 'user-agent': USER_AGENT };
  for (const [k, v] of Object.entries(config.headers ?? {})) if (!isReservedWebhookHeader(k)) extra[k.toLowerCase()] = v;
  // Configured credentials for the receiver are masked too.
  const secrets = [config.secret, ...Object.entries(config.headers ?? {}).filter(([k]) => CREDENTIAL_HEADER.test(k)).map(([, v]) => v)];
  return {
    send(events: readonly ForwardedEvent[]) {
      const body = ndjsonBody(events);
      return post({
        url: config.url,
        // Ours last: a configured header can never replace them.
        headers: {
          ...extra,
          'content-type': NDJSON,
          [SIGNATURE_HEADER.toLowerCase()]: signatureHeader(config.secret, now() / 1000, body),
          [EVENT_COUNT_HEADER.toLowerCase()]: String(events.length),
        },
        body,
        secrets,
      }, timeoutMs, now);
    },
    async close() { /* nothing held */ },
  };
}
