/**
 * What a request is answered: deterministic tokens derived from its prompt, and how many. Pure.
 *
 * The answer repeats the prompt's words (directives removed) in order, one word per token, each
 * after the first led by a space: "say hello" answers "say hello say hello ...". A prompt without
 * words answers "token token ...". Length: `max_tokens` (or `max_completion_tokens`) when given,
 * and then the answer was cut (finish_reason "length"); otherwise the server's default length,
 * ending of itself ("stop").
 */
import { stripDirectives } from './faults.js';
import type { GenRequest } from './request.js';

export type FinishReason = 'stop' | 'length';

export interface AnswerPlan {
  readonly tokens: number;
  readonly finishReason: FinishReason;
  /** Token `i` (0-based) of the answer's text. */
  piece(i: number): string;
}

export function planAnswer(req: Pick<GenRequest, 'text' | 'maxTokens'>, defaultTokens: number): AnswerPlan {
  const words = stripDirectives(req.text).split(/\s+/).filter(Boolean);
  const vocabulary = words.length > 0 ? words : ['token'];
  // Built once: a token is then one array read, even for 10,000 streams at once.
  const spaced = vocabulary.map((w) => ` ${w}`);
  return {
    tokens: req.maxTokens ?? defaultTokens,
    finishReason: req.maxTokens === undefined ? 'stop' : 'length',
    piece: (i) => (i === 0 ? vocabulary[0]! : spaced[i % spaced.length]!),
  };
}

/** The whole text of the first `n` tokens. */
export function answerText(plan: AnswerPlan, n: number = plan.tokens): string {
  let text = '';
  for (let i = 0; i < n; i++) text += plan.piece(i);
  return text;
}
