// Bench processor for bench/serve-overhead.mjs: like `demo` with tokens_per_s=0, it waits
// `first_token_ms` (the same --param) and then streams, but its first chunk says when it started
// and when it yielded that chunk (`<start>/<first> `, ms of process.hrtime: CLOCK_MONOTONIC, the
// same clock in every process and thread of this host). So the client can take the processor's
// own first-token latency (timer lateness included) out of its time to first text exactly, and
// split the rest into request -> processor start and first chunk -> client.
import { setTimeout as sleep } from 'node:timers/promises';

const now = () => Number(process.hrtime.bigint()) / 1e6;

export default {
  name: 'serve-stamp',
  async *process(input, ctx) {
    const start = now();
    const wait = Number(ctx.params.first_token_ms || 0);
    if (wait > 0) await sleep(wait, undefined, { signal: ctx.signal });
    yield `${start.toFixed(4)}/${now().toFixed(4)} `;
    yield 'done.';
  },
};
