/**
 * An item's input → the HTTP request for an OpenAI-compatible server. Pure.
 *
 *   "text"                       → one user message (chat) or the prompt (completions)
 *   {"messages": [...]}          → those messages as they are (chat)
 *   {"prompt": "text"}           → that prompt (a user message for chat)
 *   anything else                → JSON.stringify(input) as the user message / prompt
 */
import type { ItemInput } from '../../core/types.js';
import type { OpenAISettings } from './params.js';

export interface CompletionRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The JSON body, already serialised. */
  readonly body: string;
  /** The body asks for a last chunk with the usage (`stream_options.include_usage`). */
  readonly asksUsage: boolean;
}

export type ChatMessage = { readonly role: string; readonly content: unknown; readonly [k: string]: unknown };

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The text an input stands for when it is not a message list. */
export function promptOf(input: ItemInput): string {
  if (typeof input === 'string') return input;
  if (isRecord(input) && typeof input.prompt === 'string') return input.prompt;
  return JSON.stringify(input);
}

export function chatMessages(input: ItemInput, system: string | undefined): readonly unknown[] {
  // A message list is the user's whole conversation, system message included: sent unchanged.
  if (isRecord(input) && Array.isArray(input.messages)) return input.messages;
  const user: ChatMessage = { role: 'user', content: promptOf(input) };
  return system === undefined ? [user] : [{ role: 'system', content: system }, user];
}

/**
 * `asksUsage`: ask for the usage chunk at the stream's end (`stream_options: {include_usage:
 * true}`, OpenAI's since 2024); off for a server that refused the field (see openai.ts).
 */
export function requestBody(settings: OpenAISettings, input: ItemInput, asksUsage = true): Record<string, unknown> {
  const body: Record<string, unknown> = { model: settings.model };
  if (settings.endpoint === 'chat') body.messages = chatMessages(input, settings.system);
  else body.prompt = promptOf(input);
  body.stream = true;
  if (asksUsage) body.stream_options = { include_usage: true };
  if (settings.maxTokens !== undefined) body.max_tokens = settings.maxTokens;
  if (settings.temperature !== undefined) body.temperature = settings.temperature;
  return body;
}

export function endpointUrl(settings: OpenAISettings): string {
  return `${settings.baseUrl}/${settings.endpoint === 'chat' ? 'chat/completions' : 'completions'}`;
}

/** `apiKey` undefined or empty: no Authorization header (local servers need none). */
export function buildRequest(settings: OpenAISettings, input: ItemInput, apiKey: string | undefined, asksUsage = true): CompletionRequest {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream' };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  return { url: endpointUrl(settings), headers, body: JSON.stringify(requestBody(settings, input, asksUsage)), asksUsage };
}
