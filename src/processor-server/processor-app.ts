/**
 * The processor side of the contract (wire.ts): a fastify app that runs one processor in this
 * process for a manager.
 *   GET  /meta     → {name, id, processor, version, inflight, processed, concurrency}
 *   POST /process  → 200 NDJSON {"chunk"}… then {"done":true} or {"error"}; with `async`, 202
 *                    and the result posted to the request's callback later. What the processor
 *                    reported (`ctx.report`) goes as {"meta"} before done/error when the
 *                    request says `report` (an older manager breaks on lines it does not know),
 *                    and as `meta` on the callback's body.
 * The processor's signal aborts when the manager closes the request (or the server stops).
 * Params: the request's, with this server's own (--param) pinned over them. More than
 * `concurrency` items at once get 503 (the manager keeps to it, as /meta tells it).
 * With a token, POST /process needs `Authorization: Bearer <token>`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { describeError } from '../core/errors.js';
import type { ItemMeta } from '../core/item-meta.js';
import type { ItemInput, Params } from '../core/types.js';
import type { Processor } from '../processors/contract.js';
import { checkParams } from '../processors/params.js';
import { LineWriter } from './line-writer.js';
import { postCompletion, type CompletionResult } from './processor-client.js';
import { runLocal } from './run-local.js';
import { ErrorType, chunkLine, doneLine, errorLine, firstIssue, jsonError, metaLine, processRequestSchema, type ProcessRequest } from '../brokers/remote/wire.js';

export interface ProcessorAppOptions {
  readonly processor: Processor;
  /** How the processor was named (`demo`, `./my.mjs`), shown in /meta. */
  readonly ref: string;
  readonly name: string;
  readonly id: string;
  readonly version: string;
  /** This server's --param values: they win over a request's. */
  readonly params: Params;
  readonly concurrency: number;
  /** Answer 202 and post results to the callback instead of streaming. */
  readonly async: boolean;
  readonly token?: string;
  /**
   * The manager this server registered with: results go to `{manager}/complete` when a request
   * names no callback or one at a wildcard address (a manager bound to 0.0.0.0 cannot tell).
   */
  readonly manager?: string;
  /** A blank line this often keeps a quiet stream (a slow first token) from the manager's idle timeout (default 15 s). */
  readonly keepAliveMs?: number;
  /** Diagnostic lines (processor logs, failed callbacks). */
  readonly log: (line: string) => void;
}

export interface ProcessorStats {
  readonly inflight: number;
  /** Items finished with an output. */
  readonly processed: number;
  /** Items that ended with an error. */
  readonly failed: number;
  /** Items stopped because the manager closed the request (or the server stopped). */
  readonly aborted: number;
}

export interface ProcessorApp {
  readonly app: FastifyInstance;
  stats(): ProcessorStats;
  /** Aborts every item under way (the server is stopping). */
  abortAll(reason: string): void;
}

/** Inputs can be long documents. */
const PROCESS_BODY_LIMIT = 32 * 1024 * 1024;
/** Posting a 202 item's result: tries, and the first wait between them. */
const CALLBACK_TRIES = 5;
const CALLBACK_BACKOFF_MS = 200;
const KEEPALIVE_MS = 15_000;

/** Where a 202 item's result goes: the request's callback, unless it cannot be called from here. */
export function callbackFor(given: string | undefined, manager: string | undefined): string | null {
  const fallback = manager ? `${manager}/complete` : null;
  if (!given) return fallback;
  let host: string;
  try {
    host = new URL(given).hostname;
  } catch {
    return fallback;
  }
  return host === '0.0.0.0' || host === '[::]' ? (fallback ?? given) : given;
}

export function buildProcessorApp(opts: ProcessorAppOptions): ProcessorApp {
  const app = Fastify({ logger: false, connectionTimeout: 0, keepAliveTimeout: 72_000, forceCloseConnections: true });
  const running = new Set<AbortController>();
  let processed = 0;
  let failed = 0;
  let aborted = 0;

  app.get('/meta', async () => ({
    name: opts.name,
    id: opts.id,
    processor: opts.ref,
    version: opts.version,
    inflight: running.size,
    processed,
    concurrency: opts.concurrency,
    accepts: opts.processor.accepts === 'messages' ? 'messages' : 'text',
  }));

  const expected = opts.token === undefined ? null : digest(`Bearer ${opts.token}`);
  app.post('/process', { bodyLimit: PROCESS_BODY_LIMIT }, async (request, reply) => {
    if (expected) {
      const given = request.headers.authorization;
      if (given === undefined || !timingSafeEqual(digest(given), expected)) {
        return reply.code(401).send(jsonError('missing or wrong token: send Authorization: Bearer <token>', ErrorType.unauthorized));
      }
    }
    const parsed = processRequestSchema.safeParse(request.body);
    if (!parsed.success) return reply.code(400).send(jsonError(firstIssue(parsed.error), ErrorType.invalid));
    const body = parsed.data;
    const params: Params = { ...body.params, ...opts.params };
    try {
      // This server's own params were checked at its start; a request's keys are checked here.
      checkParams([opts.processor], params, { keys: Object.keys(body.params) });
    } catch (err) {
      return reply.code(400).send(jsonError(describeError(err), ErrorType.invalid));
    }
    const callback = callbackFor(body.callback, opts.manager);
    if (opts.async && !callback) return reply.code(400).send(jsonError('callback is required: this processor answers 202 and posts results there', ErrorType.invalid));
    if (running.size >= opts.concurrency) {
      return reply.code(503).send(jsonError(`busy: ${running.size} items in flight, the most this processor takes (--concurrency)`, ErrorType.busy));
    }
    const item: ProcessRequest = { ...body, input: body.input as ItemInput, params, callback: callback ?? '' };
    const controller = new AbortController();
    running.add(controller);
    const settle = (outcome: 'done' | 'failed' | 'aborted'): void => {
      running.delete(controller);
      if (outcome === 'done') processed++;
      else if (outcome === 'failed') failed++;
      else aborted++;
    };
    if (opts.async) {
      void runAsync(item, controller.signal, settle);
      return reply.code(202).send({ accepted: true, id: item.id });
    }
    return streamItem(item, controller, reply).then(settle);
  });

  /** One item through the processor; `reported` holds what it said it cost, whatever the outcome. */
  const run = (item: ProcessRequest, signal: AbortSignal, onChunk: (text: string) => void | Promise<void>, reported: Reported): Promise<string> =>
    runLocal(
      opts.processor,
      { itemId: item.item, input: item.input, attempt: item.attempt, params: item.params, signal, log: (m) => opts.log(`[${item.item}] ${m}`), onReport: (meta) => (reported.meta = meta) },
      onChunk,
    );

  async function streamItem(item: ProcessRequest, controller: AbortController, reply: FastifyReply): Promise<'done' | 'failed' | 'aborted'> {
    reply.hijack();
    const res = reply.raw;
    const lines = new LineWriter(res);
    const onClose = (): void => {
      if (!res.writableFinished) controller.abort(new Error('the manager closed the request'));
    };
    res.on('close', onClose);
    if (res.destroyed) onClose(); // gone before we listened
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    res.flushHeaders();
    const keepAlive = setInterval(() => lines.write('\n'), opts.keepAliveMs ?? KEEPALIVE_MS);
    const reported: Reported = { meta: undefined };
    // Billed whether the item ends done or failed: the meta line goes before either.
    const sendMeta = (): void => {
      if (item.report && reported.meta) lines.write(metaLine(reported.meta));
    };
    try {
      await run(item, controller.signal, (text) => lines.write(chunkLine(text)), reported);
      sendMeta();
      lines.write(doneLine());
      return 'done';
    } catch (err) {
      if (controller.signal.aborted) return 'aborted';
      sendMeta();
      lines.write(errorLine(describeError(err)));
      return 'failed';
    } finally {
      clearInterval(keepAlive);
      lines.end();
    }
  }

  /**
   * Runs a 202 item and posts its result. The slot is freed before the post: the manager frees
   * its own on receipt and may send the next item before our post returns.
   */
  async function runAsync(item: ProcessRequest, signal: AbortSignal, settle: (outcome: 'done' | 'failed' | 'aborted') => void): Promise<void> {
    let result: CompletionResult;
    const reported: Reported = { meta: undefined };
    try {
      result = { id: item.id, output: await run(item, signal, () => undefined, reported) };
      settle('done');
    } catch (err) {
      if (signal.aborted) return settle('aborted');
      result = { id: item.id, error: describeError(err) };
      settle('failed');
    }
    // A manager that does not know `meta` drops it (unknown keys are stripped).
    if (reported.meta) result = { ...result, meta: reported.meta };
    const undelivered = await postCompletion(item.callback, result, { attempts: CALLBACK_TRIES, backoffMs: CALLBACK_BACKOFF_MS, token: opts.token, signal });
    if (undelivered !== null && !signal.aborted) opts.log(`[${item.item}] could not post the result to ${item.callback}: ${undelivered}`);
  }

  return {
    app,
    stats: () => ({ inflight: running.size, processed, failed, aborted }),
    abortAll: (reason) => {
      for (const controller of running) controller.abort(new Error(reason));
    },
  };
}

/** The latest of an item's `ctx.report`s (already laid over the earlier ones). */
interface Reported {
  meta: ItemMeta | undefined;
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
