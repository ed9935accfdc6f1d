// The sync and UI WebSockets (scaidrive-events-and-realtime.txt) on both stores, with real
// clients: `ws`, and the seed's own JavaScript and Python (Debian python3-websockets) examples
// as written. Upgrade auth, share isolation, every documented frame, heartbeats, back-pressure
// (a slow client closed while a fast one keeps up), token expiry, deleted users, force_sync and
// sync_preference_updated.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTenant, startStores, type HarnessStore, type Stores } from './support/read-api-harness.ts';
import { realtimeApp, type RealtimeApp } from './support/realtime-harness.ts';
import { metric, scrape } from './support/service-surface-checks.ts';
import { until } from './support/topologies.ts';

type Frame = Record<string, any>;

/** A ws client collecting parsed frames and how it closed. */
async function connect(url: string, opts: WebSocket.ClientOptions = {}) {
  const frames: Frame[] = [];
  const ws = new WebSocket(url, opts);
  let closed: { code: number; reason: string } | null = null;
  ws.on('message', (d) => frames.push(JSON.parse(String(d)) as Frame));
  ws.on('close', (code, reason) => { closed = { code, reason: String(reason) }; });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, frames, get closed() { return closed; }, send: (m: unknown) => ws.send(JSON.stringify(m)) };
}

/** The HTTP status an upgrade was refused with (and its body). */
function refused(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => reject(new Error('upgrade was accepted')));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c) => { body += String(c); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('error', () => undefined);
  });
}

let stores: Stores;
beforeAll(async () => { stores = await startStores(); }, 120_000);
afterAll(async () => { await stores?.stop(); });

describe.each(['chdb', 'http'] as const)('WebSockets on %s', (name) => {
  let h: HarnessStore;
  let rt: RealtimeApp;
  let ws: string;
  beforeAll(async () => {
    h = stores.list.find((s) => s.name === name)!;
    rt = await realtimeApp(h, { WS_HEARTBEAT_MS: '300', REALTIME_SEND_BUFFER_BYTES: '65536' });
    ws = rt.url.replace('http', 'ws');
  });
  afterAll(async () => { await rt?.close(); });

  it('refuses an upgrade without a valid token (401) or without drive:sync (403)', async () => {
    const t = newTenant();
    for (const p of ['/api/v1/sync/ws/dev_1', '/api/v1/realtime/ws']) {
      const none = await refused(`${ws}${p}`);
      expect(none.status).toBe(401);
      expect(JSON.parse(none.body).code).toBe('AUTH_MISSING');
      expect((await refused(`${ws}${p}?token=garbage`)).status).toBe(401);
      const noScope = await refused(`${ws}${p}?token=${await rt.token(t, 'audit:read')}`);
      expect(noScope.status).toBe(403);
      expect(JSON.parse(noScope.body).code).toBe('AUTH_SCOPE');
      // The Authorization header, where a client can set one.
      const c = await connect(`${ws}${p}`, { headers: { authorization: `Bearer ${await rt.token(t, 'drive:sync')}` } });
      c.ws.close();
    }
  });

  it('sync socket: nudges for every share the token may read, and only those', async () => {
    const t = newTenant();
    const other = newTenant();
    const c = await connect(`${ws}/api/v1/sync/ws/dev_a?token=${await rt.token(t, 'drive:sync', { shares: ['shr_A', 'shr_B'] })}`);
    const all = await connect(`${ws}/api/v1/sync/ws/dev_b?token=${await rt.token(t, 'drive:sync drive:all')}`);
    const stranger = await connect(`${ws}/api/v1/sync/ws/dev_c?token=${await rt.token(other, 'drive:sync drive:all')}`);
    const rows = await h.rows.changes(t, [{ share_id: 'shr_A' }, { share_id: 'shr_C' }, { share_id: 'shr_B', resource_type: 'share', change_type: 'updated' }]);
    await h.rows.changes(other, [{ share_id: 'shr_X' }]);
    await until(async () => c.frames.length === 2 && all.frames.length === 3 && stranger.frames.length === 1, 10_000, 'nudges');
    // The entry is exactly what the pull API returns for the same change.
    const pulled = await rt.app.inject({ method: 'GET', url: '/api/v1/sync/changes', headers: { authorization: `Bearer ${await rt.token(t, 'drive:sync drive:all')}` } });
    const entries = (pulled.json() as { changes: Frame[] }).changes;
    expect(c.frames).toEqual([
      { event_type: 'change', share_id: 'shr_A', data: entries[0] },
      { event_type: 'change', share_id: 'shr_B', data: entries[2] },
    ]);
    expect(all.frames.map((f) => f['data'].id)).toEqual(rows.map((r) => r.id));
    c.send({ type: 'ping' });
    c.send({ type: 'subscribe' });
    c.send({ type: 'bogus' });
    await until(async () => c.frames.length === 5, 5_000, 'replies');
    expect(c.frames.slice(2)).toEqual([
      { event_type: 'pong' },
      { event_type: 'subscribed', device_id: 'dev_a', shares: ['shr_A', 'shr_B'] },
      { event_type: 'error', code: 'MESSAGE_INVALID', message: expect.any(String) },
    ]);
    for (const x of [c, all, stranger]) x.ws.close();
  });

  it('realtime socket: connected, subscribe / unsubscribe, refused shares, every frame type', async () => {
    const t = newTenant();
    const c = await connect(`${ws}/api/v1/realtime/ws?token=${await rt.token(t, 'drive:sync', { shares: ['shr_A'] })}`);
    await until(async () => c.frames.length === 1, 5_000, 'connected');
    expect(c.frames[0]).toEqual({ type: 'connected', user_id: 'usr_test', timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    c.send({ action: 'subscribe', share_id: 'shr_A' });
    c.send({ action: 'subscribe', share_id: 'shr_Z' });
    await until(async () => c.frames.length === 3, 5_000, 'subscribe answers');
    expect(c.frames[1]).toEqual({ type: 'subscribed', share_id: 'shr_A' });
    expect(c.frames[2]).toMatchObject({ type: 'error', code: 'SHARE_FORBIDDEN', share_id: 'shr_Z' });
    const meta = JSON.stringify({ size: 12345, mime_type: 'application/pdf' });
    await h.rows.changes(t, [
      { share_id: 'shr_A', resource_type: 'file', resource_id: 'fil_1', change_type: 'created', new_path: '/Eng/spec.pdf', metadata: meta, version_id: 'ver_1' },
      { share_id: 'shr_Z', resource_type: 'file', resource_id: 'fil_9', change_type: 'created' },
      { share_id: 'shr_A', resource_type: 'file', resource_id: 'fil_1', change_type: 'updated', new_path: '/Eng/spec.pdf', metadata: meta, version_id: 'ver_2' },
      { share_id: 'shr_A', resource_type: 'file', resource_id: 'fil_1', change_type: 'renamed', old_path: '/Eng/spec.pdf', new_path: '/Eng/spec-v2.pdf', metadata: meta },
      { share_id: 'shr_A', resource_type: 'folder', resource_id: 'fld_1', change_type: 'created', new_path: '/Eng/Old' },
      { share_id: 'shr_A', resource_type: 'folder', resource_id: 'fld_1', change_type: 'moved', old_path: '/Eng/Old', new_path: '/Archive/Old' },
      { share_id: 'shr_A', resource_type: 'file', resource_id: 'fil_1', change_type: 'deleted' },
      { share_id: 'shr_A', resource_type: 'folder', resource_id: 'fld_1', change_type: 'deleted' },
      { share_id: 'shr_A', resource_type: 'share', resource_id: 'shr_A', change_type: 'updated' },
    ]);
    await until(async () => c.frames.length === 10, 10_000, 'change frames');
    const frames = c.frames.slice(3);
    expect(frames.map((f) => f['type'])).toEqual(['file_created', 'file_updated', 'file_updated', 'folder_created', 'folder_updated', 'file_deleted', 'folder_deleted']);
    expect(frames[0]).toMatchObject({ share_id: 'shr_A', data: { file_id: 'fil_1', share_id: 'shr_A', name: 'spec.pdf', path: '/Eng/spec.pdf', size: 12345, mime_type: 'application/pdf', version_id: 'ver_1', change_type: 'created', changed_by: 'usr_1' } });
    expect(frames[2]!['data']).toMatchObject({ file_id: 'fil_1', name: 'spec-v2.pdf', path: '/Eng/spec-v2.pdf', old_path: '/Eng/spec.pdf' });
    expect(frames[5]).toEqual({ type: 'file_deleted', share_id: 'shr_A', data: { file_id: 'fil_1' } });
    expect(frames[6]).toEqual({ type: 'folder_deleted', share_id: 'shr_A', data: { folder_id: 'fld_1' } });
    expect(JSON.stringify(c.frames)).not.toContain('fil_9');
    c.send({ action: 'ping' });
    c.send({ action: 'unsubscribe', share_id: 'shr_A' });
    await until(async () => c.frames.length === 12, 5_000, 'pong and unsubscribed');
    expect(c.frames.slice(10)).toEqual([{ type: 'pong' }, { type: 'unsubscribed', share_id: 'shr_A' }]);
    await h.rows.changes(t, [{ share_id: 'shr_A', resource_type: 'file', change_type: 'created' }]);
    await new Promise((r) => setTimeout(r, 300));
    expect(c.frames).toHaveLength(12);
    c.ws.close();
  });

  it("the seed's JavaScript example works as written", async () => {
    const t = newTenant();
    const token = await rt.token(t, 'drive:sync', { shares: ['shr_01J3K'] });
    const refreshed: string[] = [];
    const refreshFileRow = (id: string) => refreshed.push(id);
    // --- as in the document (with `ws` standing in for the browser's WebSocket) ---
    const socket = new WebSocket(`${ws}/api/v1/realtime/ws?token=${token}`);
    socket.onopen = () => {
      socket.send(JSON.stringify({ action: 'subscribe', share_id: 'shr_01J3K' }));
    };
    socket.onmessage = (evt) => {
      const frame = JSON.parse(String(evt.data));
      if (frame.type === 'file_updated') {
        refreshFileRow(frame.data.file_id);
      }
    };
    // ---
    await until(async () => rt.app.socketHub!.size > 0, 5_000, 'socket open');
    await new Promise((r) => setTimeout(r, 200));
    await h.rows.changes(t, [{ share_id: 'shr_01J3K', resource_type: 'file', resource_id: 'fil_01J3M', change_type: 'updated', new_path: '/a.txt' }]);
    await until(async () => refreshed.length === 1, 10_000, 'refreshFileRow called');
    expect(refreshed).toEqual(['fil_01J3M']);
    socket.close();
  });

  it("the seed's Python example works as written (python3-websockets)", async () => {
    const t = newTenant();
    const token = await rt.token(t, 'drive:sync', { shares: ['shr_01J3K'] });
    const dir = mkdtempSync(path.join(tmpdir(), 'af-py-'));
    const script = path.join(dir, 'watch.py');
    // The document's code, verbatim but for the URL and where the token comes from.
    writeFileSync(script, `token = ${JSON.stringify(token)}
import asyncio, json
import websockets

async def watch(url, token, share_id):
    async with websockets.connect(f"{url}/api/v1/realtime/ws?token={token}") as ws:
        await ws.send(json.dumps({"action": "subscribe", "share_id": share_id}))
        async for msg in ws:
            frame = json.loads(msg)
            print(frame["type"], frame.get("data"), flush=True)

asyncio.run(watch(${JSON.stringify(ws)}, token, "shr_01J3K"))
`);
    const py = spawn('/usr/bin/python3', [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    py.stdout.on('data', (d) => { out += String(d); });
    py.stderr.on('data', (d) => { err += String(d); });
    try {
      await until(async () => out.includes('subscribed'), 15_000, `the Python client subscribed (stderr: ${err})`);
      await h.rows.changes(t, [{ share_id: 'shr_01J3K', resource_type: 'file', resource_id: 'fil_py', change_type: 'created', new_path: '/py.txt' }]);
      await until(async () => out.includes('file_created'), 10_000, 'the Python client printed the frame');
      const lines = out.trim().split('\n');
      expect(lines[0]).toMatch(/^connected None$/);
      expect(lines[1]).toBe('subscribed None');
      expect(lines[2]).toMatch(/^file_created \{'file_id': 'fil_py', 'share_id': 'shr_01J3K', 'name': 'py.txt', 'path': '\/py.txt'/);
    } finally {
      py.kill('SIGTERM');
    }
  });

  it('heartbeats: pings every interval, a client that never answers is terminated', async () => {
    const t = newTenant();
    const token = await rt.token(t, 'drive:sync drive:all');
    const live = await connect(`${ws}/api/v1/sync/ws/dev_live?token=${token}`);
    let pings = 0;
    live.ws.on('ping', () => { pings++; });
    const dead = await connect(`${ws}/api/v1/sync/ws/dev_dead?token=${token}`, { autoPong: false });
    await until(async () => dead.closed !== null, 5_000, 'the silent client terminated');
    expect(dead.closed!.code).toBe(1006); // terminated: no close handshake with a dead peer
    await until(async () => pings >= 2, 5_000, 'the live client pinged every interval');
    expect(live.closed).toBeNull();
    live.ws.close();
  });

  it('back-pressure: a client that stops reading is closed with 4008 while a fast one gets everything', async () => {
    // Its own app: with this file's 300 ms heartbeat a client that stops reading is soon dead, too.
    const rt = await realtimeApp(h, { WS_HEARTBEAT_MS: '60000', REALTIME_SEND_BUFFER_BYTES: '65536' });
    const ws = rt.url.replace('http', 'ws');
    const t = newTenant();
    const token = await rt.token(t, 'drive:sync drive:all');
    const fast = await connect(`${ws}/api/v1/sync/ws/dev_fast?token=${token}`);
    const slow = await connect(`${ws}/api/v1/sync/ws/dev_slow?token=${token}`);
    // ws's own pause: the socket stops being read and stays so (its receiver does not resume it).
    slow.ws.pause();
    const before = rt.app.socketHub!.stats.slowClosed;
    // Enough to fill both kernels' socket buffers (several MB on loopback) and then ours.
    const meta = JSON.stringify({ blob: 'x'.repeat(8000) });
    const ids: string[] = [];
    for (let i = 0; i < 200 && rt.app.socketHub!.stats.slowClosed === before; i++) {
      ids.push(...(await h.rows.changes(t, Array.from({ length: 50 }, () => ({ metadata: meta })))).map((r) => r.id));
    }
    expect(rt.app.socketHub!.stats.slowClosed).toBe(before + 1);
    await until(async () => fast.frames.length === ids.length, 20_000, 'the fast client got every nudge');
    expect(fast.frames.map((f) => f['data'].id)).toEqual(ids);
    slow.ws.resume();
    await until(async () => slow.closed !== null, 10_000, 'the slow client saw the close');
    expect(slow.closed).toEqual({ code: 4008, reason: 'send buffer overflow' });
    expect(slow.frames.length).toBeLessThan(ids.length);
    fast.ws.close();
    const samples = scrape((await rt.app.inject({ method: 'GET', url: '/metrics' })).body);
    expect(metric(samples, 'auditflow_realtime_ws_slow_closed_total')).toBe(1);
    await rt.close();
  }, 60_000);

  it('closes a socket when its token expires (4001) and a deleted user\'s sockets (4003)', async () => {
    const t = newTenant();
    const short = await connect(`${ws}/api/v1/realtime/ws?token=${await rt.token(t, 'drive:sync', {}, 2)}`);
    const doomed = await connect(`${ws}/api/v1/sync/ws/dev_1?token=${await rt.token(t, 'drive:sync drive:all', { sub: 'usr_gone' })}`);
    const kept = await connect(`${ws}/api/v1/sync/ws/dev_2?token=${await rt.token(t, 'drive:sync drive:all', { sub: 'usr_kept' })}`);
    await rt.notices.publish({ kind: 'user_deleted', tenantId: t, userId: 'usr_gone' });
    await until(async () => doomed.closed !== null, 5_000, 'the deleted user\'s socket closed');
    expect(doomed.closed).toEqual({ code: 4003, reason: 'user deleted' });
    await until(async () => short.closed !== null, 10_000, 'the expired token\'s socket closed');
    expect(short.closed).toEqual({ code: 4001, reason: 'token expired' });
    expect(kept.closed).toBeNull();
    kept.ws.close();
  });

  it('force_sync and sync_preference_updated reach the sockets they name', async () => {
    const t = newTenant();
    const token = await rt.token(t, 'drive:sync', { shares: ['shr_A'] });
    const d1 = await connect(`${ws}/api/v1/sync/ws/dev_1?token=${token}`);
    const d2 = await connect(`${ws}/api/v1/sync/ws/dev_2?token=${token}`);
    const admin = await rt.token(t, 'audit:admin');
    const post = (body: unknown, tok = admin) => rt.app.inject({ method: 'POST', url: '/api/v1/sync/force-sync', headers: { authorization: `Bearer ${tok}` }, payload: body as object });
    expect((await post({ share_id: 'shr_A' })).statusCode).toBe(202);
    expect((await post({ share_id: 'shr_A', device_id: 'dev_2' })).json()).toEqual({ share_id: 'shr_A', device_id: 'dev_2', status: 'sent' });
    expect((await post({ share_id: 'shr_B' })).statusCode).toBe(202); // nobody follows it: no frame
    expect((await post({ share_id: 'shr_A' }, token)).statusCode).toBe(403);
    const bad = await post({ share: 'x' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().details.map((d: { path: string }) => d.path)).toEqual(['/share_id', '/share']);
    await until(async () => d1.frames.length === 1 && d2.frames.length === 2, 5_000, 'force_sync frames');
    expect(d1.frames).toEqual([{ event_type: 'force_sync', share_id: 'shr_A' }]);
    expect(d2.frames).toEqual([{ event_type: 'force_sync', share_id: 'shr_A' }, { event_type: 'force_sync', share_id: 'shr_A' }]);

    const put = await rt.app.inject({ method: 'PUT', url: '/api/v1/sync/devices/dev_1/preferences/shr_A', headers: { authorization: `Bearer ${token}` }, payload: { selective: ['/Eng'], paused: false } });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toMatchObject({ device_id: 'dev_1', share_id: 'shr_A', preferences: { selective: ['/Eng'], paused: false } });
    const forbidden = await rt.app.inject({ method: 'PUT', url: '/api/v1/sync/devices/dev_1/preferences/shr_B', headers: { authorization: `Bearer ${token}` }, payload: {} });
    expect(forbidden.statusCode).toBe(403);
    await until(async () => d1.frames.length === 2, 5_000, 'sync_preference_updated');
    expect(d1.frames[1]).toEqual({ event_type: 'sync_preference_updated', share_id: 'shr_A', device_id: 'dev_1' });
    expect(d2.frames).toHaveLength(2);
    const got = await rt.app.inject({ method: 'GET', url: '/api/v1/sync/devices/dev_1/preferences', headers: { authorization: `Bearer ${token}` } });
    expect(got.json()).toEqual({ device_id: 'dev_1', preferences: [{ share_id: 'shr_A', preferences: { selective: ['/Eng'], paused: false }, updated_at: put.json().updated_at }] });
    d1.ws.close();
    d2.ws.close();
  });

  it('exposes the edge at /metrics', async () => {
    const t = newTenant();
    const c = await connect(`${ws}/api/v1/realtime/ws?token=${await rt.token(t, 'drive:sync')}`);
    const text = (await rt.app.inject({ method: 'GET', url: '/metrics' })).body;
    const samples = scrape(text);
    expect(metric(samples, 'auditflow_realtime_connections', { kind: 'ui_ws' })).toBeGreaterThanOrEqual(1);
    expect(metric(samples, 'auditflow_realtime_ws_dead_total')).toBeGreaterThanOrEqual(1); // the heartbeat test's
    expect(metric(samples, 'auditflow_realtime_ws_frames_total')).toBeGreaterThan(0);
    expect(metric(samples, 'auditflow_realtime_feed_rows_total')).toBeGreaterThan(0);
    c.ws.close();
  });
});
