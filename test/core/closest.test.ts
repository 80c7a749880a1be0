import { describe, expect, it } from 'vitest';
import { closestName, editDistance } from '../../src/core/closest.js';

describe('closestName', () => {
  const openai = ['base_url', 'model', 'endpoint', 'max_tokens', 'temperature', 'system', 'timeout_ms', 'max_retries', 'api_key_env'];

  it('counts a swap of neighbours as one edit', () => {
    expect(editDistance('lenght', 'length')).toBe(1);
    expect(editDistance('max_token', 'max_tokens')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('same', 'same')).toBe(0);
  });

  it('names the known param a typo is nearest to', () => {
    expect(closestName('max_token', openai)).toBe('max_tokens');
    expect(closestName('temprature', openai)).toBe('temperature');
    expect(closestName('lenght', ['tokens_per_s', 'first_token_ms', 'length', 'failure_rate', 'seed'])).toBe('length');
    expect(closestName('MODEL', openai)).toBe('model');
  });

  it('names none when nothing is near enough to be a typo', () => {
    expect(closestName('colour', openai)).toBeUndefined();
    expect(closestName('x', ['y', 'zz'])).toBeUndefined();
    expect(closestName('anything', [])).toBeUndefined();
  });
});
