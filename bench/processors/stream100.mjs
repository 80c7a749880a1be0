// Bench processor: streams 100 short chunks per item ('tok0 ', 'tok1 ', ...), like the piscina
// anchor's streaming task. An async generator, as a real processor is written.
export default {
  name: 'stream100',
  async *process() {
    for (let i = 0; i < 100; i++) yield 'tok' + i + ' ';
  },
};
