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
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ItemInput } from '../core/types.js';
import type { ProcessContext, Processor } from './contract.js';
import { streamAttempt } from './openai/attempt.js';
import { retryDelayMs } from './openai/backoff.js';
import { OpenAIConnectionError, OpenAIError, OpenAIHttpError } from './openai/errors.js';
import { OPENAI_PARAMS, parseOpenAIParams } from './openai/params.js';
import { buildRequest } from './openai/request.js';

/** Origins of the servers this thread got an answer from (any status): reachable once, so a refusal now is a restart. */
const reached = new Set<string>();

/** Whether `err` says the server cannot be reached, and it never was from here. */
const neverReached = (err: OpenAIError, origin: string): boolean => err instanceof OpenAIConnectionError && err.systemic !== undefined && !reached.has(origin);

async function* complete(input: ItemInput, ctx: ProcessContext): AsyncGenerator<string, void, undefined> {
  const settings = parseOpenAIParams(ctx.params);
  const request = buildRequest(settings, input, process.env[settings.apiKeyEnv]);
  const origin = new URL(request.url).origin;
  const signal = ctx.signal;
  for (let retry = 0; ; retry++) {
    let yielded = false;
    try {
      for await (const piece of streamAttempt({ request, endpoint: settings.endpoint, timeoutMs: settings.timeoutMs, signal })) {
        yielded = true;
        yield piece;
      }
      reached.add(origin);
      return;
    } catch (err) {
      if (err instanceof OpenAIError && !(err instanceof OpenAIConnectionError)) reached.add(origin);
      if (yielded || signal.aborted || !(err instanceof OpenAIError) || !err.retryable || neverReached(err, origin)) throw err;
      if (retry >= settings.maxRetries) {
        if (retry > 0) err.message += ` (gave up after ${retry} ${retry === 1 ? 'retry' : 'retries'})`;
        throw err;
      }
      const delay = retryDelayMs(retry + 1, err instanceof OpenAIHttpError ? err.retryAfterMs : null);
      ctx.log(`${err.message}; retry ${retry + 1}/${settings.maxRetries} in ${delay} ms`);
      await sleep(delay, undefined, { signal }).catch((sleepErr: unknown) => {
        throw signal.aborted ? signal.reason : sleepErr;
      });
    }
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
