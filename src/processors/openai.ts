/**
 * `openai`: runs items against any OpenAI-compatible server (OpenAI, vLLM, llama.cpp server,
 * Ollama, `slowwork serve`), streaming. See docs/processors.md for the params.
 *
 * Retries inside the processor cover what the server says is temporary (429, 5xx) and refused or
 * broken connections, but only before the first chunk: after that the item's own retry (a fresh
 * attempt, from the start) is the only honest one, so the error is thrown as it is. A server this
 * thread never reached is not retried at all when it cannot be reached (refused, no such host):
 * that is a wrong URL far more often than a restart, and the job's fail-fast should hear of it at
 * once, not after a minute of backoff per item.
 *
 * Every item is metered (openai/meter.ts): streamed requests ask for the usage chunk, and the
 * usage, model, finish reason and request id go to `ctx.report` when the answer ends, or when the
 * attempt fails (its tokens were billed: estimated if the server never sent its usage).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ItemInput } from '../core/types.js';
import type { ProcessContext, Processor } from './contract.js';
import { streamAttempt } from './openai/attempt.js';
import { retryDelayMs } from './openai/backoff.js';
import { OpenAIConnectionError, OpenAIError, OpenAIHttpError } from './openai/errors.js';
import { OPENAI_PARAMS, parseOpenAIParams } from './openai/params.js';
import { ItemMeter, promptText } from './openai/meter.js';
import { buildRequest, endpointUrl } from './openai/request.js';

/** Origins of the servers this thread got an answer from (any status): reachable once, so a refusal now is a restart. */
const reached = new Set<string>();

/**
 * Endpoints (URLs) that answered 400 naming `stream_options`: servers that refuse fields they do
 * not know (vLLM before late 2024, some gateways). Each thread learns it once and asks them
 * without it from then on; their usage is then estimated.
 */
const refuseStreamOptions = new Set<string>();

/** Whether `err` says the server cannot be reached, and it never was from here. */
const neverReached = (err: OpenAIError, origin: string): boolean => err instanceof OpenAIConnectionError && err.systemic !== undefined && !reached.has(origin);

/** A 400 (or FastAPI's 422) that names the field: the server does not know `stream_options`. */
const refusesStreamOptions = (err: unknown): err is OpenAIHttpError =>
  err instanceof OpenAIHttpError && (err.status === 400 || err.status === 422) && /stream_options/i.test(err.serverMessage ?? '');

async function* complete(input: ItemInput, ctx: ProcessContext): AsyncGenerator<string, void, undefined> {
  const settings = parseOpenAIParams(ctx.params);
  const apiKey = process.env[settings.apiKeyEnv];
  let request = buildRequest(settings, input, apiKey, !refuseStreamOptions.has(endpointUrl(settings)));
  const origin = new URL(request.url).origin;
  const signal = ctx.signal;
  const meter = new ItemMeter(() => promptText(settings, input));
  const report = (): void => {
    const meta = meter.meta();
    if (meta) ctx.report(meta);
  };
  // An item stopped from outside (its time limit, Ctrl+C) is settled by the runner at once, before
  // this generator hears of it: what its tokens cost is reported from the abort itself.
  const onAbort = (): void => {
    try {
      report();
    } catch {
      // a listener must not throw; the runner's own error says what happened
    }
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for (let retry = 0; ; ) {
      let yielded = false;
      try {
        for await (const piece of streamAttempt({ request, endpoint: settings.endpoint, timeoutMs: settings.timeoutMs, signal, facts: meter.attempt() })) {
          yielded = true;
          yield piece;
        }
        reached.add(origin);
        report();
        return;
      } catch (err) {
        if (err instanceof OpenAIError && !(err instanceof OpenAIConnectionError)) reached.add(origin);
        if (request.asksUsage && refusesStreamOptions(err)) {
          // Once, and not a retry: the same request without the field, usage estimated.
          refuseStreamOptions.add(request.url);
          request = buildRequest(settings, input, apiKey, false);
          ctx.log(`${err.message}; asking again without stream_options (usage will be estimated)`);
          continue;
        }
        if (yielded || signal.aborted || !(err instanceof OpenAIError) || !err.retryable || neverReached(err, origin)) {
          report(); // a failed attempt's tokens were billed too
          throw err;
        }
        if (retry >= settings.maxRetries) {
          if (retry > 0) err.message += ` (gave up after ${retry} ${retry === 1 ? 'retry' : 'retries'})`;
          report();
          throw err;
        }
        retry++;
        const delay = retryDelayMs(retry, err instanceof OpenAIHttpError ? err.retryAfterMs : null);
        ctx.log(`${err.message}; retry ${retry}/${settings.maxRetries} in ${delay} ms`);
        await sleep(delay, undefined, { signal }).catch((sleepErr: unknown) => {
          throw signal.aborted ? signal.reason : sleepErr;
        });
      }
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

const openai: Processor = {
  name: 'openai',
  params: OPENAI_PARAMS,
  accepts: 'messages',
  validate(params) {
    parseOpenAIParams(params);
  },
  process: (input, ctx) => complete(input, ctx),
};

export default openai;
