// A scalable Bloom filter over (tenant, id) keys: answers "certainly new" for almost every event
// without asking the store, so only its rare "maybe seen" answers cost a store lookup. It grows
// by adding a filter of twice the capacity when the current one is full (false-positive rate
// stays near 1%), so memory follows the number of stored ids: ~1.2 MB per million.
const BITS_PER_KEY = 9.6; // 1% false positives
const HASHES = 7;

class Bloom {
  readonly bits: Uint32Array;
  readonly m: number;
  count = 0;
  constructor(readonly capacity: number) {
    this.m = Math.ceil((capacity * BITS_PER_KEY) / 32) * 32;
    this.bits = new Uint32Array(this.m / 32);
  }
  add(h1: number, h2: number): void {
    for (let i = 0; i < HASHES; i++) {
      const b = ((h1 + Math.imul(i, h2)) >>> 0) % this.m;
      this.bits[b >>> 5]! |= 1 << (b & 31);
    }
    this.count++;
  }
  has(h1: number, h2: number): boolean {
    for (let i = 0; i < HASHES; i++) {
      const b = ((h1 + Math.imul(i, h2)) >>> 0) % this.m;
      if ((this.bits[b >>> 5]! & (1 << (b & 31))) === 0) return false;
    }
    return true;
  }
}

/**
 * Two independent 32-bit FNV-1a style hashes of (tenant, id), written to h1[i] and h2[i]
 * (typed arrays: no array per call, and the key is never concatenated).
 */
export function idHashes(tenantId: string, id: string, h1: Uint32Array, h2: Uint32Array, i: number): void {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ (tenantId.length + id.length + 1);
  for (let k = 0; k < tenantId.length; k++) {
    const c = tenantId.charCodeAt(k);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  a = Math.imul(a, 0x01000193); // the separator (0)
  b = Math.imul(b, 0x5bd1e995);
  b ^= b >>> 15;
  for (let k = 0; k < id.length; k++) {
    const c = id.charCodeAt(k);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  h1[i] = a >>> 0;
  h2[i] = (b | 1) >>> 0;
}

export class IdFilter {
  private filters: Bloom[];

  constructor(initialCapacity = 1 << 20) {
    this.filters = [new Bloom(initialCapacity)];
  }

  /** A (tenant, id) pair as one string, for exact sets. */
  static key(tenantId: string, id: string): string {
    return `${tenantId}\u0000${id}`;
  }

  /** Adds the key whose idHashes are (h1, h2). */
  add(h1: number, h2: number): void {
    let f = this.filters[this.filters.length - 1]!;
    if (f.count >= f.capacity) {
      f = new Bloom(f.capacity * 2);
      this.filters.push(f);
    }
    f.add(h1, h2);
  }

  mightContain(h1: number, h2: number): boolean {
    for (const f of this.filters) if (f.has(h1, h2)) return true;
    return false;
  }

  get size(): number {
    return this.filters.reduce((n, f) => n + f.count, 0);
  }
}
