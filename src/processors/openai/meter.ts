/**
 * What an item's requests to the server cost, for `ctx.report`: the usage the server sent, or,
 * when it sent none, slowwork's own count marked `estimated`. Pure: attempt.ts and payloads.ts
 * fill an `AttemptFacts` as the answer arrives; this turns them into an `ItemMeta`.
 *
 * The estimate, used only when the server sent no `usage` (it does not support
 * `stream_options`, the stream broke before its last chunk, a fault):
 * - prompt tokens: one per 4 characters (rounded up) of the prompt's text: the messages' text
 *   contents joined by "\n" (chat), or the prompt (completions). The local test server counts the
 *   same way; real tokenizers average about 4 characters per token for English text.
 * - completion tokens: one per streamed text piece (servers stream one token per chunk), or one
 *   per 4 characters of a whole (non-streamed) answer's text.
 *
 * One item attempt may take several HTTP attempts (retries before the first chunk): each one the
 * server answered 2xx took the prompt, so its tokens add up.
 */
import { addUsage, type ItemMeta, type TokenUsage } from '../../core/item-meta.js';
import type { ItemInput } from '../../core/types.js';
import type { AnswerFacts, ServerUsage } from './payloads.js';
import type { OpenAISettings } from './params.js';
import { chatMessages, promptOf } from './request.js';

export const CHARS_PER_TOKEN = 4;

export const estimateTokens = (text: string): number => Math.ceil(text.length / CHARS_PER_TOKEN);

/** What one HTTP attempt learned of its bill. One shape for every attempt (the stream fills it per chunk). */
export class AttemptFacts implements AnswerFacts {
  /** The server answered 2xx: it took the prompt, so the prompt counts even if no token followed. */
  answered = false;
  requestId: string | undefined = undefined;
  model: string | undefined = undefined;
  finishReason: string | undefined = undefined;
  usage: ServerUsage | undefined = undefined;
  /** Completion tokens counted here: streamed text pieces, or a whole answer's estimate. */
  counted = 0;
}

/** The text a prompt estimate counts: what the local server counts too (see the header). */
export function promptText(settings: Pick<OpenAISettings, 'endpoint' | 'system'>, input: ItemInput): string {
  if (settings.endpoint === 'completions') return promptOf(input);
  return chatMessages(input, settings.system).map(messageText).join('\n');
}

function messageText(message: unknown): string {
  const content = typeof message === 'object' && message !== null ? (message as { content?: unknown }).content : undefined;
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content) {
    const t = typeof part === 'object' && part !== null ? (part as { text?: unknown }).text : undefined;
    if (typeof t === 'string') text += t;
  }
  return text;
}

/** One item attempt's requests, in order; `meta()` is what to report after any of them. */
export class ItemMeter {
  /** Tokens of the HTTP attempts before the current one. */
  private earlier: TokenUsage | undefined = undefined;
  private earlierRequestId: string | undefined = undefined;
  private current: AttemptFacts | undefined = undefined;
  private promptEstimate: number | undefined = undefined;

  /** `prompt` is only called when a server sent no usage. */
  constructor(private readonly prompt: () => string) {}

  /** A new HTTP attempt: the facts to fill. The previous attempt's tokens stay counted. */
  attempt(): AttemptFacts {
    if (this.current) {
      this.earlier = addUsage(this.earlier, this.usageOf(this.current));
      this.earlierRequestId = this.current.requestId ?? this.earlierRequestId;
    }
    this.current = new AttemptFacts();
    return this.current;
  }

  /** Everything known so far; undefined when there is nothing to say (no answer at all). */
  meta(): ItemMeta | undefined {
    const facts = this.current;
    const usage = addUsage(this.earlier, facts && this.usageOf(facts));
    const requestId = facts?.requestId ?? this.earlierRequestId;
    const meta: { -readonly [K in keyof ItemMeta]: ItemMeta[K] } = {};
    if (usage) meta.usage = usage;
    if (facts?.model !== undefined) meta.model = facts.model;
    if (facts?.finishReason !== undefined) meta.finish_reason = facts.finishReason;
    if (requestId !== undefined) meta.request_id = requestId;
    return usage || requestId !== undefined || meta.model !== undefined ? meta : undefined;
  }

  /** What one HTTP attempt used, prompt and completion (estimated if the server did not say); undefined if it was never answered. */
  tokensOf(facts: AttemptFacts): number | undefined {
    const usage = this.usageOf(facts);
    return usage && usage.prompt_tokens + usage.completion_tokens;
  }

  private usageOf(facts: AttemptFacts): TokenUsage | undefined {
    if (facts.usage) return { prompt_tokens: facts.usage.prompt_tokens, completion_tokens: facts.usage.completion_tokens };
    if (!facts.answered) return undefined;
    this.promptEstimate ??= estimateTokens(this.prompt());
    return { prompt_tokens: this.promptEstimate, completion_tokens: facts.counted, estimated: true };
  }
}
