// Opaque cursors: base64url of a small JSON document. A cursor is bound to the tenant and the
// filters it was issued for (a hash), so replaying it against other filters or another tenant
// is a clear 400 rather than a silently wrong page.
import { createHash } from 'node:crypto';
import { AuditflowError } from '../../infra/errors.ts';

export interface CursorState {
  /** Resume strictly past this seq, in the listing's direction. */
  seq: number;
}

export function scopeHash(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 12);
}

export function encodeCursor(state: CursorState, scope: string): string {
  return Buffer.from(JSON.stringify({ v: 1, s: state.seq, h: scope })).toString('base64url');
}

export function decodeCursor(cursor: string, scope: string): CursorState {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new AuditflowError('CURSOR_INVALID', 'cursor is not one this API issued');
  }
  const d = doc as { v?: unknown; s?: unknown; h?: unknown };
  if (d.v !== 1 || typeof d.s !== 'number' || !Number.isSafeInteger(d.s) || d.s < 0 || typeof d.h !== 'string') {
    throw new AuditflowError('CURSOR_INVALID', 'cursor is not one this API issued');
  }
  if (d.h !== scope) throw new AuditflowError('CURSOR_INVALID', 'cursor was issued for different filters; start again without it');
  return { seq: d.s };
}
