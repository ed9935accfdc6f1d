// A real Kafka protocol implementation for tests: librdkafka's mock cluster (3 brokers), run by a
// small C helper (kafka-mock.c) that the suite compiles on first use. Needs gcc and the Debian
// package librdkafka-dev; a missing one fails the test with a message naming it (never a skip).
// Quirks with kafkajs 2.2.4 are listed in DESIGN.md ("Testing with real components").
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const SOURCE = path.join(here, 'kafka-mock.c');
const BINARY = path.join(here, 'bin', 'kafka-mock');
const MOCK_HEADER = '/usr/include/librdkafka/rdkafka_mock.h';
const INSTALL_HINT = 'install the Debian package librdkafka-dev (apt-get install -y librdkafka-dev gcc)';

export interface KafkaMock {
  brokers: string[];
  pid: number;
  stop(): Promise<void>;
}

let compiled: Promise<string> | null = null;

function compile(): string {
  if (!existsSync(MOCK_HEADER)) {
    throw new Error(`the Kafka mock cluster needs ${MOCK_HEADER}: ${INSTALL_HINT}`);
  }
  if (existsSync(BINARY) && statSync(BINARY).mtimeMs >= statSync(SOURCE).mtimeMs) return BINARY;
  mkdirSync(path.dirname(BINARY), { recursive: true });
  // Compile to a temporary name and rename, so a concurrent test process never runs a half-written binary.
  const tmp = `${BINARY}.${process.pid}.tmp`;
  const r = spawnSync('gcc', ['-O2', '-o', tmp, SOURCE, '-lrdkafka', '-lpthread'], { encoding: 'utf8' });
  if (r.error) {
    throw new Error(`cannot run gcc to build the Kafka mock cluster (${r.error.message}): ${INSTALL_HINT}`);
  }
  if (r.status !== 0) {
    throw new Error(`gcc failed to build ${SOURCE} (exit ${r.status}): ${r.stderr}\nIf librdkafka is missing: ${INSTALL_HINT}`);
  }
  renameSync(tmp, BINARY);
  return BINARY;
}

function binary(): Promise<string> {
  compiled ??= Promise.resolve().then(compile);
  compiled.catch(() => { compiled = null; });
  return compiled;
}

const running = new Set<number>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // The helper also asks the kernel for SIGTERM when its parent dies (PR_SET_PDEATHSIG).
  process.on('exit', () => {
    for (const pid of running) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
  });
}

/** Starts a 3-broker mock cluster with the given topics (replication factor 3). */
export async function startKafkaMock(topics: { name: string; partitions: number }[]): Promise<KafkaMock> {
  const bin = await binary();
  for (const t of topics) {
    if (!/^[A-Za-z0-9._-]+$/.test(t.name) || !Number.isInteger(t.partitions) || t.partitions < 1) {
      throw new Error(`invalid mock topic ${JSON.stringify(t)}`);
    }
  }
  installExitHook();
  const child = spawn(bin, topics.map((t) => `${t.name}:${t.partitions}`), { stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) {
    const err = await new Promise((resolve) => child.once('error', resolve));
    throw new Error(`cannot start ${bin}: ${(err as Error).message}`);
  }
  const pid: number = child.pid;
  running.add(pid);

  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => { stderr = (stderr + d).slice(-4000); });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => { running.delete(pid); resolve(); });
  });

  const firstLine = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error('the Kafka mock cluster did not print its bootstrap servers within 10 s')), 10_000);
    const onData = (d: string): void => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) { cleanup(); resolve(out.slice(0, nl).trim()); }
    };
    const onExit = (code: number | null, signal: string | null): void => {
      fail(new Error(`the Kafka mock cluster exited early (code ${code}, signal ${signal}): ${stderr.trim()}`));
    };
    function cleanup(): void {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
    }
    function fail(e: Error): void {
      cleanup();
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      reject(e);
    }
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', onData);
    child.once('exit', onExit);
  });
  child.stdout.resume(); // nothing else is printed, but never let a full pipe block the helper

  const brokers = firstLine.split(',').map((b) => b.trim()).filter(Boolean);
  if (brokers.length === 0) throw new Error(`the Kafka mock cluster printed no brokers: ${firstLine}`);

  let stopping: Promise<void> | null = null;
  return {
    brokers,
    pid,
    stop(): Promise<void> {
      stopping ??= (async () => {
        if (!running.has(pid)) return;
        try { process.kill(pid, 'SIGTERM'); } catch { return; }
        const killTimer = setTimeout(() => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }, 5_000);
        await exited;
        clearTimeout(killTimer);
      })();
      return stopping;
    },
  };
}
