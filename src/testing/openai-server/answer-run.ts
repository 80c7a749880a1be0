/**
 * Writes one answer to its HTTP response at a set pace: streamed as SSE chunks, or whole once
 * its last token is due; and breaks it where its faults say. The only timers of an answer live
 * here; it cleans them up when the answer ends or its client goes away.
 *
 * Token `i` is due at start + firstTokenMs + i × 1000/tokensPerSecond (tokensPerSecond 0: all
 * at once). Each wake-up writes every token due by then in one socket write (each still its own
 * SSE event), so a late timer on a loaded machine catches up instead of drifting; a full socket
 * buffer waits for `drain`.
 */
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { answerText, type AnswerPlan } from './answer.js';
import { chunkWriter, completionBody, DONE, errorEvent, usageOf, type AnswerMeta, type ChunkWriter } from './chunks.js';
import { errorBody, serverError, SERVER_ERROR } from './errors.js';
import type { Faults } from './faults.js';
import type { HeaderMap } from './headers.js';
import type { GenRequest } from './request.js';

export interface Pace {
  /** Per answer; 0 writes the whole answer at once. */
  readonly tokensPerSecond: number;
  /** Before the first token. */
  readonly firstTokenMs: number;
}

export interface RunHooks {
  /** Tokens written to the client. */
  onTokens(count: number): void;
  /** The answer is over: `completed` if it was delivered to its end. Called once. */
  onEnd(completed: boolean): void;
}

export interface AnswerSpec {
  readonly req: GenRequest;
  readonly plan: AnswerPlan;
  readonly meta: AnswerMeta;
  readonly faults: Faults;
  readonly pace: Pace;
  /** Rate-limit headers, sent with the status. */
  readonly headers: HeaderMap;
}

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };
const JSON_HEADERS = { 'content-type': 'application/json' };

/** Starts writing the answer; returns at once. */
export function runAnswer(res: ServerResponse, spec: AnswerSpec, hooks: RunHooks): void {
  new AnswerRun(res, spec, hooks).start();
}

class AnswerRun {
  private readonly start0 = performance.now();
  private readonly interval: number;
  /** The token count at which a reset or error fault fires (Infinity: none). */
  private readonly cut: number;
  /** The fault at the cut is a reset (it wins a tie with an error). */
  private readonly resets: boolean;
  private readonly chunks: ChunkWriter | null;
  private timer: NodeJS.Timeout | undefined;
  private next = 0;
  private opened = false;
  private over = false;
  private readonly step = (): void => this.onTimer();

  constructor(
    private readonly res: ServerResponse,
    private readonly spec: AnswerSpec,
    private readonly hooks: RunHooks,
  ) {
    const tps = spec.pace.tokensPerSecond;
    this.interval = tps > 0 && Number.isFinite(tps) ? 1000 / tps : 0;
    const { resetAfter = Infinity, errorAfter = Infinity } = spec.faults;
    const faultAt = Math.min(resetAfter, errorAfter);
    // A fault past the answer's end fires after its last token, before the finish chunk.
    this.cut = Number.isFinite(faultAt) ? Math.min(faultAt, spec.plan.tokens) : Infinity;
    this.resets = resetAfter <= errorAfter;
    this.chunks = spec.req.stream ? chunkWriter(spec.req.endpoint, spec.meta, spec.req.includeUsage) : null;
  }

  start(): void {
    this.res.on('close', () => this.end(false));
    if (this.chunks || this.spec.faults.hang) {
      this.res.writeHead(200, { ...(this.chunks ? SSE_HEADERS : JSON_HEADERS), ...this.spec.headers });
      this.res.flushHeaders();
    }
    if (this.spec.faults.hang) return; // headers out, then silence until the client or close() ends it
    this.wakeAt(this.chunks ? this.dueAt(0) : this.dueAt(Math.max(0, Math.min(this.cut, this.spec.plan.tokens) - 1)));
  }

  private dueAt(i: number): number {
    return this.start0 + this.spec.pace.firstTokenMs + i * this.interval;
  }

  private wakeAt(at: number): void {
    this.timer = setTimeout(this.step, Math.max(0, at - performance.now()));
  }

  private onTimer(): void {
    this.timer = undefined;
    if (this.over) return;
    if (this.chunks) this.streamDue(this.chunks);
    else this.answerWhole();
  }

  /** Writes every token due by now, then sleeps until the next one (or ends the stream). */
  private streamDue(chunks: ChunkWriter): void {
    const { plan } = this.spec;
    const now = performance.now();
    let out = this.opened ? '' : chunks.opening();
    this.opened = true;
    const first = this.next;
    for (;;) {
      if (this.next === this.cut) return this.breakStream(out, first);
      if (this.next === plan.tokens) return this.finishStream(chunks, out, first);
      if (this.dueAt(this.next) > now) break;
      out += chunks.token(plan.piece(this.next++));
    }
    this.hooks.onTokens(this.next - first);
    const at = this.dueAt(this.next);
    if (this.res.write(out)) this.wakeAt(at);
    else this.res.once('drain', () => this.over || this.wakeAt(at));
  }

  private finishStream(chunks: ChunkWriter, out: string, first: number): void {
    const { req, plan, faults } = this.spec;
    this.hooks.onTokens(this.next - first);
    out += chunks.finish(plan.finishReason);
    if (req.includeUsage && !faults.noUsage) out += chunks.usage(usageOf(req.endpoint, req.promptTokens, plan.tokens));
    this.res.end(out + DONE);
    this.end(true);
  }

  /** A reset or error fault: whichever fires at the cut (reset when both do). */
  private breakStream(out: string, first: number): void {
    this.hooks.onTokens(this.next - first);
    if (this.resets) {
      // The tokens before the cut reach the client, then the connection drops mid-body.
      this.end(false);
      if (out === '') this.res.destroy();
      else this.res.write(out, () => this.res.destroy());
      return;
    }
    this.res.end(out + errorEvent(SERVER_ERROR));
    this.end(false);
  }

  /** No stream: the whole answer once its last token is due, or the fault at its cut. */
  private answerWhole(): void {
    const { req, plan, meta, faults, headers } = this.spec;
    if (this.cut !== Infinity && this.resets) {
      this.end(false);
      this.res.destroy();
      return;
    }
    if (this.cut !== Infinity) {
      const body = errorBody(serverError());
      this.res.writeHead(500, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(body), ...headers });
      this.res.end(body);
      return this.end(false);
    }
    const usage = faults.noUsage ? undefined : usageOf(req.endpoint, req.promptTokens, plan.tokens);
    const body = JSON.stringify(completionBody(req.endpoint, meta, answerText(plan), plan.finishReason, usage));
    this.res.writeHead(200, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(body), ...headers });
    this.res.end(body);
    this.hooks.onTokens(plan.tokens);
    this.end(true);
  }

  private end(completed: boolean): void {
    if (this.over) return;
    this.over = true;
    if (this.timer) clearTimeout(this.timer);
    this.hooks.onEnd(completed);
  }
}
