// Which shares of the tenant a ScaiDrive token may read: every share with `drive:all`, else the
// ids in its `shares` claim. The sync pull (and the sync/realtime WebSockets) read through this,
// so "may this token see share X" has one answer.
import type { Principal } from '../../infra/auth/jwt.ts';
import { AuditflowError } from '../../infra/errors.ts';

/** 'all': every share of the tenant; otherwise these share ids (sorted, distinct; may be empty). */
export type ShareSet = 'all' | readonly string[];

export function readableShares(p: Principal): ShareSet {
  if (p.scopes.has('drive:all')) return 'all';
  // Sorted and distinct: the same grant in another claim order is the same set (and cursor binding).
  return [...new Set(p.shares)].sort();
}

export function mayRead(shares: ShareSet, shareId: string): boolean {
  return shares === 'all' || shares.includes(shareId);
}

/**
 * The shares a request reads: all the token may read, or only `shareId` when given.
 * A `shareId` outside the token's shares is 403 SHARE_FORBIDDEN (not an empty page: the
 * caller asked for something it has no right to, and should be told so).
 */
export function requestedShares(p: Principal, shareId: string | undefined): ShareSet {
  const shares = readableShares(p);
  if (shareId === undefined) return shares;
  if (!mayRead(shares, shareId)) throw new AuditflowError('SHARE_FORBIDDEN', `this token may not read share ${shareId}`);
  return [shareId];
}
