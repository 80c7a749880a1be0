import { describe, expect, it } from 'vitest';
import { Deque, MinHeap } from '../../src/core/queues.js';

describe('Deque', () => {
  it('is FIFO with push/shift and reports its length', () => {
    const d = new Deque<number>();
    expect(d.length).toBe(0);
    expect(d.shift()).toBeUndefined();
    expect(d.peek()).toBeUndefined();
    d.push(1);
    d.push(2);
    d.push(3);
    expect(d.length).toBe(3);
    expect(d.peek()).toBe(1);
    expect(d.shift()).toBe(1);
    expect(d.shift()).toBe(2);
    expect(d.length).toBe(1);
    expect(d.shift()).toBe(3);
    expect(d.shift()).toBeUndefined();
    expect(d.length).toBe(0);
  });

  it('unshift puts an item at the front, both before and after shifts', () => {
    const d = new Deque<string>();
    d.unshift('b');
    d.unshift('a');
    d.push('c');
    expect(d.shift()).toBe('a');
    d.unshift('z'); // reuses the freed head slot
    expect(d.length).toBe(3);
    expect([d.shift(), d.shift(), d.shift()]).toEqual(['z', 'b', 'c']);
    expect(d.length).toBe(0);
  });

  it('clear returns what was left, in order, and empties it', () => {
    const d = new Deque<number>();
    for (let k = 0; k < 5; k++) d.push(k);
    d.shift();
    d.shift();
    expect(d.clear()).toEqual([2, 3, 4]);
    expect(d.length).toBe(0);
    d.push(9);
    expect(d.shift()).toBe(9);
  });

  it('matches an array model through long random mixes of operations (compaction included)', () => {
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const d = new Deque<number>();
    const model: number[] = [];
    let next = 0;
    for (let step = 0; step < 10_000; step++) {
      const r = random();
      if (r < 0.5) {
        d.push(next);
        model.push(next++);
      } else if (r < 0.6) {
        d.unshift(next);
        model.unshift(next++);
      } else {
        expect(d.shift()).toBe(model.shift());
      }
      expect(d.length).toBe(model.length);
      expect(d.peek()).toBe(model[0]);
    }
    expect(d.clear()).toEqual(model);
  });

  it('compacts: a long-lived queue that is pushed and drained stays correct past the compaction threshold', () => {
    const d = new Deque<number>();
    for (let k = 0; k < 5000; k++) d.push(k);
    for (let k = 0; k < 4000; k++) expect(d.shift()).toBe(k);
    d.unshift(-1);
    expect(d.length).toBe(1001);
    expect(d.shift()).toBe(-1);
    for (let k = 4000; k < 5000; k++) expect(d.shift()).toBe(k);
    expect(d.length).toBe(0);
  });
});

describe('MinHeap', () => {
  it('pops in key order', () => {
    const h = new MinHeap<{ k: number }>((v) => v.k);
    expect(h.pop()).toBeUndefined();
    expect(h.peek()).toBeUndefined();
    for (const k of [5, 1, 4, 1, 9, 2, 6, 5, 3]) h.push({ k });
    expect(h.size).toBe(9);
    expect(h.peek()!.k).toBe(1);
    const out: number[] = [];
    while (h.size > 0) out.push(h.pop()!.k);
    expect(out).toEqual([1, 1, 2, 3, 4, 5, 5, 6, 9]);
  });

  it('sorts random keys with interleaved push and pop like a sorted model', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const h = new MinHeap<number>((v) => v);
    const model: number[] = [];
    for (let step = 0; step < 4000; step++) {
      if (random() < 0.6) {
        const v = Math.floor(random() * 1000);
        h.push(v);
        model.push(v);
        model.sort((a, b) => a - b);
      } else {
        expect(h.pop()).toBe(model.shift());
      }
      expect(h.size).toBe(model.length);
      expect(h.peek()).toBe(model[0]);
    }
  });

  it('drain returns everything and empties it', () => {
    const h = new MinHeap<number>((v) => v);
    for (const v of [3, 1, 2]) h.push(v);
    expect(h.drain().sort()).toEqual([1, 2, 3]);
    expect(h.size).toBe(0);
    expect(h.pop()).toBeUndefined();
  });
});
