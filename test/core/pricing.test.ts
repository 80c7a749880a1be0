import { describe, expect, it } from 'vitest';
import { costOf, listPrice, priceParamsProblem, pricerFor } from '../../src/core/pricing.js';
import { budgetReached } from '../../src/core/budget.js';
import { formatUsd } from '../../src/core/format.js';
import { TokenTally } from '../../src/core/token-tally.js';

describe('prices', () => {
  it('knows listed models and their dated snapshots, nothing else', () => {
    expect(listPrice('gpt-4o-mini')).toEqual({ input: 0.15, output: 0.6 });
    expect(listPrice('gpt-4o-mini-2024-07-18')).toEqual({ input: 0.15, output: 0.6 });
    expect(listPrice('gpt-4o-2024-08-06')).toEqual({ input: 2.5, output: 10 });
    expect(listPrice('llama-3.1-8b')).toBeNull();
  });

  it("the run's prices win for every model; else the answer's model, else the model asked for", () => {
    expect(pricerFor({ price_in: '1', price_out: '2' })('gpt-4o')).toEqual({ input: 1, output: 2 });
    const byTable = pricerFor({ model: 'gpt-4.1-mini' });
    expect(byTable('gpt-4o')).toEqual({ input: 2.5, output: 10 });
    expect(byTable(undefined)).toEqual({ input: 0.4, output: 1.6 });
    expect(byTable('my-local-model')).toEqual({ input: 0.4, output: 1.6 });
    expect(pricerFor({})('my-local-model')).toBeNull();
  });

  it('refuses half a price or one that is not a number', () => {
    expect(priceParamsProblem({})).toBeUndefined();
    expect(priceParamsProblem({ price_in: '0.15', price_out: '0.6' })).toBeUndefined();
    expect(priceParamsProblem({ price_in: '1' })).toMatch(/needs --param price_out/);
    expect(priceParamsProblem({ price_in: 'cheap', price_out: '1' })).toMatch(/price_in=cheap must be a price/);
    expect(priceParamsProblem({ price_in: '1', price_out: '-2' })).toMatch(/price_out=-2/);
  });

  it('costs tokens per million, and prints small sums readably', () => {
    expect(costOf({ input: 2.5, output: 10 }, 1_000_000, 500_000)).toBeCloseTo(7.5, 10);
    expect([12.345, 0.0123, 0.000008, 0].map(formatUsd)).toEqual(['$12.35', '$0.0123', '$0.0000080', '$0']);
  });
});

describe('cost and budgets over a run', () => {
  const done = (model: string | undefined, prompt: number, completion: number) =>
    ({ type: 'item-done', index: 0, id: '1', attempt: 1, output: '', worker: 't', durations: { queuedMs: 0, firstChunkMs: null, totalMs: 0 }, meta: { usage: { prompt_tokens: prompt, completion_tokens: completion }, ...(model ? { model } : {}) } }) as const;

  it('prices each answer by its model, and counts what it cannot price apart', () => {
    const tally = new TokenTally(pricerFor({}));
    tally.addFrom(done('gpt-4o-mini', 1_000_000, 1_000_000));
    tally.addFrom(done('mystery', 10, 5));
    expect(tally.totals()).toEqual({ prompt: 1_000_010, completion: 1_000_005, estimated: false, costUsd: 0.75, unpriced: 15 });
    expect(new TokenTally().addFrom(done('gpt-4o', 1, 1))).toBe(1);
  });

  it('is reached by tokens or by dollars, whichever comes first', () => {
    expect(budgetReached({ tokens: 100 }, null)).toBeNull();
    expect(budgetReached({ tokens: 100 }, { prompt: 60, completion: 39, estimated: false })).toBeNull();
    expect(budgetReached({ tokens: 100 }, { prompt: 60, completion: 40, estimated: false })).toBe('budget reached: 100 tokens of --budget-tokens 100');
    expect(budgetReached({ usd: 1 }, { prompt: 1, completion: 1, estimated: false })).toBeNull();
    expect(budgetReached({ usd: 1 }, { prompt: 1, completion: 1, estimated: false, costUsd: 1.2 })).toBe('budget reached: $1.20 of --budget $1.00');
  });
});
