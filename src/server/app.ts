/**
 * The fastify app of `slowwork serve`: limits, the bearer token, one error shape for every
 * failure, and the route groups. Building it does not listen, so tests can `inject()` or
 * listen on a free port.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { HttpError, errorBody, errorTypeFor, httpErrorOf } from './http-error.js';
import type { Manager } from './manager.js';
import { actionRoutes } from './routes/actions.js';
import type { RouteContext } from './routes/context.js';
import { generateRoutes } from './routes/generate.js';
import { jobRoutes } from './routes/jobs.js';
import { metaRoutes } from './routes/meta.js';
import { openaiRoutes } from './routes/openai.js';
import { processorRoutes, type ProcessorRoutesOptions } from './routes/processors.js';

export interface ServerOptions {
  readonly manager: Manager;
  /** Bearer token every route but /healthz requires; none on loopback by default. */
  readonly token?: string;
  readonly bodyLimitBytes: number;
  readonly maxPromptChars: number;
  readonly maxActionItems: number;
  /**
   * How long a client has to send a whole request (headers and body); a slower one gets 408 and
   * its connection closed, so a trickled body cannot hold a connection open for ever. 0: no limit.
   */
  readonly requestTimeoutMs: number;
  /** pino level (fatal … trace, silent); logs go to stderr. */
  readonly logLevel: string;
  /** The remote processors' registry and broker, when they are enabled: their routes (register, complete, list) come with them. */
  readonly remoteProcessors?: ProcessorRoutesOptions;
}

const OPEN_ROUTES = new Set(['/healthz']);

export function buildServer(opts: ServerOptions): FastifyInstance {
  const app = Fastify({
    bodyLimit: opts.bodyLimitBytes,
    logger: opts.logLevel === 'silent' ? false : { level: opts.logLevel, stream: process.stderr },
    // Streams stay open for minutes; a slow reader must not be cut off by a server timeout. A slow
    // sender is (requestTimeout): Node checks it every connectionsCheckingInterval.
    connectionTimeout: 0,
    requestTimeout: opts.requestTimeoutMs,
    http: requestTimeoutChecks(opts.requestTimeoutMs),
    clientErrorHandler,
    keepAliveTimeout: 72_000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });

  // `curl -d '{"prompt":"hi"}'` sends form or text content types: read those as JSON too.
  app.addContentTypeParser(['text/plain', 'application/x-www-form-urlencoded'], { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(new HttpError(400, 'the body must be JSON'), undefined);
    }
  });

  // Draining (the first SIGINT/SIGTERM): the listener stays open so new requests hear 503, as
  // documented, rather than find the port closed; running items finish meanwhile (a route they
  // need says so in its config).
  app.addHook('onRequest', async (request, reply) => {
    if (!opts.manager.draining || request.routeOptions.config.whileDraining === true) return;
    reply.header('connection', 'close').header('retry-after', '5');
    throw new HttpError(503, 'the server is stopping: it takes no new requests (retry against another server, or once it is back)', 'server_error', 'server_stopping');
  });

  if (opts.token !== undefined) {
    const expected = digest(`Bearer ${opts.token}`);
    app.addHook('onRequest', async (request) => {
      if (OPEN_ROUTES.has(request.url.split('?', 1)[0]!)) return;
      const given = request.headers.authorization;
      if (given === undefined || !timingSafeEqual(digest(given), expected)) {
        throw new HttpError(401, 'missing or wrong token: send Authorization: Bearer <the serve --token>', 'authentication_error', 'invalid_api_key');
      }
    });
  }

  app.addHook('onResponse', async (request, reply) => {
    opts.manager.metrics.request(request.routeOptions.url ?? 'unmatched', reply.statusCode);
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const known = httpErrorOf(err);
    if (known) return reply.code(known.status).send(errorBody(known.message, known.type, known.code, known.param));
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) request.log.error({ err }, 'request failed');
    if (status === 500) return reply.code(500).send(errorBody('internal error: the server could not answer (see its log)', 'server_error'));
    const { message, code } = clientError(err);
    return reply.code(status).send(errorBody(message, errorTypeFor(status), code));
  });

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(errorBody(`no route ${request.method} ${request.url.split('?', 1)[0]}`, 'not_found_error', 'unknown_route'));
  });

  const ctx: RouteContext = { manager: opts.manager, maxPromptChars: opts.maxPromptChars, maxActionItems: opts.maxActionItems };
  generateRoutes(app, ctx);
  openaiRoutes(app, ctx);
  actionRoutes(app, ctx);
  metaRoutes(app, ctx);
  jobRoutes(app, ctx);
  if (opts.remoteProcessors) void app.register(processorRoutes, opts.remoteProcessors);
  return app;
}

/** Node checks request timeouts every connectionsCheckingInterval (30 s by default): check often enough. */
function requestTimeoutChecks(timeoutMs: number): { connectionsCheckingInterval: number; headersTimeout: number } | undefined {
  if (timeoutMs <= 0) return undefined;
  return { connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.floor(timeoutMs / 4))), headersTimeout: Math.min(60_000, timeoutMs) };
}

/** Errors below HTTP (a request too slow, unparsable): answered in the API's error shape, then closed. */
function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, body] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, errorBody('the request was not sent in time (serve --request-timeout)', 'invalid_request_error', 'request_timeout')]
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, errorBody('the request headers are too large', 'invalid_request_error')]
        : [400, errorBody('the request is not valid HTTP', 'invalid_request_error')];
  const text = JSON.stringify(body);
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(text)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${text}`);
  }
  socket.destroy();
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/** fastify's own 4xx errors, made to read as ours: its `FST_ERR_*` codes are not part of this API. */
function clientError(err: FastifyError): { message: string; code: string | null } {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { message: 'the request body is larger than this server takes (--max-body)', code: 'body_too_large' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { message: 'send the body as JSON (Content-Type: application/json)', code: 'unsupported_media_type' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { message: 'the request needs a JSON body', code: null };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { message: 'the body must be JSON', code: null };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { message: 'the body is not as long as its Content-Length says', code: null };
    default:
      return { message: err.message.split('\n', 1)[0] ?? 'bad request', code: null };
  }
}
