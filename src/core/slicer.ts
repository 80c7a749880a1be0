/**
 * The slicer: decides, at run time, when to cut the next batch and how big. Pure: the caller
 * passes the queue length, the free slots and the clock.
 *
 * Work-conserving: while items wait and a slot is free, a batch is cut now, sized to what is
 * free. The window only holds back a short batch while the input is still open and other items
 * of the job run, so items that arrive together (HTTP requests, a slow stdin) travel together
 * without a lone item ever waiting for company.
 */
export interface SliceInput {
  /** Items waiting to run. */
  readonly waiting: number;
  /** Free execution slots (concurrency minus items in flight). */
  readonly freeSlots: number;
  readonly batchSize: number;
  readonly windowMs: number;
  /** More items may still arrive. */
  readonly inputOpen: boolean;
  /** When the oldest waiting item started waiting (same clock as `now`). */
  readonly oldestWaitingAt: number;
  readonly now: number;
  /**
   * Nothing of the job is in flight: a short batch goes at once, as there is nothing to batch it
   * behind (a lone HTTP request does not wait the window). The window only gathers items that
   * arrive while others run.
   */
  readonly idle?: boolean;
  /**
   * When the job last cut a batch (same clock as `now`). A short batch goes at once if none went
   * within the window: at light load items arrive further apart than the window and none waits;
   * in a burst, the first goes and the rest gather for one window.
   */
  readonly lastCutAt?: number;
}

export type SliceDecision =
  | { readonly kind: 'cut'; readonly size: number }
  | { readonly kind: 'wait'; readonly until: number }
  | { readonly kind: 'idle' };

const IDLE: SliceDecision = { kind: 'idle' };

export function decideSlice(s: SliceInput): SliceDecision {
  if (s.waiting <= 0 || s.freeSlots <= 0) return IDLE;
  const limit = Math.min(s.batchSize, s.freeSlots);
  const quiet = s.lastCutAt === undefined || s.now - s.lastCutAt >= s.windowMs;
  if (s.waiting >= limit || !s.inputOpen || s.idle || quiet) return { kind: 'cut', size: Math.min(limit, s.waiting) };
  // A short batch while more input may come: give it the window, counted from its oldest item.
  const until = s.oldestWaitingAt + s.windowMs;
  if (s.now >= until) return { kind: 'cut', size: s.waiting };
  return { kind: 'wait', until };
}
