// EngineQueue (test/bench/engine-queue.ts: the read-priority call order bench:api measures
// against chDB's own). Calls here are promises the test settles itself, so the order is checked
// step by step, without timing.
import { describe, expect, it } from 'vitest';
import { EngineQueue } from './bench/engine-queue.ts';

function harness(maxWriteWaitMs: number) {
  let clock = 0;
  const queue = new EngineQueue(maxWriteWaitMs, () => clock);
  const started: string[] = [];
  const finish = new Map<string, () => void>();
  const submit = (kind: 'read' | 'write', name: string) => queue.submit(kind, () => new Promise<string>((resolve) => {
    started.push(name);
    finish.set(name, () => resolve(name));
  }));
  const done = async (name: string) => {
    finish.get(name)!();
    await new Promise((r) => setImmediate(r));
  };
  return { started, submit, done, advance: (ms: number) => { clock += ms; } };
}

describe('EngineQueue', () => {
  it('hands at most two calls to the engine, reads before waiting writes', async () => {
    const h = harness(100);
    void h.submit('read', 'r1');
    void h.submit('write', 'w1');
    void h.submit('read', 'r2');
    void h.submit('read', 'r3');
    expect(h.started).toEqual(['r1', 'r2']);
    await h.done('r1');
    expect(h.started).toEqual(['r1', 'r2', 'r3']);
    await h.done('r2');
    await h.done('r3');
    expect(h.started).toEqual(['r1', 'r2', 'r3', 'w1']);
  });

  it('starts a write at once on an idle engine, and reads still join it', async () => {
    const h = harness(100);
    void h.submit('write', 'w1');
    void h.submit('write', 'w2');
    void h.submit('read', 'r1');
    expect(h.started).toEqual(['w1', 'r1']);
    await h.done('w1');
    expect(h.started).toEqual(['w1', 'r1']);
    await h.done('r1');
    expect(h.started).toEqual(['w1', 'r1', 'w2']);
  });

  it('lets a write that waited maxWriteWaitMs go next although reads keep coming', async () => {
    const h = harness(100);
    void h.submit('read', 'r1');
    void h.submit('write', 'w1');
    void h.submit('read', 'r2');
    void h.submit('read', 'r3');
    h.advance(99);
    await h.done('r1');
    expect(h.started).toEqual(['r1', 'r2', 'r3']);
    h.advance(1);
    void h.submit('read', 'r4');
    await h.done('r2');
    expect(h.started).toEqual(['r1', 'r2', 'r3', 'w1']);
    await h.done('r3');
    expect(h.started.at(-1)).toBe('r4');
  });

  it('passes results and failures through, and moves on after a failure', async () => {
    const queue = new EngineQueue(100);
    await expect(queue.submit('read', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(queue.submit('write', async () => 7)).resolves.toBe(7);
  });
});
