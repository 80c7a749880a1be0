/**
 * The caller's side of the quota: `ctx.limit` asks the ledger for a permit, sleeps until it is due
 * (one timer, no polling), and hands the processor a Permit that reports back. The ledger may be
 * on another thread (a MessagePort) or in this one (direct calls): `send` and `receive` carry the
 * messages either way.
 */
import { readRateHeaders, saysAnything } from '../../core/quota/headers.js';
import type { QuotaReply, QuotaRequest } from '../../core/quota/ledger.js';
import { QuotaTooLargeError, checkedCost, checkedKey, checkedLimits, type QuotaCostInput, type QuotaLimits } from '../../core/quota/limits.js';
import type { Permit, ServerAnswer } from '../../processors/contract.js';
import { monotonicMs } from './clock.js';

interface Waiter {
  readonly id: number;
  readonly resolve: (permit: Permit) => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
  dueAtMs: number;
  timer: NodeJS.Timeout | undefined;
}

export class QuotaClient {
  private ids = 0;
  private readonly waiting = new Map<number, Waiter>();

  constructor(
    private readonly send: (request: QuotaRequest) => void,
    private readonly clock: () => number = monotonicMs,
  ) {}

  /** A permit for `key`, once due; rejects with `signal`'s reason if it aborts first (and gives the reservation back). */
  limit(key: string, cost?: QuotaCostInput, limits?: QuotaLimits, signal?: AbortSignal): Promise<Permit> {
    let request: QuotaRequest;
    try {
      signal?.throwIfAborted();
      request = { t: 'acquire', id: ++this.ids, key: checkedKey(key), cost: checkedCost(cost), limits: checkedLimits(limits) };
    } catch (err) {
      return Promise.reject(err);
    }
    const id = request.id;
    return new Promise<Permit>((resolve, reject) => {
      const onAbort = (): void => {
        const w = this.waiting.get(id);
        if (!w) return;
        this.forget(w);
        this.send({ t: 'cancel', id });
        reject(signal!.reason);
      };
      this.waiting.set(id, { id, resolve, reject, signal, onAbort, dueAtMs: NaN, timer: undefined });
      signal?.addEventListener('abort', onAbort, { once: true });
      // Registered first: an in-process ledger answers inside `send`.
      this.send(request);
    });
  }

  /** A reply from the ledger. A grant for a permit already resolved (the ledger moved it as it fired) changes nothing. */
  receive(reply: QuotaReply): void {
    const w = this.waiting.get(reply.id);
    if (!w) return;
    if (reply.t === 'deny') {
      this.forget(w);
      w.reject(new QuotaTooLargeError(reply.err));
      return;
    }
    w.dueAtMs = reply.dueAtMs;
    this.wake(w);
  }

  /** Permits waiting for their due time or a slot, now. */
  get pending(): number {
    return this.waiting.size;
  }

  /** Resolves the permit if it is due, else sleeps until it is (a timer may fire a little early: look again). */
  private wake(w: Waiter): void {
    clearTimeout(w.timer);
    const wait = w.dueAtMs - this.clock();
    if (wait > 0) {
      w.timer = setTimeout(() => this.wake(w), Math.ceil(wait));
      return;
    }
    this.forget(w);
    w.resolve(new GrantedPermit(w.id, w.dueAtMs, this.send));
  }

  private forget(w: Waiter): void {
    clearTimeout(w.timer);
    this.waiting.delete(w.id);
    w.signal?.removeEventListener('abort', w.onAbort);
  }
}

const isOverload = (status: number): boolean => status === 429 || status === 503;

class GrantedPermit implements Permit {
  private over = false;

  constructor(
    private readonly id: number,
    readonly dueAtMs: number,
    private readonly send: (request: QuotaRequest) => void,
  ) {}

  learn(answer: ServerAnswer): void {
    if (this.over) return;
    const obs = readRateHeaders(answer.headers, Date.now());
    // A plain success with nothing to say costs no message.
    if (!isOverload(answer.status) && !saysAnything(obs)) return;
    this.send({ t: 'learn', id: this.id, status: answer.status, obs });
  }

  done(usage?: { readonly tokens?: number }): void {
    if (this.over) return;
    this.over = true;
    const tokens = usage?.tokens;
    this.send(typeof tokens === 'number' && Number.isFinite(tokens) && tokens >= 0 ? { t: 'done', id: this.id, tokens } : { t: 'done', id: this.id });
  }

  cancel(): void {
    if (this.over) return;
    this.over = true;
    this.send({ t: 'cancel', id: this.id });
  }
}
