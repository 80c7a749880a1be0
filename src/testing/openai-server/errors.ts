/**
 * OpenAI's error answers: status and `{error: {message, type, param, code}}`, with the messages
 * and codes the real API sends (seen in its answers quoted in public bug reports). Pure.
 */
import type { Refusal } from './buckets.js';
import { formatDuration } from './headers.js';

export interface OpenAIError {
  readonly message: string;
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;
}

export interface ErrorAnswer {
  readonly status: number;
  readonly error: OpenAIError;
}

const KEYS_URL = 'https://platform.openai.com/account/api-keys';
const LIMITS_URL = 'https://platform.openai.com/account/rate-limits';

const invalidRequest = (status: number, message: string, param: string | null = null, code: string | null = null): ErrorAnswer => ({
  status,
  error: { message, type: 'invalid_request_error', param, code },
});

export const missingKey = (): ErrorAnswer =>
  invalidRequest(
    401,
    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth " +
      `(i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from ${KEYS_URL}.`,
  );

/** The key shown as OpenAI masks it: its start and its last four characters. */
export function maskKey(key: string): string {
  if (key.length <= 8) return '*'.repeat(key.length);
  return `${key.slice(0, 3)}${'*'.repeat(key.length - 7)}${key.slice(-4)}`;
}

export const invalidKey = (key: string): ErrorAnswer =>
  invalidRequest(401, `Incorrect API key provided: ${maskKey(key)}. You can find your API key at ${KEYS_URL}.`, null, 'invalid_api_key');

export const invalidJson = (): ErrorAnswer =>
  invalidRequest(
    400,
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. " +
      'The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)',
  );

export const bodyTooLarge = (limitBytes: number): ErrorAnswer =>
  invalidRequest(413, `The request body is larger than this server accepts (${limitBytes} bytes).`);

export const missingParam = (param: string): ErrorAnswer =>
  invalidRequest(400, `Missing required parameter: '${param}'.`, param, 'missing_required_parameter');

export const invalidParam = (param: string, message: string, code: string | null = 'invalid_value'): ErrorAnswer =>
  invalidRequest(400, `Invalid '${param}': ${message}`, param, code);

export const noModel = (): ErrorAnswer => invalidRequest(400, 'you must provide a model parameter');

export const modelNotFound = (model: string): ErrorAnswer =>
  invalidRequest(404, `The model \`${model}\` does not exist or you do not have access to it.`, null, 'model_not_found');

export const invalidUrl = (method: string, path: string): ErrorAnswer => invalidRequest(404, `Invalid URL (${method} ${path})`);

const LIMIT_NAMES = { requests: 'requests per min (RPM)', tokens: 'tokens per min (TPM)' } as const;

/** The 429 of a refused request, worded as OpenAI words it. */
export function rateLimited(refusal: Refusal, model: string, organization: string): ErrorAnswer {
  const where = `for ${model} in organization ${organization} on ${LIMIT_NAMES[refusal.by]}`;
  const message =
    refusal.retryAfterMs === null
      ? `Request too large ${where}: Limit ${refusal.limit}, Requested ${refusal.requested}. ` +
        `The input or output tokens must be reduced in order to run successfully. Visit ${LIMITS_URL} to learn more.`
      : `Rate limit reached ${where}: Limit ${refusal.limit}, Used ${refusal.used}, Requested ${refusal.requested}. ` +
        `Please try again in ${formatDuration(refusal.retryAfterMs)}. Visit ${LIMITS_URL} to learn more.`;
  return { status: 429, error: { message, type: refusal.by, param: null, code: 'rate_limit_exceeded' } };
}

export const SERVER_ERROR: OpenAIError = {
  message: 'The server had an error while processing your request. Sorry about that!',
  type: 'server_error',
  param: null,
  code: null,
};

export const serverError = (): ErrorAnswer => ({ status: 500, error: SERVER_ERROR });

export const overloaded = (requestId: string): ErrorAnswer => ({
  status: 503,
  error: {
    message:
      'That model is currently overloaded with other requests. You can retry your request, or contact us through our help ' +
      `center at help.openai.com if the error persists. (Please include the request ID ${requestId} in your message.)`,
    type: 'server_error',
    param: null,
    code: null,
  },
});

export const errorBody = (answer: ErrorAnswer): string => JSON.stringify({ error: answer.error });
