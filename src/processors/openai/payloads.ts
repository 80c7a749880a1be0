/**
 * What the JSON an OpenAI-compatible server sends means: a streamed event (a piece of text, the
 * end, an error), a whole non-streamed answer, or an error body. Pure, but for the `AnswerFacts`
 * the caller passes in: what the answer says of its bill is noted there as it goes by.
 */
import type { Endpoint } from './params.js';
import type { SseEvent } from './sse.js';

export type StreamStep =
  | { readonly kind: 'text'; readonly text: string; readonly finished: boolean }
  | { readonly kind: 'done' }
  | { readonly kind: 'error'; readonly message: string }
  /** Nothing to yield (a role-only delta, a usage chunk); `finished` when it carried a finish_reason. */
  | { readonly kind: 'skip'; readonly finished: boolean };

/** Token counts as a server's `usage` gives them (other fields it sends are not kept). */
export interface ServerUsage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
}

/**
 * What an answer says about itself besides its text, noted while it is read: the model that
 * answered (its first chunk's), the finish reason (the last one given), the usage (the chunk
 * that carries one: the last, `choices: []`, with `stream_options.include_usage`).
 */
export interface AnswerFacts {
  model: string | undefined;
  finishReason: string | undefined;
  usage: ServerUsage | undefined;
}

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Collapses a server's text to one short line for an error message. */
export function oneLine(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * The message of an error body: OpenAI's `{"error": {"message"}}`, and the shapes other servers
 * use (`{"error": "..."}`, vLLM's `{"object": "error", "message"}`, FastAPI's `{"detail"}`).
 */
export function errorMessageOf(body: unknown): string | undefined {
  if (!isRecord(body)) return undefined;
  const { error } = body;
  if (isRecord(error) && typeof error.message === 'string' && error.message) return oneLine(error.message);
  if (typeof error === 'string' && error) return oneLine(error);
  if (typeof body.message === 'string' && body.message && (body.object === 'error' || error !== undefined)) return oneLine(body.message);
  if (typeof body.detail === 'string' && body.detail) return oneLine(body.detail);
  return undefined;
}

/** An error response's text → the part of the message that comes from the server. */
export function describeErrorBody(text: string): string | undefined {
  try {
    const message = errorMessageOf(JSON.parse(text));
    if (message !== undefined) return message;
  } catch {
    // not JSON: fall through to the raw text
  }
  const raw = oneLine(text);
  return raw === '' ? undefined : raw;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** A `usage` object's counts; undefined when it is not one (null on every chunk but the last). */
export function usageOf(value: unknown): ServerUsage | undefined {
  if (!isRecord(value) || !isCount(value.prompt_tokens) || !isCount(value.completion_tokens)) return undefined;
  return { prompt_tokens: value.prompt_tokens, completion_tokens: value.completion_tokens };
}

/** A few property reads per chunk, on the object already parsed: nothing parsed twice. */
function noteFacts(payload: Json, choice: Json | undefined, facts: AnswerFacts): void {
  if (facts.model === undefined && typeof payload.model === 'string' && payload.model !== '') facts.model = payload.model;
  const reason = choice?.finish_reason;
  if (typeof reason === 'string' && reason !== '') facts.finishReason = reason;
  if (payload.usage != null) facts.usage = usageOf(payload.usage) ?? facts.usage;
}

function firstChoice(payload: Json): Json | undefined {
  const choices = payload.choices;
  return Array.isArray(choices) && isRecord(choices[0]) ? choices[0] : undefined;
}

/** The text a choice carries: `delta.content` (chat, streamed), `message.content` (chat, whole), `text` (completions). */
function choiceText(choice: Json | undefined, endpoint: Endpoint): string {
  if (!choice) return '';
  if (endpoint === 'completions') return typeof choice.text === 'string' ? choice.text : '';
  const holder = isRecord(choice.delta) ? choice.delta : isRecord(choice.message) ? choice.message : undefined;
  return holder && typeof holder.content === 'string' ? holder.content : '';
}

/** One SSE event of a streamed completion → what to do with it; its model, finish reason and usage go to `facts`. */
export function interpretEvent(event: SseEvent, endpoint: Endpoint, facts?: AnswerFacts): StreamStep {
  const data = event.data.trim();
  if (data === '[DONE]') return { kind: 'done' };
  let payload: unknown;
  try {
    payload = JSON.parse(data);
  } catch {
    if (event.event === 'error') return { kind: 'error', message: oneLine(data) || 'error event' };
    return { kind: 'error', message: `not JSON in the event stream: ${oneLine(data, 80)}` };
  }
  const message = errorMessageOf(payload);
  if (message !== undefined || event.event === 'error') return { kind: 'error', message: message ?? oneLine(data) };
  if (!isRecord(payload)) return { kind: 'skip', finished: false };
  const choice = firstChoice(payload);
  if (facts) noteFacts(payload, choice, facts);
  const finished = typeof choice?.finish_reason === 'string';
  const text = choiceText(choice, endpoint);
  return text === '' ? { kind: 'skip', finished } : { kind: 'text', text, finished };
}

/** A whole (non-streamed) JSON answer, for servers that ignore `stream: true`; its model, finish reason and usage go to `facts`. */
export function interpretWholeAnswer(text: string, endpoint: Endpoint, facts?: AnswerFacts): StreamStep {
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    return { kind: 'error', message: `the answer is not JSON: ${oneLine(text, 80)}` };
  }
  const message = errorMessageOf(payload);
  if (message !== undefined) return { kind: 'error', message };
  const choice = isRecord(payload) ? firstChoice(payload) : undefined;
  if (!choice) return { kind: 'error', message: `the answer has no choices: ${oneLine(text, 80)}` };
  if (facts) noteFacts(payload as Json, choice, facts);
  return { kind: 'text', text: choiceText(choice, endpoint), finished: true };
}
