// Preloaded into the slowwork process by the UI benchmark:
//   NODE_OPTIONS="--import=/abs/bench/heap-probe.mjs" SLOWWORK_HEAP_PROBE=/abs/file.jsonl
// On the main thread only, appends {t, heapUsed, heapTotal, rss, external} every
// SLOWWORK_HEAP_PROBE_MS (5000) ms: t is epoch ms, to line up with the sampler's clock. The timer
// is unref'd, so it never keeps the process alive. It also appends {t, gc: 'major', heapUsed, ...}
// right after each major (mark-compact) GC, seen through a PerformanceObserver: the live heap,
// without forcing a GC. With SLOWWORK_HEAP_PROBE_GC=1 a full GC runs
// before each sample (post-GC heap; costs CPU, so the CPU figures are not taken in that mode).
import { appendFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

const file = process.env.SLOWWORK_HEAP_PROBE;
if (isMainThread && file) {
  let gc = null;
  if (process.env.SLOWWORK_HEAP_PROBE_GC === '1') {
    const v8 = await import('node:v8');
    const vm = await import('node:vm');
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc');
  }
  const sample = () => {
    if (gc) gc();
    const m = process.memoryUsage();
    const row = { t: Date.now(), heapUsed: m.heapUsed, heapTotal: m.heapTotal, rss: m.rss, external: m.external };
    try {
      appendFileSync(file, JSON.stringify(row) + '\n');
    } catch {
      // the benchmark's directory went away: stay silent, never disturb the process
    }
  };
  const { PerformanceObserver, constants } = await import('node:perf_hooks');
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.detail?.kind !== constants.NODE_PERFORMANCE_GC_MAJOR) continue;
      const m = process.memoryUsage();
      try {
        appendFileSync(file, JSON.stringify({ t: Date.now(), gc: 'major', gcMs: +e.duration.toFixed(2), heapUsed: m.heapUsed, heapTotal: m.heapTotal, rss: m.rss, external: m.external }) + '\n');
      } catch {
        // as above
      }
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  sample();
  setInterval(sample, Number(process.env.SLOWWORK_HEAP_PROBE_MS || 5000)).unref();
}
