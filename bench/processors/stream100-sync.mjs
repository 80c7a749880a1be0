// Bench processor: the same 100 chunks per item as stream100.mjs, but from a synchronous
// iterable (an array): no promise per chunk.
export default {
  name: 'stream100-sync',
  process() {
    const out = new Array(100);
    for (let i = 0; i < 100; i++) out[i] = 'tok' + i + ' ';
    return out;
  },
};
