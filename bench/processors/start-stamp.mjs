// Bench processor for cold start: the first item this thread starts appends the time to the file
// named by SLOWWORK_BENCH_STAMP (ms of process.hrtime, CLOCK_MONOTONIC: the clock the benchmark
// reads before it spawns slowwork, shared by every process of the host). One stamp per thread,
// so a 1000-item run writes a handful; the benchmark takes the earliest.
import { appendFileSync } from 'node:fs';

let stamped = false;

export default {
  name: 'start-stamp',
  process() {
    if (!stamped && process.env.SLOWWORK_BENCH_STAMP) {
      stamped = true;
      appendFileSync(process.env.SLOWWORK_BENCH_STAMP, `${Number(process.hrtime.bigint()) / 1e6}\n`);
    }
    return ['ok'];
  },
};
