/**
 * The processor server's calls to its manager: registering itself, and posting the results of
 * items it answered 202 for. Both retry what may pass (no connection, 5xx, 502) and give up at
 * once on what will not (a refusal: 400, 401, 404, 409).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { SlowworkError } from '../core/errors.js';
import type { ItemMeta } from '../core/item-meta.js';
import { BAD_PORT, describeFetchError, errorMessageOf, postJson } from '../brokers/remote/http.js';
import type { RegisterRequest } from '../brokers/remote/wire.js';

/** The manager never accepted the registration (exit code 2). */
export class RegistrationRefusedError extends SlowworkError {}

export interface RetryOptions {
  /** Tries in all (>= 1). */
  readonly attempts: number;
  /** Wait before the second try; doubles after each. */
  readonly backoffMs: number;
  readonly token?: string;
  readonly signal?: AbortSignal;
}

const CALL_TIMEOUT_MS = 10_000;

type Answer = { readonly ok: true; readonly body: unknown } | { readonly ok: false; readonly retry: boolean; readonly error: string };

async function post(url: string, body: unknown, token: string | undefined): Promise<Answer> {
  try {
    const res = await postJson(url, body, { token, timeoutMs: CALL_TIMEOUT_MS });
    if (res.status >= 200 && res.status <= 299) return { ok: true, body: res.body };
    const detail = errorMessageOf(res.body);
    return { ok: false, retry: res.status >= 500, error: `HTTP ${res.status}${detail ? `: ${detail}` : ''}` };
  } catch (err) {
    const error = describeFetchError(err);
    return { ok: false, retry: error !== BAD_PORT, error };
  }
}

async function withRetries(url: string, body: unknown, opts: RetryOptions): Promise<Answer> {
  let answer: Answer = { ok: false, retry: true, error: 'not tried' };
  for (let k = 0; k < Math.max(1, opts.attempts); k++) {
    if (k > 0) await sleep(opts.backoffMs * 2 ** (k - 1), undefined, { signal: opts.signal });
    answer = await post(url, body, opts.token);
    if (answer.ok || !answer.retry) return answer;
  }
  return answer;
}

/** POST {manager}/processors/register; throws RegistrationRefusedError with one line. */
export async function registerWithManager(manager: string, req: RegisterRequest, opts: RetryOptions): Promise<void> {
  const answer = await withRetries(`${manager}/processors/register`, req, opts);
  if (answer.ok) return;
  const tries = answer.retry ? ` (${opts.attempts} tries)` : '';
  throw new RegistrationRefusedError(`cannot register ${req.name} (id ${req.id}) with ${manager}: ${answer.error}${tries}`);
}

/** A 202 item's result, as POST {callback} takes it (wire.ts). */
export type CompletionResult = ({ readonly id: string; readonly output: string } | { readonly id: string; readonly error: string }) & { readonly meta?: ItemMeta };

/** POST {callback} with an item's result; resolves with null when delivered, else why not. */
export async function postCompletion(
  callback: string,
  result: CompletionResult,
  opts: RetryOptions,
): Promise<string | null> {
  const answer = await withRetries(callback, result, opts).catch((err: unknown) => ({ ok: false as const, retry: false, error: describeFetchError(err) }));
  return answer.ok ? null : answer.error;
}
