/**
 * The one authority over a set of keys' quotas: every permit of every thread is asked for here and
 * handed back here, so reservations never race. Pure and synchronous: requests come in with the
 * time, replies go out as values; the caller moves them (a MessagePort per thread in the embedded
 * pool, direct calls in one process). A Redis store would hold the same per-key numbers behind a
 * Lua script.
 *
 * A permit's life: `acquire` (queued while the key's AIMD window is full, then reserved: the reply
 * says when it is due), then `learn` (what the server answered) any number of times, then `done`
 * (sent; the real token usage corrects the estimate) or `cancel` (never sent: refunded). A client
 * that goes away gives back its slots, without refunds (its requests may have been sent).
 */
import { aimdStart, freeSlot, hasRoom, overloaded, takeSlot, type AimdConfig, type AimdState } from './aimd.js';
import { FRESH_STATE, charge, correct, pause, refund, reserve, retune, sync, tooLarge, type QuotaCost, type QuotaRates, type QuotaState } from './gcra.js';
import { saysAnything, type RateObservation } from './headers.js';
import { resolveRates, tooLargeMessage, type LearnedLimits, type QuotaLimits } from './limits.js';

/** Client → ledger. `id` is the client's own number for the permit. */
export type QuotaRequest =
  | { readonly t: 'acquire'; readonly id: number; readonly key: string; readonly cost: QuotaCost; readonly limits?: QuotaLimits }
  | { readonly t: 'learn'; readonly id: number; readonly status: number; readonly obs: RateObservation }
  | { readonly t: 'done'; readonly id: number; readonly tokens?: number }
  | { readonly t: 'cancel'; readonly id: number };

/**
 * Ledger → client. A grant says when the permit is due (ms, on the ledger's clock); a second grant
 * for the same permit moves it (a pause came while it waited).
 */
export type QuotaReply = { readonly t: 'grant'; readonly id: number; readonly dueAtMs: number } | { readonly t: 'deny'; readonly id: number; readonly err: string };

/** What a key is doing now, for the live view's `quota:` line. */
export interface KeyActivity {
  readonly key: string;
  /** Calls waiting for their permit: queued for a slot, or reserved and not yet due. */
  readonly waiting: number;
  /** Calls of the last minute (per minute, over less when the key is younger than that). */
  readonly perMinute: number;
  /** The limits in force (0: none known). */
  readonly rpm: number;
  readonly tpm: number;
  /** How long the key is still paused by a server's retry-after, in ms (0: not paused). */
  readonly pausedMs: number;
}

/** The window `KeyActivity.perMinute` counts over. */
const ACTIVITY_WINDOW_MS = 60_000;

export interface Outgoing {
  readonly client: number;
  readonly reply: QuotaReply;
}

/** What a key looks like now: for the live view, and for tests. */
export interface KeyView {
  readonly rates: QuotaRates;
  readonly learned: LearnedLimits;
  readonly state: QuotaState;
  readonly aimd: AimdState;
  /** Permits queued for a slot of the AIMD window. */
  readonly queued: number;
  /** Permits reserved and not yet done. */
  readonly held: number;
}

interface Permit {
  readonly client: number;
  readonly id: number;
  readonly key: KeyQuota;
  readonly cost: QuotaCost;
  /** The AIMD slot's ticket; 0 while queued. */
  ticket: number;
  dueAtMs: number;
  /** The server answered it 429 or 503: its slot comes back as no success. */
  overloaded: boolean;
  /** Counted among its key's calls (KeyActivity): at its first answer, else when done. */
  counted: boolean;
}

interface KeyQuota {
  readonly name: string;
  state: QuotaState;
  given: QuotaLimits;
  learned: LearnedLimits;
  rates: QuotaRates;
  aimd: AimdState;
  readonly queue: Permit[];
  readonly held: Set<Permit>;
  /** When the key was first asked for, and the due times of its calls of the last minute (KeyActivity). */
  readonly since: number;
  calls: number[];
}

const isOverload = (status: number): boolean => status === 429 || status === 503;

/**
 * What the permits held besides `permit` take, of those that may have reached the server after its
 * request: due later, or not earlier than the jitter allows. Its answer's headers do not count them.
 */
function sentAfter(permit: Permit): QuotaCost {
  const since = permit.dueAtMs - permit.key.rates.jitterMs;
  let requests = 0;
  let tokens = 0;
  for (const p of permit.key.held) {
    if (p === permit || p.dueAtMs < since) continue;
    requests += p.cost.requests;
    tokens += p.cost.tokens;
  }
  return { requests, tokens };
}

export class QuotaLedger {
  private readonly keys = new Map<string, KeyQuota>();
  private readonly permits = new Map<number, Map<number, Permit>>();

  constructor(private readonly aimdConfig: AimdConfig) {}

  handle(client: number, request: QuotaRequest, now: number): Outgoing[] {
    if (request.t === 'acquire') return this.acquire(client, request.id, request.key, request.cost, request.limits, now);
    const permit = this.permits.get(client)?.get(request.id);
    if (!permit) return []; // done or cancelled already, or crossed with a deny
    if (request.t === 'learn') return this.learn(permit, request.status, request.obs, now);
    if (request.t === 'done') return this.done(permit, request.tokens, now);
    return this.cancel(permit, now);
  }

  /** A client is gone (its thread ended): its queued permits are dropped, its slots come back. */
  disconnect(client: number, now: number): Outgoing[] {
    const mine = this.permits.get(client);
    if (!mine) return [];
    this.permits.delete(client);
    const touched = new Set<KeyQuota>();
    for (const p of mine.values()) {
      touched.add(p.key);
      if (p.ticket === 0) p.key.queue.splice(p.key.queue.indexOf(p), 1);
      else this.release(p, false);
    }
    return [...touched].flatMap((k) => this.admitQueued(k, now));
  }

  /** Every key's activity at `now`, the busiest first. */
  activity(now: number): KeyActivity[] {
    const out: KeyActivity[] = [];
    for (const k of this.keys.values()) {
      k.calls = k.calls.filter((t) => t > now - ACTIVITY_WINDOW_MS);
      const recent = k.calls.length;
      let waiting = k.queue.length;
      for (const p of k.held) if (p.dueAtMs > now) waiting++;
      const span = Math.min(ACTIVITY_WINDOW_MS, Math.max(1000, now - k.since));
      out.push({ key: k.name, waiting, perMinute: (recent * ACTIVITY_WINDOW_MS) / span, rpm: k.rates.rpm, tpm: k.rates.tpm, pausedMs: Math.max(0, k.state.pausedUntil - now) });
    }
    return out.sort((a, b) => b.waiting - a.waiting || b.perMinute - a.perMinute);
  }

  view(key: string): KeyView | undefined {
    const k = this.keys.get(key);
    return k && { rates: k.rates, learned: k.learned, state: k.state, aimd: k.aimd, queued: k.queue.length, held: k.held.size };
  }

  private acquire(client: number, id: number, name: string, cost: QuotaCost, limits: QuotaLimits | undefined, now: number): Outgoing[] {
    const key = this.keyOf(name, now);
    if (limits) {
      key.given = limits;
      this.applyRates(key, now);
    }
    const never = tooLarge(cost, key.rates);
    if (never) return [{ client, reply: { t: 'deny', id, err: tooLargeMessage(name, never, key.rates) } }];
    const permit: Permit = { client, id, key, cost, ticket: 0, dueAtMs: 0, overloaded: false, counted: false };
    let mine = this.permits.get(client);
    if (!mine) this.permits.set(client, (mine = new Map()));
    mine.set(id, permit);
    if (key.queue.length > 0 || !hasRoom(key.aimd)) {
      key.queue.push(permit);
      return [];
    }
    return [this.grant(permit, now)];
  }

  private learn(permit: Permit, status: number, obs: RateObservation, now: number): Outgoing[] {
    const key = permit.key;
    this.count(permit, now);
    const rpm = obs.requests?.limit;
    const tpm = obs.tokens?.limit;
    if (rpm !== undefined || tpm !== undefined) {
      key.learned = { rpm: rpm ?? key.learned.rpm, tpm: tpm ?? key.learned.tpm };
      this.applyRates(key, now);
    }
    if (obs.requests || obs.tokens) key.state = sync(key.state, obs, key.rates, now, sentAfter(permit));
    if (!isOverload(status) || permit.ticket === 0) return [];
    permit.overloaded = true;
    if (obs.retryAfterMs !== undefined) return this.pauseKey(key, now + obs.retryAfterMs, permit.cost, now);
    // A server that says nothing of its limits: only the number in flight can adapt.
    if (!saysAnything(obs)) key.aimd = overloaded(key.aimd, permit.ticket, this.aimdConfig);
    return [];
  }

  private done(permit: Permit, tokens: number | undefined, now: number): Outgoing[] {
    const key = permit.key;
    this.forget(permit);
    if (permit.ticket === 0) {
      key.queue.splice(key.queue.indexOf(permit), 1);
      return [];
    }
    this.count(permit, now);
    if (tokens !== undefined) key.state = correct(key.state, tokens - permit.cost.tokens, key.rates, key.given.serverRefunds === true, now);
    this.release(permit, !permit.overloaded);
    return this.admitQueued(key, now);
  }

  private cancel(permit: Permit, now: number): Outgoing[] {
    const key = permit.key;
    this.forget(permit);
    if (permit.ticket === 0) {
      key.queue.splice(key.queue.indexOf(permit), 1);
      return [];
    }
    key.state = refund(key.state, permit.cost, key.rates);
    this.release(permit, false);
    return this.admitQueued(key, now);
  }

  /**
   * Nothing of this key is due before `until`, when the refused `cost` fits (gcra.ts `pause`).
   * Permits reserved and not yet due were not sent: they are refunded first and reserved again
   * after, in their order (each client moves its timer). A pause inside the one in force changes
   * nothing: the other 429s of a burst say what the first one said.
   */
  private pauseKey(key: KeyQuota, until: number, cost: QuotaCost, now: number): Outgoing[] {
    if (until <= key.state.pausedUntil) return [];
    const waiting = [...key.held].filter((p) => p.dueAtMs > now).sort((a, b) => a.dueAtMs - b.dueAtMs);
    for (const p of waiting) key.state = refund(key.state, p.cost, key.rates);
    key.state = pause(key.state, until, cost, key.rates);
    return waiting.map((p) => this.reserveFor(p, now));
  }

  /** Gives queued permits the slots that came free, in their order. */
  private admitQueued(key: KeyQuota, now: number): Outgoing[] {
    const out: Outgoing[] = [];
    while (key.queue.length > 0 && hasRoom(key.aimd)) out.push(this.grant(key.queue.shift()!, now));
    return out;
  }

  private grant(permit: Permit, now: number): Outgoing {
    const key = permit.key;
    const slot = takeSlot(key.aimd);
    key.aimd = slot.state;
    permit.ticket = slot.ticket;
    key.held.add(permit);
    return this.reserveFor(permit, now);
  }

  /** Reserves a held permit's cost now; a permit that no longer fits (the limits fell) is denied. */
  private reserveFor(permit: Permit, now: number): Outgoing {
    const key = permit.key;
    const r = reserve(key.state, permit.cost, key.rates, now);
    if (!r.ok) {
      this.forget(permit);
      this.release(permit, false);
      return { client: permit.client, reply: { t: 'deny', id: permit.id, err: tooLargeMessage(key.name, r, key.rates) } };
    }
    key.state = r.state;
    permit.dueAtMs = r.dueAtMs;
    return { client: permit.client, reply: { t: 'grant', id: permit.id, dueAtMs: r.dueAtMs } };
  }

  private release(permit: Permit, succeeded: boolean): void {
    const key = permit.key;
    if (!key.held.delete(permit)) return;
    key.aimd = freeSlot(key.aimd, succeeded, this.aimdConfig);
  }

  /** A call was made (it was answered, or it is done): once, at its due time. */
  private count(permit: Permit, now: number): void {
    if (permit.counted || permit.ticket === 0) return;
    permit.counted = true;
    permit.key.calls.push(Math.min(permit.dueAtMs, now));
  }

  private forget(permit: Permit): void {
    const mine = this.permits.get(permit.client);
    mine?.delete(permit.id);
    if (mine?.size === 0) this.permits.delete(permit.client);
  }

  /**
   * Puts the limits in force (the caller's, else the learned). A limit that was not known before
   * starts with what the permits held now take: they were sent without it and may not have reached
   * the server yet (those that have are counted twice: once, and safe).
   */
  private applyRates(key: KeyQuota, now: number): void {
    const rates = resolveRates(key.given, key.learned);
    const before = key.rates;
    const same = rates.rpm === before.rpm && rates.tpm === before.tpm && rates.windowSeconds === before.windowSeconds;
    if (same && rates.jitterMs === before.jitterMs) return;
    key.state = retune(key.state, before, rates, now);
    key.rates = rates;
    const newRequests = before.rpm <= 0 && rates.rpm > 0;
    const newTokens = before.tpm <= 0 && rates.tpm > 0;
    if (!newRequests && !newTokens) return;
    for (const p of key.held) {
      key.state = charge(key.state, { requests: newRequests ? p.cost.requests : 0, tokens: newTokens ? p.cost.tokens : 0 }, rates, now);
    }
  }

  private keyOf(name: string, now: number): KeyQuota {
    let key = this.keys.get(name);
    if (!key) {
      const learned = { rpm: 0, tpm: 0 };
      key = { name, state: FRESH_STATE, given: {}, learned, rates: resolveRates({}, learned), aimd: aimdStart(this.aimdConfig), queue: [], held: new Set(), since: now, calls: [] };
      this.keys.set(name, key);
    }
    return key;
  }
}
