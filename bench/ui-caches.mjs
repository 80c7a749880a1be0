// Measurement (not part of `make bench`): what the live view leaves in ink's module-level caches
// (measure-text's Map, wrap-text's object: both keep every distinct string, ink issue #986) and
// the heap after a full GC, over many frames.
//   make build && node bench/ui-caches.mjs [frames=3000] [finishedPerFrame=1]
// Renders dist/ui/submit-view.js through ink to a fake TTY the way the TUI reporter does (props
// from a JobState snapshot every 150 ms of fake time, finished lines in keyed batches every
// third frame), and prints the sizes of ink's two caches (exposed by a loader hook) and the
// heap after GC every EVERY frames.
// Env: COLS (120), ROWS (40), CONC (64 streams), DEBUG_MODE=1 (ink's debug mode: unthrottled,
//      synchronous frames), EVERY (1000), DIST (another build, e.g. an old copy of dist/),
//      SNAP=500,2500 (heap snapshots at those frames, into .bench-tmp/), DUMP=1 (print the
//      newest 40 measure-cache keys at the end).
import { register } from 'node:module';
import { EventEmitter } from 'node:events';
import v8 from 'node:v8';
import vm from 'node:vm';

process.env.NODE_ENV ??= 'production';
register('data:text/javascript,' + encodeURIComponent(`
export async function load(url, context, next) {
  const r = await next(url, context);
  if (/ink\\/build\\/(measure-text|wrap-text)\\.js$/.test(url)) {
    const name = url.includes('measure-text') ? 'measure' : 'wrap';
    const src = String(r.source) + '\\n(globalThis.__inkCaches ??= {})[' + JSON.stringify(name) + '] = cache;\\n';
    return { ...r, source: src };
  }
  return r;
}`));
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

const React = await import('react');
const { render } = await import('ink');
const { SubmitView } = await import(process.env.DIST ? process.env.DIST + '/ui/submit-view.js' : '../dist/ui/submit-view.js');
const { JobState } = await import(process.env.DIST ? process.env.DIST + '/core/job-state.js' : '../dist/core/job-state.js');
const { makeBatch } = await import(process.env.DIST ? process.env.DIST + '/ui/tui-reporter.js' : '../dist/ui/tui-reporter.js');

const FRAMES = Number(process.argv[2] ?? 3000);
const FIN_PER_FRAME = Number(process.argv[3] ?? 1);
const CONC = Number(process.env.CONC ?? 64);
const DEBUG = process.env.DEBUG_MODE === '1';

class FakeStdout extends EventEmitter {
  isTTY = true; columns = Number(process.env.COLS ?? 120); rows = Number(process.env.ROWS ?? 40); bytes = 0;
  write = (chunk, a, b) => { this.bytes += String(chunk).length; const cb = typeof a === 'function' ? a : b; if (cb) setImmediate(cb); return true; };
}
class FakeStdin extends EventEmitter {
  isTTY = true; read = () => null; setEncoding() {} setRawMode() {} resume() {} pause() {} ref() {} unref() {}
}
const stdout = new FakeStdout();
const info = { jobId: '7f3a9c2b', processors: ['demo'], broker: 'embedded: 2 threads', concurrency: CONC, outPath: 'x.jsonl', total: 100000, skipped: 0 };
let t = 1_000_000;
const state = new JobState({ total: info.total, startedAt: t });
const words = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore'.split(' ');
let next = 0;
const live = new Map();
const start = (now) => { const i = next++; live.set(i, 0); state.apply([{ type: 'item-start', index: i, id: `item-${i}`, attempt: 1, worker: `thread-${i % 2 + 1}` }], now); };
for (let i = 0; i < CONC; i++) start(t);

const view = (snapshot, finished) => React.createElement(SubmitView, { info, snapshot, phase: 'running', columns: stdout.columns, rows: stdout.rows, finished });
let batchKey = 0;
let finished = { key: 0, lines: [], omitted: 0 };
const inst = render(view(state.snapshot(t), finished), { stdout, stdin: new FakeStdin(), exitOnCtrlC: false, patchConsole: false, maxFps: 1000, debug: DEBUG });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const report = async (frame) => {
  await sleep(5);
  gc(); gc();
  const c = globalThis.__inkCaches ?? {};
  const m = c.measure, w = c.wrap;
  const wKeys = w ? Object.keys(w) : [];
  console.log(JSON.stringify({ frame, finished: next - live.size, heapMB: +(process.memoryUsage().heapUsed / 2 ** 20).toFixed(3), measure: m?.size, wrap: wKeys.length,
    measureChars: m ? [...m.keys()].reduce((s, k) => s + k.length, 0) : null }));
};

for (let f = 0; f <= FRAMES; f++) {
  t += 150;
  const evs = [];
  for (const [i, n] of live) {
    evs.push({ type: 'chunk', index: i, attempt: 1, text: ' ' + words[(i + n) % words.length] + n, n: 1 });
    live.set(i, n + 1);
  }
  state.apply(evs, t);
  for (let k = 0; k < FIN_PER_FRAME; k++) {
    const [i] = live.keys();
    live.delete(i);
    state.apply([{ type: 'item-done', index: i, id: `item-${i}`, attempt: 1, output: `answer ${i}: ${words[i % words.length]} and more`, worker: 'thread-1', durations: { queuedMs: 0, firstChunkMs: 5, totalMs: 1200 + i } }], t);
    start(t);
  }
  const lines = f % 3 === 0 ? state.takeFinished() : [];
  if (lines.length) finished = makeBatch(++batchKey, lines, 200);
  inst.rerender(view(state.snapshot(t), finished));
  if (!DEBUG) await sleep(1);
  if (process.env.SNAP && process.env.SNAP.split(',').map(Number).includes(f)) { await sleep(5); gc(); gc(); const { writeHeapSnapshot } = await import('node:v8'); writeHeapSnapshot(`.bench-tmp/snap-${f}.heapsnapshot`); }
  if (f % Number(process.env.EVERY ?? 1000) === 0 || f === 100) await report(f);
}
inst.unmount();
if (process.env.DUMP) { const ks = [...globalThis.__inkCaches.measure.keys()]; for (const k of ks.slice(-40)) console.log(JSON.stringify(k)); }
