/**
 * The `usage` of an OpenAI answer (serve's /v1 routes), summed over its choices: each choice's
 * processor report (`ctx.report`) when it made one, else serve's estimate (no tokenizer runs
 * here): the prompt's whitespace-separated words and the processor's chunks. Pure.
 */
import type { ItemMeta } from '../core/item-meta.js';

/** OpenAI's `usage` object. */
export interface OpenAIUsage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
}

/** The estimate of a prompt's tokens: its whitespace-separated words. */
export const promptWords = (text: string): number => (text.match(/\S+/g) ?? []).length;

/** A choice's `finish_reason`: the processor's, else `stop` (it ended by itself). */
export const finishReasonOf = (meta: ItemMeta | undefined): string => meta?.finish_reason ?? 'stop';

export class AnswerUsage {
  private prompt = 0;
  private completion = 0;

  /** One choice ended: the words of its prompt, the chunks its final attempt streamed, what its processor reported. */
  add(words: number, chunks: number, meta: ItemMeta | undefined): void {
    this.prompt += meta?.usage ? meta.usage.prompt_tokens : words;
    this.completion += meta?.usage ? meta.usage.completion_tokens : chunks;
  }

  get total(): OpenAIUsage {
    return { prompt_tokens: this.prompt, completion_tokens: this.completion, total_tokens: this.prompt + this.completion };
  }
}
