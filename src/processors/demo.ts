/**
 * `demo`: a slow, seeded text generator that behaves like an LLM stream. Every knob is a
 * `--param`, and the text depends only on the seed and the input, so tests can assert it.
 *
 *   tokens_per_s    pace of tokens after the first one (default 20; 0 = no delay)
 *   first_token_ms  latency before the first token (default 300)
 *   length          tokens per answer: N or MIN-MAX (default 12-40)
 *   failure_rate    chance that an attempt fails mid-stream, 0..1 (default 0)
 *   seed            (default 1)
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ItemInput, Params } from '../core/types.js';
import type { ParamDeclaration, ProcessContext, Processor } from './contract.js';
import { seededRandom } from '../core/random.js';

export interface DemoSettings {
  readonly tokensPerS: number;
  readonly firstTokenMs: number;
  readonly minLength: number;
  readonly maxLength: number;
  readonly failureRate: number;
  readonly seed: number;
}

const WORDS = (
  'the a slow worker streams text while many prompts wait their turn and each answer grows ' +
  'token by token across threads queues batches results model output signal chunk pipeline ' +
  'steady patient careful quick bright quiet river mountain garden window morning evening ' +
  'because although meanwhile therefore indeed perhaps surely'
).split(' ');

function num(params: Params, key: string, fallback: number, min: number, max: number): number {
  const raw = params[key];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new Error(`--param ${key}=${raw} must be a number from ${min} to ${max}`);
  }
  return n;
}

export function demoSettings(params: Params): DemoSettings {
  const len = params.length ?? '12-40';
  const m = /^(\d+)(?:-(\d+))?$/.exec(len.trim());
  if (!m) throw new Error(`--param length=${len} must be N or MIN-MAX`);
  const minLength = Number(m[1]);
  const maxLength = m[2] === undefined ? minLength : Number(m[2]);
  if (minLength < 1 || maxLength < minLength) throw new Error(`--param length=${len} must be at least 1, MIN <= MAX`);
  return {
    tokensPerS: num(params, 'tokens_per_s', 20, 0, 1e6),
    firstTokenMs: num(params, 'first_token_ms', 300, 0, 3_600_000),
    minLength,
    maxLength,
    failureRate: num(params, 'failure_rate', 0, 0, 1),
    seed: num(params, 'seed', 1, -2_147_483_648, 4_294_967_295),
  };
}

/** FNV-1a, 32 bits. */
function hash(text: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

const inputKey = (input: ItemInput): string => (typeof input === 'string' ? input : JSON.stringify(input));

/**
 * The tokens the demo streams for an input, made one at a time (a `length` of millions must not
 * hold them all): deterministic in (seed, input). `count` is known before the first token.
 */
export function demoTokenStream(input: ItemInput, settings: DemoSettings): { readonly count: number; readonly tokens: Iterable<string> } {
  const next = seededRandom(hash(inputKey(input), settings.seed));
  const n = settings.minLength + Math.floor(next() * (settings.maxLength - settings.minLength + 1));
  function* tokens(): Generator<string> {
    let capital = true;
    for (let i = 0; i < n; i++) {
      let w = WORDS[Math.floor(next() * WORDS.length)] ?? 'token';
      if (capital) w = w[0]!.toUpperCase() + w.slice(1);
      capital = false;
      const last = i === n - 1;
      if (last || next() < 0.1) {
        w += '.';
        capital = true;
      } else if (next() < 0.08) w += ',';
      yield last ? w : w + ' ';
    }
  }
  return { count: n, tokens: tokens() };
}

/** All the tokens the demo streams for an input (tests compare against them). */
export const demoTokens = (input: ItemInput, settings: DemoSettings): string[] => [...demoTokenStream(input, settings).tokens];

/** Whether attempt `attempt` fails, and after how many tokens: also deterministic. */
export function demoFailurePoint(input: ItemInput, attempt: number, settings: DemoSettings, length: number): number | null {
  if (settings.failureRate <= 0) return null;
  const next = seededRandom(hash(`${inputKey(input)}#${attempt}`, settings.seed));
  if (next() >= settings.failureRate) return null;
  return Math.floor(next() * length);
}

async function* generate(input: ItemInput, ctx: ProcessContext): AsyncGenerator<string> {
  const settings = demoSettings(ctx.params);
  const { count, tokens } = demoTokenStream(input, settings);
  const failAt = demoFailurePoint(input, ctx.attempt, settings, count);
  const gapMs = settings.tokensPerS > 0 ? 1000 / settings.tokensPerS : 0;
  if (settings.firstTokenMs > 0) await sleep(settings.firstTokenMs, undefined, { signal: ctx.signal });
  let i = 0;
  for (const token of tokens) {
    if (i === failAt) throw new Error(`demo: simulated failure after ${i} tokens (failure_rate=${settings.failureRate})`);
    if (i > 0 && gapMs > 0) await sleep(gapMs, undefined, { signal: ctx.signal });
    i++;
    yield token;
  }
}

export const DEMO_PARAMS: ParamDeclaration = {
  tokens_per_s: { type: 'number', default: 20, description: 'pace of tokens after the first one (0 = no delay)' },
  first_token_ms: { type: 'number', default: 300, description: 'latency before the first token' },
  length: { default: '12-40', description: 'tokens per answer: N or MIN-MAX' },
  failure_rate: { type: 'number', default: 0, description: 'chance that an attempt fails mid-stream, 0..1' },
  seed: { type: 'number', default: 1, description: 'seed of the text and of the failures' },
};

const demo: Processor = {
  name: 'demo',
  params: DEMO_PARAMS,
  // Messages name no processor: the caller does (`processor demo: --param …`).
  validate(params) {
    demoSettings(params);
  },
  process: (input, ctx) => generate(input, ctx),
};

export default demo;
