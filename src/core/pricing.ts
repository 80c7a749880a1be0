/**
 * What tokens cost: a small dated table of well-known models' list prices, and the run's own
 * prices (`--param price_in=… price_out=…`, $ per 1M tokens), which win over the table for every
 * model. Pure: the app builds a Pricer once per run and the tallies ask it per answer.
 */
import type { Params } from './types.js';

/** $ per 1M tokens. */
export interface Price {
  readonly input: number;
  readonly output: number;
}

/** When the table below was last checked against OpenAI's pricing page. */
export const PRICES_CHECKED = '2026-06';

/** Standard (not batch, not cached) list prices, $ per 1M tokens. */
const LIST_PRICES: Readonly<Record<string, Price>> = {
  'gpt-5': { input: 1.25, output: 10 },
  'gpt-5.1': { input: 1.25, output: 10 },
  'gpt-5-mini': { input: 0.25, output: 2 },
  'gpt-5-nano': { input: 0.05, output: 0.4 },
  'gpt-4.1': { input: 2, output: 8 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4 },
  'gpt-4o': { input: 2.5, output: 10 },
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
  o3: { input: 2, output: 8 },
  'o3-mini': { input: 1.1, output: 4.4 },
  'o4-mini': { input: 1.1, output: 4.4 },
};

/** The params that set the run's prices; every processor takes them (processors/params.ts). */
export const PRICE_PARAMS = ['price_in', 'price_out'] as const;

/** A model's price, or null when neither the run nor the table knows it. */
export type Pricer = (model: string | undefined) => Price | null;

/** `gpt-4o-2024-08-06` is priced as `gpt-4o`: a dated snapshot of a listed model. */
const undated = (model: string): string => model.replace(/-\d{4}-\d{2}-\d{2}$/, '');

export const knownModels = (): string[] => Object.keys(LIST_PRICES);

export function listPrice(model: string): Price | null {
  return LIST_PRICES[model] ?? LIST_PRICES[undated(model)] ?? null;
}

/** What is wrong with the run's price params, or undefined (both or neither; numbers ≥ 0). */
export function priceParamsProblem(params: Params): string | undefined {
  const given = PRICE_PARAMS.filter((k) => params[k] !== undefined);
  if (given.length === 1) return `--param ${given[0]} needs --param ${given[0] === 'price_in' ? 'price_out' : 'price_in'} too ($ per 1M tokens)`;
  for (const k of given) {
    const n = Number(params[k]);
    if (params[k]!.trim() === '' || !Number.isFinite(n) || n < 0) return `--param ${k}=${params[k]} must be a price in $ per 1M tokens, e.g. 0.15`;
  }
  return undefined;
}

/**
 * The run's pricer: its own prices for every model when given, else the table, by the model the
 * answer names or, when it names none, the `model` param the run asked for.
 */
export function pricerFor(params: Params): Pricer {
  if (params.price_in !== undefined && params.price_out !== undefined) {
    const own: Price = { input: Number(params.price_in), output: Number(params.price_out) };
    return () => own;
  }
  const asked = params.model;
  return (model) => (model === undefined ? null : listPrice(model)) ?? (asked === undefined ? null : listPrice(asked));
}

/** $ for these tokens at this price. */
export const costOf = (price: Price, prompt: number, completion: number): number => (prompt * price.input + completion * price.output) / 1e6;
