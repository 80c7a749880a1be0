/**
 * Remote processor routes of the manager (contract in src/brokers/remote/wire.ts):
 *   POST /processors/register  {name, id, url}   → 200 {registered, name, id, url} | 400 | 409 | 502
 *   POST /complete             {id, output|error, meta?} → 200 {accepted: true} | 400 | 404
 *   GET  /processors                             → 200 {processors: [RemoteEndpointInfo]}
 * Bad bodies get 400 with {"error": {"message", "type"}}. The bearer token, when the server has
 * one, is the app's global hook; nothing here checks it. A fastify plugin:
 * `app.register(processorRoutes, {registry, broker})`; the serve app registers it when remote
 * processors are enabled.
 */
import type { FastifyError, FastifyPluginAsync, FastifyReply } from 'fastify';
import type { z } from 'zod';
import { RegistrationError } from '../../brokers/remote/errors.js';
import type { RemoteBroker } from '../../brokers/remote/broker.js';
import type { RemoteProcessorRegistry } from '../../brokers/remote/registry.js';
import { ErrorType, completeRequestSchema, firstIssue, jsonError, registerRequestSchema } from '../../brokers/remote/wire.js';

export interface ProcessorRoutesOptions {
  readonly registry: RemoteProcessorRegistry;
  readonly broker: RemoteBroker;
}

/** Registration bodies are three short strings. */
const REGISTER_BODY_LIMIT = 64 * 1024;
/** A /complete carries a whole output. */
const COMPLETE_BODY_LIMIT = 32 * 1024 * 1024;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served while the server drains (other routes answer 503): see app.ts. */
    readonly whileDraining?: boolean;
  }
}

export const processorRoutes: FastifyPluginAsync<ProcessorRoutesOptions> = async (app, opts) => {
  const { registry, broker } = opts;

  app.post('/processors/register', { bodyLimit: REGISTER_BODY_LIMIT, errorHandler: bodyErrors }, async (request, reply) => {
    const body = parse(registerRequestSchema, request.body, reply);
    if (!body) return reply;
    try {
      const info = await registry.register(body);
      return { registered: true, name: info.name, id: info.id, url: info.url };
    } catch (err) {
      if (err instanceof RegistrationError) return reply.code(err.status).send(jsonError(err.message, err.type));
      throw err;
    }
  });

  // Items still running while the server drains post their results here.
  app.post('/complete', { bodyLimit: COMPLETE_BODY_LIMIT, errorHandler: bodyErrors, config: { whileDraining: true } }, async (request, reply) => {
    const body = parse(completeRequestSchema, request.body, reply);
    if (!body) return reply;
    if (!broker.complete(body)) {
      return reply
        .code(404)
        .send(jsonError(`no item waits for dispatch id "${body.id}" (it finished, timed out, was re-sent or cancelled)`, ErrorType.notFound));
    }
    return { accepted: true };
  });

  app.get('/processors', async () => ({ processors: registry.list() }));
};

/** The body as `schema` wants it, or null after answering 400. */
function parse<S extends z.ZodType>(schema: S, body: unknown, reply: FastifyReply): z.infer<S> | null {
  if (body === undefined || body === null) {
    void reply.code(400).send(jsonError('the request needs a JSON body (Content-Type: application/json)', ErrorType.invalid));
    return null;
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  void reply.code(400).send(jsonError(firstIssue(result.error), ErrorType.invalid));
  return null;
}

/**
 * A body fastify could not read (not JSON, too large, wrong content type) gets our 4xx shape;
 * anything else goes on to the app's own error handler.
 */
function bodyErrors(err: FastifyError, _request: unknown, reply: FastifyReply): FastifyReply {
  const status = err.statusCode ?? 500;
  if (!err.code?.startsWith('FST_ERR_CTP') || status < 400 || status > 499) throw err;
  const message = err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'the request body is too large' : (err.message.split('\n', 1)[0] ?? 'bad request body');
  return reply.code(status).send(jsonError(message, ErrorType.invalid));
}
