// Which partition a key belongs to: Kafka's default partitioner (murmur2 of the key, positive,
// modulo the partition count) — the exact function kafkajs uses, so the embedded log, the
// processor's misrouting check and Kafka itself all agree where a tenant lives.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const murmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer | string) => number;

export function partitionForKey(key: string, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}
