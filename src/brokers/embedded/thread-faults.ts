/**
 * Who pays when a thread takes items with it (pure: the job run applies the verdicts).
 *
 * A death that names its culprit charges the culprit; its neighbours are rerun free. A death that
 * names no one (a V8 out-of-memory kill runs no JS; a crash from code outside any item's scope)
 * charges no one: every item that was running on the thread is a suspect and is rerun *alone*,
 * a batch of one on a thread of its own, so a second death is its own and is charged. Free
 * reruns are bounded: an item that has lost its thread FREE_RERUNS times runs alone from then on,
 * where no other item can take its thread. So an item runs at most `retries + 1 + FREE_RERUNS`
 * times.
 */

/** The item named as the one whose code killed a thread. */
export interface Culprit {
  readonly batchId: number;
  readonly i: number;
}

/** What is known of a batch's end when it still held unfinished items. */
export interface BatchLoss {
  readonly batchId: number;
  /** The thread died (else the task returned without reporting some items). */
  readonly died: boolean;
  /** The batch ran alone: one item, alone on its thread. */
  readonly alone: boolean;
  /** The thread began the batch (its items ran code there); else it was only handed to it. */
  readonly begun: boolean;
  /** Named by the dying thread or by the watchdog that ended it; `i` -1: no item at fault. */
  readonly culprit: Culprit | null;
}

/**
 * - `charged`: a failed attempt of the item's own.
 * - `suspect`: rerun free and alone (the death named no one, and the item was running there).
 * - `bystander`: rerun free (another item killed the thread, or the batch never began there).
 */
export type LossVerdict = 'charged' | 'suspect' | 'bystander';

/** Uncharged losses after which an item runs alone for the rest of the run. */
export const FREE_RERUNS = 2;

export function judgeLoss(loss: BatchLoss, index: number): LossVerdict {
  // A task that returned with an item unreported: nothing else can be blamed.
  if (!loss.died) return 'charged';
  if (loss.culprit) return loss.culprit.batchId === loss.batchId && loss.culprit.i === index ? 'charged' : 'bystander';
  // Alone on its thread, an item's death is its own.
  if (loss.alone) return 'charged';
  return loss.begun ? 'suspect' : 'bystander';
}

/** After an uncharged loss (`reruns` counts it), does the item run alone from now on? */
export const isolateAfter = (verdict: LossVerdict, reruns: number): boolean => verdict === 'suspect' || reruns >= FREE_RERUNS;

/** An item that arrives having lost threads before (a Redis worker knows): alone from the start? */
export const startsAlone = (reruns: number): boolean => reruns >= FREE_RERUNS;

/** The error an uncharged loss reports (in its `item-retry`). */
export function lossReason(verdict: Exclude<LossVerdict, 'charged'>, why: string, alone: boolean): string {
  if (verdict === 'suspect') return `its thread died and named no item at fault; it runs again alone to find out (${why})`;
  return alone ? `its thread was lost to another item; it runs again alone (${why})` : `its thread was lost to another item (${why})`;
}
