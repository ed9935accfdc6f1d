// Syslog over TCP, TLS (node:tls, the destination's ca_pem or the system's CAs; the certificate is
// always verified) or UDP (node:dgram). One connection per destination, kept open and opened again
// on the next send after any sign of failure.
//
// What `delivered` means — TRICKY: plain syslog has no acknowledgement. On TCP/TLS a batch is
// delivered once every byte of it was handed to the kernel (the write callback) and the connection
// showed no failure (error, reset, the receiver's FIN) up to then and one turn of the event loop
// after. Bytes still in flight when a connection breaks can be lost without either side knowing:
// at most the socket's send buffer, on a connection that broke after the batch was written. A
// receiver that closed the connection since the last batch is noticed before writing (its FIN is
// read), so a restarted receiver costs nothing. UDP promises nothing: a datagram is delivered
// once the kernel took it; an ICMP "port unreachable" for it arrives later, and makes the next
// batch a retry. RELP would close this gap; at-least-once end to end needs tcp or tls.
import { once } from 'node:events';
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { syslogDatagram, syslogStream, type SyslogOptions } from '../../processors/siem/syslog-message.ts';
import type { DeliveryResult, ForwardedEvent, SiemSender, SyslogConfig } from '../../processors/siem/siem-types.ts';
import { DEFAULT_TIMEOUT_MS, type SenderLogger } from './http-sender.ts';

export interface SyslogSenderOptions {
  timeoutMs?: number | undefined;
  logger?: SenderLogger | undefined;
  hostname: string;
  procId?: number | undefined;
}

const codeOf = (e: unknown): string => (e as { code?: string }).code ?? (e as { name?: string }).name ?? 'error';

interface StreamConnection {
  socket: net.Socket;
  /** Why the connection can no longer be trusted; null while it looks healthy. */
  broken: string | null;
}

function timeout<T>(p: Promise<T>, ms: number, what: string, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => { timer = setTimeout(() => { onTimeout(); reject(Object.assign(new Error(what), { code: 'ETIMEDOUT' })); }, ms); }),
  ]).finally(() => clearTimeout(timer));
}

class StreamSyslogSender implements SiemSender {
  private conn: StreamConnection | null = null;

  constructor(private readonly config: SyslogConfig, private readonly format: SyslogOptions, private readonly timeoutMs: number, private readonly logger?: SenderLogger) {}

  private async connect(): Promise<StreamConnection> {
    const { host, port } = this.config;
    const socket = this.config.transport === 'tls'
      ? tls.connect({ host, port, ...(net.isIP(host) ? {} : { servername: host }), ...(this.config.ca_pem ? { ca: [this.config.ca_pem] } : {}) })
      : net.connect({ host, port });
    const conn: StreamConnection = { socket, broken: null };
    socket.on('error', (e) => { conn.broken ??= `connection error (${codeOf(e)})`; });
    socket.on('end', () => { conn.broken ??= 'closed by the receiver'; });
    socket.on('close', () => { conn.broken ??= 'connection closed'; });
    const ready = this.config.transport === 'tls' ? 'secureConnect' : 'connect';
    // `once` rejects on 'error': refused, reset, a certificate that does not verify.
    await timeout(once(socket, ready), this.timeoutMs, 'connect timeout', () => socket.destroy());
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    // A syslog receiver sends nothing; reading is how its FIN is seen.
    socket.resume();
    return conn;
  }

  private drop(reason: string): void {
    if (!this.conn) return;
    this.logger?.warn({ host: this.config.host, port: this.config.port, transport: this.config.transport, reason }, 'syslog connection dropped; reconnecting on the next send');
    this.conn.socket.destroy();
    this.conn = null;
  }

  async send(events: readonly ForwardedEvent[]): Promise<DeliveryResult> {
    if (this.conn?.broken) this.drop(this.conn.broken);
    if (!this.conn) {
      try {
        this.conn = await this.connect();
      } catch (e) {
        return { kind: 'retry', reason: codeOf(e) === 'ETIMEDOUT' ? `connect timeout after ${this.timeoutMs} ms` : `connection error (${codeOf(e)})` };
      }
    }
    const conn = this.conn;
    const bytes = syslogStream(events, this.format);
    try {
      await timeout(new Promise<void>((resolve, reject) => {
        conn.socket.write(bytes, (err) => (err ? reject(err) : resolve()));
      }), this.timeoutMs, 'write timeout', () => conn.socket.destroy());
      await new Promise<void>((resolve) => setImmediate(resolve));
    } catch (e) {
      const reason = codeOf(e) === 'ETIMEDOUT' ? `write timeout after ${this.timeoutMs} ms` : `connection error (${codeOf(e)})`;
      conn.broken ??= reason;
    }
    if (conn.broken) {
      const reason = conn.broken;
      this.drop(reason);
      return { kind: 'retry', reason };
    }
    return { kind: 'delivered' };
  }

  async close(): Promise<void> {
    const conn = this.conn;
    this.conn = null;
    if (!conn || conn.socket.destroyed) return;
    const closed = once(conn.socket, 'close').catch(() => undefined);
    conn.socket.end();
    await timeout(closed, 2_000, 'close timeout', () => conn.socket.destroy()).catch(() => undefined);
  }
}

class UdpSyslogSender implements SiemSender {
  private socket: dgram.Socket | null = null;
  /** An ICMP error (port unreachable) reported since the last send: it is about datagrams already sent. */
  private refused: string | null = null;

  constructor(private readonly config: SyslogConfig, private readonly format: SyslogOptions, private readonly timeoutMs: number, private readonly logger?: SenderLogger) {}

  private async open(): Promise<dgram.Socket> {
    const s = dgram.createSocket(net.isIPv6(this.config.host) ? 'udp6' : 'udp4');
    // Connected: one address lookup, and the kernel's ICMP errors come back as 'error' events.
    const connected = once(s, 'connect'); // rejects on 'error' (an address that does not resolve)
    s.connect(this.config.port, this.config.host);
    await timeout(connected, this.timeoutMs, 'connect timeout', () => s.close());
    s.on('error', (e) => { this.refused ??= `socket error (${codeOf(e)})`; });
    return s;
  }

  async send(events: readonly ForwardedEvent[]): Promise<DeliveryResult> {
    // The receiver refused what was sent before: this batch would go the same way, so it waits (retry).
    const refused = this.refused;
    this.refused = null;
    if (refused) return { kind: 'retry', reason: refused };
    try {
      this.socket ??= await this.open();
      const s = this.socket;
      for (const e of events) {
        const d = syslogDatagram(e, this.format);
        await new Promise<void>((resolve, reject) => s.send(d, (err) => (err ? reject(err) : resolve())));
      }
      return { kind: 'delivered' };
    } catch (e) {
      const reason = `socket error (${codeOf(e)})`;
      this.logger?.warn({ host: this.config.host, port: this.config.port, transport: 'udp', reason }, 'syslog socket failed; reopening on the next send');
      this.socket?.close();
      this.socket = null;
      return { kind: 'retry', reason };
    }
  }

  async close(): Promise<void> {
    const s = this.socket;
    this.socket = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

export function syslogSender(config: SyslogConfig, opts: SyslogSenderOptions): SiemSender {
  const format: SyslogOptions = { format: config.format, hostname: opts.hostname, appName: config.app_name, procId: opts.procId };
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return config.transport === 'udp'
    ? new UdpSyslogSender(config, format, timeoutMs, opts.logger)
    : new StreamSyslogSender(config, format, timeoutMs, opts.logger);
}
