/**
 * Runs one item through a processor in this process, for a processor server: process(input,
 * ctx), its chunks handed on one by one (a slow consumer holds the next one back), the whole
 * text returned. Once `signal` aborts, the call rejects with its reason at once, even if the
 * processor ignores its signal.
 */
import type { ItemInput, Params } from '../core/types.js';
import type { Chunks, Permit, ProcessContext, Processor } from '../processors/contract.js';
import { TextBuilder } from '../core/text-builder.js';
import { checkedMeta, overlay, type ItemMeta } from '../core/item-meta.js';
import { chunkText } from '../runtime/chunk-text.js';
import { processQuota } from '../runtime/quota/local.js';

export interface LocalItem {
  readonly itemId: string;
  readonly input: ItemInput;
  readonly attempt: number;
  readonly params: Params;
  readonly signal: AbortSignal;
  readonly log: (message: string) => void;
  /** The processor's `ctx.report`, checked; what a stage said before is replaced field by field. */
  readonly onReport?: (meta: ItemMeta) => void;
}

export async function runLocal(processor: Processor, item: LocalItem, onChunk: (text: string) => void | Promise<void>): Promise<string> {
  const { signal } = item;
  signal.throwIfAborted();
  const aborted = new Promise<never>((_, reject) => {
    const onAbort = (): void => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  let reported: ItemMeta | undefined;
  const report = (meta: ItemMeta): void => {
    reported = overlay(reported, checkedMeta(meta));
    item.onReport?.(reported);
  };
  // This process's quota: every item it runs shares each key's limiter.
  const permits: Permit[] = [];
  let ended = false;
  const limit: ProcessContext['limit'] = async (key, cost, limits) => {
    const permit = await processQuota().limit(key, cost, limits, signal);
    if (ended) permit.done(); // granted after the item ended: nobody will call it
    else permits.push(permit);
    return permit;
  };
  const ctx: ProcessContext = { signal, attempt: item.attempt, itemId: item.itemId, params: item.params, stage: 0, log: item.log, report, limit };
  try {
    return await drainLocal(processor, item, ctx, aborted, onChunk);
  } finally {
    ended = true;
    for (const p of permits) p.done(); // those its processor did not finish
  }
}

async function drainLocal(processor: Processor, item: LocalItem, ctx: ProcessContext, aborted: Promise<never>, onChunk: (text: string) => void | Promise<void>): Promise<string> {
  const chunks: Chunks = await Promise.race([Promise.resolve(processor.process(item.input, ctx)), aborted]);
  const asyncIt = (chunks as AsyncIterable<unknown>)[Symbol.asyncIterator];
  const it: AsyncIterator<unknown> | Iterator<unknown> = asyncIt ? asyncIt.call(chunks) : (chunks as Iterable<unknown>)[Symbol.iterator]();
  const text = new TextBuilder();
  try {
    for (;;) {
      const r = await Promise.race([Promise.resolve(it.next()), aborted]);
      if (r.done) return text.toString();
      const piece = chunkText(r.value);
      if (piece.length === 0) continue;
      text.append(piece);
      const wait = onChunk(piece);
      if (wait) await Promise.race([wait, aborted]);
    }
  } catch (err) {
    // Let the processor clean up (sockets, timers); never wait on it.
    Promise.resolve(it.return?.()).catch(() => undefined);
    throw err;
  }
}
