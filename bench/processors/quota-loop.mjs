// Bench processor: takes PERMITS permits of the shared quota one after another (ctx.limit with no
// limits: due at once, so each costs only its round trip to the ledger), finishing each (done),
// and answers with the item's wall and CPU time: what a permit costs, and nothing else.
//   --param permits=N (1000), --param key=K ("bench")
export default {
  name: 'quota-loop',
  async *process(_input, ctx) {
    const n = Number(ctx.params.permits ?? 1000);
    const key = ctx.params.key ?? 'bench';
    const t0 = performance.now();
    for (let k = 0; k < n; k++) {
      const permit = await ctx.limit(key);
      permit.done();
    }
    yield String(performance.now() - t0);
  },
};
