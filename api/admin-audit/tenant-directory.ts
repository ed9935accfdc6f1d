// Which partner a tenant belongs to, for adminScope (../query/tenant-scope.ts): the partner its
// newest event that names one names (only audit_events carries partner_id). One aggregate over
// the tenant's key range; remembered briefly, because a partner admin's every request with a
// `tenant_id` asks, and chDB answers one call at a time per process.
import type { Store } from '../../infra/store/store.ts';
import { ScopedQuery } from '../query/scoped-query.ts';
import type { TenantDirectory } from '../query/tenant-scope.ts';

interface Entry {
  at: number;
  partner: Promise<string | undefined>;
}

export class StoreTenantDirectory implements TenantDirectory {
  private readonly cache = new Map<string, Entry>();

  /**
   * `ttlMs`: how long an answer is trusted — a tenant that moves to another partner is seen
   * there (and no longer by the old one) within it; so is a tenant's first event.
   */
  constructor(
    private readonly store: Store,
    private readonly ttlMs = 30_000,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  partnerOf(tenantId: string): Promise<string | undefined> {
    const t = this.now();
    const hit = this.cache.get(tenantId);
    if (hit !== undefined && t - hit.at < this.ttlMs) return hit.partner;
    // The promise is kept, so concurrent requests for one tenant share one store call.
    const partner = this.lookup(tenantId);
    const entry = { at: t, partner };
    this.cache.delete(tenantId);
    if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(tenantId, entry);
    // A failed lookup is not remembered.
    partner.catch(() => { if (this.cache.get(tenantId) === entry) this.cache.delete(tenantId); });
    return partner;
  }

  private async lookup(tenantId: string): Promise<string | undefined> {
    const { sql, params } = new ScopedQuery('audit_events', { kind: 'tenant', tenantId })
      .select("argMaxIf(partner_id, seq, partner_id != '') AS partner_id, count() AS events");
    const [row] = await this.store.query<{ partner_id: string; events: number }>(sql, params);
    return row === undefined || Number(row.events) === 0 ? undefined : row.partner_id;
  }
}
