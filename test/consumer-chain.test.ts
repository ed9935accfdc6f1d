// The consumer chain (processors/consumer/) every consumer of the log is built on: batching,
// results as values, retries (with the other side's delay when it gives one), commit after write,
// a failed partition staying failed, and stop cutting a long retry short.
import { describe, expect, it } from 'vitest';
import { AuditflowError } from '../infra/errors.ts';
import type { LogMessage } from '../infra/log/log.ts';
import { backoffDelay } from '../processors/consumer/backoff.ts';
import { ConsumerChain, DONE, type PartitionWork, type WriteResult } from '../processors/consumer/consumer-chain.ts';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

class Work implements PartitionWork<number[]> {
  filling: number[] = [];
  writes: number[][] = [];
  retrying?: (attempt: number, delayMs: number, reason: string) => void;
  constructor(private readonly script: (batch: number[], attempt: number) => WriteResult | Promise<WriteResult>) {}
  private attempts = new Map<number[], number>();
  accept(m: LogMessage): void {
    this.filling.push(Number(m.offset));
  }
  bytes(): number {
    return this.filling.length * 10;
  }
  take(): number[] {
    const b = this.filling;
    this.filling = [];
    return b;
  }
  async write(batch: number[]): Promise<WriteResult> {
    const attempt = (this.attempts.get(batch) ?? 0) + 1;
    this.attempts.set(batch, attempt);
    const r = await this.script(batch, attempt);
    if (r.kind === 'done') this.writes.push([...batch]);
    return r;
  }
}

class TestChain extends ConsumerChain<Work, number[]> {
  commits: bigint[] = [];
  constructor(private readonly work: Work, opts: { batchRows?: number; doneUpTo?: bigint; retryBaseMs?: number } = {}) {
    super({
      name: 'test', logger: quiet,
      batch: { batchRows: opts.batchRows ?? 3, batchBytes: 1 << 20, batchMs: 60_000, flushWhenQuiet: false },
      retry: { baseMs: opts.retryBaseMs ?? 1, maxMs: 5 },
      commit: async (_t, _p, o) => {
        this.commits.push(o);
      },
    });
    this.doneUpTo = opts.doneUpTo ?? -1n;
  }
  private readonly doneUpTo: bigint;
  protected async assign(): Promise<{ work: Work; doneUpTo: bigint }> {
    return { work: this.work, doneUpTo: this.doneUpTo };
  }
}

const msgs = (from: number, n: number): LogMessage[] =>
  Array.from({ length: n }, (_, i) => ({ offset: BigInt(from + i), key: 't', value: Buffer.from('{}'), headers: {}, timestamp: 0 }));

describe('consumer chain', () => {
  it('batches by rows, writes in order, and commits past each batch only after its write', async () => {
    const work = new Work(() => DONE);
    const chain = new TestChain(work, { batchRows: 3 });
    await chain.onAssign('t', 0);
    await chain.onBatch({ topic: 't', partition: 0, messages: msgs(0, 7) });
    await chain.drain();
    expect(work.writes).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    expect(chain.commits).toEqual([3n, 6n, 7n]);
    expect(chain.chainPositions()).toEqual([{ topic: 't', partition: 0, doneUpTo: 6n }]);
  });

  it('skips what a previous run had done, and still commits past it', async () => {
    const work = new Work(() => DONE);
    const chain = new TestChain(work, { batchRows: 10, doneUpTo: 4n });
    await chain.onAssign('t', 0);
    await chain.onBatch({ topic: 't', partition: 0, messages: msgs(0, 8) });
    await chain.drain();
    expect(work.writes).toEqual([[5, 6, 7]]);
    expect(chain.chainStats.skippedReplayed).toBe(5);
    expect(chain.commits).toEqual([8n]);
  });

  it('retries a `retry` result with the delay the other side asked for, then commits', async () => {
    const delays: number[] = [];
    const work = new Work((_b, attempt) => (attempt < 3 ? { kind: 'retry', reason: '429', afterMs: 30 } : DONE));
    work.retrying = (_a, d) => delays.push(d);
    const chain = new TestChain(work, { batchRows: 2 });
    await chain.onAssign('t', 0);
    const t0 = Date.now();
    await chain.onBatch({ topic: 't', partition: 0, messages: msgs(0, 2) });
    await chain.drain();
    expect(delays).toEqual([30, 30]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(55);
    expect(work.writes).toEqual([[0, 1]]);
    expect(chain.commits).toEqual([2n]);
    expect(chain.chainStats.retries).toBe(2);
  });

  it('retries retriable thrown errors; a non-retriable one fails the partition and every later call', async () => {
    let n = 0;
    const work = new Work(() => {
      n++;
      if (n === 1) throw new AuditflowError('STORE_UNAVAILABLE', 'blip');
      if (n === 2) return DONE;
      throw new AuditflowError('INTERNAL', 'broken');
    });
    const chain = new TestChain(work, { batchRows: 1 });
    await chain.onAssign('t', 0);
    await chain.onBatch({ topic: 't', partition: 0, messages: msgs(0, 1) });
    await chain.drain();
    expect(chain.commits).toEqual([1n]);
    await chain.onBatch({ topic: 't', partition: 0, messages: msgs(1, 1) });
    await expect(chain.drain()).rejects.toThrow('broken');
    await expect(chain.onTick()).rejects.toThrow('broken');
    expect(chain.commits).toEqual([1n]); // never past the failed batch
  });

  it('stop cuts a long retry short: the write fails with SHUTTING_DOWN and nothing is committed', async () => {
    const work = new Work(() => ({ kind: 'retry', reason: 'down', afterMs: 60_000 }));
    const chain = new TestChain(work, { batchRows: 1 });
    await chain.onAssign('t', 0);
    await chain.onBatch({ topic: 't', partition: 0, messages: msgs(0, 1) });
    await new Promise((r) => setTimeout(r, 20));
    const t0 = Date.now();
    chain.stop();
    await expect(chain.drain()).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(chain.commits).toEqual([]);
  });

  it('backoff grows exponentially within [ceiling/2, ceiling] and stops at the maximum', () => {
    const policy = { baseMs: 100, maxMs: 1_000 };
    expect(backoffDelay(policy, 1, () => 0)).toBe(50);
    expect(backoffDelay(policy, 1, () => 1)).toBe(100);
    expect(backoffDelay(policy, 3, () => 0.5)).toBe(300);
    expect(backoffDelay(policy, 20, () => 1)).toBe(1_000);
    const seen = new Set(Array.from({ length: 50 }, () => backoffDelay(policy, 4)));
    expect(seen.size).toBeGreaterThan(5); // jittered
    for (const d of seen) expect(d >= 400 && d <= 800).toBe(true);
  });
});
