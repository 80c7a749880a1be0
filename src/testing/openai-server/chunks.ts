/**
 * The shapes of OpenAI's answers: SSE chunks of `chat.completion.chunk` and legacy
 * `text_completion` streams, whole `chat.completion` / `text_completion` objects, usage, the
 * model list. Pure.
 *
 * A chat stream is: a first chunk whose delta is `{role: "assistant", content: "", refusal: null}`,
 * one chunk per token (`delta: {content}`), a chunk with an empty delta and the finish_reason,
 * then, with `stream_options: {include_usage: true}`, a chunk with `choices: []` and the usage
 * (every other chunk then carries `usage: null`), then `data: [DONE]`. A legacy stream has no
 * role chunk and its choices carry `text` instead of `delta`.
 *
 * Chunks are strings built from a per-answer prefix and one JSON.stringify of the token: the
 * same bytes JSON.stringify of the whole object would give, at a fraction of the CPU, as a
 * benchmark's server shares the machine with the client it measures.
 */
import type { FinishReason } from './answer.js';
import type { OpenAIError } from './errors.js';
import type { Endpoint } from './request.js';

/** What every chunk of one answer shares. */
export interface AnswerMeta {
  readonly id: string;
  /** Unix seconds. */
  readonly created: number;
  readonly model: string;
  readonly fingerprint: string;
}

export interface ChatUsage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
  readonly prompt_tokens_details?: { readonly cached_tokens: number; readonly audio_tokens: number };
  readonly completion_tokens_details?: {
    readonly reasoning_tokens: number;
    readonly audio_tokens: number;
    readonly accepted_prediction_tokens: number;
    readonly rejected_prediction_tokens: number;
  };
}

/** Usage as each endpoint reports it: chat with its details (all zero here), legacy without. */
export function usageOf(endpoint: Endpoint, promptTokens: number, completionTokens: number): ChatUsage {
  const totals = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
  if (endpoint === 'completions') return totals;
  return {
    ...totals,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

export const DONE = 'data: [DONE]\n\n';

/** An error event mid-stream, as OpenAI sends it (the official clients throw an APIError on it). */
export const errorEvent = (error: OpenAIError): string => `data: ${JSON.stringify({ error })}\n\n`;

export interface ChunkWriter {
  /** What comes before the first token: chat's role chunk; nothing for legacy. */
  opening(): string;
  token(text: string): string;
  finish(reason: FinishReason): string;
  usage(usage: ChatUsage): string;
}

const j = JSON.stringify;

export function chunkWriter(endpoint: Endpoint, meta: AnswerMeta, includeUsage: boolean): ChunkWriter {
  const object = endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion';
  const tier = endpoint === 'chat' ? `"service_tier":"default",` : '';
  const prefix = `data: {"id":${j(meta.id)},"object":"${object}","created":${meta.created},"model":${j(meta.model)},${tier}"system_fingerprint":${j(meta.fingerprint)},"choices":[`;
  const end = includeUsage ? '],"usage":null}\n\n' : ']}\n\n';
  const usage = (u: ChatUsage): string => `${prefix}],"usage":${j(u)}}\n\n`;
  if (endpoint === 'chat') {
    const choice = (delta: string, finish: string): string => `${prefix}{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${finish}}${end}`;
    const opening = choice('{"role":"assistant","content":"","refusal":null}', 'null');
    return {
      opening: () => opening,
      token: (text) => choice(`{"content":${j(text)}}`, 'null'),
      finish: (reason) => choice('{}', j(reason)),
      usage,
    };
  }
  const choice = (text: string, finish: string): string => `${prefix}{"text":${j(text)},"index":0,"logprobs":null,"finish_reason":${finish}}${end}`;
  return {
    opening: () => '',
    token: (text) => choice(text, 'null'),
    finish: (reason) => choice('', j(reason)),
    usage,
  };
}

/** A whole answer (no stream). `usage` is left out only when a fault says so. */
export function completionBody(
  endpoint: Endpoint,
  meta: AnswerMeta,
  text: string,
  finishReason: FinishReason,
  usage: ChatUsage | undefined,
): Record<string, unknown> {
  const head = { id: meta.id, object: endpoint === 'chat' ? 'chat.completion' : 'text_completion', created: meta.created, model: meta.model };
  if (endpoint === 'chat') {
    return {
      ...head,
      choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null, annotations: [] }, logprobs: null, finish_reason: finishReason }],
      ...(usage && { usage }),
      service_tier: 'default',
      system_fingerprint: meta.fingerprint,
    };
  }
  return {
    ...head,
    choices: [{ text, index: 0, logprobs: null, finish_reason: finishReason }],
    ...(usage && { usage }),
    system_fingerprint: meta.fingerprint,
  };
}

/** GET /v1/models. */
export function modelsBody(models: readonly string[], created: number): Record<string, unknown> {
  return { object: 'list', data: models.map((id) => ({ id, object: 'model', created, owned_by: 'slowwork' })) };
}
