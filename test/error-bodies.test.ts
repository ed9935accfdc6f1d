// Every error body the app writes is a catalogue body {error, code, details?} with the code's
// status: ours, Fastify's own errors (mapped by FST_ERR_* code), and errors thrown from hooks.
// Driven with app.inject(); what Node's HTTP server refuses before Fastify is in the integration file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { errorCodes, type FastifyInstance, type InjectOptions } from 'fastify';
import { catalogueError, clientErrorOf, FASTIFY_CODES, replyWithError, SERVER_FAULTS } from '../api/error-bodies.ts';
import { AuditflowError, ERROR_CATALOGUE } from '../infra/errors.ts';
import { auditEvent as event, edgeApp, type EdgeApp } from './support/edge-app.ts';

const JSON_TYPE = 'application/json; charset=utf-8';

/** Test-only routes: a JSON echo in a child scope, routes that throw, and a scope with its own error handler. */
function testRoutes(app: FastifyInstance): void {
  void app.register(async (scope) => {
    scope.post('/t/echo', async (req) => ({ got: req.body }));
    scope.get('/t/throw/:what', async (req, reply) => {
      const what = (req.params as { what: string }).what;
      if (what === 'plain') throw new Error('secret internals');
      if (what === 'object-409') throw { statusCode: 409, message: 'conflict from a plugin' };
      if (what === 'status-429') throw Object.assign(new Error('slow down'), { statusCode: 429 });
      if (what === 'status-429-own-retry') {
        void reply.header('retry-after', '7');
        throw Object.assign(new Error('slow down'), { statusCode: 429 });
      }
      if (what === 'status-503') throw Object.assign(new Error('backend gone'), { statusCode: 503 });
      if (what === 'ours') throw new AuditflowError('VALIDATION_FAILED', 'bad field', { details: [{ index: 2, path: '/x', message: 'nope' }] });
      if (what === 'retriable') throw new AuditflowError('STORE_UNAVAILABLE', 'store down');
      return { ok: true };
    });
  });
  // An async hook that fails with one of Fastify's errors.
  void app.register(async (scope) => {
    scope.addHook('preHandler', async () => { throw new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE('text/csv'); });
    scope.get('/t/hooked', async () => ({ ok: true }));
  });
  // What the admin-audit scope does: its own handler (422 bodies), falling back to the catalogue.
  void app.register(async (scope) => {
    scope.setErrorHandler((err, req, reply) => {
      if ((err as { code?: string }).code === 'FST_ERR_CTP_INVALID_JSON_BODY') return reply.code(422).send({ detail: [{ loc: ['body'], msg: 'invalid json', type: 'json_invalid' }] });
      return replyWithError(err, req, reply);
    });
    scope.post('/t/scoped', async (req) => ({ got: req.body }));
    scope.get('/t/scoped/throw', async () => { throw new AuditflowError('CURSOR_INVALID', 'bad cursor'); });
  });
}

let e: EdgeApp;
beforeAll(async () => { e = await edgeApp(testRoutes); });
afterAll(async () => { await e?.close(); });

async function call(opts: InjectOptions) {
  const r = await e.app.inject(opts);
  return { status: r.statusCode, type: r.headers['content-type'], headers: r.headers, body: JSON.parse(r.body) as unknown };
}

/** Asserts the exact catalogue response. */
async function expectError(opts: InjectOptions, code: keyof typeof ERROR_CATALOGUE, error: string, details?: unknown) {
  const r = await call(opts);
  expect({ status: r.status, type: r.type, body: r.body }).toEqual({
    status: ERROR_CATALOGUE[code].status,
    type: JSON_TYPE,
    body: details === undefined ? { error, code } : { error, code, details },
  });
  return r;
}

const postJson = (url: string, payload: string | Buffer, type = 'application/json'): InjectOptions => ({ method: 'POST', url, headers: { 'content-type': type }, payload });

describe('Fastify error codes', () => {
  it('every 4xx in the installed Fastify is mapped to a code with the same status, or named as our own fault', () => {
    const clientCodes = Object.entries(errorCodes)
      .map(([name, Ctor]) => ({ name, status: new (Ctor as new (...a: string[]) => { statusCode?: number })('a', 'b', 'c').statusCode ?? 500 }))
      .filter((c) => c.status >= 400 && c.status < 500);
    expect(clientCodes.length).toBeGreaterThanOrEqual(10);
    for (const { name, status } of clientCodes) {
      if (SERVER_FAULTS.includes(name)) {
        expect(catalogueError(new (errorCodes as unknown as Record<string, new () => Error>)[name]!()).code, name).toBe('INTERNAL');
        continue;
      }
      const code = FASTIFY_CODES[name];
      expect(code, `${name} (${status}) has no catalogue code`).toBeDefined();
      expect(ERROR_CATALOGUE[code!].status, name).toBe(status);
    }
  });

  it('a validation error is the query unless it is about the body', () => {
    const v = (context: string) => Object.assign(new errorCodes.FST_ERR_VALIDATION('querystring/limit must be integer'), { validationContext: context });
    expect(catalogueError(v('querystring')).code).toBe('QUERY_INVALID');
    expect(catalogueError(v('params')).code).toBe('QUERY_INVALID');
    expect(catalogueError(v('body')).code).toBe('VALIDATION_FAILED');
  });
});

describe('bodies to JSON routes outside ingest', () => {
  it('malformed JSON is 400 BODY_MALFORMED, on a route and on no route at all', async () => {
    const msg = "Body is not valid JSON but content-type is set to 'application/json'";
    await expectError(postJson('/nope', '{bad'), 'BODY_MALFORMED', msg);
    await expectError(postJson('/t/echo', '{bad'), 'BODY_MALFORMED', msg);
    await expectError(postJson('/t/echo', '{"__proto__":{"admin":true}}'), 'BODY_MALFORMED', msg);
  });

  it('an empty JSON body is 400 BODY_MALFORMED', async () => {
    await expectError(postJson('/t/echo', ''), 'BODY_MALFORMED', "Body cannot be empty when content-type is set to 'application/json'");
  });

  it('bytes that are not UTF-8 are 400 BODY_MALFORMED with the offset, not parsed with U+FFFD', async () => {
    await expectError(postJson('/t/echo', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d])), 'BODY_MALFORMED', 'body is not valid UTF-8 (at byte 6)');
    await expectError(postJson('/t/echo', Buffer.from([0x61, 0xc3]), 'text/plain'), 'BODY_MALFORMED', 'body is not valid UTF-8 (at byte 1)');
  });

  it('valid bodies still parse (JSON with a BOM and a charset, text)', async () => {
    expect(await call(postJson('/t/echo', '\ufeff{"a":"é🚀"}', 'application/json; charset=utf-8'))).toMatchObject({ status: 200, body: { got: { a: 'é🚀' } } });
    expect(await call(postJson('/t/echo', 'héllo', 'text/plain'))).toMatchObject({ status: 200, body: { got: 'héllo' } });
  });

  it('an unsupported content type is 415, a body over the limit 413, a short body 400', async () => {
    await expectError(postJson('/t/echo', '<a/>', 'text/xml'), 'UNSUPPORTED_MEDIA_TYPE', 'Unsupported Media Type: text/xml');
    const tooLong = String(e.config.ingest.maxBodyBytes + 1);
    await expectError({ method: 'POST', url: '/t/echo', headers: { 'content-type': 'application/json', 'content-length': tooLong }, payload: '{}' }, 'BODY_TOO_LARGE', 'Request body is too large');
    await expectError({ method: 'POST', url: '/t/echo', headers: { 'content-type': 'application/json', 'content-length': '3' }, payload: '{"a":1}' }, 'BODY_MALFORMED', 'Request body size did not match Content-Length');
  });
});

describe('URLs and routes', () => {
  it('a path that is not valid percent-encoding is 400 URL_MALFORMED (frameworkErrors)', async () => {
    await expectError({ method: 'GET', url: '/v1/audit/%zz' }, 'URL_MALFORMED', "'/v1/audit/%zz' is not a valid url component");
  });

  it('no route, or a method no route has, is 404 NOT_FOUND', async () => {
    await expectError({ method: 'GET', url: '/nope?x=1' }, 'NOT_FOUND', 'no route GET /nope');
    await expectError({ method: 'DELETE', url: '/healthz' }, 'NOT_FOUND', 'no route DELETE /healthz');
    await expectError({ method: 'PROPFIND', url: '/healthz' }, 'NOT_FOUND', 'no route PROPFIND /healthz');
  });
});

describe('errors thrown by handlers and hooks', () => {
  it('our errors pass through with their details; retriable ones carry Retry-After', async () => {
    await expectError({ method: 'GET', url: '/t/throw/ours' }, 'VALIDATION_FAILED', 'bad field', [{ index: 2, path: '/x', message: 'nope' }]);
    const r = await expectError({ method: 'GET', url: '/t/throw/retriable' }, 'STORE_UNAVAILABLE', 'store down');
    expect(r.headers['retry-after']).toBe('1');
  });

  it('anything else is 500 INTERNAL without its message; a 5xx status too', async () => {
    await expectError({ method: 'GET', url: '/t/throw/plain' }, 'INTERNAL', 'internal error');
    await expectError({ method: 'GET', url: '/t/throw/status-503' }, 'INTERNAL', 'internal error');
  });

  it('a 4xx with no code we know maps by status (429 keeps a Retry-After already set); an unknown status is 400', async () => {
    const limited = await expectError({ method: 'GET', url: '/t/throw/status-429' }, 'RATE_LIMITED', 'slow down');
    expect(limited.headers['retry-after']).toBe('1');
    const own = await expectError({ method: 'GET', url: '/t/throw/status-429-own-retry' }, 'RATE_LIMITED', 'slow down');
    expect(own.headers['retry-after']).toBe('7');
    await expectError({ method: 'GET', url: '/t/throw/object-409' }, 'REQUEST_MALFORMED', 'conflict from a plugin');
  });

  it("an async hook's Fastify error is mapped by its code", async () => {
    await expectError({ method: 'GET', url: '/t/hooked' }, 'UNSUPPORTED_MEDIA_TYPE', 'Unsupported Media Type: text/csv');
  });

  it('a scope may set its own error handler; the rest of the app keeps the catalogue', async () => {
    expect(await call(postJson('/t/scoped', '{bad'))).toMatchObject({ status: 422, body: { detail: [{ loc: ['body'], msg: 'invalid json', type: 'json_invalid' }] } });
    await expectError({ method: 'GET', url: '/t/scoped/throw' }, 'CURSOR_INVALID', 'bad cursor');
    await expectError(postJson('/t/echo', '{bad'), 'BODY_MALFORMED', "Body is not valid JSON but content-type is set to 'application/json'");
  });
});

describe('ingest bodies that are not UTF-8', () => {
  const ingest = async (payload: Buffer, headers: Record<string, string>) =>
    call({ method: 'POST', url: '/v1/ingest/audit-events', headers: { authorization: `Bearer ${await e.token('audit:write')}`, ...headers }, payload });

  it('JSON, NDJSON and gzipped NDJSON are 400 BODY_MALFORMED naming the lines; nothing reaches the log', async () => {
    const good = JSON.stringify(event());
    const bad = Buffer.concat([Buffer.from(JSON.stringify(event()).slice(0, -2)), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    const json = Buffer.concat([Buffer.from(`[${good},`), bad, Buffer.from(']')]);
    const r1 = await ingest(json, { 'content-type': 'application/json' });
    expect(r1).toMatchObject({ status: 400, body: { code: 'BODY_MALFORMED', error: `body is not valid UTF-8 (at byte ${good.length + 2 + bad.indexOf(0xc3)})` } });

    const ndjson = Buffer.concat([Buffer.from(`${good}\n`), bad, Buffer.from(`\n${good}\n`), bad]);
    const details = [
      { index: 1, path: '/', message: `line is not valid UTF-8 (at byte ${good.length + 1 + bad.indexOf(0xc3)} of the body)` },
      { index: 3, path: '/', message: `line is not valid UTF-8 (at byte ${2 * good.length + 3 + bad.length + bad.indexOf(0xc3)} of the body)` },
    ];
    const expected = { status: 400, type: JSON_TYPE, body: { error: '2 of 4 lines are not valid UTF-8; nothing was accepted', code: 'BODY_MALFORMED', details } };
    expect(await ingest(ndjson, { 'content-type': 'application/x-ndjson' })).toMatchObject(expected);
    expect(await ingest(gzipSync(ndjson), { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' })).toMatchObject(expected);

    const sentinel = event();
    expect(await ingest(Buffer.from(JSON.stringify([sentinel])), { 'content-type': 'application/json' })).toMatchObject({ status: 202, body: { accepted: 1 } });
    expect(await e.loggedIds(sentinel.id)).toEqual([sentinel.id]);
  });
});

describe("Node's client errors (classification; the sockets are in the integration file)", () => {
  const overflow = (packet: string, bytesParsed: number) => Object.assign(new Error('Parse Error: Header overflow'), { code: 'HPE_HEADER_OVERFLOW', bytesParsed, rawPacket: Buffer.from(packet) });
  it('a header overflow is 414 when the request line alone overflowed, else 431', () => {
    const url = `/${'a'.repeat(20_000)}`;
    expect(clientErrorOf(overflow(`GET ${url} HTTP/1.1\r\nHost: x\r\n\r\n`, 4 + url.length)).code).toBe('URI_TOO_LONG');
    // The packet ends inside the request line (more to come).
    expect(clientErrorOf(overflow(`GET ${url}`, 4 + url.length)).code).toBe('URI_TOO_LONG');
    // The line ended, but is itself over the limit (the overflow is noticed at the next header).
    const limit = `/${'a'.repeat(16_380)}`;
    expect(clientErrorOf(overflow(`GET ${limit} HTTP/1.1\r\nHost: x\r\n\r\n`, limit.length + 21)).code).toBe('URI_TOO_LONG');
    expect(clientErrorOf(overflow(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`, 20_033)).code).toBe('HEADERS_TOO_LARGE');
    // A packet that does not start a request (the head arrived over several reads): can't tell.
    expect(clientErrorOf(overflow('a'.repeat(30_000), 30_000)).code).toBe('HEADERS_TOO_LARGE');
  });
  it('a timeout is 408, oversized chunk extensions 413, any other parse error 400', () => {
    expect(clientErrorOf(Object.assign(new Error('t'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' })).code).toBe('REQUEST_TIMEOUT');
    expect(clientErrorOf(Object.assign(new Error('t'), { code: 'HPE_CHUNK_EXTENSIONS_OVERFLOW' })).code).toBe('BODY_TOO_LARGE');
    const bad = clientErrorOf(Object.assign(new Error('Parse Error: Invalid method encountered'), { code: 'HPE_INVALID_METHOD', reason: 'Invalid method encountered' }));
    expect(bad.toBody()).toEqual({ error: 'malformed HTTP request: Invalid method encountered', code: 'REQUEST_MALFORMED' });
  });
});
