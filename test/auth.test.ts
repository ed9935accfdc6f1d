import { test } from 'vitest';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createAuthenticator, issueToken, requireScope } from '../infra/auth/jwt.ts';

const SECRET = 'x'.repeat(40);

test('HS256 tokens carry tenant, scopes, partner and the RFC 8693 service account', async () => {
  const auth = createAuthenticator({ jwtSecret: SECRET });
  const token = await issueToken(SECRET, { sub: 'u1', tid: 'tnt_1', scope: 'audit:read audit:write', email: 'a@b.c', act: { client_id: 'svc-42' }, partner_id: 'ptn_1', shares: ['shr_1'] });
  const p = await auth.verify(token);
  assert.equal(p.tenantId, 'tnt_1');
  assert.deepEqual([...p.scopes].sort(), ['audit:read', 'audit:write']);
  assert.equal(p.serviceAccount, 'svc-42');
  assert.equal(p.partnerId, 'ptn_1');
  assert.deepEqual(p.shares, ['shr_1']);
  assert.doesNotThrow(() => requireScope(p, 'audit:read'));
  assert.throws(() => requireScope(p, 'audit:admin'), (e: { code?: string }) => e.code === 'AUTH_SCOPE');
});

test('bad HS256 tokens are refused with AUTH_INVALID', async () => {
  const auth = createAuthenticator({ jwtSecret: SECRET });
  const reject = async (token: string) => assert.rejects(auth.verify(token), (e: { code?: string }) => e.code === 'AUTH_INVALID');
  await reject(await issueToken('y'.repeat(40), { sub: 'u', tid: 't' }));
  await reject(await issueToken(SECRET, { sub: 'u', tid: 't' }, -10));
  await reject(await issueToken(SECRET, { sub: 'u', tid: 'bad tenant!' }));
  await reject(await new SignJWT({ sub: 'u', tid: 't' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET))); // no exp
  await reject('not-a-token');
  const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"u","tid":"t"}').toString('base64url')}.`;
  await reject(unsigned);
});

test('a verified token is remembered, but never past its exp, and a changed token is verified afresh', async () => {
  let clock = Date.now();
  const auth = createAuthenticator({ jwtSecret: SECRET }, () => clock);
  const token = await issueToken(SECRET, { sub: 'u1', tid: 'tnt_1', scope: 'audit:read' }, 120);
  const first = await auth.verify(token);
  assert.equal(await auth.verify(token), first, 'the second request is served from the cache');
  assert.ok(Object.isFrozen(first), 'a shared principal cannot be changed by one request');
  // One character of the signature changed: not the cached token, and not valid.
  // (Not the last character: its low bits are padding.)
  const c = token.at(-5) === 'A' ? 'B' : 'A';
  await assert.rejects(auth.verify(token.slice(0, -5) + c + token.slice(-4)), (e: { code?: string }) => e.code === 'AUTH_INVALID');
  // Past the cache's minute the token is verified again (still valid: a new principal).
  clock += 61_000;
  const again = await auth.verify(token);
  assert.notEqual(again, first);
  assert.equal(again.tenantId, 'tnt_1');
  // Past exp it is refused, though it was verified a moment before.
  clock += 60_000;
  await assert.rejects(auth.verify(token), (e: { code?: string }) => e.code === 'AUTH_INVALID');
});

test('RS256 and ES256 tokens verify against a JWKS URL; unknown keys do not', async () => {
  const rsa = await generateKeyPair('RS256');
  const ec = await generateKeyPair('ES256');
  const other = await generateKeyPair('RS256');
  const keys = [{ ...(await exportJWK(rsa.publicKey)), kid: 'rsa1', alg: 'RS256' }, { ...(await exportJWK(ec.publicKey)), kid: 'ec1', alg: 'ES256' }];
  const server = createServer((_req, res) => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ keys })); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    const auth = createAuthenticator({ jwksUrl: `http://127.0.0.1:${port}/jwks.json`, issuer: 'https://id.example', audience: 'auditflow' });
    const sign = (key: CryptoKey | Uint8Array, alg: string, kid: string, claims: Record<string, unknown> = {}) =>
      new SignJWT({ sub: 'svc', tid: 'tnt_9', scope: 'audit:read', ...claims }).setProtectedHeader({ alg, kid })
        .setIssuer('https://id.example').setAudience('auditflow').setExpirationTime('5m').sign(key as CryptoKey);
    assert.equal((await auth.verify(await sign(rsa.privateKey, 'RS256', 'rsa1'))).tenantId, 'tnt_9');
    assert.equal((await auth.verify(await sign(ec.privateKey, 'ES256', 'ec1'))).tenantId, 'tnt_9');
    await assert.rejects(auth.verify(await sign(other.privateKey, 'RS256', 'rsa1')), (e: { code?: string }) => e.code === 'AUTH_INVALID');
    const wrongAudience = await new SignJWT({ sub: 'svc', tid: 't' }).setProtectedHeader({ alg: 'RS256', kid: 'rsa1' }).setIssuer('https://id.example').setAudience('other').setExpirationTime('5m').sign(rsa.privateKey);
    await assert.rejects(auth.verify(wrongAudience), (e: { code?: string }) => e.code === 'AUTH_INVALID');
    // With only a JWKS configured, an HS256 token is refused (no algorithm confusion).
    await assert.rejects(auth.verify(await issueToken(SECRET, { sub: 'u', tid: 't' })), (e: { code?: string }) => e.code === 'AUTH_INVALID');
  } finally {
    server.close();
  }
});
