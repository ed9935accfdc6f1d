// Bearer-token authentication for every route: `Authorization: Bearer <jwt>` (or `?token=` where
// a route allows it, for browsers' WebSocket/EventSource). The verified principal is attached to
// the request; routes check their scope with `requireScope`.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Authenticator, Principal } from '../infra/auth/jwt.ts';
import { AuditflowError } from '../infra/errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

export function bearerToken(req: FastifyRequest, allowQuery = false): string | undefined {
  const h = req.headers.authorization;
  if (typeof h === 'string') {
    const m = /^Bearer\s+(\S+)$/i.exec(h);
    if (m) return m[1];
  }
  if (allowQuery) {
    const q = (req.query as Record<string, unknown> | undefined)?.['token'];
    if (typeof q === 'string' && q !== '') return q;
  }
  return undefined;
}

export function authenticate(auth: Authenticator, allowQuery = false) {
  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const token = bearerToken(req, allowQuery);
    if (!token) throw new AuditflowError('AUTH_MISSING', 'missing bearer token');
    req.principal = await auth.verify(token);
  };
}
