/** Request bodies checked with zod: the first problem becomes a 400 in the API's error shape. */
import type { z } from 'zod';
import { HttpError } from '../http-error.js';

export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  if (body === undefined || body === null) throw new HttpError(400, 'the request needs a JSON body (Content-Type: application/json)');
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join('.') : null;
  const message = issue ? (where ? `${where}: ${issue.message}` : issue.message) : 'invalid request body';
  throw new HttpError(400, message, 'invalid_request_error', null, where);
}

/** Prompts over the server's limit get a 413, not a 400: the request was fine, only too big. */
export function checkPromptSize(text: string, limit: number, what = 'prompt'): void {
  if (text.length > limit) {
    throw new HttpError(413, `${what} is ${text.length} characters; this server takes at most ${limit} (--max-prompt-chars)`, 'invalid_request_error', 'prompt_too_large');
  }
}
