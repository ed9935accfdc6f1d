// A real `eventsource` client on GET /api/events (sse-events-stream.txt) that keeps every message,
// for the end-to-end tests. The package reconnects by itself and sends the Last-Event-ID of the
// last message it saw, so a test observes exactly what a Node consumer of the stream would get.
import { EventSource } from 'eventsource';

export interface SseMessage {
  /** The SSE `id:` (a stream position). */
  id: string;
  type: string;
  data: Record<string, unknown>;
}

export interface SseClientOptions {
  /** Where the token travels: `?token=` (the document's query form) or `Authorization: Bearer` (through the fetch option). */
  tokenIn?: 'query' | 'header';
  /** Sent as Last-Event-ID on the first request only (a client resuming elsewhere); reconnects send the client's own. */
  lastEventId?: string;
}

export class SseClient {
  readonly messages: SseMessage[] = [];
  readonly errors: string[] = [];
  /** HTTP statuses of the failed (non-200) responses, as the error events carry them. */
  readonly statuses: number[] = [];
  readonly es: EventSource;

  constructor(baseUrl: string, token: string, opts: SseClientOptions = {}) {
    const inQuery = (opts.tokenIn ?? 'query') === 'query';
    const url = `${baseUrl}/api/events${inQuery ? `?token=${encodeURIComponent(token)}` : ''}`;
    let first = true;
    this.es = new EventSource(url, {
      fetch: (input, init) => {
        const headers: Record<string, string> = { ...init.headers };
        if (!inQuery) headers['authorization'] = `Bearer ${token}`;
        if (first && opts.lastEventId !== undefined && headers['Last-Event-ID'] === undefined) headers['Last-Event-ID'] = opts.lastEventId;
        first = false;
        return fetch(input, { ...init, headers });
      },
    });
    this.es.onmessage = (ev) => {
      const f = JSON.parse(ev.data as string) as { type: string; data: Record<string, unknown> };
      this.messages.push({ id: ev.lastEventId, type: f.type, data: f.data });
    };
    this.es.onerror = (e) => {
      this.errors.push(e.message ?? 'error');
      if (e.code !== undefined) this.statuses.push(e.code);
    };
  }

  /** The `connected` frames: one per (re)connection, `resumed` when it came with a Last-Event-ID. */
  connects(): { resumed: boolean }[] {
    return this.messages.filter((m) => m.type === 'connected').map((m) => m.data as { resumed: boolean });
  }

  /** audit_log_created ids, in arrival order. */
  audit(): string[] {
    return this.messages.filter((m) => m.type === 'audit_log_created').map((m) => m.data['auditLogId'] as string);
  }

  /** internal_audit_log_created frames' data, in arrival order. */
  internal(): Record<string, unknown>[] {
    return this.messages.filter((m) => m.type === 'internal_audit_log_created').map((m) => m.data);
  }

  /** Every event id received (both types), duplicates included. */
  allIds(): string[] {
    return this.messages.filter((m) => m.type !== 'connected').map((m) => (m.data['auditLogId'] ?? m.data['internalAuditLogId']) as string);
  }

  /** The id of the last message: what this client would resume after. */
  lastEventId(): string | undefined {
    return this.messages.at(-1)?.id;
  }

  close(): void {
    this.es.close();
  }
}
