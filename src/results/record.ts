/** What the results file records of an item: its final event, as one ResultRecord. */
import type { JobEvent } from '../core/events.js';
import type { ResultRecord } from '../core/types.js';

/** The record of an item that finished (`item-done` or `item-failed`); null for any other event. */
export function resultRecordOf(e: JobEvent): ResultRecord | null {
  if (e.type === 'item-done') {
    return {
      id: e.id,
      index: e.index,
      input: e.input ?? null,
      output: e.output,
      status: 'done',
      error: null,
      attempts: e.attempt,
      durations: e.durations,
      worker: e.worker,
      // the processor's report (core/item-meta.ts): usage, model, finish_reason, request_id
      ...e.meta,
    };
  }
  if (e.type === 'item-failed') {
    return {
      id: e.id,
      index: e.index,
      input: e.input ?? null,
      output: null,
      status: 'failed',
      error: e.error,
      attempts: e.attempts,
      durations: e.durations,
      worker: e.worker,
      // the processor's report (core/item-meta.ts): usage, model, finish_reason, request_id
      ...e.meta,
    };
  }
  return null;
}
