/**
 * `--param` values of the `openai` processor → typed settings. Pure: `validate()` runs it on the
 * main thread once, so a bad value is reported before any work starts, in one line.
 */
import type { Params } from '../../core/types.js';
import type { ParamDeclaration } from '../contract.js';

export type Endpoint = 'chat' | 'completions';

export interface OpenAISettings {
  /** Without a trailing slash: `http://127.0.0.1:8000/v1`. */
  readonly baseUrl: string;
  readonly model: string;
  readonly endpoint: Endpoint;
  readonly maxTokens: number | undefined;
  readonly temperature: number | undefined;
  readonly system: string | undefined;
  /** No first byte, or no data for this long, fails the attempt; 0 = never. */
  readonly timeoutMs: number;
  /** Retries of 429, 5xx and connection errors before the first chunk. */
  readonly maxRetries: number;
  /** Name of the environment variable that holds the API key. */
  readonly apiKeyEnv: string;
  /** The endpoint's limits per minute, as the user gave them; else learned from the server's headers. */
  readonly rpm: number | undefined;
  readonly tpm: number | undefined;
  /** Seconds over which the server enforces them (its bucket holds that share of a minute's limit); default 60. */
  readonly rateWindowS: number | undefined;
}

export const OPENAI_DEFAULTS = {
  endpoint: 'chat',
  timeoutMs: 60_000,
  maxRetries: 5,
  apiKeyEnv: 'OPENAI_API_KEY',
} as const;

/** Every param `openai` takes (docs/processors.md has the same table). */
export const OPENAI_PARAMS: ParamDeclaration = {
  base_url: { required: true, description: 'the API root, http:// or https://, up to and including /v1' },
  model: { required: true, description: 'the model name the server knows' },
  endpoint: { default: OPENAI_DEFAULTS.endpoint, description: 'chat (POST {base_url}/chat/completions) or completions' },
  max_tokens: { type: 'integer', description: "tokens per answer at most (default: the server's)" },
  temperature: { type: 'number', description: "0 to 2 (default: the server's)" },
  system: { description: 'a system message put before the user message (chat)' },
  timeout_ms: { type: 'integer', default: OPENAI_DEFAULTS.timeoutMs, description: 'silence that fails an attempt; 0 = never' },
  max_retries: { type: 'integer', default: OPENAI_DEFAULTS.maxRetries, description: 'retries of 429, 5xx and connection errors before the first chunk' },
  api_key_env: { default: OPENAI_DEFAULTS.apiKeyEnv, description: 'the environment variable that holds the API key' },
  rpm: { type: 'integer', description: "requests per minute this endpoint and key allow (default: learned from the server's x-ratelimit headers)" },
  tpm: { type: 'integer', description: 'tokens per minute, counted as OpenAI does: prompt plus max_tokens up front (default: learned)' },
  rate_window_s: { type: 'integer', description: 'seconds over which the server enforces rpm and tpm, for one that allows less than a minute\'s limit at once (default 60)' },
};

/** A `--param` value the processor cannot use; the message is one line a user can act on. */
export class OpenAIParamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OpenAIParamError';
  }
}

const given = (params: Params, key: string): string | undefined => {
  const raw = params[key];
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
};

function integer(params: Params, key: string, min: number, max: number): number | undefined {
  const raw = given(params, key);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new OpenAIParamError(`--param ${key}=${raw} must be a whole number from ${min} to ${max}`);
  }
  return n;
}

function parseBaseUrl(raw: string | undefined): string {
  if (raw === undefined) throw new OpenAIParamError('--param base_url is required, e.g. --param base_url=http://127.0.0.1:8000/v1');
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) throw new OpenAIParamError(`--param base_url=${raw} must start with http:// or https://`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OpenAIParamError(`--param base_url=${raw} is not a URL (expected e.g. http://127.0.0.1:8000/v1)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new OpenAIParamError(`--param base_url=${raw} must start with http:// or https://`);
  }
  if (url.search || url.hash) throw new OpenAIParamError(`--param base_url=${raw} must not have a query or fragment`);
  return url.href.replace(/\/+$/, '');
}

function parseEndpoint(raw: string | undefined): Endpoint {
  if (raw === undefined) return OPENAI_DEFAULTS.endpoint;
  if (raw === 'chat' || raw === 'completions') return raw;
  throw new OpenAIParamError(`--param endpoint=${raw} must be chat or completions`);
}

function parseTemperature(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || n > 2) throw new OpenAIParamError(`--param temperature=${raw} must be a number from 0 to 2`);
  return n;
}

function parseApiKeyEnv(raw: string | undefined): string {
  if (raw === undefined) return OPENAI_DEFAULTS.apiKeyEnv;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(raw)) {
    throw new OpenAIParamError(`--param api_key_env=${raw} must be the name of an environment variable, e.g. OPENAI_API_KEY`);
  }
  return raw;
}

/** Throws `OpenAIParamError` on the first bad value. */
export function parseOpenAIParams(params: Params): OpenAISettings {
  const baseUrl = parseBaseUrl(given(params, 'base_url'));
  const model = given(params, 'model');
  if (model === undefined) throw new OpenAIParamError('--param model is required, e.g. --param model=gpt-4o-mini');
  return {
    baseUrl,
    model,
    endpoint: parseEndpoint(given(params, 'endpoint')),
    maxTokens: integer(params, 'max_tokens', 1, 10_000_000),
    temperature: parseTemperature(given(params, 'temperature')),
    // Kept verbatim: leading spaces in a system prompt may be meant.
    system: params.system === undefined || params.system === '' ? undefined : params.system,
    timeoutMs: integer(params, 'timeout_ms', 0, 86_400_000) ?? OPENAI_DEFAULTS.timeoutMs,
    maxRetries: integer(params, 'max_retries', 0, 100) ?? OPENAI_DEFAULTS.maxRetries,
    apiKeyEnv: parseApiKeyEnv(given(params, 'api_key_env')),
    rpm: integer(params, 'rpm', 1, 1_000_000_000),
    tpm: integer(params, 'tpm', 1, 1_000_000_000_000),
    rateWindowS: integer(params, 'rate_window_s', 1, 3600),
  };
}
