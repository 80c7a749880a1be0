/**
 * One request's item as text: the pieces a client has not seen yet, then its end. Shared by
 * `/generate` and the OpenAI routes; retries are smoothed over by ItemText (see there).
 */
import type { ItemMeta } from '../core/item-meta.js';
import type { ItemInput } from '../core/types.js';
import { ItemText, type TextUpdate } from './item-text.js';
import type { Manager } from './manager.js';

export interface TextItemHandlers {
  /** New text (never empty). */
  delta(piece: string, text: string): void;
  /**
   * `chunks`: the processor chunks of the final attempt (a token count for usage figures);
   * `meta`: what its processor reported (usage, finish_reason, model, request_id), if it did.
   */
  done(output: string, chunks: number, meta: ItemMeta | undefined): void;
  failed(error: string): void;
}

export interface TextItem {
  readonly requestId: string;
  /** Gives the item up (its client went away); no handler is called after this. */
  cancel(reason: string): void;
}

const DIVERGED = 'the retried attempt produced text that differs from what was already streamed';

export function runTextItem(manager: Manager, processor: string, input: ItemInput, h: TextItemHandlers): TextItem {
  const text = new ItemText();
  let chunks = 0;
  let over = false;
  const end = (fn: () => void): void => {
    if (over) return;
    over = true;
    fn();
  };
  /** False when the stream cannot go on. */
  const apply = (update: TextUpdate): boolean => {
    if (update.kind === 'diverged') {
      item.ticket.cancel(DIVERGED);
      end(() => h.failed(DIVERGED));
      return false;
    }
    if (update.delta !== '' && !over) h.delta(update.delta, text.text);
    return true;
  };
  const restart = (): void => {
    text.restart();
    chunks = 0;
  };
  const item = manager.runItem(processor, input, {
    event(e) {
      if (over) return;
      switch (e.type) {
        case 'item-start':
          if (!e.stage) restart();
          return;
        case 'chunk':
          chunks += e.n;
          apply(text.chunk(e.text));
          return;
        case 'item-retry':
          restart();
          return;
        case 'item-done':
          if (apply(text.finish(e.output))) end(() => h.done(e.output, chunks, e.meta));
          return;
        case 'item-failed':
          end(() => h.failed(e.error));
          return;
      }
    },
    unfinished(reason) {
      end(() => h.failed(reason));
    },
  });
  return {
    requestId: item.requestId,
    cancel(reason) {
      if (over) return;
      over = true;
      item.ticket.cancel(reason);
    },
  };
}
