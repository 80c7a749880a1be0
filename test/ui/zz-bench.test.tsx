import { it } from 'vitest';
import { createTuiReporter } from '../../src/ui/tui-reporter.js';
import { FakeStdin, FakeStdout, INFO, ev } from './helpers.js';
it('bench', async () => {
  const stdout = new FakeStdout(120, 40);
  let bytes = 0;
  stdout.write = ((c: string, cb?: any) => { bytes += c.length; if (typeof cb === 'function') setImmediate(cb); return true; }) as any;
  const r = createTuiReporter({ stdout: stdout as any, stdin: new FakeStdin() as any, onInterrupt: () => {} });
  r.start({ ...INFO, total: 100000 });
  let next = 0;
  const live: number[] = [];
  const evs: any[] = [];
  for (let i = 0; i < 64; i++) { live.push(next); evs.push(ev.start(next, `item-${next}`)); next++; }
  r.onEvents(evs);
  const cpu0 = process.cpuUsage(); const t0 = Date.now(); const mem0 = process.memoryUsage().heapUsed;
  let ticks = 0;
  await new Promise<void>((resolve) => {
    const h = setInterval(() => {
      // every 20 ms: each of 64 streams gets one chunk (50 chunks/s each)
      const batch: any[] = [];
      for (let k = 0; k < 64; k++) batch.push(ev.chunk(live[k]!, `tok${ticks} `));
      ticks++;
      if (ticks % 10 === 0) { // finish and replace 4 items every 200 ms
        for (let j = 0; j < 4; j++) { const k = (ticks + j * 16) % 64; batch.push(ev.done(live[k]!, 'output text here')); live[k] = next; batch.push(ev.start(next, `item-${next}`)); next++; }
      }
      r.onEvents(batch);
      if (Date.now() - t0 > 8000) { clearInterval(h); resolve(); }
    }, 20);
  });
  const cpu = process.cpuUsage(cpu0); const wall = Date.now() - t0;
  (globalThis as any).gc?.();
  console.log(`cpu ${(((cpu.user + cpu.system) / 1000) / wall * 100).toFixed(1)}% of one core over ${wall} ms, ${bytes} bytes written, heap delta ${((process.memoryUsage().heapUsed - mem0)/1e6).toFixed(1)} MB, finished ${next-64}`);
  await r.finish({ counts: { total: 1, done: 1, failed: 0, unfinished: 0 }, elapsedMs: 1, outPath: 'x', resumeCommand: null, interrupted: false });
}, 60000);
