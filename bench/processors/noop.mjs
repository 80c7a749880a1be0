// Bench processor: one short chunk per item and nothing else (same as test/fixtures/processors/noop.mjs).
export default {
  name: 'noop',
  process() {
    return ['ok'];
  },
};
