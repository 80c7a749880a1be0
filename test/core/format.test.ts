import { describe, expect, it } from 'vitest';
import stringWidth from 'string-width';
import {
  formatCompact,
  formatCount,
  formatDuration,
  formatEta,
  formatPercent,
  formatRate,
  progressBar,
} from '../../src/core/format.js';

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [850, '850ms'],
    [999.4, '999ms'],
    [999.6, '1.0s'],
    [12_340, '12.3s'],
    [59_940, '59.9s'],
    [59_960, '1m00s'],
    [245_000, '4m05s'],
    [3_599_400, '59m59s'],
    [3_720_000, '1h02m'],
    [-5, '0ms'],
    [Number.NaN, '0ms'],
  ])('%s ms -> %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('rates and counts', () => {
  it.each([
    [0, '0/s'],
    [0.04, '0/s'],
    [0.5, '0.5/s'],
    [12.34, '12.3/s'],
    [99.96, '100/s'],
    [456.4, '456/s'],
    [1234, '1.2k/s'],
    [45_600, '46k/s'],
    [1_200_000, '1.2M/s'],
  ])('formatRate(%s) = %s', (x, text) => {
    expect(formatRate(x)).toBe(text);
  });
  it('formatCompact stays short', () => {
    for (let x = 0.01; x < 1e12; x *= 1.37) expect(formatCompact(x).length).toBeLessThanOrEqual(5);
  });
  it('formatCount is exact below 100k', () => {
    expect(formatCount(812)).toBe('812');
    expect(formatCount(99_999)).toBe('99999');
    expect(formatCount(123_456)).toBe('123k');
    expect(formatCount(-1)).toBe('0');
  });
  it('formatEta and formatPercent', () => {
    expect(formatEta(null)).toBe('?');
    expect(formatEta(5000)).toBe('5.0s');
    expect(formatPercent(0.999)).toBe('99%');
    expect(formatPercent(1)).toBe('100%');
    expect(formatPercent(Number.NaN)).toBe('0%');
  });
});

describe('progressBar', () => {
  it('is exactly the width for any fraction', () => {
    for (const width of [0, 1, 2, 3, 10, 37]) {
      for (const f of [-1, 0, 0.01, 0.33, 0.5, 0.999, 1, 2]) {
        expect(stringWidth(progressBar(f, width))).toBe(width);
        expect(progressBar(f, width, 'ascii').length).toBe(width);
      }
    }
  });
  it('draws blocks with eighths and ascii with brackets', () => {
    expect(progressBar(0.5, 4)).toBe('██  ');
    expect(progressBar(0.55, 4)).toBe('██▏ ');
    expect(progressBar(1, 4)).toBe('████');
    expect(progressBar(0.5, 10, 'ascii')).toBe('[####----]');
  });
});
