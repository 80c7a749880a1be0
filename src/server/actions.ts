/**
 * Actions: jobs submitted over HTTP (`POST /actions`), each with its items, pipeline and a log
 * of its events that `GET /actions/:id/events` replays from any point (`Last-Event-ID`). The
 * state of each item is folded from the same events, so the JSON view and the stream agree.
 */
import type { JobCounts, JobEvent } from '../core/events.js';
import type { ItemInput } from '../core/types.js';
import { addUsage, type ItemMeta, type TokenUsage } from '../core/item-meta.js';
import { pruneFinished } from '../core/prune-finished.js';
import { ActionLog, type ActionLogEntry } from './action-log.js';

export type { ActionLogEntry } from './action-log.js';

export type ActionStatus = 'running' | 'completed' | 'cancelled';
export type ActionItemStatus = 'waiting' | 'running' | 'done' | 'failed' | 'cancelled';

interface ActionItem {
  readonly id: string;
  readonly index: number;
  status: ActionItemStatus;
  attempts: number;
  /** The current attempt's text while running, the output once done. */
  text: string;
  error: string | null;
  /** What its processor reported of its final attempt, once it ended. */
  meta: ItemMeta | undefined;
}


export interface ActionView {
  readonly id: string;
  readonly status: ActionStatus;
  readonly pipeline: readonly string[];
  readonly created: string;
  readonly finished: string | null;
  /** Why the action stopped by itself (the same non-item error ended several items), or null. */
  readonly stop_reason: string | null;
  readonly counts: JobCounts;
  /** Tokens the processors reported over every attempt (failed ones were billed too); null until one did. */
  readonly usage: TokenUsage | null;
  readonly items: readonly ({
    id: string;
    index: number;
    status: ActionItemStatus;
    attempts: number;
    output: string | null;
    text?: string;
    error: string | null;
  } & ItemMeta)[];
}

export class Action {
  readonly created = Date.now();
  status: ActionStatus = 'running';
  finishedAt: number | null = null;
  /** Set when the action stopped itself (fail-fast): its waiting items are cancelled. */
  stopReason: string | null = null;
  private readonly items: ActionItem[];
  /** Bounded: see action-log.ts. */
  readonly log = new ActionLog();
  private readonly listeners = new Set<(entry: ActionLogEntry) => void>();
  private counts: JobCounts;
  private usage: TokenUsage | undefined;

  constructor(
    readonly id: string,
    readonly pipeline: readonly string[],
    specs: readonly { id: string; input: ItemInput }[],
  ) {
    this.items = specs.map((s, index) => ({ id: s.id, index, status: 'waiting', attempts: 0, text: '', error: null, meta: undefined }));
    this.counts = { total: specs.length, done: 0, failed: 0, unfinished: specs.length };
  }

  get finished(): boolean {
    return this.status !== 'running';
  }

  /** Folds a batch of the job's events in, logs them, and tells the live streams. */
  apply(events: readonly JobEvent[]): void {
    for (const e of events) {
      this.fold(e);
      const data: Record<string, unknown> = { ...e };
      if ('index' in e) data.item = this.items[e.index]?.id;
      const entry = this.log.append(e, data);
      for (const listen of this.listeners) listen(entry);
      if (this.finished) this.listeners.clear();
    }
  }

  /** Log entries after `seq`, then live ones; returns the unsubscribe. */
  follow(afterSeq: number, listener: (entry: ActionLogEntry) => void): () => void {
    for (const entry of this.log.after(afterSeq)) listener(entry);
    if (this.finished) return () => undefined;
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  view(): ActionView {
    return {
      id: this.id,
      status: this.status,
      pipeline: this.pipeline,
      created: new Date(this.created).toISOString(),
      finished: this.finishedAt === null ? null : new Date(this.finishedAt).toISOString(),
      stop_reason: this.stopReason,
      counts: this.counts,
      usage: this.usage ?? null,
      items: this.items.map((it) => ({
        id: it.id,
        index: it.index,
        status: it.status,
        attempts: it.attempts,
        output: it.status === 'done' ? it.text : null,
        ...(it.status === 'running' ? { text: it.text } : {}),
        error: it.error,
        // As a results line has them: usage, finish_reason, model, request_id.
        ...it.meta,
      })),
    };
  }

  private fold(e: JobEvent): void {
    if ((e.type === 'item-done' || e.type === 'item-retry' || e.type === 'item-failed') && e.meta?.usage) this.usage = addUsage(this.usage, e.meta.usage);
    switch (e.type) {
      case 'item-start': {
        const it = this.items[e.index];
        if (!it) return;
        if (it.status !== 'running' || e.attempt !== it.attempts) it.text = '';
        it.status = 'running';
        it.attempts = e.attempt;
        return;
      }
      case 'chunk': {
        const it = this.items[e.index];
        if (it && it.attempts === e.attempt) it.text += e.text;
        return;
      }
      case 'item-retry': {
        const it = this.items[e.index];
        if (!it) return;
        it.status = 'waiting';
        it.error = e.error;
        return;
      }
      case 'item-done': {
        const it = this.items[e.index];
        if (!it) return;
        Object.assign(it, { status: 'done', text: e.output, attempts: e.attempt, error: null, meta: e.meta });
        this.counts = { ...this.counts, done: this.counts.done + 1, unfinished: this.counts.unfinished - 1 };
        return;
      }
      case 'item-failed': {
        const it = this.items[e.index];
        if (!it) return;
        Object.assign(it, { status: 'failed', text: '', attempts: e.attempts, error: e.error, meta: e.meta });
        this.counts = { ...this.counts, failed: this.counts.failed + 1, unfinished: this.counts.unfinished - 1 };
        return;
      }
      case 'job-done':
      case 'job-cancelled':
        this.status = e.type === 'job-done' ? 'completed' : 'cancelled';
        this.finishedAt = Date.now();
        this.counts = e.counts;
        for (const it of this.items) if (it.status === 'waiting' || it.status === 'running') it.status = 'cancelled';
        return;
      default:
        return;
    }
  }
}

/** The actions this server knows: running ones, and finished ones for a while. */
export class ActionStore {
  private readonly actions = new Map<string, Action>();

  constructor(private readonly keep: { readonly finishedMs: number; readonly maxFinished: number }) {}

  add(action: Action): void {
    this.prune();
    this.actions.set(action.id, action);
  }

  get(id: string): Action | undefined {
    return this.actions.get(id);
  }

  running(): Action[] {
    return [...this.actions.values()].filter((a) => !a.finished);
  }

  /** Forgets finished actions past their time, and the oldest beyond the cap. */
  prune(now: number = Date.now()): void {
    pruneFinished(this.actions, (a) => (a.finished ? (a.finishedAt ?? now) : null), this.keep.finishedMs, this.keep.maxFinished, now);
  }
}
