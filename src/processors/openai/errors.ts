/**
 * Typed failures of one request to an OpenAI-compatible server. Their messages are one line and
 * start with `openai:`, as they end up in a results file and on a terminal. `retryable` says
 * whether the processor may try again itself (only ever before the first chunk was yielded).
 */

export abstract class OpenAIError extends Error {
  abstract readonly retryable: boolean;
  /**
   * Set when every item would fail the same way (see `SystemicError` in the contract): names the
   * cause, the same text for each item, so the job can stop instead of failing them one by one.
   */
  readonly systemic: string | undefined = undefined;
  constructor(message: string) {
    super(`openai: ${message}`);
    this.name = new.target.name;
  }
}

/** Answers about the setup, not the item: a bad key, no access, a wrong URL or model. */
const SYSTEMIC_STATUSES = new Set([401, 403, 404]);

/** A non-2xx answer. 429 and 5xx are worth another try; any other 4xx is not. */
export class OpenAIHttpError extends OpenAIError {
  readonly retryable: boolean;
  override readonly systemic: string | undefined;
  constructor(
    readonly status: number,
    where: string,
    /** What the server said, when it said anything. */
    readonly serverMessage: string | undefined,
    /** What the server asked us to wait (Retry-After), in ms; null if it did not say. */
    readonly retryAfterMs: number | null,
  ) {
    super(`HTTP ${status} from ${where}${serverMessage ? `: ${serverMessage}` : ''}`);
    this.retryable = status === 429 || status >= 500;
    this.systemic = SYSTEMIC_STATUSES.has(status) ? `openai: HTTP ${status} from ${where}` : undefined;
  }
}

/** Network codes that say "the connection failed", not "this request is wrong". */
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Codes that say the server cannot be reached at all (wrong host or port, no DNS, bad TLS): no item can get through. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The connection could not be made, or broke. */
export class OpenAIConnectionError extends OpenAIError {
  readonly retryable: boolean;
  override readonly systemic: string | undefined;
  constructor(
    message: string,
    readonly code: string | undefined,
    /** The request, `POST url`: with the code, the cause. */
    where?: string,
  ) {
    super(message);
    this.retryable = code !== undefined && TRANSIENT_CODES.has(code);
    this.systemic = where !== undefined && code !== undefined && UNREACHABLE_CODES.has(code) ? `openai: ${where} failed: ${code}` : undefined;
  }
}

/** `timeout_ms` passed with nothing from the server. */
export class OpenAITimeoutError extends OpenAIError {
  readonly retryable = false;
}

/** The server answered 2xx but its stream says it failed (an error event, bad JSON, cut short). */
export class OpenAIStreamError extends OpenAIError {
  readonly retryable = false;
}

/** The `code` of a Node/undici network error: `fetch failed` hides it in `cause` (or an AggregateError). */
export function networkErrorCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const e = current as { code?: unknown; cause?: unknown; errors?: unknown };
    if (typeof e.code === 'string' && e.code !== '') return e.code;
    current = e.cause ?? (Array.isArray(e.errors) ? e.errors[0] : undefined);
  }
  return undefined;
}

/** The innermost message of a network error (`other side closed`, not `fetch failed`). */
export function networkErrorDetail(err: unknown): string {
  let current: unknown = err;
  let detail = err instanceof Error ? err.message : String(err);
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (current.message) detail = current.message;
    current = current.cause ?? (current instanceof AggregateError ? current.errors[0] : undefined);
  }
  return detail.split('\n', 1)[0] ?? detail;
}
