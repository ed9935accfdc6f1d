// One SSE connection: replay from the store after the client's Last-Event-ID, then the live
// tail from the ReadableFeed — with no gap and nothing twice — plus heartbeats, a bounded send
// buffer and the token's expiry.
//
// The hand-over from replay to live: the feed moves its positions in the same turn as it calls
// its listeners, and it calls them only once the rows are in the store. So the replay reads the
// store up to the feed's position, and when (after an await) it finds the position unchanged it
// goes live in that same turn: every row at or before the position came from the store, every
// row after it will come from the listener. If the position moved meanwhile, it reads again.
//
// A client that reads slower than events arrive is not closed and not buffered without bound:
// once its unsent bytes pass the send buffer it stops taking live frames, and when its socket
// drains it catches up from the store after the last frame it was sent — the same hand-over
// again. Its memory here stays within one burst of the send buffer, the others never wait.
import type { ServerResponse } from 'node:http';
import type { Store } from '../../infra/store/store.ts';
import { ScopedQuery } from '../query/scoped-query.ts';
import type { TenantScope } from '../query/tenant-scope.ts';
import { normaliseStored, type LiveRow } from './readable-feed.ts';
import { sseFrame } from './sse-frames.ts';
import { encodePosition, type Position } from './stream-position.ts';

/** Rows per replay query: bounded memory however far behind the client is. */
const REPLAY_PAGE = 1000;

export interface SseStreamOptions {
  res: ServerResponse;
  store: Store;
  scope: TenantScope;
  /** `event:` lines with the type (for addEventListener) besides the type in `data`. */
  named: boolean;
  heartbeatMs: number;
  sendBufferBytes: number;
  expiresAt: number;
  /** The feed's position now (read when the replay may hand over to live). */
  feedPosition: () => Position;
  onClose: (why: SseCloseReason) => void;
  /** Shared by every stream of the process (metrics). */
  stats: SseStats;
}

export interface SseStats {
  open: number;
  /** Frames sent, live and replayed. */
  delivered: number;
  replayed: number;
  /** Times a stream fell behind the live tail and caught up from the store. */
  lagged: number;
}

export type SseCloseReason = 'client' | 'expired' | 'shutdown' | 'failed';

/** Does `scope` admit a stored row (the same rule as the tenant clause of ScopedQuery)? */
export function admits(scope: TenantScope, row: LiveRow): boolean {
  switch (scope.kind) {
    case 'platform':
      return true;
    case 'partner':
      return row['partner_id'] === scope.partnerId;
    case 'tenant':
      return row.tenant_id === scope.tenantId && (scope.partnerId === undefined || row['partner_id'] === scope.partnerId);
  }
}

/** The position right after `row`, given where every partition stood before its batch. */
export function positionAfter(before: ReadonlyMap<number, number>, row: LiveRow): Position {
  const p = new Map(before);
  p.set(row.log_partition, row.log_offset);
  return p;
}

export function frameText(id: string, row: LiveRow, named: boolean): string {
  const f = sseFrame(row);
  return `id: ${id}\n${named ? `event: ${f.type}\n` : ''}data: ${JSON.stringify(f)}\n\n`;
}

export class SseStream {
  /** True once replay handed over: the feed's listener sends to it from then on (false again while it lags). */
  live = false;
  private closed = false;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(private readonly o: SseStreamOptions) {
    o.res.on('close', () => this.close('client'));
    this.timers.push(setInterval(() => this.write(': heartbeat\n\n'), o.heartbeatMs));
    const ttl = o.expiresAt - Date.now();
    if (Number.isFinite(ttl)) this.timers.push(setTimeout(() => this.close('expired'), Math.max(0, Math.min(ttl, 2 ** 31 - 1))));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Replays after `start` (undefined: from now), then goes live. */
  async run(start: Position | undefined): Promise<void> {
    const pos = start ?? this.o.feedPosition();
    // Tells the client where it stands before anything else, so a reconnect — even before the
    // first event — resumes from here (a frame without data would not move Last-Event-ID in
    // every client; the `eventsource` package ignores it).
    this.write(`id: ${encodePosition(pos)}\n${this.o.named ? 'event: connected\n' : ''}data: ${JSON.stringify({ type: 'connected', data: { resumed: start !== undefined } })}\n\n`);
    await this.catchUp(pos, start !== undefined);
  }

  /** Reads the store from `pos` up to the feed's position until they meet, then goes live. */
  private async catchUp(pos: Position, fromStore: boolean): Promise<void> {
    if (fromStore) {
      for (;;) {
        const target = this.o.feedPosition();
        for (const [p, upTo] of target) await this.replayPartition(pos, p, upTo);
        if (this.closed) return;
        if (samePosition(this.o.feedPosition(), target)) break;
      }
    }
    this.live = true;
  }

  private async replayPartition(pos: Position, partition: number, upTo: number): Promise<void> {
    for (;;) {
      const after = pos.get(partition);
      if (this.closed || (after !== undefined && after >= upTo)) return;
      const q = new ScopedQuery('audit_events', this.o.scope)
        .eq('log_partition', 'UInt32', partition)
        .where(after === undefined ? undefined : { column: 'log_offset', op: '>', type: 'UInt64', value: after })
        .where({ column: 'log_offset', op: '<=', type: 'UInt64', value: upTo });
      const { sql, params } = q.select('*', 'ORDER BY log_offset LIMIT {limit:UInt32}', { limit: REPLAY_PAGE });
      const rows = await this.o.store.query<Record<string, unknown>>(sql, params);
      for (const r of rows) {
        const row = normaliseStored(r);
        pos.set(partition, row.log_offset);
        if (!this.write(frameText(encodePosition(pos), row, this.o.named))) await this.drained();
        this.o.stats.delivered++;
        this.o.stats.replayed++;
      }
      if (rows.length < REPLAY_PAGE) {
        pos.set(partition, upTo);
        return;
      }
    }
  }

  /**
   * A live frame (its text shared by every stream it goes to); `after` is the position right
   * after it. Past the send buffer the stream stops taking live frames and, once the socket
   * drains, catches up from the store after `after`.
   */
  send(text: string, after: () => Position): void {
    if (this.closed || !this.live) return;
    this.o.res.write(text);
    this.o.stats.delivered++;
    if (this.o.res.writableLength <= this.o.sendBufferBytes) return;
    this.live = false;
    this.o.stats.lagged++;
    const pos = after();
    this.o.res.once('drain', () => {
      this.catchUp(pos, true).catch(() => this.close('failed'));
    });
  }

  /** Writes unless closed; false: wait for 'drain' before writing more (replay pulls at the client's pace). */
  private write(text: string): boolean {
    if (this.closed) return false;
    return this.o.res.write(text);
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed) return resolve();
      const done = () => {
        this.o.res.off('drain', done);
        this.o.res.off('close', done);
        resolve();
      };
      this.o.res.on('drain', done);
      this.o.res.on('close', done);
    });
  }

  close(why: SseCloseReason): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    if (why === 'client' || why === 'failed') this.o.res.destroy();
    else this.o.res.end();
    this.o.onClose(why);
  }
}

function samePosition(a: Position, b: Position): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}
