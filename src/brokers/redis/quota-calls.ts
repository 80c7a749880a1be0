/**
 * Typed calls of lua/quota.lua, one per op, in the script's ARGV order (its header is the
 * contract). Times go in and come out relative (ms from the server's now): the script runs on
 * the server's clock, the caller sleeps on its own.
 */
import type { QuotaCost } from '../../core/quota/gcra.js';
import type { RateObservation } from '../../core/quota/headers.js';
import type { QuotaLimits } from '../../core/quota/limits.js';
import type { QueueKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';

/** What every call says of the key, and the reserved permits' waits. */
export interface QuotaCallReply {
  /** Pauses the key has had: a permit reserved under an older one is to be reserved again. */
  readonly epoch: number;
  /** The limits in force after the call (0: none). */
  readonly rpm: number;
  readonly tpm: number;
  readonly windowSeconds: number;
  /** Per permit reserved, in order: ms until it is due, or -1 if its cost never fits. */
  readonly waits: readonly number[];
}

/** Who calls, for every op: the key, the limits its caller gave, and what its held permits take. */
export interface QuotaCaller {
  readonly key: string;
  readonly limits: QuotaLimits;
  readonly held: QuotaCost;
}

export interface LearnCall {
  readonly obs: RateObservation;
  readonly overload: boolean;
  /** What the permits sent after the answered one take (gcra.ts sync's `pending`). */
  readonly pending: QuotaCost;
  /** The answered request's cost (the refused one, on an overload). */
  readonly cost: QuotaCost;
  /** The caller's permits reserved and not yet due, in due order: moved past a pause. */
  readonly waiting: readonly QuotaCost[];
}

type Arg = string | number;
const opt = (n: number | undefined): Arg => (n === undefined ? '' : n);
const pairs = (costs: readonly QuotaCost[]): Arg[] => costs.flatMap((c) => [c.requests, c.tokens]);

async function call(redis: ScriptedRedis, keys: QueueKeys, op: string, caller: QuotaCaller, args: readonly Arg[]): Promise<QuotaCallReply> {
  const l = caller.limits;
  const head: Arg[] = [op, keys.quotaChannel, opt(l.rpm), opt(l.tpm), opt(l.windowSeconds), opt(l.jitterMs), caller.held.requests, caller.held.tokens];
  const reply = (await redis.quota(keys.quota(caller.key), ...head, ...args)) as (string | number)[];
  return { epoch: Number(reply[0]), rpm: Number(reply[1]), tpm: Number(reply[2]), windowSeconds: Number(reply[3]), waits: reply.slice(4).map(Number) };
}

/** Reserves each cost, in order. */
export const quotaReserve = (redis: ScriptedRedis, keys: QueueKeys, caller: QuotaCaller, costs: readonly QuotaCost[]): Promise<QuotaCallReply> =>
  call(redis, keys, 'reserve', caller, pairs(costs));

/** Gives back a reservation never sent. */
export const quotaRefund = (redis: ScriptedRedis, keys: QueueKeys, caller: QuotaCaller, cost: QuotaCost): Promise<QuotaCallReply> =>
  call(redis, keys, 'refund', caller, pairs([cost]));

/** The real token usage is known: `delta` is real minus estimated. */
export const quotaCorrect = (redis: ScriptedRedis, keys: QueueKeys, caller: QuotaCaller, delta: number, serverRefunds: boolean): Promise<QuotaCallReply> =>
  call(redis, keys, 'correct', caller, [delta, serverRefunds ? '1' : '']);

/** What a server answered: learned limits, its buckets, and on an overload its retry-after (a pause; the reply's waits are `waiting`'s). */
export function quotaLearn(redis: ScriptedRedis, keys: QueueKeys, caller: QuotaCaller, learn: LearnCall): Promise<QuotaCallReply> {
  const { requests: r, tokens: t, retryAfterMs } = learn.obs;
  return call(redis, keys, 'learn', caller, [
    opt(r?.limit),
    opt(t?.limit),
    opt(r?.remaining),
    opt(r?.resetMs),
    opt(t?.remaining),
    opt(t?.resetMs),
    learn.pending.requests,
    learn.pending.tokens,
    learn.overload ? '1' : '',
    opt(retryAfterMs),
    learn.cost.requests,
    learn.cost.tokens,
    ...pairs(learn.waiting),
  ]);
}
