// Bench processor for pickup latency: its one chunk is how long ago the submitter stamped the
// item (input.t, in ms of process.hrtime, which is CLOCK_MONOTONIC and so the same clock in every
// process and thread of this host), read the moment the processor starts.
export default {
  name: 'pickup',
  process(input) {
    return [String(Number(process.hrtime.bigint()) / 1e6 - input.t)];
  },
};
