import { describe, expect, it } from 'vitest';
import { IndexSet } from '../../src/core/index-set.js';

describe('IndexSet', () => {
  it('adds once, answers has, and counts', () => {
    const s = new IndexSet();
    expect(s.has(0)).toBe(false);
    expect(s.add(0)).toBe(true);
    expect(s.add(0)).toBe(false);
    expect(s.add(7)).toBe(true);
    expect(s.add(8)).toBe(true);
    expect([0, 1, 6, 7, 8, 9].map((i) => s.has(i))).toEqual([true, false, false, true, true, false]);
    expect(s.size).toBe(3);
  });

  it('grows far past its first 8,192 bits and keeps what it held', () => {
    const s = new IndexSet();
    const picked = [1, 8191, 8192, 65_537, 1_000_003];
    for (const i of picked) s.add(i);
    for (const i of picked) expect(s.has(i)).toBe(true);
    expect(s.has(1_000_002)).toBe(false);
    expect(s.has(5_000_000)).toBe(false);
    expect(s.size).toBe(picked.length);
  });

  it('matches a Set<number> over a random sequence of adds', () => {
    const s = new IndexSet();
    const ref = new Set<number>();
    let x = 12345;
    for (let k = 0; k < 20_000; k++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const i = x % 50_000;
      expect(s.add(i)).toBe(!ref.has(i));
      ref.add(i);
    }
    expect(s.size).toBe(ref.size);
    for (let i = 0; i < 50_000; i++) if (s.has(i) !== ref.has(i)) throw new Error(`differs at ${i}`);
  });

  it('refuses what is not an item index', () => {
    const s = new IndexSet();
    expect(() => s.add(-1)).toThrow(/not an item index/);
    expect(() => s.add(1.5)).toThrow(/not an item index/);
    expect(s.has(-1)).toBe(false);
    expect(s.size).toBe(0);
  });
});
