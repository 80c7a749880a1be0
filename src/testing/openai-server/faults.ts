/**
 * Faults, chosen per request by directives in the prompt text and per server by options, so one
 * test can mix clean answers and broken ones. Pure: the server applies what these decide.
 *
 * Directives (anywhere in the prompt or in any message; several may be combined):
 * - `[[fault:reset@N]]`  the socket is destroyed after N answer tokens (no finish, no [DONE]);
 *                        without stream, after the time N tokens take, before any body.
 * - `[[fault:error@N]]`  after N tokens, an error event `data: {"error":{...server_error}}` as
 *                        OpenAI sends mid-stream, then the stream ends (no [DONE]); without
 *                        stream, a 500 after the time N tokens take.
 * - `[[fault:500]]`, `[[fault:503]]`  that status with OpenAI's error body, instead of an answer.
 * - `[[fault:hang]]`     the status and headers are sent, then nothing more, ever.
 * - `[[fault:no-usage]]` no usage: no usage chunk even when asked, no `usage` without stream.
 * The text of a directive still counts in the prompt tokens (it is part of the prompt).
 *
 * Server options: `failEvery: N` answers every Nth generation request 503; `resetFraction: f`
 * resets that fraction of answers halfway through, drawn from a generator seeded by `seed`
 * (the same sequence of decisions on every run).
 */
import { seededRandom } from '../../core/random.js';

export type FaultKind = 'reset' | 'error' | '500' | '503' | 'hang' | 'no-usage';

export const FAULT_KINDS: readonly FaultKind[] = ['reset', 'error', '500', '503', 'hang', 'no-usage'];

export interface Faults {
  /** Destroy the socket after this many tokens. */
  readonly resetAfter?: number;
  /** Send an error event after this many tokens. */
  readonly errorAfter?: number;
  /** Answer this status with an error body instead. */
  readonly status?: 500 | 503;
  readonly hang?: boolean;
  readonly noUsage?: boolean;
}

const DIRECTIVE = /\[\[fault:(reset|error)@(\d+)\]\]|\[\[fault:(500|503|hang|no-usage)\]\]/g;

/** The faults a prompt's directives ask for (the last of a kind wins). */
export function parseDirectives(text: string): Faults {
  if (!text.includes('[[fault:')) return {};
  let faults: Faults = {};
  for (const m of text.matchAll(DIRECTIVE)) {
    if (m[1] === 'reset') faults = { ...faults, resetAfter: Number(m[2]) };
    else if (m[1] === 'error') faults = { ...faults, errorAfter: Number(m[2]) };
    else if (m[3] === '500' || m[3] === '503') faults = { ...faults, status: Number(m[3]) as 500 | 503 };
    else if (m[3] === 'hang') faults = { ...faults, hang: true };
    else if (m[3] === 'no-usage') faults = { ...faults, noUsage: true };
  }
  return faults;
}

/** The prompt without its directives, so they do not show in the answer's words. */
export function stripDirectives(text: string): string {
  return text.includes('[[fault:') ? text.replace(DIRECTIVE, ' ') : text;
}

/** The kinds a set of faults will show, for the server's counts. */
export function faultKinds(faults: Faults): FaultKind[] {
  const kinds: FaultKind[] = [];
  if (faults.status !== undefined) kinds.push(String(faults.status) as '500' | '503');
  if (faults.hang) kinds.push('hang');
  if (faults.resetAfter !== undefined) kinds.push('reset');
  if (faults.errorAfter !== undefined) kinds.push('error');
  if (faults.noUsage) kinds.push('no-usage');
  return kinds;
}

export interface ServerFaultOptions {
  /** Every Nth generation request is answered 503 (0: never). */
  readonly failEvery?: number;
  /** The fraction of answers reset halfway through, in [0, 1]. */
  readonly resetFraction?: number;
  readonly seed?: number;
}

/** Decides, request by request in arrival order, the faults the server options add. */
export class ServerFaults {
  private count = 0;
  private readonly random: () => number;

  constructor(private readonly options: ServerFaultOptions) {
    this.random = seededRandom(options.seed ?? 1);
  }

  /** The faults for the next request whose answer has `tokens` tokens, merged over its directives. */
  next(tokens: number, directives: Faults): Faults {
    this.count++;
    const fraction = this.options.resetFraction ?? 0;
    // Drawn for every request, so neither directives nor 503s shift the other requests' draws.
    const draw = fraction > 0 ? this.random() : 1;
    const every = this.options.failEvery ?? 0;
    if (every > 0 && this.count % every === 0 && directives.status === undefined) return { ...directives, status: 503 };
    if (draw < fraction && directives.resetAfter === undefined) return { ...directives, resetAfter: Math.floor(tokens / 2) };
    return directives;
  }
}
