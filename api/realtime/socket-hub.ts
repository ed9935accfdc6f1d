// The open WebSockets of one API process (sync and UI alike): who they are, which shares they
// follow, and the rules every socket lives by —
//  - heartbeats: a ping frame every WS_HEARTBEAT_MS; a socket that has not answered the previous
//    one by then is dead and is terminated (no close handshake with a peer that is gone);
//  - back-pressure: a frame is never queued for a socket past REALTIME_SEND_BUFFER_BYTES of
//    unsent data; such a socket is closed with 4008 (and cut off if it cannot even take the close
//    frame within 5 s), so one slow client never holds memory or the others back — it reconnects
//    and pulls /api/v1/sync/changes for what it missed;
//  - a token's exp closes its socket (4001); a deleted user's sockets close (4003).
// Sockets are indexed by tenant and share, so a row costs a lookup, not a scan of every socket.
import type { WebSocket } from 'ws';
import type { Principal } from '../../infra/auth/jwt.ts';
import type { ShareSet } from '../sync/share-access.ts';

/** Close codes (README "WebSockets"). */
export const CLOSE = {
  shutdown: { code: 1001, reason: 'server shutting down' },
  expired: { code: 4001, reason: 'token expired' },
  userDeleted: { code: 4003, reason: 'user deleted' },
  slow: { code: 4008, reason: 'send buffer overflow' },
} as const;

export type SocketKind = 'sync' | 'ui';

export interface Client {
  ws: WebSocket;
  kind: SocketKind;
  principal: Principal;
  /** Sync sockets: the device. */
  deviceId?: string;
  /** The shares the socket follows: every share the token may read (sync), or those subscribed (ui). */
  follows: ShareSet;
  alive: boolean;
  expiry: NodeJS.Timeout | null;
  /** Which tenth of the heartbeat interval pings it (pings are spread, not one burst). */
  slot: number;
}

/** The heartbeat interval is walked in this many steps, one slot of sockets pinged per step. */
const HEARTBEAT_SLOTS = 10;

/** After a close frame, how long a peer gets to complete the handshake before the socket is cut. */
const CLOSE_GRACE_MS = 5000;

export class SocketHub {
  /** tenant → share → clients following it; the '*' share: clients following every share. */
  private readonly byShare = new Map<string, Map<string, Set<Client>>>();
  /** tenant → every client of it (notices, user deletion). */
  private readonly byTenant = new Map<string, Set<Client>>();
  private readonly timer: NodeJS.Timeout;
  private nextSlot = 0;
  private beatSlot = 0;
  /** Sockets corked during a fan-out (./socket-fanout.ts): their frames leave in one write each. */
  private corked: Set<Client> | null = null;
  readonly stats = { opened: 0, framesSent: 0, slowClosed: 0, deadTerminated: 0, expiredClosed: 0 };

  constructor(private readonly o: { heartbeatMs: number; sendBufferBytes: number }) {
    // NOTE: pinging 10,000 sockets in one turn held the event loop for ~0.4 s (bench:realtime).
    this.timer = setInterval(() => this.heartbeat(), Math.max(1, Math.floor(o.heartbeatMs / HEARTBEAT_SLOTS)));
    this.timer.unref();
  }

  get size(): number {
    let n = 0;
    for (const s of this.byTenant.values()) n += s.size;
    return n;
  }

  add(ws: WebSocket, kind: SocketKind, principal: Principal, follows: ShareSet, deviceId?: string): Client {
    const c: Client = { ws, kind, principal, follows: kind === 'ui' ? [] : follows, alive: true, expiry: null, slot: this.nextSlot++ % HEARTBEAT_SLOTS, ...(deviceId !== undefined ? { deviceId } : {}) };
    this.stats.opened++;
    let t = this.byTenant.get(principal.tenantId);
    if (!t) this.byTenant.set(principal.tenantId, (t = new Set()));
    t.add(c);
    if (kind === 'sync') this.index(c, follows, true);
    ws.on('pong', () => { c.alive = true; });
    ws.on('close', () => this.remove(c));
    const ttl = principal.expiresAt - Date.now();
    if (Number.isFinite(ttl)) {
      c.expiry = setTimeout(() => {
        this.stats.expiredClosed++;
        this.close(c, CLOSE.expired);
      }, Math.max(0, Math.min(ttl, 2 ** 31 - 1)));
    }
    return c;
  }

  /** A UI socket starts following a share (the caller checked access). */
  follow(c: Client, shareId: string): void {
    if (c.follows === 'all' || c.follows.includes(shareId)) return;
    c.follows = [...c.follows, shareId];
    this.index(c, [shareId], true);
  }

  unfollow(c: Client, shareId: string): void {
    if (c.follows === 'all' || !c.follows.includes(shareId)) return;
    c.follows = c.follows.filter((s) => s !== shareId);
    this.index(c, [shareId], false);
  }

  /** Every client of `tenantId` following `shareId` (also those following every share). */
  *following(tenantId: string, shareId: string): Iterable<Client> {
    const shares = this.byShare.get(tenantId);
    if (!shares) return;
    const exact = shares.get(shareId);
    if (exact) yield* exact;
    const all = shares.get('*');
    if (all) yield* all;
  }

  tenantClients(tenantId: string): Iterable<Client> {
    return this.byTenant.get(tenantId) ?? [];
  }

  /**
   * Sends unless the socket is past its send buffer: then it is closed with 4008 and takes no
   * more frames. The close frame queues behind what is buffered (a slow reader still learns why);
   * a reader too slow to get there within the grace period is cut off, and its buffer freed.
   */
  send(c: Client, text: string): void {
    const ws = c.ws;
    if (ws.readyState !== ws.OPEN) return;
    // In a corked fan-out the batch's own frames wait in the buffer until it ends: only what was
    // left from before it (the first frame's look) says whether the client keeps up.
    const first = this.corked === null || !this.corked.has(c);
    if (first && ws.bufferedAmount > this.o.sendBufferBytes) {
      this.stats.slowClosed++;
      this.close(c, CLOSE.slow);
      return;
    }
    if (this.corked && first) {
      this.corked.add(c);
      socketOf(ws)?.cork();
    }
    ws.send(text);
    this.stats.framesSent++;
  }

  /**
   * Runs a fan-out with every socket it writes to corked, then uncorks them: each socket's frames
   * of the batch go out in one write instead of one system call per frame (the fan-out's main
   * cost in bench:realtime).
   */
  corkedFanOut(fn: () => void): void {
    if (this.corked) return fn();
    const corked = new Set<Client>();
    this.corked = corked;
    try {
      fn();
    } finally {
      this.corked = null;
      for (const c of corked) socketOf(c.ws)?.uncork();
    }
  }

  /** Open sockets by kind (metrics). */
  counts(): Record<SocketKind, number> {
    const n: Record<SocketKind, number> = { sync: 0, ui: 0 };
    for (const t of this.byTenant.values()) for (const c of t) n[c.kind]++;
    return n;
  }

  close(c: Client, why: { code: number; reason: string }): void {
    this.remove(c);
    const ws = c.ws;
    if (ws.readyState === ws.CLOSED) return;
    ws.close(why.code, why.reason);
    setTimeout(() => { if (ws.readyState !== ws.CLOSED) ws.terminate(); }, CLOSE_GRACE_MS).unref();
  }

  closeAll(why: { code: number; reason: string }): void {
    clearInterval(this.timer);
    for (const t of [...this.byTenant.values()]) for (const c of [...t]) this.close(c, why);
  }

  /** One slot per step: each socket is pinged once per interval, and is dead if it did not answer the last. */
  private heartbeat(): void {
    const slot = this.beatSlot;
    this.beatSlot = (slot + 1) % HEARTBEAT_SLOTS;
    for (const t of this.byTenant.values()) {
      for (const c of [...t]) {
        if (c.slot !== slot) continue;
        if (!c.alive) {
          this.stats.deadTerminated++;
          this.remove(c);
          c.ws.terminate();
          continue;
        }
        c.alive = false;
        try {
          c.ws.ping();
        } catch {
          // closing already
        }
      }
    }
  }

  private index(c: Client, shares: ShareSet, add: boolean): void {
    const tenant = c.principal.tenantId;
    let m = this.byShare.get(tenant);
    if (!m) this.byShare.set(tenant, (m = new Map()));
    for (const s of shares === 'all' ? ['*'] : shares) {
      let set = m.get(s);
      if (add) {
        if (!set) m.set(s, (set = new Set()));
        set.add(c);
      } else if (set) {
        set.delete(c);
        if (set.size === 0) m.delete(s);
      }
    }
    if (m.size === 0) this.byShare.delete(tenant);
  }

  private remove(c: Client): void {
    if (c.expiry) clearTimeout(c.expiry);
    c.expiry = null;
    const t = this.byTenant.get(c.principal.tenantId);
    if (!t || !t.delete(c)) return;
    if (t.size === 0) this.byTenant.delete(c.principal.tenantId);
    this.index(c, c.follows, false);
  }
}

/** The socket under a `ws` WebSocket (ws keeps it as `_socket`; absent once closed). */
function socketOf(ws: WebSocket): { cork(): void; uncork(): void } | undefined {
  return (ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
}
