import { describe, expect, it } from 'vitest';
import { downsample, sparkline } from '../../src/core/sparkline.js';
import { displayWidth } from '../../src/core/text.js';

const BARS = '▁▂▃▄▅▆▇█';

describe('sparkline', () => {
  it('is exactly `width` columns for any history length', () => {
    for (const width of [0, 1, 2, 7, 30, 60]) {
      for (const n of [0, 1, 5, 30, 100]) {
        const values = Array.from({ length: n }, (_, k) => (k * 37) % 11);
        const line = sparkline(values, width);
        expect(line.length, `width ${width}, ${n} values`).toBe(width);
        expect(displayWidth(line)).toBe(width);
      }
    }
  });

  it('floors a fractional width and gives nothing for zero or negative widths', () => {
    expect(sparkline([1, 2, 3], 2.9)).toHaveLength(2);
    expect(sparkline([1, 2, 3], 0)).toBe('');
    expect(sparkline([1, 2, 3], -4)).toBe('');
  });

  it('is blank (spaces, not a floor of bars) when everything is zero', () => {
    expect(sparkline([0, 0, 0, 0], 4)).toBe('    ');
    expect(sparkline([0, 0], 5)).toBe('     ');
    expect(sparkline([], 3)).toBe('   ');
  });

  it('scales to the largest value shown: it is the full block, each eighth one bar higher', () => {
    expect(sparkline([1, 2, 3, 4, 5, 6, 7, 8], 8)).toBe(BARS);
    expect(sparkline([10, 20, 30, 40, 50, 60, 70, 80], 8)).toBe(BARS);
    // The maximum is always the full block, whatever its size.
    for (const top of [0.001, 1, 3, 1e9]) {
      const line = sparkline([top / 4, top, top / 2], 3);
      expect(line[1]).toBe('█');
      expect(line[0]).toBe('▂');
      expect(line[2]).toBe('▄');
    }
  });

  it('draws zero as the lowest bar when something else is above it', () => {
    expect(sparkline([0, 8, 0], 3)).toBe('▁█▁');
  });

  it('only scales to the values shown (older ones scrolled out do not count)', () => {
    // 100 scrolls out of a width of 2: 4 is now the top.
    expect(sparkline([100, 2, 4], 2)).toBe('▄█');
  });

  it('pads missing history with spaces on the left, newest value on the right', () => {
    expect(sparkline([8], 4)).toBe('   █');
    expect(sparkline([4, 8], 5)).toBe('   ▄█');
  });

  it('keeps the newest `width` values when the history is longer', () => {
    const values = [8, 8, 8, 1, 2, 3, 4, 5, 6, 7, 8];
    expect(sparkline(values, 8)).toBe(BARS);
  });

  it('uses a fixed `max` for the scale and clamps values above it', () => {
    expect(sparkline([4], 1, 8)).toBe('▄');
    expect(sparkline([8, 16], 2, 8)).toBe('██');
    expect(sparkline([1, 1], 2, 8)).toBe('▁▁');
    // max 0: nothing can be drawn.
    expect(sparkline([5, 5], 2, 0)).toBe('  ');
  });

  it('treats negative and non-finite values as the floor', () => {
    expect(sparkline([-5, Number.NaN, Number.POSITIVE_INFINITY, 8], 4)).toBe('▁▁▁█');
  });
});

describe('downsample', () => {
  it('averages groups of `per`, the newest group complete and the oldest possibly short', () => {
    expect(downsample([1, 2, 3, 4, 5, 6, 7], 3)).toEqual([1, 3, 6]);
    expect(downsample([1, 2, 3, 4, 5, 6], 3)).toEqual([2, 5]);
    expect(downsample([2, 4, 6, 8], 2)).toEqual([3, 7]);
    expect(downsample([10, 1, 2], 2)).toEqual([10, 1.5]);
  });

  it('gives ceil(n / per) values', () => {
    for (const n of [0, 1, 2, 59, 60, 61, 179, 180, 181, 300]) {
      for (const per of [1, 2, 3, 5, 7]) {
        const values = Array.from({ length: n }, (_, k) => k);
        expect(downsample(values, per), `n ${n}, per ${per}`).toHaveLength(Math.ceil(n / per));
      }
    }
    // 180 one-second samples in 60 columns.
    expect(downsample(Array.from({ length: 180 }, () => 1), 3)).toHaveLength(60);
  });

  it('keeps the overall mean when the groups are complete', () => {
    const values = Array.from({ length: 60 }, (_, k) => (k * 13) % 17);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const out = downsample(values, 4);
    expect(out.reduce((a, b) => a + b, 0) / out.length).toBeCloseTo(mean, 10);
  });

  it('returns a copy at per 1, and treats per below 1 or fractional as a whole number >= 1', () => {
    const values = [3, 1, 4];
    const out = downsample(values, 1);
    expect(out).toEqual(values);
    expect(out).not.toBe(values);
    expect(downsample(values, 0)).toEqual(values);
    expect(downsample(values, -3)).toEqual(values);
    expect(downsample([1, 3, 5, 7], 2.9)).toEqual([2, 6]);
  });

  it('gives nothing for no values', () => {
    expect(downsample([], 3)).toEqual([]);
  });
});
