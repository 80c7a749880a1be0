/**
 * What a key does on the dashboard: a pure reducer from (state, key) to the next state and at
 * most one effect for the controller to carry out (attach, cancel, quit).
 */
import type { JobView } from '../core/dashboard-state.js';
import { isFinishedStatus } from '../core/dashboard-sample.js';
import type { Seg } from './layout.js';

export interface KeyState {
  /** The selected job's id. */
  readonly selected: string | null;
  /** Waiting for y/n on cancelling this job. */
  readonly confirmCancel: string | null;
  /** A message shown until the next key. */
  readonly message: readonly Seg[] | null;
  /**
   * The selection was made for the user, not by them: it follows the top of the list (the newest
   * running job), so a job that arrives is the one selected. Moving the cursor ends it.
   */
  readonly following?: boolean;
}

export const INITIAL_KEYS: KeyState = { selected: null, confirmCancel: null, message: null };

export interface Key {
  readonly input: string;
  readonly upArrow?: boolean;
  readonly downArrow?: boolean;
  readonly pageUp?: boolean;
  readonly pageDown?: boolean;
  readonly return?: boolean;
  readonly escape?: boolean;
  readonly ctrl?: boolean;
}

export type KeyEffect = { readonly kind: 'quit' } | { readonly kind: 'attach'; readonly jobId: string } | { readonly kind: 'cancel'; readonly jobId: string } | null;

/**
 * Keeps a selection on screen: the job the user moved to while it is listed; else the first
 * (the newest running job), which a new job becomes when it arrives.
 */
export function reconcileSelection(state: KeyState, jobs: readonly JobView[]): KeyState {
  if (jobs.length === 0) return state.selected === null ? state : { ...state, selected: null };
  const top = jobs[0]!.id;
  if (state.following === true ? state.selected === top : state.selected !== null && jobs.some((j) => j.id === state.selected)) return state;
  return { ...state, selected: top, following: true };
}

export function onKey(state: KeyState, key: Key, jobs: readonly JobView[]): { state: KeyState; effect: KeyEffect } {
  const s = reconcileSelection({ ...state, message: null }, jobs);
  if (key.ctrl && key.input === 'c') return { state: s, effect: { kind: 'quit' } };
  if (s.confirmCancel !== null) {
    const id = s.confirmCancel;
    const cleared = { ...s, confirmCancel: null };
    if (key.input === 'y' || key.input === 'Y') {
      // The job may have ended or gone while the question was up.
      const job = jobs.find((j) => j.id === id);
      if (!job) return { state: { ...cleared, message: [{ text: `job ${id} is gone`, dim: true }] }, effect: null };
      if (isFinishedStatus(job.status)) return { state: { ...cleared, message: [{ text: `job ${id} is ${job.status} already`, dim: true }] }, effect: null };
      return { state: cleared, effect: { kind: 'cancel', jobId: id } };
    }
    return { state: { ...cleared, message: [{ text: `job ${id} left running`, dim: true }] }, effect: null };
  }
  const at = jobs.findIndex((j) => j.id === s.selected);
  const move = (delta: number): KeyState => {
    if (jobs.length === 0) return s;
    const next = Math.min(jobs.length - 1, Math.max(0, (at < 0 ? 0 : at) + delta));
    return { ...s, selected: jobs[next]!.id, following: false };
  };
  if (key.upArrow || key.input === 'k') return { state: move(-1), effect: null };
  if (key.downArrow || key.input === 'j') return { state: move(1), effect: null };
  if (key.pageUp) return { state: move(-10), effect: null };
  if (key.pageDown) return { state: move(10), effect: null };
  if (key.input === 'g') return { state: move(-jobs.length), effect: null };
  if (key.input === 'G') return { state: move(jobs.length), effect: null };
  if (key.input === 'q' || key.escape) return { state: s, effect: key.escape ? null : { kind: 'quit' } };
  // A line feed is Enter too: Enter pressed before the view put the terminal in raw mode comes
  // as '\n' (the tty turned its CR into LF), which ink does not call `return`.
  if (key.return || key.input === '\n') {
    if (s.selected === null) return { state: { ...s, message: [{ text: 'no job to attach to', color: 'yellow' }] }, effect: null };
    return { state: s, effect: { kind: 'attach', jobId: s.selected } };
  }
  if (key.input === 'c') {
    const job = jobs[at];
    if (!job) return { state: { ...s, message: [{ text: 'no job selected', color: 'yellow' }] }, effect: null };
    if (isFinishedStatus(job.status)) return { state: { ...s, message: [{ text: `job ${job.id} is ${job.status} already`, dim: true }] }, effect: null };
    return { state: { ...s, confirmCancel: job.id }, effect: null };
  }
  return { state: s, effect: null };
}

/** The line shown instead of the key hints, if any. */
export function promptOf(state: KeyState, jobs: readonly JobView[]): Seg[] | null {
  if (state.confirmCancel !== null) {
    const job = jobs.find((j) => j.id === state.confirmCancel);
    const progress = job ? ` (${job.done + job.failed}/${job.total ?? '?'} finished)` : '';
    return [
      { text: `Cancel job ${state.confirmCancel}${progress} everywhere? `, color: 'yellow', bold: true },
      { text: 'y', bold: true },
      { text: ' yes · ', dim: true },
      { text: 'any other key', bold: true },
      { text: ' no', dim: true },
    ];
  }
  return state.message ? [...state.message] : null;
}
