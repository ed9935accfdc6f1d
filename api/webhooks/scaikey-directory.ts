// ScaiKey's users and groups in the store (schemas/migrations/0004_scaikey_directory.sql), and the
// deliveries already processed. Every statement is one tenant's: `tenant_id = {tenant:String}`
// first, every value bound.
import type { Store } from '../../infra/store/store.ts';
import { isoFromStore } from '../query/scoped-query.ts';

export type DirectoryChange = 'created' | 'updated' | 'deleted';

const KIND_RANK: Readonly<Record<DirectoryChange, number>> = { created: 0, updated: 1, deleted: 2 };

/**
 * The version of an entity a delivery writes: its created_at in ms, then its kind, so that within
 * one millisecond (ScaiKey's times may have whole seconds only) a deletion beats an update and an
 * update beats the creation, whatever order they arrive in.
 */
export function directoryVersion(createdAtMs: number, change: DirectoryChange): number {
  return createdAtMs * 4 + KIND_RANK[change];
}

export interface DirectoryUser {
  tenantId: string;
  id: string;
  email: string;
  name: string;
  deleted: boolean;
  /** The created_at of the delivery this version came from. */
  changedAt: string;
  deliveryId: string;
}

export interface DirectoryGroup extends DirectoryUser {
  /** User ids (the `sub` of their tokens), sorted, without repeats. */
  members: string[];
}

/** What one delivery writes. */
export interface DirectoryWrite {
  change: DirectoryChange;
  createdAtMs: number;
  deliveryId: string;
}

export interface Delivery {
  tenantId: string;
  id: string;
  type: string;
  createdAt: string;
}

interface EntityRow {
  tenant_id: string;
  id: string;
  email: string;
  name: string;
  deleted: boolean | number;
  delivery_id: string;
  changed_at: string;
  members?: string[];
}

const ENTITY_COLUMNS = 'tenant_id, id, email, name, deleted, delivery_id, changed_at';

function toUser(r: EntityRow): DirectoryUser {
  return {
    tenantId: r.tenant_id, id: r.id, email: r.email, name: r.name, deleted: r.deleted === true || r.deleted === 1,
    changedAt: isoFromStore(r.changed_at), deliveryId: r.delivery_id,
  };
}

const row = (o: Record<string, unknown>): Buffer => Buffer.from(`${JSON.stringify(o)}\n`);

export class ScaiKeyDirectory {
  constructor(private readonly store: Store) {}

  /** Has this delivery been processed before? */
  async seen(tenantId: string, deliveryId: string): Promise<boolean> {
    const rows = await this.store.query(
      'SELECT 1 AS hit FROM scaikey_deliveries WHERE tenant_id = {tenant:String} AND id = {id:String} LIMIT 1',
      { tenant: tenantId, id: deliveryId },
    );
    return rows.length > 0;
  }

  /** Marks a delivery processed: the last write of a delivery, once everything else is stored. */
  async recordDelivery(d: Delivery, nowMs = Date.now()): Promise<void> {
    await this.store.insertJsonEachRow('scaikey_deliveries', row({
      tenant_id: d.tenantId, id: d.id, type: d.type, created_at: d.createdAt, received_at: new Date(nowMs).toISOString(),
    }));
  }

  async writeUser(u: { tenantId: string; id: string; email: string; name: string }, w: DirectoryWrite, nowMs = Date.now()): Promise<void> {
    await this.store.insertJsonEachRow('scaikey_users', row({ ...this.entity(u, w, nowMs) }));
  }

  /** `members`: the whole membership, as the delivery lists it. */
  async writeGroup(g: { tenantId: string; id: string; email: string; name: string; members: readonly string[] }, w: DirectoryWrite, nowMs = Date.now()): Promise<void> {
    await this.store.insertJsonEachRow('scaikey_groups', row({ ...this.entity(g, w, nowMs), members: g.members }));
  }

  private entity(e: { tenantId: string; id: string; email: string; name: string }, w: DirectoryWrite, nowMs: number): Record<string, unknown> {
    return {
      tenant_id: e.tenantId, id: e.id, email: e.email, name: e.name, deleted: w.change === 'deleted',
      version: directoryVersion(w.createdAtMs, w.change), delivery_id: w.deliveryId,
      changed_at: new Date(w.createdAtMs).toISOString(), received_at: new Date(nowMs).toISOString(),
    };
  }

  /** The newest version of a user (deleted ones too, flagged), or null if ScaiKey never sent it. */
  async user(tenantId: string, id: string): Promise<DirectoryUser | null> {
    const rows = await this.store.query<EntityRow>(
      `SELECT ${ENTITY_COLUMNS} FROM scaikey_users FINAL WHERE tenant_id = {tenant:String} AND id = {id:String}`,
      { tenant: tenantId, id },
    );
    return rows[0] ? toUser(rows[0]) : null;
  }

  async group(tenantId: string, id: string): Promise<DirectoryGroup | null> {
    const rows = await this.store.query<EntityRow>(
      `SELECT ${ENTITY_COLUMNS}, members FROM scaikey_groups FINAL WHERE tenant_id = {tenant:String} AND id = {id:String}`,
      { tenant: tenantId, id },
    );
    const r = rows[0];
    return r ? { ...toUser(r), members: r.members ?? [] } : null;
  }

  /** The groups (not deleted) a user is a member of, by id. */
  async groupsOf(tenantId: string, userId: string): Promise<string[]> {
    const rows = await this.store.query<{ id: string }>(
      'SELECT id FROM scaikey_groups FINAL WHERE tenant_id = {tenant:String} AND has(members, {user:String}) AND NOT deleted ORDER BY id',
      { tenant: tenantId, user: userId },
    );
    return rows.map((r) => r.id);
  }
}
