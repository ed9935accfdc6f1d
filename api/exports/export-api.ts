// The export family (scope audit:export, the token's tenant): one-off exports, schedules and the
// public key that verifies their manifests, behind the API's token hook.
import type { FastifyInstance } from 'fastify';
import { requireScope } from '../../infra/auth/jwt.ts';
import type { Authenticator } from '../../infra/auth/jwt.ts';
import type { ExportSigningKey } from '../../infra/export-keys.ts';
import { authenticate } from '../auth-plugin.ts';
import { errorResponses } from '../service/openapi.ts';
import { exportRoutes, type ExportApiDeps } from './export-routes.ts';
import { exportScheduleRoutes } from './export-schedule-routes.ts';

export async function exportApi(app: FastifyInstance, deps: ExportApiDeps & { auth: Authenticator; signingKey(): Promise<ExportSigningKey> }): Promise<void> {
  app.addHook('onRequest', authenticate(deps.auth));
  await exportRoutes(app, deps);
  await exportScheduleRoutes(app, deps);
  app.get('/v1/audit/export-keys', {
    schema: {
      summary: 'The public keys that verify export manifests (auditflow verify --public-key)', tags: ['exports'],
      response: {
        200: { type: 'object', properties: { keys: { type: 'array', items: { type: 'object', properties: { key_id: { type: 'string' }, alg: { type: 'string', enum: ['Ed25519'] }, public_key_pem: { type: 'string' } } } } } },
        ...errorResponses(403),
      },
    },
  }, async (req) => {
    requireScope(req.principal, 'audit:export');
    const k = await deps.signingKey();
    return { keys: [{ key_id: k.keyId, alg: 'Ed25519', public_key_pem: k.publicKeyPem }] };
  });
}
