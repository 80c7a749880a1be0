import { describe, expect, it } from 'vitest';
import { IdTracker } from '../../src/inputs/ids.js';

describe('IdTracker', () => {
  it('position ids never collide with each other', () => {
    const ids = new IdTracker();
    for (let i = 0; i < 100_000; i++) expect(ids.add(i, undefined)).toBeUndefined();
  });

  it('finds a repeated named id', () => {
    const ids = new IdTracker();
    expect(ids.add(0, 'a')).toBeUndefined();
    expect(ids.add(1, 'b')).toBeUndefined();
    expect(ids.add(2, 'a')).toBe(0);
  });

  it('finds a named id equal to an earlier position id', () => {
    const ids = new IdTracker();
    ids.add(0, undefined); // "1"
    ids.add(1, 'x');
    ids.add(2, undefined); // "3"
    expect(ids.add(3, '3')).toBe(2);
    expect(ids.add(4, '1')).toBe(0);
    expect(ids.add(5, '2')).toBeUndefined(); // position 2 was named "x"
  });

  it('finds a position id equal to an earlier named id', () => {
    const ids = new IdTracker();
    ids.add(0, '2');
    expect(ids.add(1, undefined)).toBe(0);
  });

  it('treats non-canonical numbers as plain names', () => {
    const ids = new IdTracker();
    ids.add(0, undefined);
    expect(ids.add(1, '01')).toBeUndefined();
    expect(ids.add(2, '1.0')).toBeUndefined();
    expect(ids.add(3, ' 1')).toBeUndefined();
  });

  it('keeps working past its initial bitmap size', () => {
    const ids = new IdTracker();
    for (let i = 0; i < 20_000; i++) ids.add(i, undefined);
    expect(ids.add(20_000, '19999')).toBe(19_998);
  });
});
