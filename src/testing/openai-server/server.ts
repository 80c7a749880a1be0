/**
 * slowwork's own local OpenAI-compatible server, for tests and benchmarks: it answers like the
 * real API (wire formats, errors, headers) and enforces rate limits as OpenAI does, so a client's
 * handling of 429s, quotas and broken streams is tried against the real thing's behaviour.
 *
 * - `POST /v1/chat/completions`, `POST /v1/completions` (stream or not), `GET /v1/models`;
 * - `Authorization: Bearer <key>` required when `keys` are given (401 otherwise); a `model` not in
 *   `models` (when given) is a 404 `model_not_found`; bad bodies are 400s in OpenAI's shape;
 * - per API key, RPM and TPM buckets (./buckets.ts), 429s with OpenAI's body, `retry-after`,
 *   `retry-after-ms` and the `x-ratelimit-*` headers on every 2xx and 429 (./headers.ts);
 * - deterministic answers (./answer.ts) paced per stream (./answer-run.ts);
 * - faults by prompt directive or server option (./faults.ts);
 * - an `x-request-id` on every answer.
 *
 * node:http, one timer per open answer and strings built from templates: 10,000 slow streams at
 * once cost little. Binds 127.0.0.1 only. The standalone entry is ./main.ts.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { planAnswer } from './answer.js';
import { runAnswer } from './answer-run.js';
import { KeyedLimiters, type Clock, type LimitKind, type Limits } from './buckets.js';
import { modelsBody } from './chunks.js';
import {
  bodyTooLarge,
  errorBody,
  invalidKey,
  invalidUrl,
  missingKey,
  modelNotFound,
  overloaded,
  rateLimited,
  serverError,
  type ErrorAnswer,
} from './errors.js';
import { FAULT_KINDS, faultKinds, ServerFaults, type FaultKind } from './faults.js';
import { rateLimitHeaders, retryAfterHeaders, type HeaderMap } from './headers.js';
import { parseGenRequest, type Endpoint } from './request.js';

export interface OpenAIServerOptions {
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  /** Requests per minute per key; 0 (the default): no limit. */
  readonly rpm?: number;
  /** Tokens per minute per key; 0 (the default): no limit. */
  readonly tpm?: number;
  /** The enforcement window of the buckets, in seconds (./buckets.ts); 60 by default. */
  readonly windowSeconds?: number;
  /** The accepted API keys; none: any key or none at all, each key still limited on its own. */
  readonly keys?: readonly string[];
  /** The known models; none: any model name is accepted. */
  readonly models?: readonly string[];
  /** Tokens per second of each answer; 0 (the default): the whole answer at once. */
  readonly tokensPerSecond?: number;
  /** Before an answer's first token, in ms; 0 by default. */
  readonly firstTokenMs?: number;
  /** The answer's length when the request gives no max_tokens; 16 (the legacy API's default). */
  readonly completionTokens?: number;
  /** false: no x-ratelimit-* and no retry-after headers at all (a server that says nothing). */
  readonly headers?: boolean;
  /** false: 429s without retry-after and retry-after-ms (the x-ratelimit-* headers stay). */
  readonly retryAfter?: boolean;
  /** Every Nth generation request is answered 503 (0: never). */
  readonly failEvery?: number;
  /** This fraction of answers is reset halfway through (seeded by `seed`). */
  readonly resetFraction?: number;
  readonly seed?: number;
  /** Named in 429 messages; `org-slowwork` by default. */
  readonly organization?: string;
  /** The clock of the rate-limit buckets only (pacing uses real time); performance.now by default. */
  readonly now?: Clock;
  /** Called as each answer's status is decided, before its body: a test can wait on it. */
  readonly onResponse?: (event: ResponseEvent) => void;
}

export interface ResponseEvent {
  readonly requestId: string;
  readonly status: number;
  readonly path: string;
  /** On a 429. */
  readonly limitedBy?: LimitKind;
  /** On a 429 that can be retried. */
  readonly retryAfterMs?: number;
}

export interface OpenAIServerStats {
  /** Every HTTP request. */
  requests: number;
  /** Generation requests admitted and answered (a whole answer cut by error@N still ends in a 500). */
  answered: number;
  /** 4xx answers other than 429: bad body, missing or wrong key, unknown model or URL. */
  rejected: number;
  /** 429s by the limit that refused them. */
  limited: Record<LimitKind, number>;
  /** Requests that got each fault (a request may get several). */
  faults: Record<FaultKind, number>;
  /** Answers delivered to their end. */
  completed: number;
  /** Estimated prompt tokens of the answered requests. */
  promptTokens: number;
  /** Tokens written to clients. */
  completionTokens: number;
  /** Answers in progress (streamed or not). */
  openStreams: number;
  peakOpenStreams: number;
}

export interface OpenAIServer {
  /** `http://127.0.0.1:PORT/v1` */
  readonly baseUrl: string;
  readonly port: number;
  /** A copy of the counts so far. */
  stats(): OpenAIServerStats;
  /** New limits from now on, for every key (0: no limit of that kind). */
  setLimits(limits: Partial<Limits>): void;
  /** Destroys open sockets (streams in flight end for their clients); resolves once closed. */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 8 * 1024 * 1024;
const FINGERPRINT = 'fp_5100c0a7e5';
const DEFAULT_MODELS = ['slowwork-test'];

export async function startOpenAIServer(options: OpenAIServerOptions = {}): Promise<OpenAIServer> {
  const now = options.now ?? (() => performance.now());
  const limiters = new KeyedLimiters({ rpm: options.rpm ?? 0, tpm: options.tpm ?? 0 }, options.windowSeconds ?? 60);
  const serverFaults = new ServerFaults(options);
  const keys = options.keys && options.keys.length > 0 ? new Set(options.keys) : null;
  const models = options.models && options.models.length > 0 ? new Set(options.models) : null;
  const defaultTokens = options.completionTokens ?? 16;
  const pace = { tokensPerSecond: options.tokensPerSecond ?? 0, firstTokenMs: options.firstTokenMs ?? 0 };
  const organization = options.organization ?? 'org-slowwork';
  const stats = emptyStats();
  let requestCount = 0;

  function respond(res: ServerResponse, event: ResponseEvent, body: string, headers: HeaderMap = {}): void {
    options.onResponse?.(event);
    res.writeHead(event.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
    res.end(body);
  }

  function fail(res: ServerResponse, requestId: string, path: string, answer: ErrorAnswer, headers: HeaderMap = {}): void {
    if (answer.status !== 429 && answer.status < 500) stats.rejected++;
    respond(res, { requestId, status: answer.status, path }, errorBody(answer), headers);
  }

  /** The caller's key, or the 401 it gets. */
  function keyOf(req: IncomingMessage): string | ErrorAnswer {
    const auth = req.headers.authorization;
    const key = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : '';
    if (!keys) return key;
    if (key === '') return missingKey();
    return keys.has(key) ? key : invalidKey(key);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    stats.requests++;
    const requestId = `req_${(++requestCount).toString(16).padStart(32, '0')}`;
    res.setHeader('x-request-id', requestId);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const endpoint = endpointOf(req.method, path);
    if (endpoint === null) return fail(res, requestId, path, invalidUrl(req.method ?? 'GET', path));
    const key = keyOf(req);
    if (typeof key !== 'string') return fail(res, requestId, path, key);
    if (endpoint === 'models') {
      return respond(res, { requestId, status: 200, path }, JSON.stringify(modelsBody([...(models ?? DEFAULT_MODELS)], 1_700_000_000)));
    }
    const raw = await readBody(req);
    if (raw === null) return; // the client went away mid-body
    if (typeof raw !== 'string') return fail(res, requestId, path, raw);
    const parsed = parseGenRequest(endpoint, raw);
    if ('status' in parsed) return fail(res, requestId, path, parsed);
    if (models && !models.has(parsed.model)) return fail(res, requestId, path, modelNotFound(parsed.model));

    const t = now();
    const limiter = limiters.for(key, t);
    const admission = limiter.admit(parsed.promptTokens + (parsed.maxTokens ?? defaultTokens), t);
    const headers = options.headers === false ? {} : rateLimitHeaders(limiter.snapshot(t));
    if (!admission.ok) {
      stats.limited[admission.by]++;
      const wait = admission.retryAfterMs;
      const retry = wait !== null && options.headers !== false && options.retryAfter !== false ? retryAfterHeaders(wait) : {};
      const event = { requestId, status: 429, path, limitedBy: admission.by, ...(wait !== null && { retryAfterMs: wait }) };
      return respond(res, event, errorBody(rateLimited(admission, parsed.model, organization)), { ...headers, ...retry });
    }

    const plan = planAnswer(parsed, defaultTokens);
    const faults = serverFaults.next(plan.tokens, parsed.faults);
    for (const kind of faultKinds(faults)) stats.faults[kind]++;
    if (faults.status !== undefined) {
      return fail(res, requestId, path, faults.status === 503 ? overloaded(requestId) : serverError(), headers);
    }
    stats.answered++;
    stats.promptTokens += parsed.promptTokens;
    stats.openStreams++;
    stats.peakOpenStreams = Math.max(stats.peakOpenStreams, stats.openStreams);
    options.onResponse?.({ requestId, status: 200, path });
    const meta = { id: `${endpoint === 'chat' ? 'chatcmpl' : 'cmpl'}-${requestId.slice(4)}`, created: Math.floor(Date.now() / 1000), model: parsed.model, fingerprint: FINGERPRINT };
    runAnswer(res, { req: parsed, plan, meta, faults, pace, headers }, {
      onTokens: (count) => (stats.completionTokens += count),
      onEnd: (completed) => {
        stats.openStreams--;
        if (completed) stats.completed++;
      },
    });
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => res.destroy(err instanceof Error ? err : new Error(String(err))));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: options.port ?? 0, host: '127.0.0.1', backlog: 4096 }, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    port,
    stats: () => structuredClone(stats),
    setLimits: (limits) => limiters.setLimits(limits, now()),
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

function emptyStats(): OpenAIServerStats {
  return {
    requests: 0,
    answered: 0,
    rejected: 0,
    limited: { requests: 0, tokens: 0 },
    faults: Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>,
    completed: 0,
    promptTokens: 0,
    completionTokens: 0,
    openStreams: 0,
    peakOpenStreams: 0,
  };
}

function endpointOf(method: string | undefined, path: string): Endpoint | 'models' | null {
  if (method === 'POST' && path === '/v1/chat/completions') return 'chat';
  if (method === 'POST' && path === '/v1/completions') return 'completions';
  if (method === 'GET' && path === '/v1/models') return 'models';
  return null;
}

/** The body as text; a 413 answer past the limit; null if the client went away first. */
function readBody(req: IncomingMessage): Promise<string | ErrorAnswer | null> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (b: Buffer) => {
      size += b.length;
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners('data');
        req.resume();
        resolve(bodyTooLarge(MAX_BODY_BYTES));
      } else parts.push(b);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('close', () => resolve(null)); // after 'end' this no longer changes the answer
  });
}
