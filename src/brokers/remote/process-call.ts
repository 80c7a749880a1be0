/**
 * One attempt of one item on one endpoint: POST {url}/process, then either read its NDJSON stream
 * to the end or take its 202. Decides whose fault a failure is (see AttemptFailure); knows
 * nothing of jobs or retries.
 */
import { OutputTooLongError } from '../../core/errors.js';
import type { ItemMeta } from '../../core/item-meta.js';
import { TextBuilder } from '../../core/text-builder.js';
import { AttemptFailure } from './errors.js';
import { describeFetchError, errorMessageOf, readCapped, tryJson } from './http.js';
import { LineSplitter, bearer, parseStreamLine, type ProcessRequest } from './wire.js';

export interface ProcessCall {
  /** The endpoint's base URL. */
  readonly url: string;
  readonly request: ProcessRequest;
  readonly token?: string;
  /**
   * The caller's own stop (cancel, abort, time limit): the attempt was settled already, so the
   * call rejects with the signal's reason and nothing more is reported.
   */
  readonly signal: AbortSignal;
  /** Longest silence allowed before the answer starts and between stream reads. */
  readonly idleTimeoutMs: number;
  /** Bound on the output, in characters (0: none): past it the call rejects with OutputTooLongError. */
  readonly maxOutputChars: number;
  readonly onChunk: (text: string) => void;
  /** A {"meta"} line: what the attempt cost so far (a later one replaces the fields it names). */
  readonly onMeta: (meta: ItemMeta) => void;
}

export type ProcessOutcome = { readonly kind: 'done'; readonly output: string } | { readonly kind: 'accepted' };

/** A line longer than this is not a protocol line. */
const MAX_LINE_CHARS = 16 * 1024 * 1024;

/** Runs the attempt; rejects with an AttemptFailure, or with the signal's reason once it aborted. */
export async function callProcess(call: ProcessCall): Promise<ProcessOutcome> {
  const idle = new AbortController();
  const idleTimer = setTimeout(() => idle.abort(), call.idleTimeoutMs);
  const signal = AbortSignal.any([call.signal, idle.signal]);
  const failure = (err: unknown): unknown => {
    if (call.signal.aborted) return call.signal.reason;
    if (idle.signal.aborted) return new AttemptFailure(`no answer for ${call.idleTimeoutMs} ms`, { charged: false });
    if (err instanceof AttemptFailure || err instanceof OutputTooLongError) return err;
    return new AttemptFailure(describeFetchError(err), { charged: false, endpointDown: true });
  };
  try {
    let res: Response;
    try {
      res = await fetch(`${call.url}/process`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/x-ndjson', ...bearer(call.token) },
        body: JSON.stringify(call.request),
        signal,
      });
    } catch (err) {
      throw failure(err);
    }
    idleTimer.refresh();
    if (res.status === 202) {
      res.body?.cancel().catch(() => undefined);
      return { kind: 'accepted' };
    }
    if (res.status < 200 || res.status > 299) throw await httpFailure(res);
    return await readStream(res, call, () => idleTimer.refresh()).catch((err: unknown) => {
      throw failure(err);
    });
  } finally {
    clearTimeout(idleTimer);
  }
}

/** A 4xx is the item's fault (charged); anything else the endpoint's. */
async function httpFailure(res: Response): Promise<AttemptFailure> {
  const text = await readCapped(res, 64 * 1024).catch(() => '');
  const detail = errorMessageOf(tryJson(text));
  const charged = res.status >= 400 && res.status <= 499;
  return new AttemptFailure(`answered HTTP ${res.status}${detail ? `: ${detail}` : ''}`, { charged });
}

async function readStream(res: Response, call: ProcessCall, touch: () => void): Promise<ProcessOutcome> {
  if (!res.body) throw new AttemptFailure('answered 200 without a body', { charged: false });
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const lines = new LineSplitter();
  const output = new TextBuilder();
  // Returns the outcome once a final line arrives; null to read on.
  const take = (batch: string[]): ProcessOutcome | null => {
    for (const raw of batch) {
      const line = parseStreamLine(raw);
      if (line === null) throw new AttemptFailure(`sent a line outside the protocol: ${raw.slice(0, 80)}`, { charged: false });
      if (line.kind === 'invalid') throw new AttemptFailure(`sent a bad {"meta"} line: ${line.why}`, { charged: false });
      if (line.kind === 'meta') {
        call.onMeta(line.meta);
        continue;
      }
      if (line.kind === 'done') return { kind: 'done', output: output.toString() };
      if (line.kind === 'error') throw new AttemptFailure(line.message, { charged: true, fromProcessor: true });
      if (line.text.length === 0) continue;
      output.append(line.text);
      if (call.maxOutputChars > 0 && output.length > call.maxOutputChars) throw new OutputTooLongError(call.maxOutputChars);
      call.onChunk(line.text);
    }
    return null;
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      touch();
      const outcome = take(lines.push(decoder.decode(value, { stream: true })));
      if (outcome) return outcome;
      if (lines.pendingLength > MAX_LINE_CHARS) throw new AttemptFailure(`sent a line longer than ${MAX_LINE_CHARS} characters`, { charged: false });
    }
    const outcome = take([...lines.push(decoder.decode()), ...lines.end()]);
    if (outcome) return outcome;
    throw new AttemptFailure('ended its stream without {"done":true} or {"error"}', { charged: false });
  } finally {
    reader.cancel().catch(() => undefined);
  }
}
