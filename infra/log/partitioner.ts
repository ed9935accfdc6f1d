// Which partition a key belongs to: Kafka's default partitioner (murmur2 of the key, positive,
// modulo the partition count) — the exact function kafkajs uses, so the embedded log, the
// processor's misrouting check and Kafka itself all agree where a tenant lives.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const murmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer | string) => number;

export function partitionForKey(key: string, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

/**
 * Where each tenant belongs, for consumers that check every message against it (the store sink,
 * the SIEM forwarders): memoised, since murmur2 per message showed in profiles.
 */
export class TenantPartitions {
  private readonly memo = new Map<string, number>();

  constructor(private readonly partitions: number) {}

  of(tenantId: string): number {
    if (this.partitions === 1) return 0;
    let p = this.memo.get(tenantId);
    if (p === undefined) {
      p = partitionForKey(tenantId, this.partitions);
      if (this.memo.size > 100_000) this.memo.clear();
      this.memo.set(tenantId, p);
    }
    return p;
  }
}
