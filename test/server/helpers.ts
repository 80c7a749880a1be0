/**
 * A real `slowwork serve` app for tests: an embedded pool of 2 threads, the demo and fixture
 * processors, listening on a free loopback port.
 */
import type { FastifyInstance } from 'fastify';
import { EmbeddedBroker } from '../../src/brokers/embedded/broker.js';
import { buildServer, type ServerOptions } from '../../src/server/app.js';
import { Manager, type ManagerSettings } from '../../src/server/manager.js';
import { builtinUrl, fixtureUrl } from '../brokers/helpers.js';

export interface TestServer {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly manager: Manager;
  readonly broker: EmbeddedBroker;
  close(): Promise<void>;
}

export const TEST_PROCESSORS = ['demo', 'faulty', 'retry-stream', 'abort-marker', 'sleep'] as const;

/** Fast demo answers: 8 tokens, no waiting. */
export const FAST_DEMO = { tokens_per_s: '0', first_token_ms: '0', length: '8' };

export async function startTestServer(
  settings: Partial<ManagerSettings> = {},
  server: Partial<Omit<ServerOptions, 'manager'>> = {},
): Promise<TestServer> {
  const processors = new Map<string, string>(TEST_PROCESSORS.map((n) => [n, n === 'demo' ? builtinUrl('demo') : fixtureUrl(n)]));
  const broker = new EmbeddedBroker({ threads: 2, maxConcurrency: 1024 });
  const manager = new Manager(broker, {
    processors,
    params: FAST_DEMO,
    batchSize: 16,
    batchWindowMs: 2,
    maxRequestsPerJob: 64,
    retries: 2,
    timeoutMs: 60_000,
    actionConcurrency: 64,
    ...settings,
  });
  const app = buildServer({ manager, bodyLimitBytes: 64 * 1024, requestTimeoutMs: 30_000, maxPromptChars: 10_000, maxActionItems: 1000, logLevel: 'silent', ...server });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  let closed = false;
  return {
    url,
    app,
    manager,
    broker,
    async close() {
      if (closed) return;
      closed = true;
      await manager.abortAll('test over', 2000);
      await app.close();
      await broker.close();
    },
  };
}

export interface SseMessage {
  readonly id?: string;
  readonly event?: string;
  readonly data: string;
}

/** Reads a whole event stream: every message, in order (comments dropped). */
export async function readSse(response: Response, onMessage?: (m: SseMessage) => void): Promise<SseMessage[]> {
  const messages: SseMessage[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  const reader = response.body!.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const m = parseBlock(block);
      if (m) {
        messages.push(m);
        onMessage?.(m);
      }
    }
  }
  return messages;
}

function parseBlock(block: string): SseMessage | null {
  let id: string | undefined;
  let event: string | undefined;
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') id = value;
    else if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return null;
  return { ...(id === undefined ? {} : { id }), ...(event === undefined ? {} : { event }), data: data.join('\n') };
}

export const postJson = (url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
