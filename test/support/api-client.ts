// A small client for the public APIs, used by the integration tests and the benchmark.
import { gzipSync } from 'node:zlib';

export interface Response<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

export async function ingest(
  baseUrl: string, token: string, kind: 'audit-events' | 'changes', events: unknown[],
  opts: { ndjson?: boolean; gzip?: boolean; rawBody?: Buffer | string; contentType?: string } = {},
): Promise<Response<{ accepted?: number; ids?: string[]; error?: string; code?: string; details?: { index?: number; path: string; message: string }[] }>> {
  let body: Buffer = opts.rawBody !== undefined ? Buffer.from(opts.rawBody)
    : Buffer.from(opts.ndjson ? events.map((e) => JSON.stringify(e)).join('\n') + '\n' : JSON.stringify(events));
  const headers: Record<string, string> = {
    authorization: `Bearer ${token}`,
    'content-type': opts.contentType ?? (opts.ndjson ? 'application/x-ndjson' : 'application/json'),
  };
  if (opts.gzip) {
    body = gzipSync(body);
    headers['content-encoding'] = 'gzip';
  }
  const res = await fetch(`${baseUrl}/v1/ingest/${kind}`, { method: 'POST', headers, body: new Uint8Array(body) });
  return { status: res.status, body: (await res.json()) as never, headers: res.headers };
}

export interface LogsPage {
  logs: Record<string, unknown>[];
  cursor: string | null;
  has_more: boolean;
  code?: string;
  details?: unknown[];
}

export async function getLogs(baseUrl: string, token: string | null, query: Record<string, string | number | boolean> = {}): Promise<Response<LogsPage>> {
  const qs = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)])).toString();
  const res = await fetch(`${baseUrl}/v1/audit/logs${qs ? `?${qs}` : ''}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: (await res.json()) as LogsPage, headers: res.headers };
}

/** Every log the filters match, following cursors to the end. */
export async function getAllLogs(baseUrl: string, token: string, query: Record<string, string | number | boolean> = {}): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let cursor: string | null = null;
  for (;;) {
    const page: Response<LogsPage> = await getLogs(baseUrl, token, { limit: 1000, ...query, ...(cursor ? { cursor } : {}) });
    if (page.status !== 200) throw new Error(`GET /v1/audit/logs → ${page.status} ${JSON.stringify(page.body)}`);
    out.push(...page.body.logs);
    if (!page.body.has_more) return out;
    cursor = page.body.cursor;
  }
}
