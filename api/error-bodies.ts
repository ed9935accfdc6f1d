// Every error body the HTTP edge writes is a catalogue body, `{error, code, details?}` with the
// code's status (infra/errors.ts): ours, Fastify's (classified by their FST_ERR_* code, never by
// message), and the ones Node's HTTP server would write bare before Fastify sees a request (parse
// errors, oversized request heads, timeouts, a missing Host, an Expect it can't meet).
// The handler is the root scope's: an encapsulated plugin may set its own (Fastify resolves the
// nearest), and fall back to replyWithError for what it does not handle itself.
import http from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AuditflowError, isAuditflowError, type ErrorCode } from '../infra/errors.ts';
import { assertUtf8 } from '../ingest/request-body.ts';

/**
 * Fastify's errors that a client can trigger → ours. Every 4xx of fastify's errorCodes is here or
 * in SERVER_FAULTS (test/error-bodies.test.ts checks it against the installed Fastify).
 */
export const FASTIFY_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'BODY_MALFORMED',
  FST_ERR_CTP_INVALID_JSON_BODY: 'BODY_MALFORMED',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BODY_MALFORMED',
  // Route schemas are documentation only (they don't validate), but should one: querystring,
  // params and headers are the query; a body is VALIDATION_FAILED (see catalogueError).
  FST_ERR_VALIDATION: 'QUERY_INVALID',
  FST_ERR_BAD_URL: 'URL_MALFORMED',
  FST_ERR_NOT_FOUND: 'NOT_FOUND',
};

/** Fastify codes that carry a 4xx status but are raised while routes are registered: our fault. */
export const SERVER_FAULTS: readonly string[] = ['FST_ERR_CTP_INSTANCE_ALREADY_STARTED', 'FST_ERR_INVALID_URL'];

/** A 4xx with a code we don't know (a plugin's, or a request stream's that Fastify marked 400). */
const BY_STATUS: Readonly<Partial<Record<number, ErrorCode>>> = {
  400: 'REQUEST_MALFORMED', 401: 'AUTH_INVALID', 403: 'AUTH_SCOPE', 404: 'NOT_FOUND', 408: 'REQUEST_TIMEOUT',
  413: 'BODY_TOO_LARGE', 414: 'URI_TOO_LONG', 415: 'UNSUPPORTED_MEDIA_TYPE', 417: 'EXPECTATION_FAILED',
  429: 'RATE_LIMITED', 431: 'HEADERS_TOO_LARGE',
};

interface ErrorLike {
  code?: unknown;
  statusCode?: unknown;
  status?: unknown;
  message?: unknown;
  validationContext?: unknown;
}

/** Whatever was thrown → a catalogue error. 5xx and unknown errors say only "internal error". */
export function catalogueError(err: unknown, log?: FastifyBaseLogger): AuditflowError {
  if (isAuditflowError(err)) return err;
  const e: ErrorLike = typeof err === 'object' && err !== null ? err : {};
  const code = typeof e.code === 'string' ? e.code : undefined;
  const message = typeof e.message === 'string' && e.message.length > 0 ? e.message : 'request refused';
  const known = code === undefined ? undefined : FASTIFY_CODES[code];
  if (known) return new AuditflowError(code === 'FST_ERR_VALIDATION' && e.validationContext === 'body' ? 'VALIDATION_FAILED' : known, message, { cause: err });
  const status = typeof e.statusCode === 'number' ? e.statusCode : typeof e.status === 'number' ? e.status : 500;
  if (status >= 400 && status < 500 && !(code !== undefined && SERVER_FAULTS.includes(code))) {
    const byStatus = BY_STATUS[status];
    if (!byStatus) log?.warn({ err, status }, 'client error with a status the catalogue has no code for: answered 400');
    return new AuditflowError(byStatus ?? 'REQUEST_MALFORMED', message, { cause: err });
  }
  return new AuditflowError('INTERNAL', 'internal error', { cause: err });
}

/** Answers `err` with its catalogue body (and Retry-After when retrying may help). */
export function replyWithError(err: unknown, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const e = catalogueError(err, req.log);
  if (e.status >= 500) req.log.error({ err, code: e.code }, e.message);
  // NOTE: a plugin may have set its own (rate limiting: seconds until the window resets).
  if (e.retriable && !reply.hasHeader('retry-after')) void reply.header('retry-after', '1');
  return reply.code(e.status).send(e.toBody());
}

/** A parse or timeout error on a connection, as Node's HTTP server reports it to 'clientError'. */
export interface ClientError extends Error {
  code?: string;
  reason?: string;
  bytesParsed?: number;
  rawPacket?: unknown;
}

const REQUEST_LINE = /^[A-Z][A-Z-]* /;

/**
 * TRICKY: llhttp counts the request line into maxHeaderSize and reports one HPE_HEADER_OVERFLOW
 * (Node 20 has no HPE_URI_TOO_LONG). The request line alone overflowed when the packet that
 * overflowed starts a request and has no line end before the parser stopped, or its first line
 * is itself maxHeaderSize bytes or more. A request line that arrived over several reads, or
 * behind a pipelined request in one packet, can't be told apart: it is answered 431.
 */
function requestLineOverflowed(err: ClientError): boolean {
  const packet = err.rawPacket;
  if (!Buffer.isBuffer(packet)) return false;
  const stop = Math.min(err.bytesParsed ?? packet.length, packet.length);
  if (!REQUEST_LINE.test(packet.toString('latin1', 0, Math.min(stop, 32)))) return false;
  const lineEnd = packet.indexOf(0x0a);
  return lineEnd === -1 || lineEnd >= stop || lineEnd + 1 >= http.maxHeaderSize;
}

export function clientErrorOf(err: ClientError): AuditflowError {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return requestLineOverflowed(err)
        ? new AuditflowError('URI_TOO_LONG', `the request line is longer than the ${http.maxHeaderSize} bytes a request head may have`)
        : new AuditflowError('HEADERS_TOO_LARGE', `the request line and headers are longer than ${http.maxHeaderSize} bytes`);
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new AuditflowError('BODY_TOO_LARGE', 'chunk extensions are too large');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new AuditflowError('REQUEST_TIMEOUT', 'the request was not received in time');
    default:
      return new AuditflowError('REQUEST_MALFORMED', `malformed HTTP request: ${err.reason ?? err.code ?? err.message}`);
  }
}

const answered = new WeakSet<Socket>();

/**
 * Fastify's clientErrorHandler: a complete HTTP/1.1 response with the catalogue body, then the
 * connection is closed once the response is flushed (the rest of what the client sent is not read).
 */
export function answerClientError(err: ClientError, socket: Socket, log?: FastifyBaseLogger): void {
  // The parser may report again (more bytes of the same head) before the socket is gone.
  if (answered.has(socket)) return;
  // A response already under way on this connection must not be corrupted by a second one.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  answered.add(socket);
  const e = clientErrorOf(err);
  log?.debug({ err, code: e.code }, 'client error');
  const body = JSON.stringify(e.toBody());
  // A client that stops reading must not keep the socket.
  const giveUp = setTimeout(() => socket.destroy(), 5000).unref();
  const head = `HTTP/1.1 ${e.status} ${http.STATUS_CODES[e.status]}\r\nContent-Type: application/json; charset=utf-8\r\n`
    + `Content-Length: ${Buffer.byteLength(body)}\r\n${e.retriable ? 'Retry-After: 1\r\n' : ''}Connection: close\r\n\r\n`;
  socket.write(head + body, () => {
    clearTimeout(giveUp);
    socket.destroy();
  });
}

/** Server options for Fastify(): framework errors and client errors answered with catalogue bodies. */
export function errorBodyOptions(log?: FastifyBaseLogger) {
  return {
    // FST_ERR_BAD_URL (a path that is not valid percent-encoding) and FST_ERR_ASYNC_CONSTRAINT.
    frameworkErrors: (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => void replyWithError(err, req, reply),
    clientErrorHandler: (err: ClientError, socket: Socket) => answerClientError(err, socket, log),
    // Fastify's own 503 body while closing, and Node's bare 400 for a missing Host: the hook below instead.
    return503OnClosing: false,
    http: { requireHostHeader: false },
  };
}

/**
 * The root scope's error and not-found handlers, UTF-8-checked JSON and text parsers (the ingest
 * scope replaces all parsers with its own), and the refusals Node or Fastify would write bare.
 */
export function installErrorBodies(app: FastifyInstance): void {
  app.setErrorHandler((err, req, reply) => replyWithError(err, req, reply));
  app.setNotFoundHandler((req, reply) => replyWithError(new AuditflowError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`), req, reply));

  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body: Buffer, done) => {
    try {
      assertUtf8(body);
    } catch (e) {
      done(e as AuditflowError);
      return;
    }
    json(req, body.toString('utf8'), done);
  });
  app.addContentTypeParser('text/plain', { parseAs: 'buffer' }, (_req, body: Buffer, done) => {
    try {
      assertUtf8(body);
      done(null, body.toString('utf8'));
    } catch (e) {
      done(e as AuditflowError);
    }
  });

  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  // Callback style: no promise per request on the ingest path.
  app.addHook('onRequest', (req, reply, done) => {
    if (closing) done(new AuditflowError('SHUTTING_DOWN', 'the server is shutting down; retry on a new connection'));
    else if (req.raw.httpVersion === '1.1' && req.headers.host === undefined) {
      void reply.header('connection', 'close'); // as Node's own answer: the client is not speaking HTTP/1.1
      done(new AuditflowError('REQUEST_MALFORMED', 'an HTTP/1.1 request must carry a Host header'));
    } else done();
  });
  // Without a listener Node answers an Expect other than 100-continue with a bare 417.
  app.server.on('checkExpectation', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const e = new AuditflowError('EXPECTATION_FAILED', `Expect: ${req.headers.expect} is not supported (only 100-continue)`);
    const body = JSON.stringify(e.toBody());
    res.writeHead(e.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
    res.end(body);
  });
}
