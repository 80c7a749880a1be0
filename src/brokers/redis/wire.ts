/**
 * The events stream's wire format: each stream entry has one field `e`, a JSON array of compact
 * events, so a worker's report of many items is one XADD and a watcher parses one string per
 * entry. Workers encode, Lua scripts concatenate (and write the job-level ones), watchers decode.
 *
 *   ['s', i, id, attempt, worker, stage]                         item-start
 *   ['c', i, attempt, text, n, stage]                            chunk (n processor chunks)
 *   ['d', i, id, attempt, output, worker, queuedMs, firstChunkMs|false, totalMs]
 *   ['o', i, id, attempt, worker, n, output, queuedMs, firstChunkMs|false, totalMs, text?]
 *                                  an item that started, streamed and ended within one report:
 *                                  item-start, one chunk of its n pieces (none if n is 0), and
 *                                  item-done; `text` is left out when it equals `output`
 *   ['r', i, id, attempt, error, delayMs, charged, cause?]       item-retry
 *   ['f', i, id, attempt, error, worker|false, queuedMs, firstChunkMs|false, totalMs, payload, cause?]
 *                                  `cause`: the processor's systemic cause, when it gave one
 *   ['m', i, attempt, meta]                                      the meta of item i's attempt (what its
 *                                  processor reported: core/item-meta.ts, OpenAI's field names):
 *                                  written just before that attempt's 'd', 'o', 'r' or 'f', in
 *                                  the same report record, so both go or neither does
 *   ['T', total]                                                 the job's size is known
 *   ['X', 'draining'|'aborting', reason]                         the job is being stopped
 *   ['J', 'done'|'cancelled', reason, total, done, failed]       the job ended
 *
 * Meta is an event of its own, not a trailing element: 'd' entries of older versions carry the
 * payload at position 9, which every reader takes as the item's input, and readers skip kinds
 * they do not know, so an older submitter reads a newer stream whole (without the meta), and a
 * newer one reads an older stream (no 'm': no meta). A reader checks the meta (`checkedMeta`)
 * and drops a malformed one; an 'm' not followed by its attempt's outcome is dropped too.
 *
 * `payload` is the item's input as JSON text (what the work stream carries). A result does not
 * carry it back: the submitter holds the inputs of its items in flight, and sending every
 * prompt twice through Redis would double the traffic of long prompts.
 */
import type { JobEvent } from '../../core/events.js';
import { checkedMeta, type ItemMeta } from '../../core/item-meta.js';
import type { ItemDurations, ItemInput } from '../../core/types.js';

export type WireEvent = readonly unknown[];

export const wireStart = (i: number, id: string, a: number, worker: string, stage: number): string => JSON.stringify(['s', i, id, a, worker, stage]);
export const wireChunk = (i: number, a: number, text: string, n: number, stage: number): string => JSON.stringify(['c', i, a, text, n, stage]);
export const wireDone = (i: number, id: string, a: number, output: string, worker: string, d: ItemDurations, meta?: ItemMeta): string =>
  metaFirst(i, a, meta, JSON.stringify(['d', i, id, a, output, worker, d.queuedMs, d.firstChunkMs ?? false, d.totalMs]));
export function wireOutcome(i: number, id: string, a: number, worker: string, text: string, n: number, output: string, d: ItemDurations, meta?: ItemMeta): string {
  const w: unknown[] = ['o', i, id, a, worker, n, output, d.queuedMs, d.firstChunkMs ?? false, d.totalMs];
  if (text !== output) w.push(text);
  return metaFirst(i, a, meta, JSON.stringify(w));
}
export const wireRetry = (i: number, id: string, a: number, error: string, delayMs: number, charged: boolean, cause?: string, meta?: ItemMeta): string =>
  metaFirst(i, a, meta, JSON.stringify(cause === undefined ? ['r', i, id, a, error, delayMs, charged] : ['r', i, id, a, error, delayMs, charged, cause]));
export function wireFailed(i: number, id: string, a: number, error: string, worker: string | null, d: ItemDurations, payload: string, cause?: string, meta?: ItemMeta): string {
  const w: unknown[] = ['f', i, id, a, error, worker ?? false, d.queuedMs, d.firstChunkMs ?? false, d.totalMs, payload];
  if (cause !== undefined) w.push(cause);
  return metaFirst(i, a, meta, JSON.stringify(w));
}

/**
 * An outcome's event, after its 'm' when it has meta: two array elements in one string, which
 * report.lua appends as it appends any record's event (it joins them with ',').
 */
const metaFirst = (i: number, a: number, meta: ItemMeta | undefined, event: string): string => (meta ? `${JSON.stringify(['m', i, a, meta])},${event}` : event);

/** A job being stopped, as seen in its stream (no JobEvent carries it). */
export interface StopNotice {
  readonly type: 'stopping';
  readonly status: 'draining' | 'aborting';
  readonly reason: string;
}

export type DecodedEvent = JobEvent | StopNotice;

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v) || 0);
const str = (v: unknown): string => (typeof v === 'string' ? v : String(v ?? ''));
const maybeNum = (v: unknown): number | null => (typeof v === 'number' ? v : null);

function parsePayload(v: unknown): ItemInput {
  if (typeof v !== 'string') return null;
  try {
    return JSON.parse(v) as ItemInput;
  } catch {
    return v;
  }
}

const durations = (q: unknown, f: unknown, t: unknown): ItemDurations => ({ queuedMs: num(q), firstChunkMs: maybeNum(f), totalMs: num(t) });

/** Decodes one entry's `e` field. Unknown or malformed events are skipped, never thrown. */
export function decodeEntry(field: string): DecodedEvent[] {
  let list: unknown;
  try {
    list = JSON.parse(field);
  } catch {
    return [];
  }
  if (!Array.isArray(list)) return [];
  const out: DecodedEvent[] = [];
  /** The 'm' just read: the meta of the outcome that follows it. */
  let meta: readonly unknown[] | null = null;
  for (const w of list) {
    if (!Array.isArray(w)) {
      meta = null;
      continue;
    }
    const kind = w[0];
    if (kind === 'm') {
      meta = w;
      continue;
    }
    if (kind === 'o') {
      decodeOutcome(w, out, meta);
    } else {
      const e = decodeOne(w);
      if (e) out.push(meta ? withMeta(e, meta) : e);
    }
    meta = null;
  }
  return out;
}

/** The three events of a folded item: start, its text as one chunk, done. */
function decodeOutcome(w: readonly unknown[], out: DecodedEvent[], meta: readonly unknown[] | null): void {
  const index = num(w[1]);
  const id = str(w[2]);
  const attempt = num(w[3]);
  const worker = str(w[4]);
  const n = num(w[5]);
  const output = str(w[6]);
  out.push({ type: 'item-start', index, id, attempt, worker });
  if (n > 0) out.push({ type: 'chunk', index, attempt, text: w.length > 10 ? str(w[10]) : output, n });
  const done: DecodedEvent = { type: 'item-done', index, id, attempt, output, worker, durations: durations(w[7], w[8], w[9]) };
  out.push(meta ? withMeta(done, meta) : done);
}

/**
 * An outcome with the meta of its 'm' (`['m', i, attempt, meta]`), if that names the same item
 * attempt and reads as meta: a malformed one (a buggy or hostile worker) is dropped, the
 * outcome kept.
 */
function withMeta(e: DecodedEvent, m: readonly unknown[]): DecodedEvent {
  if (e.type !== 'item-done' && e.type !== 'item-retry' && e.type !== 'item-failed') return e;
  const attempt = e.type === 'item-failed' ? e.attempts : e.attempt;
  if (e.index !== num(m[1]) || attempt !== num(m[2])) return e;
  let meta: ItemMeta;
  try {
    meta = checkedMeta(m[3]);
  } catch {
    return e;
  }
  return Object.keys(meta).length > 0 ? { ...e, meta } : e;
}

function decodeOne(w: readonly unknown[]): DecodedEvent | null {
  switch (w[0]) {
    case 's': {
      const stage = num(w[5]);
      // Literals, not a spread of an optional field: this is the submitter's hot path.
      if (stage > 0) return { type: 'item-start', index: num(w[1]), id: str(w[2]), attempt: num(w[3]), worker: str(w[4]), stage };
      return { type: 'item-start', index: num(w[1]), id: str(w[2]), attempt: num(w[3]), worker: str(w[4]) };
    }
    case 'c': {
      const stage = num(w[5]);
      if (stage > 0) return { type: 'chunk', index: num(w[1]), attempt: num(w[2]), text: str(w[3]), n: num(w[4]) || 1, stage };
      return { type: 'chunk', index: num(w[1]), attempt: num(w[2]), text: str(w[3]), n: num(w[4]) || 1 };
    }
    case 'd':
      return {
        type: 'item-done',
        index: num(w[1]),
        id: str(w[2]),
        attempt: num(w[3]),
        output: str(w[4]),
        worker: str(w[5]),
        durations: durations(w[6], w[7], w[8]),
        ...(w.length > 9 ? { input: parsePayload(w[9]) } : {}),
      };
    case 'r': {
      const retry = { type: 'item-retry', index: num(w[1]), id: str(w[2]), attempt: num(w[3]), error: str(w[4]), delayMs: num(w[5]), charged: w[6] === true } as const;
      return typeof w[7] === 'string' ? { ...retry, cause: w[7] } : retry;
    }
    case 'f':
      return {
        type: 'item-failed',
        index: num(w[1]),
        id: str(w[2]),
        attempts: num(w[3]),
        error: str(w[4]),
        worker: typeof w[5] === 'string' ? w[5] : null,
        durations: durations(w[6], w[7], w[8]),
        input: parsePayload(w[9]),
        ...(typeof w[10] === 'string' ? { cause: w[10] } : {}),
      };
    case 'T':
      return { type: 'job-total', total: num(w[1]) };
    case 'X':
      return { type: 'stopping', status: w[1] === 'aborting' ? 'aborting' : 'draining', reason: str(w[2]) };
    case 'J': {
      const total = num(w[3]);
      const done = num(w[4]);
      const failed = num(w[5]);
      const counts = { total, done, failed, unfinished: Math.max(0, total - done - failed) };
      return w[1] === 'done' ? { type: 'job-done', counts } : { type: 'job-cancelled', reason: str(w[2]) || 'cancelled', counts };
    }
    default:
      return null;
  }
}
