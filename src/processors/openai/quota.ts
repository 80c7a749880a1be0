/**
 * How `openai` keeps to an endpoint's rate limit through the shared limiter (`ctx.limit`, see
 * docs/processors.md): which limiter a request uses, what it costs, and the limits the user gave.
 *
 * - The key is the base URL and a hash of the API key: every thread, worker and job that sends
 *   with one key to one endpoint shares one limiter; the key itself never leaves the process.
 * - A request costs one request and its prompt tokens (estimated from its text, as OpenAI's
 *   limiter does) plus its `max_tokens`, up front; the real usage corrects it when the answer ends.
 * - `--param rpm` / `tpm` are the limits (`rate_window_s`: over how long the server enforces
 *   them); a limit not given is learned from the server's x-ratelimit-* headers (and a server that
 *   sends none is paced by its 429s: AIMD).
 */
import { createHash } from 'node:crypto';
import type { QuotaCostInput, QuotaLimits } from '../../core/quota/limits.js';
import { readRateHeaders, saysAnything } from '../../core/quota/headers.js';
import type { ServerAnswer } from '../contract.js';
import type { OpenAISettings } from './params.js';

export interface RequestQuota {
  readonly key: string;
  readonly cost: QuotaCostInput;
  readonly limits: QuotaLimits | undefined;
}

/** The limiter's key for requests to `baseUrl` with `apiKey`: never the key itself. */
export function quotaKey(baseUrl: string, apiKey: string | undefined): string {
  const who = apiKey ? createHash('sha256').update(apiKey).digest('hex').slice(0, 12) : 'no-key';
  return `${baseUrl}#${who}`;
}

export function requestQuota(settings: Pick<OpenAISettings, 'baseUrl' | 'maxTokens' | 'rpm' | 'tpm' | 'rateWindowS'>, apiKey: string | undefined, promptTokens: number): RequestQuota {
  const given: QuotaLimits = {
    ...(settings.rpm !== undefined && { rpm: settings.rpm }),
    ...(settings.tpm !== undefined && { tpm: settings.tpm }),
    ...(settings.rateWindowS !== undefined && { windowSeconds: settings.rateWindowS }),
  };
  return {
    key: quotaKey(settings.baseUrl, apiKey),
    cost: { requests: 1, tokens: promptTokens + (settings.maxTokens ?? 0) },
    limits: Object.keys(given).length > 0 ? given : undefined,
  };
}

/** 429 and 503: the server is at its limit, which the limiter now knows of. */
export const isOverload = (status: number): boolean => status === 429 || status === 503;

/**
 * Whether an overloaded answer told the limiter how long to wait (retry-after, or where its
 * buckets stand): then the limiter paces the retry, and the request need not back off on its own.
 */
export const answerPaces = (answer: ServerAnswer): boolean => isOverload(answer.status) && saysAnything(readRateHeaders(answer.headers, Date.now()));
