// A real syslog receiver for tests: Debian's rsyslogd on free loopback ports, with three inputs —
// imtcp, imudp, and a second imtcp with TLS (gtls, from rsyslog-gnutls; a CA and a server
// certificate for 127.0.0.1/localhost made with openssl) — each writing what it receives to its
// own file, one message a line.
//
// Quirks worth knowing (rsyslog 8.2302):
// - imtcp takes octet-counted frames (RFC 6587) and LF-terminated ones on the same port, deciding
//   per frame by whether it starts with a digit; `%rawmsg%` is the message without the count, so a
//   file line is exactly the RFC 5424 message we sent (a wrong count shows as a split or merged line).
// - Control characters are escaped on receipt (parser.escapeControlCharactersOnReceive): a raw LF
//   inside a message is written as `#012`, so a line is always one message. UTF-8 and the BOM pass.
// - Messages longer than maxMessageSize (default 8k) are truncated: set to 64k here.
// - imtcp writes its port to listenPortFileName when port="0"; imudp cannot, so its port is read
//   from /proc (the socket inode of rsyslogd's fd).
// - `rsyslogd -N1` checks the config first; rsyslogd runs in the foreground (-n), ends on SIGTERM,
//   and with setpriv --pdeathsig also when the test process dies.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export type SyslogInput = 'tcp' | 'udp' | 'tls';

export interface Rsyslog {
  ports: Record<SyslogInput, number>;
  /** PEM of the CA that signed the TLS input's certificate (a destination's `ca_pem`). */
  caPem: string;
  pid(): number;
  /** Every message received on an input so far, one per line, as written. */
  lines(input: SyslogInput): Promise<string[]>;
  /** Waits until an input has received at least `n` messages. */
  waitForLines(input: SyslogInput, n: number, timeoutMs?: number): Promise<string[]>;
  /** Stops rsyslogd (SIGTERM by pid); its files stay. */
  stop(): Promise<void>;
  /** Starts it again on the same ports. */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  dispose(): Promise<void>;
}

const RSYSLOGD = ['/usr/sbin/rsyslogd', '/sbin/rsyslogd'].find((p) => existsSync(p));

function requireRsyslog(): string {
  if (!RSYSLOGD) throw new Error('rsyslogd not found: install the Debian package rsyslog (.ci/run installs it)');
  const libDirs = ['/usr/lib', ...readdirSync('/usr/lib').map((d) => path.join('/usr/lib', d))];
  if (!libDirs.some((d) => existsSync(path.join(d, 'rsyslog', 'lmnsd_gtls.so')))) {
    throw new Error('rsyslog TLS driver lmnsd_gtls.so not found: install the Debian package rsyslog-gnutls (.ci/run installs it)');
  }
  if (!existsSync('/usr/bin/openssl')) throw new Error('/usr/bin/openssl not found: install the Debian package openssl');
  return RSYSLOGD;
}

function openssl(dir: string, args: string[]): void {
  const r = spawnSync('/usr/bin/openssl', args, { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args[0]} failed (exit ${r.status}): ${r.stderr}`);
}

/** A CA and a server certificate for localhost / 127.0.0.1 signed by it. */
async function makeCertificates(dir: string): Promise<void> {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=auditflow test CA']);
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  await writeFile(path.join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext']);
}

function config(dir: string, ports: Record<SyslogInput, number>): string {
  const f = (name: string) => path.join(dir, name);
  // port 0 (first start): the kernel picks; imtcp reports its port in a file.
  const tcpPort = (input: 'tcp' | 'tls') => (ports[input] ? `port="${ports[input]}"` : `port="0" listenPortFileName="${f(`${input}.port`)}"`);
  return `
global(workDirectory="${dir}" maxMessageSize="64k"
  defaultNetstreamDriverCAFile="${f('ca.pem')}" defaultNetstreamDriverCertFile="${f('server.pem')}" defaultNetstreamDriverKeyFile="${f('server.key')}")
module(load="imtcp" maxSessions="200")
module(load="imudp")
template(name="raw" type="string" string="%rawmsg%\\n")
ruleset(name="tcp") { action(type="omfile" file="${f('tcp.log')}" template="raw" flushOnTXEnd="on") }
ruleset(name="udp") { action(type="omfile" file="${f('udp.log')}" template="raw" flushOnTXEnd="on") }
ruleset(name="tls") { action(type="omfile" file="${f('tls.log')}" template="raw" flushOnTXEnd="on") }
input(type="imtcp" address="127.0.0.1" ${tcpPort('tcp')} ruleset="tcp")
input(type="imtcp" address="127.0.0.1" ${tcpPort('tls')} ruleset="tls" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imudp" address="127.0.0.1" port="${ports.udp}" ruleset="udp")
`;
}

/** The local port of the UDP socket a process holds (imudp cannot report it). */
async function udpPortOf(pid: number): Promise<number | null> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [])) {
    const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m) inodes.add(m[1]!);
  }
  const table = await readFile('/proc/net/udp', 'utf8');
  for (const line of table.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols[9] && inodes.has(cols[9])) return parseInt(cols[1]!.split(':')[1]!, 16);
  }
  return null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>, output: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`rsyslog: ${what} within ${timeoutMs} ms\n${output()}`);
    await sleep(50);
  }
}

export async function startRsyslog(): Promise<Rsyslog> {
  const bin = requireRsyslog();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rsyslog-'));
  await makeCertificates(dir);
  const ports: Record<SyslogInput, number> = { tcp: 0, udp: 0, tls: 0 };
  const conf = path.join(dir, 'rsyslog.conf');
  const pidFile = path.join(dir, 'rsyslogd.pid');
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let out = '';
  const killOnExit = () => { if (child?.pid) try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } };
  process.on('exit', killOnExit);

  async function start(): Promise<void> {
    await writeFile(conf, config(dir, ports));
    const check = spawnSync(bin, ['-N1', '-f', conf], { encoding: 'utf8' });
    if (check.status !== 0) throw new Error(`rsyslogd -N1 rejected the config (exit ${check.status}):\n${check.stdout}${check.stderr}`);
    const args = ['-n', '-f', conf, '-i', pidFile];
    const viaSetpriv = existsSync('/usr/bin/setpriv');
    out = '';
    const c = viaSetpriv
      ? spawn('/usr/bin/setpriv', ['--pdeathsig', 'TERM', bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    const keep = (d: Buffer) => { out = (out + d.toString()).slice(-8000); };
    c.stdout?.on('data', keep);
    c.stderr?.on('data', keep);
    exited = new Promise((resolve) => c.once('exit', () => resolve()));
    const pid = c.pid!;
    const alive = () => c.exitCode === null && c.signalCode === null;
    const readPort = async (input: 'tcp' | 'tls') => {
      if (!alive()) throw new Error(`rsyslogd exited (code ${c.exitCode}):\n${out}`);
      const text = await readFile(path.join(dir, `${input}.port`), 'utf8').catch(() => '');
      return /^\d+$/.test(text.trim()) ? Number(text.trim()) : null;
    };
    if (!ports.tcp) ports.tcp = await waitFor('no tcp port file', 10_000, () => readPort('tcp'), () => out);
    if (!ports.tls) ports.tls = await waitFor('no tls port file', 10_000, () => readPort('tls'), () => out);
    if (!ports.udp) ports.udp = await waitFor('no udp socket', 10_000, () => udpPortOf(pid), () => out);
    // Ready once every input accepts: TCP listeners by a connection, UDP by its bound socket.
    for (const input of ['tcp', 'tls'] as const) {
      await waitFor(`${input} port ${ports[input]} not accepting`, 10_000, () => new Promise<true | null>((resolve) => {
        const s = net.connect(ports[input], '127.0.0.1', () => { s.destroy(); resolve(true); });
        s.on('error', () => resolve(null));
      }), () => out);
    }
    await waitFor('udp socket not bound', 10_000, async () => ((await udpPortOf(pid)) === ports.udp ? true : null), () => out);
  }

  async function stop(): Promise<void> {
    const c = child;
    if (!c?.pid || c.exitCode !== null || c.signalCode !== null) return;
    try { process.kill(c.pid, 'SIGTERM'); } catch { return; }
    const t = setTimeout(() => { try { process.kill(c.pid!, 'SIGKILL'); } catch { /* gone */ } }, 5_000);
    await exited;
    clearTimeout(t);
  }

  const lines = async (input: SyslogInput): Promise<string[]> => {
    const text = await readFile(path.join(dir, `${input}.log`), 'utf8').catch(() => '');
    return text === '' ? [] : text.replace(/\n$/, '').split('\n');
  };

  try {
    await start();
  } catch (e) {
    await stop();
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    ports,
    caPem: await readFile(path.join(dir, 'ca.pem'), 'utf8'),
    pid: () => child?.pid ?? 0,
    lines,
    async waitForLines(input, n, timeoutMs = 10_000) {
      let got = 0;
      return waitFor(`${input}: fewer than ${n} messages`, timeoutMs, async () => {
        const l = await lines(input);
        got = l.length;
        return l.length >= n ? l : null;
      }, () => `received ${got}\n${out}`);
    },
    stop,
    start,
    async dispose() {
      await stop();
      process.off('exit', killOnExit);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
