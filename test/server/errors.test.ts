/**
 * The manager's domain errors as HTTP answers (status and OpenAI error shape), and the remote
 * processor routes as a plugin: served only when remote processors are enabled, `/complete`
 * still served while the server drains.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../src/brokers/embedded/broker.js';
import { RemoteBroker } from '../../src/brokers/remote/broker.js';
import { RemoteProcessorRegistry } from '../../src/brokers/remote/registry.js';
import { buildServer } from '../../src/server/app.js';
import { EmptyPipelineError, InvalidParamsError, PipelineNotAllowedError, UnknownProcessorError } from '../../src/server/errors.js';
import { errorBody, httpErrorOf } from '../../src/server/http-error.js';
import { Manager } from '../../src/server/manager.js';
import { builtinUrl } from '../brokers/helpers.js';
import { FAST_DEMO, postJson, startTestServer } from './helpers.js';

describe('domain errors as HTTP', () => {
  it('gives each manager error its status and error body', () => {
    const answer = (err: Error) => {
      const http = httpErrorOf(err)!;
      return [http.status, errorBody(http.message, http.type, http.code, http.param)];
    };
    expect(answer(new UnknownProcessorError('nope', ['demo', 'far']))).toEqual([
      404,
      errorBody('unknown processor "nope": this server offers demo, far', 'invalid_request_error', 'model_not_found'),
    ]);
    expect(answer(new EmptyPipelineError())).toEqual([400, errorBody('a pipeline needs at least one processor', 'invalid_request_error', null, 'pipeline')]);
    expect(answer(new PipelineNotAllowedError('far'))).toEqual([
      400,
      errorBody('a remote processor (far) runs alone: pipelines of several processors take local ones only', 'invalid_request_error', null, 'pipeline'),
    ]);
    expect(answer(new InvalidParamsError('unknown param x'))).toEqual([400, errorBody('unknown param x', 'invalid_request_error', 'invalid_param', 'params')]);
    expect(httpErrorOf(new Error('other'))).toBeNull();
  });
});

describe('a server with remote processors enabled', () => {
  let url = '';
  let manager: Manager;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const broker = new EmbeddedBroker({ threads: 1, maxConcurrency: 16 });
    const registry = new RemoteProcessorRegistry();
    const remoteBroker = new RemoteBroker(registry, { callbackUrl: () => `${url}/complete` });
    // `far` stands for a registered remote processor: the manager only asks the registry by name.
    const remote = { has: (n: string) => n === 'far', takesMessages: () => false, names: () => ['far'], list: () => [], broker: remoteBroker };
    const settings = { processors: new Map([['demo', builtinUrl('demo')]]), params: FAST_DEMO, batchSize: 4, batchWindowMs: 2, maxRequestsPerJob: 8, retries: 0, timeoutMs: 10_000, actionConcurrency: 4 };
    manager = new Manager(broker, settings, remote);
    const app = buildServer({ manager, bodyLimitBytes: 64 * 1024, requestTimeoutMs: 30_000, maxPromptChars: 1000, maxActionItems: 10, logLevel: 'silent', remoteProcessors: { registry, broker: remoteBroker } });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    close = async () => {
      await manager.abortAll('test over', 2000);
      await app.close();
      registry.close();
      await remoteBroker.close();
      await broker.close();
    };
  });
  afterAll(async () => {
    await close?.();
  });

  it('answers a pipeline with a remote processor among others, and an unknown one, in the error shape', async () => {
    const mixed = await postJson(`${url}/actions`, { items: ['a'], pipeline: ['demo', 'far'] });
    expect(mixed.status).toBe(400);
    expect(await mixed.json()).toEqual(
      errorBody('a remote processor (far) runs alone: pipelines of several processors take local ones only', 'invalid_request_error', null, 'pipeline'),
    );
    const unknown = await postJson(`${url}/actions`, { items: ['a'], pipeline: ['nope'] });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual(errorBody('unknown processor "nope": this server offers demo, far', 'invalid_request_error', 'model_not_found'));
  });

  it('serves the processor routes; while draining, /complete only', async () => {
    const listed = await fetch(`${url}/processors`);
    expect(listed.status).toBe(200);
    expect(await listed.json()).toEqual({ processors: [] });
    manager.drain();
    // Reaches the route (no item waits for it) rather than the drain's 503.
    const complete = await postJson(`${url}/complete`, { id: 'gone', output: 'x' });
    expect(complete.status).toBe(404);
    expect(((await complete.json()) as { error: { message: string } }).error.message).toMatch(/no item waits for dispatch id "gone"/);
    for (const res of [await fetch(`${url}/processors`), await postJson(`${url}/generate`, { prompt: 'x' })]) {
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('server_stopping');
    }
  });
});

describe('a server without remote processors', () => {
  it('has no processor routes', async () => {
    const s = await startTestServer();
    try {
      for (const res of [await fetch(`${s.url}/processors`), await postJson(`${s.url}/complete`, { id: 'x', output: 'y' })]) {
        expect(res.status).toBe(404);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unknown_route');
      }
    } finally {
      await s.close();
    }
  });
});
