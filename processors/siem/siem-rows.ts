// What the SIEM records share (./destinations.ts, ./dead-letters.ts, ./delivery-health.ts,
// ./replays.ts): versions that only grow, ids that sort by creation, one-row inserts, and the
// store's encodings of booleans and 64-bit integers.
import { randomBytes } from 'node:crypto';
import type { Store } from '../../infra/store/store.ts';

/** Version numbers (ms × 1000 + a counter) that only grow, also within one millisecond. */
export class VersionClock {
  private last = 0;
  constructor(readonly now: () => number = Date.now) {}

  /** A version above `after` (the row's previous one) and above every one this clock gave. */
  next(after = 0): number {
    const v = Math.max(this.now() * 1000 + Math.floor(Math.random() * 1000), after + 1, this.last + 1);
    this.last = v;
    return v;
  }

  /** An id that sorts by creation in this process (fixed-width version) and never collides across processes. */
  id(prefix: string): string {
    return `${prefix}_${this.next().toString(36).padStart(11, '0')}${randomBytes(5).toString('hex')}`;
  }

  iso(): string {
    return new Date(this.now()).toISOString();
  }
}

export async function insertRows(store: Store, table: string, rows: readonly object[]): Promise<void> {
  if (rows.length === 0) return;
  await store.insertJsonEachRow(table, Buffer.from(rows.map((r) => `${JSON.stringify(r)}\n`).join('')));
}

/** A Bool as either store returns it. */
export const storedBool = (v: unknown): boolean => v === true || v === 1 || String(v) === 'true';

export const EPOCH = '1970-01-01T00:00:00.000Z';
