import { EmptyPipelineError, InvalidParamsError, PipelineNotAllowedError, UnknownProcessorError } from './errors.js';

/**
 * Errors a route answers with: a status and OpenAI's error shape, which every route of the
 * server uses so one client-side handler reads them all:
 * `{"error": {"message", "type", "param", "code"}}`.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = status >= 500 ? 'server_error' : 'invalid_request_error',
    readonly code: string | null = null,
    readonly param: string | null = null,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface ErrorBody {
  readonly error: { readonly message: string; readonly type: string; readonly param: string | null; readonly code: string | null };
}

export function errorBody(message: string, type: string, code: string | null = null, param: string | null = null): ErrorBody {
  return { error: { message, type, param, code } };
}

/** The OpenAI `type` for a status without a more precise one. */
export function errorTypeFor(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** The HTTP answer to a thrown error: itself, or a manager's domain error given its status; null for anything else. */
export function httpErrorOf(err: unknown): HttpError | null {
  if (err instanceof HttpError) return err;
  if (err instanceof UnknownProcessorError) return new HttpError(404, err.message, 'invalid_request_error', 'model_not_found');
  if (err instanceof InvalidParamsError) return new HttpError(400, err.message, 'invalid_request_error', 'invalid_param', 'params');
  if (err instanceof EmptyPipelineError || err instanceof PipelineNotAllowedError) return new HttpError(400, err.message, 'invalid_request_error', null, 'pipeline');
  return null;
}
