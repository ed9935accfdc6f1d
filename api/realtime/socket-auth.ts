// Authentication of a WebSocket upgrade, before it is accepted: the token in `?token=` as the
// document has it (browsers cannot set headers on a WebSocket), or `Authorization: Bearer` where
// a client can. A missing or bad token refuses the upgrade with 401, a token without drive:sync
// with 403 — plain HTTP answers with the catalogue's body, since no socket exists yet.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { requireScope, type Authenticator } from '../../infra/auth/jwt.ts';
import { authenticate } from '../auth-plugin.ts';

export function socketAuth(auth: Authenticator) {
  const verify = authenticate(auth, true);
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    await verify(req, reply);
    requireScope(req.principal, 'drive:sync');
  };
}

/** A client message as JSON, or null when it is not a JSON object. */
export function parseClientMessage(data: unknown, isBinary: boolean): Record<string, unknown> | null {
  if (isBinary) return null;
  const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data as Buffer[]).toString('utf8') : String(data);
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export const SOCKET_QUERY = { type: 'object', properties: { token: { type: 'string', description: 'The JWT (or send Authorization: Bearer)' } } } as const;
