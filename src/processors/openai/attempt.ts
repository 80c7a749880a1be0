/**
 * One HTTP attempt against an OpenAI-compatible server: POST the request, then yield the text of
 * its streamed answer as it arrives. This is the I/O edge; the meaning of bytes and JSON lives in
 * sse.ts and payloads.ts. Failures are typed `OpenAIError`s, or the caller's abort reason.
 * Whatever way it ends, its timer is cleared and its request aborted (no socket left behind).
 * What it learns of the bill (request id, model, finish reason, usage, pieces) goes to `facts`.
 */
import { retryAfterMs } from './backoff.js';
import { OpenAIConnectionError, OpenAIHttpError, OpenAIStreamError, OpenAITimeoutError, networkErrorCode, networkErrorDetail } from './errors.js';
import { estimateTokens, type AttemptFacts } from './meter.js';
import type { ServerAnswer } from '../contract.js';
import type { Endpoint } from './params.js';
import { describeErrorBody, interpretEvent, interpretWholeAnswer, type StreamStep } from './payloads.js';
import type { CompletionRequest } from './request.js';
import { SseParser } from './sse.js';

export interface AttemptOptions {
  readonly request: CompletionRequest;
  readonly endpoint: Endpoint;
  /** Silence limit: no response, or no data, for this long fails the attempt; 0 = none. */
  readonly timeoutMs: number;
  /** The item's signal: aborting it ends the attempt at once with its reason. */
  readonly signal: AbortSignal;
  /** Filled as the answer arrives: what this request cost. */
  readonly facts: AttemptFacts;
  /** Told the status and headers as soon as they arrive, before any body is read (the limiter learns from them). */
  readonly onAnswer?: (answer: ServerAnswer) => void;
}

/** An error body is read only this far: enough for any message, bounded for any server. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;
/** A whole JSON answer (a server that ignored `stream: true`). */
const MAX_WHOLE_ANSWER_BYTES = 32 * 1024 * 1024;

export async function* streamAttempt(opts: AttemptOptions): AsyncGenerator<string, void, undefined> {
  const where = `POST ${opts.request.url}`;
  const watch = new SilenceWatch(opts.signal, opts.timeoutMs, where);
  try {
    let response: Response;
    try {
      response = await fetch(opts.request.url, { method: 'POST', headers: opts.request.headers, body: opts.request.body, signal: watch.signal });
    } catch (err) {
      throw watch.failure(() => connectionError(`${where} failed`, err, where));
    }
    watch.responded();
    opts.onAnswer?.({ status: response.status, headers: response.headers });
    const { facts } = opts;
    facts.requestId = response.headers.get('x-request-id') ?? undefined;
    if (!response.ok) throw await httpError(response, where, watch);
    facts.answered = true;
    if (/^application\/json\b/i.test(response.headers.get('content-type') ?? '')) {
      const text = await readText(response, MAX_WHOLE_ANSWER_BYTES, watch, where);
      const step = interpretWholeAnswer(text, opts.endpoint, facts);
      if (step.kind === 'error') throw new OpenAIStreamError(`${where} answered with an error: ${step.message}`);
      if (step.kind === 'text' && step.text !== '') {
        facts.counted = estimateTokens(step.text);
        yield step.text;
      }
      return;
    }
    yield* streamEvents(response, opts.endpoint, watch, where, facts);
  } finally {
    watch.close();
  }
}

type ReadResult = { done: true; value?: undefined } | { done: false; value: Uint8Array };

async function* streamEvents(response: Response, endpoint: Endpoint, watch: SilenceWatch, where: string, facts: AttemptFacts): AsyncGenerator<string, void, undefined> {
  const reader = response.body?.getReader();
  const parser = new SseParser();
  let finished = false;
  for (;;) {
    let read: ReadResult;
    try {
      read = reader ? await reader.read() : { done: true, value: undefined };
    } catch (err) {
      throw watch.failure(() => connectionError(`connection lost while streaming from ${where}`, err));
    }
    watch.touch();
    const events = read.done ? parser.end() : parser.pushBytes(read.value);
    for (const event of events) {
      const step: StreamStep = interpretEvent(event, endpoint, facts);
      if (step.kind === 'done') return;
      if (step.kind === 'error') throw new OpenAIStreamError(`the server reported an error mid-stream: ${step.message}`);
      finished ||= step.finished;
      if (step.kind === 'text') {
        facts.counted++;
        // The consumer's time is not the server's silence.
        watch.suspended = true;
        yield step.text;
        watch.suspended = false;
        watch.touch();
      }
    }
    if (read.done) {
      // A clean end after a finish_reason is a server that does not send [DONE]; without one
      // the answer may be cut short, and a short answer must not pass for a whole one.
      if (finished) return;
      throw new OpenAIStreamError(`the stream from ${where} ended before [DONE]`);
    }
  }
}

async function httpError(response: Response, where: string, watch: SilenceWatch): Promise<OpenAIHttpError> {
  const wait = retryAfterMs(response.headers, Date.now());
  let serverMessage: string | undefined;
  try {
    serverMessage = describeErrorBody(await readText(response, MAX_ERROR_BODY_BYTES, watch, where));
  } catch {
    if (watch.signal.aborted) throw watch.signal.reason; // aborted or silent: that, not the status, is the story
    // The status alone still says what happened.
  }
  return new OpenAIHttpError(response.status, where, serverMessage ?? (response.statusText || undefined), wait);
}

/** The body as text, at most `maxBytes` of it (the rest is dropped with the connection). */
async function readText(response: Response, maxBytes: number, watch: SilenceWatch, where: string): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const decoder = new TextDecoder();
  let text = '';
  let bytes = 0;
  try {
    for (;;) {
      const read = await reader.read();
      watch.touch();
      if (read.done) return text + decoder.decode();
      bytes += read.value.byteLength;
      text += decoder.decode(read.value, { stream: true });
      if (bytes >= maxBytes) return text;
    }
  } catch (err) {
    throw watch.failure(() => connectionError(`connection lost while reading from ${where}`, err));
  }
}

/** `where` only when no byte was exchanged yet: a connection that broke later says nothing of the setup. */
function connectionError(what: string, err: unknown, where?: string): OpenAIConnectionError {
  const code = networkErrorCode(err);
  const detail = networkErrorDetail(err);
  const withCode = code && !detail.includes(code) ? `${detail} (${code})` : detail;
  return new OpenAIConnectionError(`${what}: ${withCode}`, code, where);
}

/**
 * The attempt's abort controller: follows the item's signal, and fires by itself after
 * `timeoutMs` without news from the server. One timer, re-armed on each piece of data.
 */
class SilenceWatch {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout | undefined;
  private phase: 'response' | 'body' = 'response';
  /** While the consumer holds a chunk, silence is not the server's fault. */
  suspended = false;

  constructor(
    private readonly outer: AbortSignal,
    private readonly timeoutMs: number,
    private readonly where: string,
  ) {
    if (outer.aborted) this.controller.abort(outer.reason);
    else outer.addEventListener('abort', this.followOuter, { once: true });
    if (timeoutMs > 0) this.timer = setTimeout(this.onSilence, timeoutMs);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  responded(): void {
    this.phase = 'body';
    this.touch();
  }

  /** Data arrived: the silence clock starts again. */
  touch(): void {
    this.timer?.refresh();
  }

  /** An error while the request was live: the abort reason if we aborted it (item abort or silence), else `otherwise()`. */
  failure(otherwise: () => Error): unknown {
    return this.controller.signal.aborted ? this.controller.signal.reason : otherwise();
  }

  /** Clears the timer and the listener; aborts the request so an unread body frees its socket. */
  close(): void {
    clearTimeout(this.timer);
    this.outer.removeEventListener('abort', this.followOuter);
    if (!this.controller.signal.aborted) this.controller.abort();
  }

  private readonly followOuter = (): void => this.controller.abort(this.outer.reason);

  private readonly onSilence = (): void => {
    if (this.suspended) return void this.timer?.refresh();
    const what =
      this.phase === 'response'
        ? `no response from ${this.where} within ${this.timeoutMs} ms`
        : `no data from ${this.where} for ${this.timeoutMs} ms mid-stream`;
    this.controller.abort(new OpenAITimeoutError(`${what} (--param timeout_ms)`));
  };
}
