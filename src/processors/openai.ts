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
 *
 * Every HTTP attempt takes a permit of the endpoint's shared limiter first (openai/quota.ts): one
 * limiter per base URL and API key for the whole pool, whose limits are `--param rpm`/`tpm` or
 * what the server's headers say. A 429 that says how long to wait pauses the whole endpoint
 * there, and its retry waits for the limiter instead of backing off on its own: requests no longer
 * retry together and collide again.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ItemInput } from '../core/types.js';
import type { ProcessContext, Processor } from './contract.js';
import { streamAttempt, type AttemptOptions } from './openai/attempt.js';
import { retryDelayMs } from './openai/backoff.js';
import { OpenAIConnectionError, OpenAIError, OpenAIHttpError } from './openai/errors.js';
import { OPENAI_PARAMS, parseOpenAIParams } from './openai/params.js';
import { ItemMeter, estimateTokens, promptText } from './openai/meter.js';
import { answerPaces, requestQuota, type RequestQuota } from './openai/quota.js';
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

/** What the limiter made of one attempt's answer. */
interface Pacing {
  /** An overloaded answer told the limiter how long to wait: the retry waits for it, not for a backoff. */
  paced: boolean;
}

/**
 * One HTTP attempt under a permit of the endpoint's limiter. The answer's headers go to the permit
 * as soon as they arrive; the permit is done when the attempt ends, however it ends (with what the
 * attempt used), or cancelled if the request never left (the server could not be reached).
 */
async function* limitedAttempt(ctx: ProcessContext, quota: RequestQuota, meter: ItemMeter, pacing: Pacing, opts: Omit<AttemptOptions, 'facts' | 'onAnswer'>): AsyncGenerator<string, void, undefined> {
  const permit = await ctx.limit(quota.key, quota.cost, quota.limits);
  const facts = meter.attempt();
  let sent = true;
  try {
    yield* streamAttempt({
      ...opts,
      facts,
      onAnswer: (answer) => {
        permit.learn(answer);
        pacing.paced = answerPaces(answer);
      },
    });
  } catch (err) {
    sent = !(err instanceof OpenAIConnectionError && err.systemic !== undefined);
    throw err;
  } finally {
    if (sent) permit.done({ tokens: meter.tokensOf(facts) });
    else permit.cancel();
  }
}

async function* complete(input: ItemInput, ctx: ProcessContext): AsyncGenerator<string, void, undefined> {
  const settings = parseOpenAIParams(ctx.params);
  const apiKey = process.env[settings.apiKeyEnv];
  let request = buildRequest(settings, input, apiKey, !refuseStreamOptions.has(endpointUrl(settings)));
  const origin = new URL(request.url).origin;
  const signal = ctx.signal;
  const prompt = promptText(settings, input);
  const meter = new ItemMeter(() => prompt);
  const quota = requestQuota(settings, apiKey, estimateTokens(prompt));
  const pacing: Pacing = { paced: false };
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
      pacing.paced = false;
      try {
        for await (const piece of limitedAttempt(ctx, quota, meter, pacing, { request, endpoint: settings.endpoint, timeoutMs: settings.timeoutMs, signal })) {
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
        if (pacing.paced) {
          // The limiter heard the server (the whole endpoint waits): the next permit is due when it has room again.
          const wait = err instanceof OpenAIHttpError && err.retryAfterMs !== null ? `in ${err.retryAfterMs} ms` : 'when the endpoint has room';
          ctx.log(`${err.message}; retry ${retry}/${settings.maxRetries} ${wait}`);
          continue;
        }
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
  // A thread's first fetch loads undici's fetch machinery (tens of ms): loaded here, before any
  // permit is due, so a first request reaches the server when its permit says (a data: URL: no network).
  async init() {
    await fetch('data:,').then((res) => res.arrayBuffer(), () => undefined);
  },
  process: (input, ctx) => complete(input, ctx),
};

export default openai;
