// Bench processor: 100 chunks per item, each after a macrotask turn (setImmediate), as when every
// token arrives in its own network read. The thread's outbox can then merge at most one chunk
// per item per tick: the worst case for coalescing.
const tick = () => new Promise((resolve) => setImmediate(resolve));
export default {
  name: 'stream100-tick',
  async *process() {
    for (let i = 0; i < 100; i++) {
      if (i > 0) await tick();
      yield 'tok' + i + ' ';
    }
  },
};
