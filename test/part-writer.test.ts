// The part writer: entries → format → (gzip) → numbered parts, each streamed to an upload with
// back-pressure; split by rows or bytes, hashed as written, cancelled by a signal, failed by an upload.
import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createGunzip, gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { toScaiVaultLog, type LogRow } from '../api/scaivault/scaivault-log.ts';
import { csvEncoder, jsonlEncoder, type ExportFormat, type ScaiVaultLogEntry } from '../processors/export/export-formats.ts';
import { EncodedLines, PART_CHUNK_BYTES, writeExportParts, type EntrySource, type PartWriterOptions, type UploadPart } from '../processors/export/part-writer.ts';

/** Entry i; every entry has the same byte length (fixed-width ids), with multi-byte text so bytes ≠ characters. */
const entry = (i: number): ScaiVaultLogEntry => {
  const r: LogRow = {
    seq: i + 1, id: `aud_${String(i).padStart(8, '0')}`, event_time: '2026-04-23 10:00:00.123', action: 'read',
    actor_type: 'service_account', actor_id: 'sa:reporting', resource_path: `integrations/${String(i % 997).padStart(3, '0')}/oauth`,
    source_ip: '10.0.1.50', user_agent: 'scaivault-python/1.0 (Zürich, 東京)', success: true, duration_ms: 10 + (i % 90),
    request_id: `req_${String(i).padStart(8, '0')}`, details: '{"k":"v, \\"q\\""}',
  };
  return toScaiVaultLog(r);
};
function* entries(n: number, from = 0): Generator<ScaiVaultLogEntry> {
  for (let i = from; i < from + n; i++) yield entry(i);
}

/** A source that notes being closed: on failure the writer must close it (the store's stream). */
function closable(n: number): { source: Generator<ScaiVaultLogEntry>; closed: () => boolean } {
  let closed = false;
  function* source(): Generator<ScaiVaultLogEntry> {
    try {
      yield* entries(n);
    } finally {
      closed = true;
    }
  }
  return { source: source(), closed: () => closed };
}

/** An upload that reads each part to its end and keeps its bytes. */
function collector(): { received: Map<string, Buffer>; upload: UploadPart } {
  const received = new Map<string, Buffer>();
  return {
    received,
    upload: async (part, body) => {
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(c as Buffer);
      received.set(part.name, Buffer.concat(chunks));
    },
  };
}

const opts = (format: ExportFormat, upload: UploadPart, over: Partial<PartWriterOptions> = {}): PartWriterOptions => ({
  format, gzip: false, partRows: 1_000_000, partBytes: 256 * 1024 * 1024, uploadPart: upload, ...over,
});
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const lineCount = (b: Buffer): number => {
  let n = 0;
  for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++;
  return n;
};
const L = Buffer.byteLength(jsonlEncoder.line(entry(0)));
const C = Buffer.byteLength(csvEncoder.line(entry(0)));
const H = Buffer.byteLength(csvEncoder.header);

describe('splitting', () => {
  it('splits by rows into numbered parts, exactly, with no empty part', async () => {
    const c = collector();
    const out = await writeExportParts(entries(2500), opts('jsonl', c.upload, { partRows: 1000 }));
    expect(out.parts.map((p) => [p.name, p.records])).toEqual([['part-0001.jsonl', 1000], ['part-0002.jsonl', 1000], ['part-0003.jsonl', 500]]);
    expect(out.records).toBe(2500);
    const all = [...c.received.values()].map((b) => b.toString('utf8')).join('');
    expect(all).toBe([...entries(2500)].map((e) => jsonlEncoder.line(e)).join(''));

    const even = await writeExportParts(entries(2000), opts('jsonl', collector().upload, { partRows: 1000 }));
    expect(even.parts.map((p) => p.records)).toEqual([1000, 1000]);
  });

  it('writes no parts for no rows', async () => {
    let calls = 0;
    const out = await writeExportParts([], opts('csv', async () => { calls++; }));
    expect(out).toEqual({ parts: [], records: 0, size_bytes: 0 });
    expect(calls).toBe(0);
  });

  it('splits by uncompressed bytes at the exact boundary, header included, whichever of rows and bytes comes first', async () => {
    expect(L).toBeGreaterThan(jsonlEncoder.line(entry(0)).length); // bytes, not UTF-16 units
    const sizes = async (format: ExportFormat, over: Partial<PartWriterOptions>, n = 10) => {
      const c = collector();
      const out = await writeExportParts(entries(n), opts(format, c.upload, over));
      for (const p of out.parts) expect(c.received.get(p.name)?.length).toBe(p.size_bytes);
      return out.parts.map((p) => p.records);
    };
    expect(await sizes('jsonl', { partBytes: 3 * L })).toEqual([3, 3, 3, 1]);
    expect(await sizes('jsonl', { partBytes: 3 * L - 1 })).toEqual([2, 2, 2, 2, 2]);
    expect(await sizes('csv', { partBytes: H + 3 * C })).toEqual([3, 3, 3, 1]);
    expect(await sizes('csv', { partBytes: H + 3 * C - 1 })).toEqual([2, 2, 2, 2, 2]);
    expect(await sizes('jsonl', { partBytes: 3 * L, partRows: 2 })).toEqual([2, 2, 2, 2, 2]);
    expect(await sizes('jsonl', { partBytes: 4 * L, partRows: 3 })).toEqual([3, 3, 3, 1]);
    // A record larger than partBytes goes alone into a part.
    expect(await sizes('jsonl', { partBytes: L - 1 }, 3)).toEqual([1, 1, 1]);
    // Parts that hold 2 records are exactly 2 lines long.
    const c = collector();
    await writeExportParts(entries(4), opts('jsonl', c.upload, { partBytes: 2 * L }));
    expect([...c.received.values()].map((b) => b.length)).toEqual([2 * L, 2 * L]);
  });

  it('takes entries in batches (arrays) and one by one alike', async () => {
    const one = collector();
    const batched = collector();
    async function* batches(): AsyncGenerator<ScaiVaultLogEntry[]> {
      for (let i = 0; i < 3000; i += 700) yield [...entries(Math.min(700, 3000 - i), i)];
    }
    const a = await writeExportParts(entries(3000), opts('csv', one.upload, { partRows: 1000 }));
    const b = await writeExportParts(batches(), opts('csv', batched.upload, { partRows: 1000 }));
    expect(b).toEqual(a);
    expect([...batched.received.keys()]).toEqual([...one.received.keys()]);
    for (const [name, bytes] of one.received) expect(batched.received.get(name)?.equals(bytes)).toBe(true);
  });

  it('writes encoded lines (the store-shaped records) as the same parts as the entries, mixed with entries, split at the same records', async () => {
    // Pieces of uneven sizes, as the store's chunks come: some of one line, some of many.
    async function* mixed(format: ExportFormat, n: number): AsyncGenerator<EncodedLines | ScaiVaultLogEntry[]> {
      const enc = format === 'csv' ? csvEncoder : jsonlEncoder;
      for (let i = 0, k = 1; i < n; i += k, k = (k * 7) % 23 + 1) {
        const m = Math.min(k, n - i);
        if (k % 5 === 0) yield [...entries(m, i)];
        else yield new EncodedLines(Buffer.from([...entries(m, i)].map((e) => enc.line(e)).join('')), m);
      }
    }
    const cases: [ExportFormat, Partial<PartWriterOptions>][] = [
      ['jsonl', { partRows: 37 }], ['jsonl', { partBytes: 5 * L - 1 }], ['jsonl', { partBytes: 11 * L, partRows: 13 }],
      ['csv', { partBytes: H + 4 * C }], ['csv', { partRows: 29, gzip: true }], ['jsonl', { partBytes: L - 1 }],
    ];
    for (const [format, over] of cases) {
      const byEntry = collector();
      const byLines = collector();
      const n = over.partBytes === L - 1 ? 5 : 300;
      const a = await writeExportParts(entries(n), opts(format, byEntry.upload, over));
      const b = await writeExportParts(mixed(format, n), opts(format, byLines.upload, over));
      expect(b).toEqual(a);
      expect(a.parts.length).toBeGreaterThan(2);
      for (const [name, bytes] of byEntry.received) expect(byLines.received.get(name)?.equals(bytes), `${format} ${JSON.stringify(over)} ${name}`).toBe(true);
    }
  });
});

describe('bytes as written', () => {
  it('gzip parts gunzip to the same bytes as the plain parts, and each part hash and size are those of the bytes the upload received', async () => {
    const plain = collector();
    const gz = collector();
    const p = await writeExportParts(entries(2000), opts('csv', plain.upload, { partRows: 700 }));
    const g = await writeExportParts(entries(2000), opts('csv', gz.upload, { partRows: 700, gzip: true }));
    expect(g.parts.map((x) => x.name)).toEqual(['part-0001.csv.gz', 'part-0002.csv.gz', 'part-0003.csv.gz']);
    expect(g.parts.map((x) => x.records)).toEqual(p.parts.map((x) => x.records));
    for (const [i, part] of g.parts.entries()) {
      const bytes = gz.received.get(part.name) as Buffer;
      expect(part.sha256).toBe(sha256(bytes));
      expect(part.size_bytes).toBe(bytes.length);
      expect(bytes.length).toBeLessThan(plain.received.get(p.parts[i]?.name ?? '')?.length ?? 0);
      expect(gunzipSync(bytes).equals(plain.received.get(`part-000${i + 1}.csv`) as Buffer)).toBe(true);
    }
    for (const part of p.parts) expect(part.sha256).toBe(sha256(plain.received.get(part.name) as Buffer));
    expect(g.size_bytes).toBe([...gz.received.values()].reduce((s, b) => s + b.length, 0));
  });

  it('starts every CSV part with its own header row', async () => {
    const c = collector();
    const out = await writeExportParts(entries(2500), opts('csv', c.upload, { partRows: 1000 }));
    let next = 0;
    for (const part of out.parts) {
      const text = (c.received.get(part.name) as Buffer).toString('utf8');
      expect(text.startsWith(csvEncoder.header)).toBe(true);
      const records = parse(text, { columns: true, record_delimiter: '\r\n' }) as Array<{ id: string }>;
      expect(records.length).toBe(part.records);
      for (const r of records) expect(r.id).toBe(entry(next++).id);
    }
    expect(next).toBe(2500);
  });
});

describe('back-pressure', () => {
  // The producer pulls an entry only when the part's stream has room: entries pulled but not yet
  // received by the upload stay within a few chunks, however slow the upload.
  const run = async (gzip: boolean, n: number) => {
    let pulled = 0;
    let received = 0;
    let maxAhead = 0;
    let stored = 0;
    function* counted(): Generator<ScaiVaultLogEntry> {
      for (const e of entries(n)) {
        pulled++;
        maxAhead = Math.max(maxAhead, pulled - received);
        yield e;
      }
    }
    const upload: UploadPart = async (_part, body) => {
      body.on('data', (c: Buffer) => { stored += c.length; });
      for await (const c of gzip ? body.pipe(createGunzip()) : body) {
        received += lineCount(c as Buffer);
        await sleep(1); // a slow destination
      }
    };
    const out = await writeExportParts(counted(), opts('jsonl', upload, { gzip }));
    expect(out.records).toBe(n);
    expect(received).toBe(n);
    return { maxAhead, ratio: (n * L) / stored };
  };

  it('holds a slow upload to a bounded number of entries ahead (plain)', async () => {
    const { maxAhead: ahead } = await run(false, 20_000);
    // pending text + the meter's writable and readable buffers, one chunk each (and one chunk of slack)
    expect(ahead * L).toBeLessThanOrEqual(5 * PART_CHUNK_BYTES);
  });

  it('holds a slow upload to a bounded number of entries ahead (gzip)', async () => {
    const n = 50_000;
    const { maxAhead: ahead, ratio } = await run(true, n);
    // Past zlib the buffers hold compressed bytes, each standing for `ratio` bytes of entries (these
    // are repetitive, ~20×): bounded to a few chunks of compressed output, the consumer's gunzip included.
    expect(ratio).toBeGreaterThan(4);
    expect((ahead * L) / ratio).toBeLessThanOrEqual(10 * PART_CHUNK_BYTES);
    expect(ahead).toBeLessThan(n / 2);
  });
});

describe('cancellation and failure', () => {
  it('stops on abort: rejects with the reason, errors the part in progress, closes the source', async () => {
    const ac = new AbortController();
    const reason = new Error('cancelled by the test');
    const src = closable(100_000);
    let bodyError: unknown;
    let got = 0;
    const upload: UploadPart = async (_part, body) => {
      try {
        for await (const c of body) {
          got += (c as Buffer).length;
          if (got > 200_000) ac.abort(reason);
          await sleep(1);
        }
      } catch (e) {
        bodyError = e;
        throw e;
      }
    };
    await expect(writeExportParts(src.source, opts('jsonl', upload, { signal: ac.signal }))).rejects.toBe(reason);
    expect(src.closed()).toBe(true);
    await sleep(10);
    expect(bodyError).toBe(reason);
  });

  it('stops on abort between encoded lines too: the part they opened is errored, not left open', async () => {
    const ac = new AbortController();
    const reason = new Error('cancelled by the test');
    const bodies = new Map<string, { ended: boolean; error?: unknown }>();
    const batch = (from: number) => new EncodedLines(Buffer.from([...entries(130, from)].map((e) => jsonlEncoder.line(e)).join('')), 130);
    // 130 records: part 1 takes 100 and closes, part 2 opens with 30; then the abort.
    async function* lines(): AsyncGenerator<EncodedLines> {
      yield batch(0);
      ac.abort(reason);
      await sleep(5);
      yield batch(130);
    }
    const upload: UploadPart = async (part, body) => {
      const b: { ended: boolean; error?: unknown } = { ended: false };
      bodies.set(part.name, b);
      try {
        for await (const _c of body) { /* read */ }
        b.ended = true;
      } catch (e) {
        b.error = e;
        throw e;
      }
    };
    await expect(writeExportParts(lines(), opts('jsonl', upload, { partRows: 100, signal: ac.signal }))).rejects.toBe(reason);
    await sleep(10);
    expect(bodies.get('part-0001.jsonl')).toEqual({ ended: true });
    expect(bodies.get('part-0002.jsonl')?.error).toBe(reason);
  });

  it('stops on abort while waiting on a source that does not answer', async () => {
    const ac = new AbortController();
    async function* stalled(): AsyncGenerator<ScaiVaultLogEntry> {
      yield* entries(10);
      await new Promise(() => undefined);
    }
    const c = collector();
    setTimeout(() => ac.abort(), 50);
    await expect(writeExportParts(stalled(), opts('csv', c.upload, { signal: ac.signal }))).rejects.toMatchObject({ name: 'AbortError' });
    expect(c.received.size).toBe(0); // the part in progress was never completed
  });

  it('does nothing when the signal is already aborted', async () => {
    let pulled = 0;
    let calls = 0;
    function* source(): Generator<ScaiVaultLogEntry> {
      pulled++;
      yield entry(0);
    }
    const ac = new AbortController();
    ac.abort(new Error('too late'));
    await expect(writeExportParts(source(), opts('jsonl', async () => { calls++; }, { signal: ac.signal }))).rejects.toThrow('too late');
    expect([pulled, calls]).toEqual([0, 0]);
  });

  it('rejects with the upload error when an upload fails mid-part, and opens no further part', async () => {
    const failure = new Error('destination down');
    const names: string[] = [];
    const src = closable(50_000);
    const upload: UploadPart = async (part, body) => {
      names.push(part.name);
      let got = 0;
      for await (const c of body) {
        got += (c as Buffer).length;
        if (part.number === 2 && got > 100_000) throw failure;
      }
    };
    await expect(writeExportParts(src.source, opts('jsonl', upload, { partRows: 10_000 }))).rejects.toBe(failure);
    expect(names).toEqual(['part-0001.jsonl', 'part-0002.jsonl']);
    expect(src.closed()).toBe(true);
  });

  it('writes the next part while the previous upload finishes (one at a time), and lists parts in order', async () => {
    const events: string[] = [];
    const c = collector();
    const upload: UploadPart = async (part, body, signal) => {
      events.push(`start ${part.number}`);
      await c.upload(part, body, signal);
      // The part's bytes are all read; its store is still finishing (a local fsync, a last request).
      await sleep(50);
      events.push(`stored ${part.number}`);
    };
    const out = await writeExportParts(entries(3000), opts('jsonl', upload, { partRows: 1000 }));
    expect(out.parts.map((p) => p.name)).toEqual(['part-0001.jsonl', 'part-0002.jsonl', 'part-0003.jsonl']);
    expect(out.parts.map((p) => p.sha256)).toEqual(out.parts.map((p) => sha256(c.received.get(p.name)!)));
    expect(events.indexOf('start 2')).toBeLessThan(events.indexOf('stored 1'));
    expect(events.indexOf('start 3')).toBeGreaterThan(events.indexOf('stored 1'));
    expect(events[events.length - 1]).toBe('stored 3');
  });

  it('rejects when an upload fails without reading while the writer waits on it', async () => {
    const failure = new Error('refused');
    await expect(writeExportParts(entries(50_000), opts('csv', async () => { await sleep(20); throw failure; }, { gzip: true }))).rejects.toBe(failure);
  });

  it('rejects when an upload reports success before reading its part to the end', async () => {
    await expect(writeExportParts(entries(50_000), opts('jsonl', async () => undefined))).rejects.toMatchObject({ code: 'INTERNAL' });
    await expect(writeExportParts(entries(50_000), opts('jsonl', async (_p, body) => { body.destroy(); }))).rejects.toMatchObject({ code: 'INTERNAL' });
  });

  it('errors the part in progress when the source fails, so the upload does not store it', async () => {
    const failure = new Error('store read failed');
    async function* failing(): AsyncGenerator<ScaiVaultLogEntry> {
      yield* entries(5000);
      throw failure;
    }
    let bodyError: unknown;
    let ended = false;
    const upload: UploadPart = async (_part, body) => {
      body.on('end', () => { ended = true; });
      try {
        for await (const _c of body) { /* drain */ }
      } catch (e) {
        bodyError = e;
        throw e;
      }
    };
    await expect(writeExportParts(failing(), opts('jsonl', upload))).rejects.toBe(failure);
    await sleep(10);
    expect(bodyError).toBe(failure);
    expect(ended).toBe(false);
  });
});

describe('memory', () => {
  it('writes 1,000,000 rows into a hashing sink with the heap bounded', { timeout: 180_000 }, async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const used = (): number => {
      gc();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const N = 1_000_000;
    const base = used();
    let peak = 0;
    async function* rows(): AsyncGenerator<ScaiVaultLogEntry[]> {
      for (let i = 0; i < N; i += 1000) {
        if (i % 100_000 === 0) peak = Math.max(peak, used() - base);
        yield [...entries(1000, i)];
      }
    }
    const hashes = new Map<string, string>();
    const upload: UploadPart = async (part, body) => {
      const h = createHash('sha256');
      for await (const c of body) h.update(c as Buffer);
      hashes.set(part.name, h.digest('hex'));
    };
    const out = await writeExportParts(rows(), opts('jsonl', upload, { gzip: true, partRows: 250_000 }));
    expect(out.records).toBe(N);
    expect(out.parts.map((p) => p.records)).toEqual([250_000, 250_000, 250_000, 250_000]);
    for (const p of out.parts) expect(hashes.get(p.name)).toBe(p.sha256);
    // The output is ~N × L bytes of text (≈350 MB); held in memory it would be far past this bound.
    expect(N * L).toBeGreaterThan(300 * 1024 * 1024);
    expect(peak).toBeLessThan(32 * 1024 * 1024);
  });
});
