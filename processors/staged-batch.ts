// The store sink's batch while it fills, kept as columns and laid out as the insert itself: each
// event's body bytes are copied once into one growing buffer, behind room reserved for its row
// prefix, and its tenant, id, log offset and id hashes go into arrays. No log message object
// outlives the call that delivered it, and the insert sends the buffer as it stands.
// NOTE: why columns — a batch holds up to SINK_BATCH_ROWS events for up to SINK_BATCH_MS plus an
// insert. Held as message objects (message, headers, value view, pending entry) they all lived
// long enough to be promoted to V8's old generation, and marking them cost the GC threads more
// than the sink's own work. Bytes in one buffer are never scanned.
//
// A row in the buffer (JSONEachRow): the prefix `{"seq":N,"received_at":"…","log_partition":P,
// "log_offset":O`, padded with spaces up to the body, then the body with its `{` overwritten by
// `,`, then `\n`. JSON allows whitespace between tokens, so the padding costs the parser a skip;
// an event dropped as a duplicate becomes a line of spaces, which JSONEachRow skips too.
import { idHashes } from './id-filter.ts';

const INITIAL_ROWS = 1024;
const MIN_DATA = 1 << 20;
/** Room reserved for a row prefix: `{"seq":` + 20 digits + the middle (≤ 80) + 20 digits. */
export const ROW_PREFIX = 7 + 20 + 80 + 20;
const SEQ_OPEN = Buffer.from('{"seq":', 'latin1');
const SPACE = 0x20;

export class StagedBatch {
  /** Events staged. */
  count = 0;
  /** Bytes staged (rows as they will be sent). */
  used = 0;
  private data = Buffer.allocUnsafeSlow(MIN_DATA);
  /** Where each row's reserved prefix starts; its body starts ROW_PREFIX later. */
  private rowStart = new Uint32Array(INITIAL_ROWS);
  /** Where each row's body ends (its `\n`). */
  private rowEnd = new Uint32Array(INITIAL_ROWS);
  /** Log offsets (exact: offsets stay far below 2^53). */
  offsets = new Float64Array(INITIAL_ROWS);
  h1 = new Uint32Array(INITIAL_ROWS);
  h2 = new Uint32Array(INITIAL_ROWS);
  /** 1 when the event came in our log form as it stands (its bytes are the message's value). */
  trusted = new Uint8Array(INITIAL_ROWS);
  tenants: string[] = [];
  ids: string[] = [];
  /** The message key, for the dead letter should the store refuse a trusted body. */
  keys: (string | null)[] = [];
  /** Headers of trusted messages that carried more than the log headers (rare; dead letters only). */
  readonly extraHeaders = new Map<number, Record<string, string>>();

  /** Stages an event; `body` is a JSON object's bytes. Returns its index. */
  add(offset: bigint, tenantId: string, id: string, body: Buffer, trusted: boolean, key: string | null): number {
    const i = this.count;
    if (i === this.offsets.length) this.growRows();
    const need = this.used + ROW_PREFIX + body.length + 1;
    if (need > this.data.length) this.growData(need);
    this.rowStart[i] = this.used;
    const at = this.used + ROW_PREFIX;
    this.data.set(body, at);
    this.rowEnd[i] = at + body.length;
    this.used = at + body.length + 1;
    this.offsets[i] = Number(offset);
    idHashes(tenantId, id, this.h1, this.h2, i);
    this.trusted[i] = trusted ? 1 : 0;
    this.tenants.push(tenantId);
    this.ids.push(id);
    this.keys.push(key);
    this.count = i + 1;
    return i;
  }

  /** A copy of event `i`'s body as it was staged. */
  body(i: number): Buffer {
    const b = Buffer.from(this.data.subarray(this.rowStart[i]! + ROW_PREFIX, this.rowEnd[i]!));
    b[0] = 0x7b; // '{' (a row written for an insert has a comma there)
    return b;
  }

  /**
   * Writes row `i`'s prefix — seq, then `middle` (received_at and the partition, ending in
   * `"log_offset":`), then the offset — in front of its body.
   */
  writeRow(i: number, seq: number, middle: Buffer): void {
    const d = this.data;
    const start = this.rowStart[i]!;
    const bodyAt = start + ROW_PREFIX;
    d.set(SEQ_OPEN, start);
    let o = putUint(d, start + SEQ_OPEN.length, seq);
    d.set(middle, o);
    o = putUint(d, o + middle.length, this.offsets[i]!);
    d.fill(SPACE, o, bodyAt);
    d[bodyAt] = 0x2c; // ','
    d[this.rowEnd[i]!] = 0x0a;
  }

  /** Turns row `i` into a blank line (an event not to insert). */
  blankRow(i: number): void {
    this.data.fill(SPACE, this.rowStart[i]!, this.rowEnd[i]!);
    this.data[this.rowEnd[i]!] = 0x0a;
  }

  /** The rows as written by writeRow/blankRow (a view: do not reset the batch while it is in use). */
  rows(): Buffer {
    return this.data.subarray(0, this.used);
  }

  /** Empties the batch, keeping its buffers for the next one unless they are mostly unused. */
  reset(): void {
    // A burst should not pin its buffer on a partition that has gone quiet.
    if (this.data.length > 4 * MIN_DATA && this.used < this.data.length / 4) this.data = Buffer.allocUnsafeSlow(Math.max(MIN_DATA, this.used));
    this.count = 0;
    this.used = 0;
    this.tenants = [];
    this.ids = [];
    this.keys = [];
    this.extraHeaders.clear();
  }

  private growRows(): void {
    const n = this.offsets.length * 2;
    const grow = <T extends Uint32Array | Float64Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.rowStart = grow(this.rowStart, (k) => new Uint32Array(k));
    this.rowEnd = grow(this.rowEnd, (k) => new Uint32Array(k));
    this.offsets = grow(this.offsets, (k) => new Float64Array(k));
    this.h1 = grow(this.h1, (k) => new Uint32Array(k));
    this.h2 = grow(this.h2, (k) => new Uint32Array(k));
    this.trusted = grow(this.trusted, (k) => new Uint8Array(k));
  }

  private growData(need: number): void {
    const next = Buffer.allocUnsafeSlow(Math.max(need, this.data.length * 2));
    this.data.copy(next, 0, 0, this.used);
    this.data = next;
  }
}

/** Writes a non-negative integer (< 2^53) in decimal at `o`; returns the end. */
function putUint(buf: Buffer, o: number, n: number): number {
  let len = 1;
  for (let t = n; t >= 10; t = Math.floor(t / 10)) len++;
  for (let i = o + len - 1; i >= o; i--) {
    buf[i] = 48 + (n % 10);
    n = Math.floor(n / 10);
  }
  return o + len;
}
