// The hand-written checks that replaced zod on the submit path: a processor's `params` export and
// numeric flag values, each refused in one line that says where.
import { describe, expect, test } from 'vitest';
import { declarationProblem } from '../../src/processors/params.js';
import { parseIntFlag } from '../../src/cli/options.js';

describe('declarationProblem', () => {
  test('a declaration passes', () => {
    expect(declarationProblem({ n: { description: 'how many', type: 'integer', default: 3, required: false }, s: { description: 'text' } })).toBeUndefined();
    expect(declarationProblem({})).toBeUndefined();
  });
  test.each([
    [null, 'params: must be an object'],
    [['x'], 'params: must be an object'],
    [{ n: 3 }, 'params.n: must be { description'],
    [{ n: { type: 'integer' } }, 'params.n.description: needs a description'],
    [{ n: { description: 'x', type: 'float' } }, 'params.n.type: must be one of string, number, integer, boolean'],
    [{ n: { description: 'x', default: {} } }, 'params.n.default: must be a string, a number or a boolean'],
    [{ n: { description: 'x', default: Number.NaN } }, 'params.n.default: must be'],
    [{ n: { description: 'x', required: 'yes' } }, 'params.n.required: must be true or false'],
    [{ 'bad key': { description: 'x' } }, 'params: "bad key" is not a param name'],
  ])('%j is refused: %s', (value, message) => {
    expect(declarationProblem(value)).toMatch(new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });
});

describe('parseIntFlag', () => {
  test('whole numbers within bounds', () => {
    expect(parseIntFlag('--n', '16', 1, 100)).toBe(16);
    expect(parseIntFlag('--n', ' 7 ', 1, 100)).toBe(7);
    expect(parseIntFlag('--n', undefined, 1, 100)).toBeUndefined();
  });
  test.each([
    ['', '--n needs a number'],
    ['abc', '--n must be a whole number (got "abc")'],
    ['1.5', '--n must be a whole number (got "1.5")'],
    ['Infinity', '--n must be a whole number (got "Infinity")'],
    ['0', '--n must be at least 1 (got "0")'],
    ['101', '--n must be at most 100 (got "101")'],
  ])('%j is refused', (value, message) => {
    expect(() => parseIntFlag('--n', value, 1, 100)).toThrow(message);
  });
});
