// LogAdmin on Kafka (kafkajs 2.2.4), checked against librdkafka's mock cluster (2.0.2), which
// lacks some of the protocol; each method says what it uses and where the mock needed a way round:
//   committed       OffsetFetch (admin.fetchOffsets)                           works on the mock
//   earliest / end  ListOffsets earliest / latest (admin.fetchTopicOffsets)    works on the mock
//   setCommitted    OffsetCommit from no member (generation -1), as Java's AdminClient
//                   alterConsumerGroupOffsets does: the broker refuses it (UNKNOWN_MEMBER_ID)
//                   while the group has members. Not admin.setOffsets: it needs DescribeGroups
//                   (the mock has none) and joins the group itself. The mock also refuses it for a
//                   group that ever had a member (it never forgets a group); then, where
//                   DescribeGroups is missing, the commit is made as the group's sole member
//                   (JoinGroup, SyncGroup, OffsetCommit, LeaveGroup) — refused if anyone else joins.
//   deleteGroup     DeleteGroups (admin.deleteGroups); the mock has none: its offsets are then
//                   committed as -1 (what OffsetFetch answers for "none") on every topic it has.
//   offsetsForTime  ListOffsets by timestamp (admin.fetchTopicOffsetsByTimestamp), checked with a
//                   Fetch of the record before the answer; the mock ignores the timestamp and
//                   answers the end, so where the check fails the offset is found by a binary
//                   search of Fetches (timestamps grow along a partition: producers stamp CreateTime).
// setCommitted, deleteGroup's fallback and the Fetches use kafkajs' internal cluster (its broker
// connections), which its public admin does not expose; kafkajs 2.2.4 is its final release.
import { AssignerProtocol, type Admin, type Kafka } from 'kafkajs';
import { AuditflowError } from '../errors.ts';
import type { LogAdmin, PositionOutOfRetention } from './log.ts';
import { checkBrokers, LazyConnection, lazyAdmin, makeKafka, unavailable, type KafkaLogOptions } from './kafka-client.ts';

/** The parts of kafkajs' internal Broker and Cluster used here. */
interface Broker {
  offsetCommit(req: { groupId: string; groupGenerationId: number; memberId: string; topics: CommitTopic[] }): Promise<unknown>;
  joinGroup(req: { groupId: string; sessionTimeout: number; rebalanceTimeout: number; memberId: string; groupProtocols: { name: string; metadata: Buffer }[] }): Promise<{ generationId: number; leaderId: string; memberId: string; members: unknown[] }>;
  syncGroup(req: { groupId: string; generationId: number; memberId: string; groupAssignment: { memberId: string; memberAssignment: Buffer }[] }): Promise<unknown>;
  leaveGroup(req: { groupId: string; memberId: string }): Promise<unknown>;
  fetch(req: Record<string, unknown>): Promise<{ responses: { partitions: { errorCode?: number; messages: { offset: string; timestamp: string; isControlRecord?: boolean }[] }[] }[] }>;
}
interface Cluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  refreshMetadataIfNecessary(): Promise<void>;
  findGroupCoordinator(req: { groupId: string }): Promise<Broker>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(req: { nodeId: string }): Promise<Broker>;
}
interface CommitTopic {
  topic: string;
  partitions: { partition: number; offset: string }[];
}

/** True when `e` (or what caused it) says the broker does not implement the request. */
function unsupported(e: unknown): boolean {
  for (let x = e; x instanceof Error; x = x.cause) if (x.name === 'KafkaJSServerDoesNotSupportApiKey') return true;
  return false;
}

function protocolError(e: unknown): string | undefined {
  for (let x = e; x instanceof Error; x = x.cause) {
    const type = (x as { type?: unknown }).type;
    if (typeof type === 'string') return type;
  }
  return undefined;
}

const READ_COMMITTED = 1;
const FETCH_BYTES = 64 * 1024;

export class KafkaLogAdmin implements LogAdmin {
  private readonly kafka: Kafka;
  private readonly sessionTimeout: number;
  private readonly admin: LazyConnection<Admin>;
  private readonly cluster: LazyConnection<Cluster>;

  constructor(opts: KafkaLogOptions) {
    checkBrokers(opts);
    this.kafka = makeKafka(opts);
    this.sessionTimeout = opts.sessionTimeoutMs ?? 6_000;
    this.admin = lazyAdmin(this.kafka);
    this.cluster = new LazyConnection('the Kafka cluster', this.connectCluster, (c) => c.disconnect());
  }

  /** kafkajs' internal cluster (broker connections), from the factory its admin uses. */
  private connectCluster = async (): Promise<Cluster> => {
    // NOTE: kafkajs keeps its cluster factory under a private symbol.
    const sym = Object.getOwnPropertySymbols(this.kafka).find((s) => s.description === 'private:Kafka:createCluster');
    const create = sym && (this.kafka as unknown as Record<symbol, unknown>)[sym];
    if (typeof create !== 'function') throw new AuditflowError('INTERNAL', 'kafkajs changed: its cluster factory was not found');
    const cluster = (create as (o: object) => Cluster)({ allowAutoTopicCreation: false });
    await cluster.connect();
    return cluster;
  };

  private async bounds(topic: string): Promise<{ low: bigint; high: bigint }[]> {
    const admin = await this.admin.get();
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      const out: { low: bigint; high: bigint }[] = [];
      for (const o of offsets) out[o.partition] = { low: BigInt(o.low), high: BigInt(o.high) };
      return out;
    } catch (e) {
      throw unavailable(`cannot read the offsets of ${topic}`, e);
    }
  }

  async committed(group: string, topic: string): Promise<(bigint | null)[]> {
    const admin = await this.admin.get();
    try {
      const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      const out: (bigint | null)[] = [];
      for (const p of t?.partitions ?? []) out[p.partition] = Number(p.offset) < 0 ? null : BigInt(p.offset);
      return Array.from(out, (o) => o ?? null);
    } catch (e) {
      throw unavailable(`cannot read the offsets of group ${group} on ${topic}`, e);
    }
  }

  async setCommitted(group: string, topic: string, offsets: readonly bigint[]): Promise<void> {
    const bounds = await this.bounds(topic);
    if (offsets.length !== bounds.length) throw new AuditflowError('INTERNAL', `setCommitted: ${offsets.length} offsets for the ${bounds.length} partitions of ${topic}`);
    offsets.forEach((o, p) => {
      const high = bounds[p]!.high;
      if (o < 0n || o > high) throw new AuditflowError('INTERNAL', `setCommitted: offset ${o} is outside ${topic}[${p}] (0..${high})`);
    });
    await this.commitOffsets(group, [{ topic, partitions: offsets.map((o, partition) => ({ partition, offset: o.toString() })) }]);
  }

  async deleteGroup(group: string): Promise<void> {
    const admin = await this.admin.get();
    try {
      await admin.deleteGroups([group]);
      return;
    } catch (e) {
      const groups = (e as { groups?: { error?: unknown }[] }).groups ?? [];
      const types = groups.map((g) => protocolError(g.error));
      if (types.length > 0 && types.every((t) => t === 'GROUP_ID_NOT_FOUND')) return;
      if (types.includes('NON_EMPTY_GROUP')) throw new AuditflowError('LOG_GROUP_ACTIVE', `cannot delete group ${group}: it has running members`);
      if (!unsupported(e)) throw unavailable(`cannot delete group ${group}`, e);
    }
    // No DeleteGroups (the mock): "no offset" is -1, what OffsetFetch answers for a new group.
    const topics: CommitTopic[] = [];
    try {
      const names = (await admin.listTopics()).filter((t) => !t.startsWith('__'));
      for (const t of names.length > 0 ? await admin.fetchOffsets({ groupId: group, topics: names }) : []) {
        const held = t.partitions.filter((p) => Number(p.offset) >= 0);
        if (held.length > 0) topics.push({ topic: t.topic, partitions: held.map((p) => ({ partition: p.partition, offset: '-1' })) });
      }
    } catch (e) {
      throw unavailable(`cannot read the offsets of group ${group}`, e);
    }
    if (topics.length > 0) await this.commitOffsets(group, topics);
  }

  async earliest(topic: string): Promise<bigint[]> {
    return (await this.bounds(topic)).map((b) => b.low);
  }

  async end(topic: string): Promise<bigint[]> {
    return (await this.bounds(topic)).map((b) => b.high);
  }

  async offsetsForTime(topic: string, epochMs: number): Promise<bigint[]> {
    const admin = await this.admin.get();
    let byTime: { partition: number; offset: string }[];
    let bounds: { low: bigint; high: bigint }[];
    try {
      [byTime, bounds] = await Promise.all([admin.fetchTopicOffsetsByTimestamp(topic, epochMs), this.bounds(topic)]);
    } catch (e) {
      throw unavailable(`cannot look up offsets of ${topic} by time`, e);
    }
    return Promise.all(bounds.map(async ({ low, high }, p) => {
      const answer = BigInt(byTime.find((o) => o.partition === p)?.offset ?? high);
      return (await this.answersTime(topic, p, answer, low, high, epochMs)) ? answer : this.searchTime(topic, p, low, high, epochMs);
    }));
  }

  /** Whether `answer` is the first offset stamped at or after epochMs: the record before it is earlier, it is not. */
  private async answersTime(topic: string, p: number, answer: bigint, low: bigint, high: bigint, epochMs: number): Promise<boolean> {
    if (answer < low || answer > high) return false;
    if (answer > low) {
      const before = await this.recordAt(topic, p, answer - 1n, high);
      if (before && before.offset === answer - 1n && before.timestamp >= epochMs) return false;
    }
    if (answer < high) {
      const at = await this.recordAt(topic, p, answer, high);
      if (at && at.timestamp < epochMs) return false;
    }
    return true;
  }

  /** Binary search over [low, high) for the first record stamped at or after epochMs. */
  private async searchTime(topic: string, p: number, low: bigint, high: bigint, epochMs: number): Promise<bigint> {
    let lo = low;
    let hi = high;
    while (lo < hi) {
      const mid = lo + (hi - lo) / 2n;
      const r = await this.recordAt(topic, p, mid, hi);
      if (!r || r.timestamp >= epochMs) hi = mid;
      else lo = r.offset + 1n;
    }
    return lo;
  }

  /** The first data record at or after `offset` and before `high` (one Fetch from the leader), or null. */
  private async recordAt(topic: string, p: number, offset: bigint, high: bigint): Promise<{ offset: bigint; timestamp: number } | null> {
    const cluster = await this.cluster.get();
    try {
      await cluster.addTargetTopic(topic);
      await cluster.refreshMetadataIfNecessary();
      const leader = Object.entries(cluster.findLeaderForPartitions(topic, [p])).find(([, ps]) => ps.includes(p))?.[0];
      if (leader === undefined) throw new Error(`no leader for ${topic}[${p}]`);
      const broker = await cluster.findBroker({ nodeId: leader });
      const res = await broker.fetch({
        replicaId: -1, isolationLevel: READ_COMMITTED, maxWaitTime: 0, minBytes: 1, maxBytes: FETCH_BYTES,
        topics: [{ topic, partitions: [{ partition: p, fetchOffset: offset.toString(), maxBytes: FETCH_BYTES }] }],
      });
      // A Fetch answers whole record batches: the batch holding `offset` may start before it.
      for (const m of res.responses[0]?.partitions[0]?.messages ?? []) {
        const o = BigInt(m.offset);
        if (o >= offset && o < high && !m.isControlRecord) return { offset: o, timestamp: Number(m.timestamp) };
      }
      return null;
    } catch (e) {
      throw unavailable(`cannot fetch ${topic}[${p}]@${offset}`, e);
    }
  }

  async outOfRetention(group: string, topic: string): Promise<PositionOutOfRetention[]> {
    const [committed, bounds] = await Promise.all([this.committed(group, topic), this.bounds(topic)]);
    const out: PositionOutOfRetention[] = [];
    committed.forEach((position, partition) => {
      const earliest = bounds[partition]?.low;
      if (position !== null && earliest !== undefined && position < earliest) out.push({ group, topic, partition, position, earliest });
    });
    return out;
  }

  /** Commits as no member (generation -1); where refused and DescribeGroups is missing (the mock), as the sole member. */
  private async commitOffsets(group: string, topics: CommitTopic[]): Promise<void> {
    const cluster = await this.cluster.get();
    let coordinator: Broker;
    try {
      coordinator = await cluster.findGroupCoordinator({ groupId: group });
    } catch (e) {
      throw unavailable(`cannot find the coordinator of group ${group}`, e);
    }
    try {
      await coordinator.offsetCommit({ groupId: group, groupGenerationId: -1, memberId: '', topics });
      return;
    } catch (e) {
      const type = protocolError(e);
      if (type !== 'UNKNOWN_MEMBER_ID' && type !== 'ILLEGAL_GENERATION') throw unavailable(`cannot commit offsets of group ${group}`, e);
    }
    // Refused: a member is running — or, on the mock, the group has ever had one.
    const admin = await this.admin.get();
    let state: string | undefined;
    try {
      state = (await admin.describeGroups([group])).groups[0]?.state ?? 'unknown';
    } catch (e) {
      if (!unsupported(e)) throw unavailable(`cannot describe group ${group}`, e);
    }
    if (state !== undefined) throw new AuditflowError('LOG_GROUP_ACTIVE', `cannot set the offsets of group ${group}: it has running members (state ${state})`);
    await this.commitAsSoleMember(coordinator, group, topics);
  }

  private async commitAsSoleMember(coordinator: Broker, group: string, topics: CommitTopic[]): Promise<void> {
    const protocol = { name: 'RoundRobinAssigner', metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics: topics.map((t) => t.topic), userData: Buffer.alloc(0) }) };
    let member: { generationId: number; leaderId: string; memberId: string; members: unknown[] };
    try {
      member = await coordinator.joinGroup({ groupId: group, sessionTimeout: this.sessionTimeout, rebalanceTimeout: this.sessionTimeout, memberId: '', groupProtocols: [protocol] });
    } catch (e) {
      throw unavailable(`cannot join group ${group} to set its offsets`, e);
    }
    const { generationId, memberId } = member;
    try {
      if (member.leaderId !== memberId || member.members.length !== 1) {
        throw new AuditflowError('LOG_GROUP_ACTIVE', `cannot set the offsets of group ${group}: it has ${member.members.length - 1} other member(s)`);
      }
      const memberAssignment = AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: {}, userData: Buffer.alloc(0) });
      await coordinator.syncGroup({ groupId: group, generationId, memberId, groupAssignment: [{ memberId, memberAssignment }] });
      await coordinator.offsetCommit({ groupId: group, groupGenerationId: generationId, memberId, topics });
    } catch (e) {
      throw unavailable(`cannot commit offsets of group ${group} as its member`, e);
    } finally {
      await coordinator.leaveGroup({ groupId: group, memberId }).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.admin.close(), this.cluster.close()]);
  }
}
