/**
 * A Redis worker process's quota: the pool's threads ask it for permits as they ask the embedded
 * QuotaHost (same requests, same replies, same ports), but the buckets are the queue's, in Redis
 * (lua/quota.lua): every worker process of every machine serving the queue reserves from one
 * limiter per key, and learned limits and pauses are shared.
 *
 * What stays in the process: which permits it holds, and the AIMD window (aimd.ts) that bounds
 * its own calls in flight per key, for a server that says nothing of its limits; with N workers,
 * N windows adapt side by side (each halves on its own 429s).
 *
 * Sleeping is the threads' (one timer per permit, no polling). A 429's pause reaches the permits
 * other processes hold and sleep on through the key's PUBLISH (`onPause`): each process reserves
 * its waiting permits again and moves their timers, once per pause. The reserve reply says the
 * key's pause epoch too, so a permit reserved before a pause whose message came first is moved
 * as well.
 *
 * Redis calls are sent in the order the requests arrive (one connection: Redis runs them in that
 * order), so a thread's 429 is applied before any permit asked for after it.
 */
import type { MessagePort } from 'node:worker_threads';
import { aimdConfig, aimdStart, freeSlot, hasRoom, overloaded, takeSlot, type AimdConfig, type AimdState } from '../../core/quota/aimd.js';
import { tooLarge, type QuotaCost, type QuotaRates } from '../../core/quota/gcra.js';
import { saysAnything, type RateObservation } from '../../core/quota/headers.js';
import type { KeyActivity, KeyView, QuotaReply, QuotaRequest } from '../../core/quota/ledger.js';
import { DEFAULT_JITTER_MS, tooLargeMessage, type QuotaLimits } from '../../core/quota/limits.js';
import { describeError } from '../../core/errors.js';
import { monotonicMs } from '../../runtime/quota/clock.js';
import type { PoolQuota } from '../embedded/quota-host.js';
import type { QueueKeys } from './keys.js';
import { quotaCorrect, quotaLearn, quotaRefund, quotaReserve, type QuotaCallReply, type QuotaCaller } from './quota-calls.js';
import type { ScriptedRedis } from './scripts.js';

interface Permit {
  readonly client: number;
  readonly id: number;
  readonly key: KeyBook;
  readonly cost: QuotaCost;
  /** queued: waits for a slot; reserving: a reserve call is out; held: due at `dueAtMs`. */
  phase: 'queued' | 'reserving' | 'held';
  dueAtMs: number;
  /** The key's pause epoch its reservation was made under. */
  epoch: number;
  overloaded: boolean;
  /** Cancelled while its reserve call was out: refunded when the reply comes. */
  cancelled: boolean;
  ticket: number;
}

interface KeyBook {
  readonly name: string;
  readonly hash: string;
  given: QuotaLimits;
  aimd: AimdState;
  readonly queue: Permit[];
  readonly held: Set<Permit>;
  /** The latest pause epoch heard of (a reply or a message). */
  epoch: number;
  /** The limits in force at the last reply (for the live view, and a deny's message). */
  rates: QuotaRates;
}

interface CallHandlers {
  /** Permits the call reserves (not yet counted as held by Redis). */
  readonly reserving?: readonly Permit[];
  readonly then?: (reply: QuotaCallReply) => void;
  readonly failed?: (err: unknown) => void;
}

const isOverload = (status: number): boolean => status === 429 || status === 503;
const sum = (permits: Iterable<Permit>): QuotaCost => {
  let requests = 0;
  let tokens = 0;
  for (const p of permits) {
    requests += p.cost.requests;
    tokens += p.cost.tokens;
  }
  return { requests, tokens };
};

export class RedisQuotaHost implements PoolQuota {
  private redis: ScriptedRedis | null = null;
  private readonly ports = new Map<number, MessagePort>();
  private readonly books = new Map<string, KeyBook>();
  private readonly byHash = new Map<string, KeyBook>();
  private readonly permits = new Map<number, Map<number, Permit>>();
  private readonly aimd: AimdConfig;

  /** `ceiling`: the most calls in flight per key in this process (its slots). */
  constructor(
    private readonly keys: QueueKeys,
    ceiling: number,
    private readonly log: (line: string) => void,
    private readonly clock: () => number = monotonicMs,
  ) {
    this.aimd = aimdConfig(ceiling);
  }

  /** The connection to call the script on; before it, no item runs (the worker connects first). */
  connect(redis: ScriptedRedis): void {
    this.redis = redis;
  }

  attach(thread: number, port: MessagePort): void {
    this.ports.set(thread, port);
    port.on('close', () => {
      this.ports.delete(thread);
      this.disconnect(thread);
    });
    port.unref();
  }

  handle(thread: number, request: QuotaRequest): void {
    if (request.t === 'acquire') return this.acquire(thread, request.id, request.key, request.cost, request.limits);
    const permit = this.permits.get(thread)?.get(request.id);
    if (!permit) return;
    if (request.t === 'learn') return this.learn(permit, request.status, request.obs);
    if (request.t === 'done') return this.done(permit, request.tokens);
    this.cancel(permit);
  }

  /** A message on the queue's quota channel: "<epoch> <hash key>", a key paused. */
  onPause(message: string): void {
    const at = message.indexOf(' ');
    const book = this.byHash.get(message.slice(at + 1));
    if (book) this.heard(book, Number(message.slice(0, at)));
  }

  /** The state is the queue's, in Redis: nothing to show of it here. */
  view(): KeyView | undefined {
    return undefined;
  }

  activity(): KeyActivity[] {
    const now = this.clock();
    return [...this.books.values()].map((b) => {
      let waiting = b.queue.length;
      for (const p of b.held) if (p.phase !== 'held' || p.dueAtMs > now) waiting++;
      return { key: b.name, waiting, perMinute: 0, rpm: b.rates.rpm, tpm: b.rates.tpm, pausedMs: 0 };
    });
  }

  close(): void {
    for (const port of this.ports.values()) port.close();
    this.ports.clear();
  }

  // ---- requests ------------------------------------------------------------------------------

  private acquire(client: number, id: number, name: string, cost: QuotaCost, limits: QuotaLimits | undefined): void {
    const book = this.bookOf(name);
    if (limits) book.given = limits;
    const permit: Permit = { client, id, key: book, cost, phase: 'queued', dueAtMs: NaN, epoch: 0, overloaded: false, cancelled: false, ticket: 0 };
    let mine = this.permits.get(client);
    if (!mine) this.permits.set(client, (mine = new Map()));
    mine.set(id, permit);
    if (book.queue.length > 0 || !hasRoom(book.aimd)) book.queue.push(permit);
    else this.grant(permit);
  }

  private learn(permit: Permit, status: number, obs: RateObservation): void {
    const book = permit.key;
    const overload = isOverload(status);
    if (overload) permit.overloaded = true;
    // ledger.ts learn: a server that says nothing of its limits is paced by the window alone.
    if (overload && !saysAnything(obs)) book.aimd = overloaded(book.aimd, permit.ticket, this.aimd);
    const now = this.clock();
    const pausing = overload && obs.retryAfterMs !== undefined;
    const waiting = pausing ? this.waiting(book, now) : [];
    const call = { obs, overload, pending: this.sentAfter(permit), cost: permit.cost, waiting: waiting.map((p) => p.cost) };
    // Out of `waiting` while the call is out: a pause message meanwhile must not move them twice.
    for (const p of waiting) p.phase = 'reserving';
    const back = (): void => {
      for (const p of waiting) {
        p.phase = 'held';
        if (p.cancelled) this.cancel(p);
      }
    };
    this.call(book, (redis, caller) => quotaLearn(redis, this.keys, caller, call), {
      then: (reply) => {
        // Moved past the pause only if it took effect (the script answers their waits then).
        if (reply.waits.length > 0) waiting.forEach((p, k) => this.reserved(p, reply, reply.waits[k]!));
        else back();
      },
      failed: back,
    });
  }

  private done(permit: Permit, tokens: number | undefined): void {
    const book = permit.key;
    this.forget(permit);
    if (permit.phase === 'queued') return void book.queue.splice(book.queue.indexOf(permit), 1);
    const delta = tokens === undefined ? 0 : tokens - permit.cost.tokens;
    const refunds = book.given.serverRefunds === true;
    if (delta > 0 || (delta < 0 && refunds)) this.call(book, (redis, caller) => quotaCorrect(redis, this.keys, caller, delta, refunds));
    this.release(permit, !permit.overloaded);
  }

  private cancel(permit: Permit): void {
    const book = permit.key;
    this.forget(permit);
    if (permit.phase === 'queued') return void book.queue.splice(book.queue.indexOf(permit), 1);
    if (permit.phase === 'reserving') {
      permit.cancelled = true;
      return;
    }
    this.call(book, (redis, caller) => quotaRefund(redis, this.keys, caller, permit.cost));
    this.release(permit, false);
  }

  /** A thread is gone: its queued permits are dropped, its slots come back (no refunds: they may have been sent). */
  private disconnect(client: number): void {
    const mine = this.permits.get(client);
    if (!mine) return;
    this.permits.delete(client);
    for (const p of mine.values()) {
      if (p.phase === 'queued') p.key.queue.splice(p.key.queue.indexOf(p), 1);
      else this.release(p, false);
    }
  }

  // ---- reservations --------------------------------------------------------------------------

  private grant(permit: Permit): void {
    const book = permit.key;
    const slot = takeSlot(book.aimd);
    book.aimd = slot.state;
    permit.ticket = slot.ticket;
    this.reserve([permit]);
  }

  /** Reserves these permits' costs (new ones, or held ones moved past a pause), in order. */
  private reserve(permits: Permit[]): void {
    const book = permits[0]!.key;
    for (const p of permits) {
      p.phase = 'reserving';
      book.held.add(p);
    }
    this.call(book, (redis, caller) => quotaReserve(redis, this.keys, caller, permits.map((p) => p.cost)), {
      reserving: permits,
      then: (reply) => permits.forEach((p, k) => this.reserved(p, reply, reply.waits[k]!)),
      // A script error (Redis being away only delays calls): the permits fail, with the reason.
      failed: (err) => {
        for (const p of permits) {
          if (!book.held.has(p)) continue;
          this.forget(p);
          this.release(p, false);
          this.reply(p, { t: 'deny', id: p.id, err: `quota ${book.name}: the shared limiter in Redis failed (${describeError(err)})` });
        }
      },
    });
  }

  /** A reservation's answer: the permit is due `wait` ms from now, or never fits. */
  private reserved(permit: Permit, reply: QuotaCallReply, wait: number): void {
    const book = permit.key;
    // Done, or its thread gone, meanwhile: this reservation was never used (a moved permit went
    // out under its first one).
    if (!book.held.has(permit)) {
      if (wait >= 0) this.call(book, (redis, caller) => quotaRefund(redis, this.keys, caller, permit.cost));
      return;
    }
    permit.phase = 'held';
    if (wait < 0) {
      const never = tooLarge(permit.cost, book.rates) ?? { kind: 'tokens', cost: permit.cost.tokens, capacity: 0 };
      this.forget(permit);
      this.release(permit, false);
      return this.reply(permit, { t: 'deny', id: permit.id, err: tooLargeMessage(book.name, never, book.rates) });
    }
    permit.dueAtMs = this.clock() + wait;
    permit.epoch = reply.epoch;
    if (permit.cancelled) {
      this.call(book, (redis, caller) => quotaRefund(redis, this.keys, caller, permit.cost));
      return this.release(permit, false);
    }
    this.reply(permit, { t: 'grant', id: permit.id, dueAtMs: permit.dueAtMs });
  }

  /**
   * The key had a pause of `epoch` (a reply said so, or its message came): this process's
   * permits reserved before it and not yet due are reserved again (each thread moves its timer).
   * Not refunded first: another process's pause may have counted them already, and counting them
   * twice is slower, never over the limit.
   */
  private heard(book: KeyBook, epoch: number): void {
    if (epoch > book.epoch) book.epoch = epoch;
    const stale = this.waiting(book, this.clock()).filter((p) => p.epoch < book.epoch);
    if (stale.length > 0) this.reserve(stale);
  }

  /** Held permits not yet due, in due order. */
  private waiting(book: KeyBook, now: number): Permit[] {
    return [...book.held].filter((p) => p.phase === 'held' && p.dueAtMs > now).sort((a, b) => a.dueAtMs - b.dueAtMs);
  }

  /** ledger.ts sentAfter: what the held permits besides `permit` take, of those that may have reached the server after it. */
  private sentAfter(permit: Permit): QuotaCost {
    const since = permit.dueAtMs - (permit.key.given.jitterMs ?? DEFAULT_JITTER_MS);
    return sum([...permit.key.held].filter((p) => p !== permit && p.phase === 'held' && p.dueAtMs >= since));
  }

  private release(permit: Permit, succeeded: boolean): void {
    const book = permit.key;
    if (!book.held.delete(permit)) return;
    book.aimd = freeSlot(book.aimd, succeeded, this.aimd);
    while (book.queue.length > 0 && hasRoom(book.aimd)) this.grant(book.queue.shift()!);
  }

  /**
   * Calls the script for `book` with what this process holds of it (`reserving`: not yet held
   * in Redis). The reply's limits are kept, and its pause epoch heard.
   */
  private call(book: KeyBook, fn: (redis: ScriptedRedis, caller: QuotaCaller) => Promise<QuotaCallReply>, on: CallHandlers = {}): void {
    const reserving = on.reserving ?? [];
    const held = sum([...book.held].filter((p) => !reserving.includes(p)));
    fn(this.redis!, { key: book.name, limits: book.given, held }).then(
      (reply) => {
        book.rates = { ...book.rates, rpm: reply.rpm, tpm: reply.tpm, windowSeconds: reply.windowSeconds };
        on.then?.(reply);
        this.heard(book, reply.epoch);
      },
      (err: unknown) => {
        this.log(`quota ${book.name}: ${describeError(err)}`);
        on.failed?.(err);
      },
    );
  }

  private reply(permit: Permit, reply: QuotaReply): void {
    this.ports.get(permit.client)?.postMessage(reply);
  }

  private forget(permit: Permit): void {
    const mine = this.permits.get(permit.client);
    mine?.delete(permit.id);
    if (mine?.size === 0) this.permits.delete(permit.client);
  }

  private bookOf(name: string): KeyBook {
    let book = this.books.get(name);
    if (!book) {
      const hash = this.keys.quota(name);
      book = { name, hash, given: {}, aimd: aimdStart(this.aimd), queue: [], held: new Set(), epoch: 0, rates: { rpm: 0, tpm: 0, windowSeconds: 60, jitterMs: DEFAULT_JITTER_MS } };
      this.books.set(name, book);
      this.byHash.set(hash, book);
    }
    return book;
  }
}
