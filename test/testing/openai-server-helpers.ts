/**
 * Helpers for the local OpenAI server's tests: a server per call, closed after each test, and
 * the official client pointed at it (no retries unless a test asks).
 */
import OpenAI from 'openai';
import { afterEach } from 'vitest';
import { startOpenAIServer, type OpenAIServer, type OpenAIServerOptions } from '../../src/testing/openai-server/server.js';

const servers: OpenAIServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

export async function serve(options: OpenAIServerOptions = {}): Promise<OpenAIServer> {
  const server = await startOpenAIServer(options);
  servers.push(server);
  return server;
}

export const clientOf = (server: OpenAIServer, extra: Partial<ConstructorParameters<typeof OpenAI>[0]> = {}): OpenAI =>
  new OpenAI({ apiKey: 'sk-test', baseURL: server.baseUrl, maxRetries: 0, ...extra });

/** A chat request body with one user message. */
export const ask = (content: string) => ({ model: 'm', messages: [{ role: 'user' as const, content }] });
