/** Two small containers for the dispatch hot path. */

/** FIFO with O(1) push, shift and unshift; compacts lazily. */
export class Deque<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }
  push(value: T): void {
    this.items.push(value);
  }
  unshift(value: T): void {
    if (this.head > 0) this.items[--this.head] = value;
    else this.items.unshift(value);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const value = this.items[this.head]!;
    this.items[this.head++] = undefined as T;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return value;
  }
  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }
  clear(): T[] {
    const rest = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return rest;
  }
  /** Removes the values `match` picks (O(n): for rare events such as a per-item abort). */
  removeWhere(match: (value: T) => boolean): T[] {
    const rest = this.clear();
    const removed: T[] = [];
    for (const v of rest) (match(v) ? removed : this.items).push(v);
    return removed;
  }
}

/** Binary min-heap ordered by `key`. */
export class MinHeap<T> {
  private readonly heap: T[] = [];
  constructor(private readonly key: (value: T) => number) {}

  get size(): number {
    return this.heap.length;
  }
  peek(): T | undefined {
    return this.heap[0];
  }
  push(value: T): void {
    const h = this.heap;
    h.push(value);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.key(h[parent]!) <= this.key(h[i]!)) break;
      [h[parent], h[i]] = [h[i]!, h[parent]!];
      i = parent;
    }
  }
  pop(): T | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.key(h[l]!) < this.key(h[m]!)) m = l;
        if (r < h.length && this.key(h[r]!) < this.key(h[m]!)) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
  drain(): T[] {
    return this.heap.splice(0);
  }
  /** Removes the values `match` picks (O(n log n): for rare events such as a per-item abort). */
  removeWhere(match: (value: T) => boolean): T[] {
    const all = this.drain();
    const removed: T[] = [];
    for (const v of all) {
      if (match(v)) removed.push(v);
      else this.push(v);
    }
    return removed;
  }
}
