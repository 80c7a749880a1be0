/**
 * Real sockets on 127.0.0.1 for the remote-processor tests: a manager (the processor routes on a
 * fastify app, a registry, a RemoteBroker) and processor servers running the built-in demo.
 */
import { createServer } from 'node:net';
import { PassThrough } from 'node:stream';
import Fastify from 'fastify';
import { afterEach } from 'vitest';
import { spec as baseSpec } from '../helpers.js';
import type { JobEvent } from '../../../src/core/events.js';
import type { ItemInput, JobSpec, Params } from '../../../src/core/types.js';
import { startProcessorServer, type ProcessorServer, type ProcessorServerOptions } from '../../../src/app/processor-server.js';
import { demoSettings, demoTokens } from '../../../src/processors/demo.js';
import { loadProcessor, resolveProcessorRef } from '../../../src/processors/registry.js';
import { RemoteBroker } from '../../../src/brokers/remote/broker.js';
import { buildProcessorApp, type ProcessorApp } from '../../../src/processor-server/processor-app.js';
import { RemoteProcessorRegistry, type RegistryOptions } from '../../../src/brokers/remote/registry.js';
import { processorRoutes } from '../../../src/server/routes/processors.js';

export const FAST: Params = { first_token_ms: '0', tokens_per_s: '0' };

/** What the demo answers for `input` with `params`. */
export const demoOutput = (input: ItemInput, params: Params): string => demoTokens(input, demoSettings(params)).join('');

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  // Last opened first: processors before their manager.
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
});

export interface Manager {
  readonly url: string;
  readonly registry: RemoteProcessorRegistry;
  readonly broker: RemoteBroker;
  /** POSTs JSON (or raw text) to the manager; the parsed answer. */
  post(path: string, body: unknown, raw?: boolean): Promise<{ status: number; body: any }>;
}

/** With `token`, every route wants `Authorization: Bearer <token>`, as the serve app's global hook does. */
export async function startManager(opts: RegistryOptions & { start?: boolean; idleTimeoutMs?: number } = {}): Promise<Manager> {
  const registry = new RemoteProcessorRegistry(opts);
  let url = '';
  const broker = new RemoteBroker(registry, { callbackUrl: () => `${url}/complete`, idleTimeoutMs: opts.idleTimeoutMs, token: opts.token });
  const app = Fastify({ logger: false, forceCloseConnections: true });
  if (opts.token !== undefined) {
    app.addHook('onRequest', async (request, reply) => {
      if (request.headers.authorization !== `Bearer ${opts.token}`) await reply.code(401).send({ error: { message: 'missing or wrong token', type: 'authentication_error' } });
    });
  }
  await app.register(processorRoutes, { registry, broker });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
  if (opts.start !== false) registry.start();
  closers.push(async () => {
    registry.close();
    await broker.close();
    await app.close();
  });
  const post = async (path: string, body: unknown, raw = false) => {
    const res = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: raw ? (body as string) : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  return { url, registry, broker, post };
}

/** A processor server (the real `slowwork processor serve` code) registered with `manager`. */
export async function startProcessor(manager: string, over: Partial<ProcessorServerOptions> = {}): Promise<ProcessorServer & { out: () => string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  stdout.on('data', (d) => (out += String(d)));
  stderr.on('data', (d) => (out += String(d)));
  const server = await startProcessorServer(
    { manager, processor: 'demo', params: FAST, port: 0, host: '127.0.0.1', concurrency: 16, async: false, registerAttempts: 1, ...over },
    { stdout, stderr, cwd: process.cwd() },
  );
  closers.push(() => server.close());
  return Object.assign(server, { out: () => out });
}

/** A bare processor app (no registration) on `port`: for servers a test kills or restarts. */
export async function listenProcessorApp(over: {
  name?: string;
  id: string;
  params?: Params;
  port?: number;
  async?: boolean;
  keepAliveMs?: number;
  /** A built-in or a module path (default the demo). */
  processor?: string;
}): Promise<ProcessorApp & { url: string; kill(): void }> {
  const ref = over.processor ?? 'demo';
  const processor = await loadProcessor(resolveProcessorRef(ref));
  const served = buildProcessorApp({
    processor,
    ref,
    name: over.name ?? 'demo',
    id: over.id,
    version: 'test',
    params: over.params ?? FAST,
    concurrency: 16,
    async: over.async ?? false,
    keepAliveMs: over.keepAliveMs,
    log: () => undefined,
  });
  const url = await served.app.listen({ port: over.port ?? 0, host: '127.0.0.1' });
  closers.push(() => served.app.close());
  return Object.assign(served, {
    url,
    /** Like a crash: every connection cut at once, nothing more answered. */
    kill: () => {
      served.app.server.close();
      served.app.server.closeAllConnections();
      served.abortAll('killed');
    },
  });
}

/** A job for the remote broker: items go one by one to the endpoints named `demo`. */
export const spec = (over: Partial<JobSpec> = {}): JobSpec => baseSpec({ jobId: 'job-remote', pipeline: [{ name: 'demo', url: '' }], batchSize: 1, ...over });

export const inputsOf = (n: number, prefix = 'prompt'): string[] => Array.from({ length: n }, (_, k) => `${prefix} number ${k + 1}`);

/** A port nothing listens on (bound once, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Polls `check` until it holds, or fails after `timeoutMs` naming `what`. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * The text a live view shows per item: it starts over on item-start and item-retry, as a
 * consumer must. Also records any chunk of an attempt that arrives after its item-retry.
 */
export class LiveText {
  readonly text = new Map<number, string>();
  readonly lateChunks: JobEvent[] = [];
  private readonly retried = new Map<number, number>();

  readonly onEvent = (e: JobEvent): void => {
    if (e.type === 'item-start') this.text.set(e.index, '');
    else if (e.type === 'item-retry') {
      this.text.set(e.index, '');
      this.retried.set(e.index, e.attempt);
    } else if (e.type === 'chunk') {
      if ((this.retried.get(e.index) ?? 0) >= e.attempt) this.lateChunks.push(e);
      this.text.set(e.index, (this.text.get(e.index) ?? '') + e.text);
    }
  };
}
