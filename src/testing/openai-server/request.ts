/**
 * A generation request's body, checked as OpenAI checks it and reduced to what the server needs.
 * Pure.
 *
 * Prompt tokens are an estimate, the same one the rate limiter charges and `usage` reports: one
 * token per 4 characters (rounded up) of the prompt text, where the text of a chat request is its
 * messages' text contents joined by newlines (no per-message overhead) and the text of a legacy
 * request is its prompt (strings joined by newlines; token-id arrays count one token per id).
 */
import { invalidJson, invalidParam, missingParam, noModel, type ErrorAnswer } from './errors.js';
import { parseDirectives, type Faults } from './faults.js';

export type Endpoint = 'chat' | 'completions';

export interface GenRequest {
  readonly endpoint: Endpoint;
  readonly model: string;
  readonly stream: boolean;
  /** `stream_options: {include_usage: true}`. */
  readonly includeUsage: boolean;
  /** `max_completion_tokens` or `max_tokens`, when given. */
  readonly maxTokens: number | undefined;
  /** The prompt's text (messages joined), directives included. */
  readonly text: string;
  readonly promptTokens: number;
  readonly faults: Faults;
}

export const CHARS_PER_TOKEN = 4;

export function estimateTokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}

type Body = Record<string, unknown>;

/** Parses and checks a body; an OpenAI 400 answer when it is not a request the API would take. */
export function parseGenRequest(endpoint: Endpoint, raw: string): GenRequest | ErrorAnswer {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return invalidJson();
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return invalidJson();
  const b = body as Body;
  if (typeof b.model !== 'string' || b.model === '') return noModel();
  const prompt = endpoint === 'chat' ? chatPrompt(b) : legacyPrompt(b);
  if ('status' in prompt) return prompt;
  const maxTokens = maxTokensOf(b);
  if (typeof maxTokens === 'object') return maxTokens;
  if (b.stream !== undefined && b.stream !== null && typeof b.stream !== 'boolean') {
    return invalidParam('stream', `expected a boolean, but got ${typeof b.stream} instead.`, 'invalid_type');
  }
  const streamOptions = b.stream_options as Body | null | undefined;
  return {
    endpoint,
    model: b.model,
    stream: b.stream === true,
    includeUsage: typeof streamOptions === 'object' && streamOptions !== null && streamOptions.include_usage === true,
    maxTokens,
    text: prompt.text,
    promptTokens: prompt.tokens,
    faults: parseDirectives(prompt.text),
  };
}

interface Prompt {
  readonly text: string;
  readonly tokens: number;
}

const textPrompt = (text: string): Prompt => ({ text, tokens: estimateTokens(text) });

function chatPrompt(b: Body): Prompt | ErrorAnswer {
  if (b.messages === undefined || b.messages === null) return missingParam('messages');
  if (!Array.isArray(b.messages)) return invalidParam('messages', 'expected an array.', 'invalid_type');
  if (b.messages.length === 0) return invalidParam('messages', 'empty array. Expected an array with minimum length 1, but got an empty array instead.', 'empty_array');
  const texts: string[] = [];
  for (const [i, m] of b.messages.entries()) {
    if (typeof m !== 'object' || m === null || typeof (m as Body).role !== 'string') {
      return missingParam(`messages[${i}].role`);
    }
    texts.push(contentText((m as Body).content));
  }
  return textPrompt(texts.join('\n'));
}

/** A message's text: a string, or the `text` of its text parts. */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part: unknown) => (typeof part === 'object' && part !== null && typeof (part as Body).text === 'string' ? ((part as Body).text as string) : ''))
    .join('');
}

function legacyPrompt(b: Body): Prompt | ErrorAnswer {
  const p = b.prompt;
  if (p === undefined || p === null) return missingParam('prompt');
  if (typeof p === 'string') return textPrompt(p);
  if (Array.isArray(p) && p.every((x) => typeof x === 'string')) return textPrompt(p.join('\n'));
  if (Array.isArray(p) && p.every((x) => typeof x === 'number')) return { text: '', tokens: p.length };
  return invalidParam('prompt', 'expected a string, an array of strings, or an array of token ids.', 'invalid_type');
}

function maxTokensOf(b: Body): number | undefined | ErrorAnswer {
  for (const param of ['max_completion_tokens', 'max_tokens']) {
    const v = b[param];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v)) return invalidParam(param, `expected an integer, but got ${JSON.stringify(v)} instead.`, 'invalid_type');
    if (v < 1) return invalidParam(param, `integer below minimum value. Expected a value >= 1, but got ${v} instead.`, 'integer_below_min_value');
    return v;
  }
  return undefined;
}
