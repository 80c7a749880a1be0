/**
 * A scripted OpenAI-compatible server for the `openai` processor tests: a real `node:http`
 * server on 127.0.0.1, port 0. Each request is recorded and answered by the test's script,
 * which gets the request number (0-based) and the parsed JSON body.
 */
import { processQuota } from '../../src/runtime/quota/local.js';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';
import type { ItemMeta } from '../../src/core/item-meta.js';
import type { Params } from '../../src/core/types.js';
import type { ProcessContext } from '../../src/processors/contract.js';

export interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

export interface Call {
  /** 0-based request number. */
  readonly n: number;
  readonly body: Record<string, unknown>;
  /** Resolves when the client goes away (aborted, or the socket closed). */
  readonly clientGone: Promise<void>;
}

export type Script = (req: IncomingMessage, res: ServerResponse, call: Call) => void | Promise<void>;

export interface ScriptedServer {
  readonly port: number;
  /** `http://127.0.0.1:PORT/v1` */
  readonly baseUrl: string;
  readonly received: Received[];
  /** Requests whose client connection has closed. */
  closedRequests(): number;
  close(): Promise<void>;
}

export async function scriptedServer(script: Script): Promise<ScriptedServer> {
  const received: Received[] = [];
  let closed = 0;
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8').on('data', (s: string) => (raw += s));
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      try {
        body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      } catch {
        body = { unparsable: raw };
      }
      const n = received.length;
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const clientGone = new Promise<void>((resolve) => req.socket.once('close', () => resolve()));
      void clientGone.then(() => closed++);
      Promise.resolve(script(req, res, { n, body, clientGone })).catch((err: unknown) => {
        res.destroy(err instanceof Error ? err : new Error(String(err)));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    baseUrl: `http://127.0.0.1:${port}/v1`,
    received,
    closedRequests: () => closed,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A test file's `serve(script)`: each server it starts is closed after its test. */
export function serversPerTest(): (script: Script) => Promise<ScriptedServer> {
  const servers: ScriptedServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  return async (script) => {
    const server = await scriptedServer(script);
    servers.push(server);
    return server;
  };
}

/** One SSE event carrying `payload` as JSON. */
export const sse = (payload: unknown): string => `data: ${JSON.stringify(payload)}\n\n`;
export const DONE = 'data: [DONE]\n\n';

export const chatChunk = (content: string | null, finish: string | null = null): string =>
  sse({ id: 'c1', object: 'chat.completion.chunk', model: 'm', choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }] });

export const textChunk = (text: string, finish: string | null = null): string =>
  sse({ id: 'c1', object: 'text_completion', model: 'm', choices: [{ index: 0, text, finish_reason: finish }] });

export function startStream(res: ServerResponse, status = 200): void {
  res.writeHead(status, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.flushHeaders();
}

/** A whole streamed chat answer: a role delta, the pieces, a finish chunk, [DONE]. */
export function streamChat(res: ServerResponse, pieces: readonly string[]): void {
  startStream(res);
  res.write(sse({ choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }));
  for (const p of pieces) res.write(chatChunk(p));
  res.write(chatChunk(null, 'stop'));
  res.end(DONE);
}

/** An error response in OpenAI's shape. */
export function sendError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ error: { message, type: 'invalid_request_error', param: null, code: null } }));
}

/** The last user message of a chat request body, or its prompt. */
export function userText(body: Record<string, unknown>): string {
  if (typeof body.prompt === 'string') return body.prompt;
  const messages = body.messages as { role: string; content: string }[] | undefined;
  return messages?.filter((m) => m.role === 'user').at(-1)?.content ?? '';
}

/** A processor context as the runner makes it, recording what the processor says. */
export interface ContextRun {
  readonly ctx: ProcessContext;
  readonly logs: string[];
  /** What the processor reported (`ctx.report`), in order. */
  readonly reports: ItemMeta[];
  readonly abort: AbortController;
}

export function processContext(params: Params): ContextRun {
  const abort = new AbortController();
  const logs: string[] = [];
  const reports: ItemMeta[] = [];
  const ctx: ProcessContext = { signal: abort.signal, attempt: 1, itemId: '1', params, stage: 0, log: (m) => logs.push(m), report: (m) => reports.push(m), limit: (key, cost, limits) => processQuota().limit(key, cost, limits, abort.signal) };
  return { ctx, logs, reports, abort };
}
