// Which tenants a read may touch. Every read query starts from a TenantScope (./scoped-query.ts
// will not build one without it), so a new API cannot forget the tenant.
//
//  - the public families (ScaiVault, Egnyte, ScaiDrive sync): the token's own tenant, always;
//  - the admin family (scope audit:admin): the token's tenant; with a `partner_id` claim every
//    tenant of that partner; with `platform: true` every tenant. A `tenant_id` / `partner_id`
//    parameter narrows within that, and one outside it is 403 — never an empty page that would
//    tell a prober the tenant exists, and never other data.
import type { Principal } from '../../infra/auth/jwt.ts';
import { AuditflowError } from '../../infra/errors.ts';

export type TenantScope =
  /** One tenant; with partnerId, only that tenant's events that name the partner. */
  | { readonly kind: 'tenant'; readonly tenantId: string; readonly partnerId?: string }
  | { readonly kind: 'partner'; readonly partnerId: string }
  | { readonly kind: 'platform' };

/** The public families: the caller's own tenant. */
export function ownTenant(p: Principal): TenantScope {
  return { kind: 'tenant', tenantId: p.tenantId };
}

/** What tenant belongs to which partner: known from the stored events' partner_id. */
export interface TenantDirectory {
  /** The partner a tenant's events name ('' when none, undefined when the tenant has no events). */
  partnerOf(tenantId: string): Promise<string | undefined>;
}

/**
 * The admin family's scope for a principal and the request's `tenant_id` / `partner_id`
 * parameters. Throws 403 TENANT_MISMATCH when a parameter reaches outside what the token may see.
 */
export async function adminScope(
  p: Principal,
  params: { tenantId?: string | undefined; partnerId?: string | undefined },
  directory: TenantDirectory,
): Promise<TenantScope> {
  const { tenantId, partnerId } = params;
  const outside = (what: string) => new AuditflowError('TENANT_MISMATCH', `this token may not read ${what}`);
  if (p.platform) {
    // Both given: their intersection (a platform token may see either, so nothing is disclosed).
    if (tenantId !== undefined) return partnerId !== undefined ? { kind: 'tenant', tenantId, partnerId } : { kind: 'tenant', tenantId };
    if (partnerId !== undefined) return { kind: 'partner', partnerId };
    return { kind: 'platform' };
  }
  if (p.partnerId !== undefined && p.partnerId !== '') {
    if (partnerId !== undefined && partnerId !== p.partnerId) throw outside(`partner ${partnerId}`);
    if (tenantId !== undefined) {
      // The token's own tenant is always in reach; another must be one of the partner's.
      if (tenantId !== p.tenantId && (await directory.partnerOf(tenantId)) !== p.partnerId) throw outside(`tenant ${tenantId}`);
      return { kind: 'tenant', tenantId };
    }
    return { kind: 'partner', partnerId: p.partnerId };
  }
  if (partnerId !== undefined) throw outside(`partner ${partnerId}`);
  if (tenantId !== undefined && tenantId !== p.tenantId) throw outside(`tenant ${tenantId}`);
  return { kind: 'tenant', tenantId: p.tenantId };
}
