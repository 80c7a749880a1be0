/**
 * The live view must not make ink keep anything per frame or per finished item. ink's
 * measureText cache (a module-level Map, text → {width, height}) and wrapText cache keep every
 * distinct string they ever see (issue #986), and ink appends every <Static> line to a string it
 * never trims. A view that hands ink its changing text (header stats every frame, an id per
 * item, a line per finished item) grows the heap for as long as the job runs.
 *
 * Here: thousands of frames with changing stats and thousands of finished lines through the real
 * SubmitView and ink; ink's measure cache (spotted through Map.prototype.set by its values) must
 * not grow, nor the heap after a full GC (which also covers the wrap cache and static output).
 */
import { EventEmitter } from 'node:events';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReactElement } from 'react';
import { render, type Instance } from 'ink';
import type { JobEvent } from '../../src/core/events.js';
import { formatCount } from '../../src/core/format.js';
import { JobState, type JobSnapshot } from '../../src/core/job-state.js';
import { SubmitView, EMPTY_BATCH, type FinishedBatch } from '../../src/ui/submit-view.js';
import { makeBatch } from '../../src/ui/tui-reporter.js';
import { FakeStdin, INFO, stripAnsi } from './helpers.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** A TTY stdout that keeps only a count and two writes (the test must not hold the output). */
class SinkStdout extends EventEmitter {
  isTTY = true;
  /** The last write of the live area (the header says "… done"). */
  lastLive = '';
  /** The last write of finished lines. */
  lastFinished = '';
  count = 0;
  constructor(
    public columns: number,
    public rows: number,
  ) {
    super();
  }
  write = (chunk: string, cb?: (() => void) | string, cb2?: () => void): boolean => {
    const text = String(chunk);
    if (text.includes(' done')) this.lastLive = text;
    if (text.includes('✔ ')) this.lastFinished = text;
    this.count++;
    const done = typeof cb === 'function' ? cb : cb2;
    if (done) setImmediate(done);
    return true;
  };
}

type Dims = { width: number; height: number };
const isDims = (v: unknown): v is Dims =>
  typeof v === 'object' && v !== null && Object.keys(v).length === 2 && 'width' in v && 'height' in v;

/** Maps that get string → {width, height} entries while installed: ink's measureText cache. */
function watchMeasureCaches(): { maps: Set<Map<unknown, unknown>>; size: () => number; restore: () => void } {
  const maps = new Set<Map<unknown, unknown>>();
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const original = Map.prototype.set;
  Map.prototype.set = function <K, V>(this: Map<K, V>, key: K, value: V): Map<K, V> {
    if (typeof key === 'string' && isDims(value)) maps.add(this as Map<unknown, unknown>);
    return original.call(this, key, value) as Map<K, V>;
  };
  return {
    maps,
    size: () => [...maps].reduce((n, m) => n + m.size, 0),
    restore: () => {
      Map.prototype.set = original;
    },
  };
}

const heapAfterGc = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

let instance: Instance | null = null;
let watcher: ReturnType<typeof watchMeasureCaches> | null = null;
afterEach(() => {
  watcher?.restore();
  watcher = null;
  instance?.unmount();
  instance = null;
});

const WORDS = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor'.split(' ');

describe('live view memory', () => {
  it('ink keeps nothing per frame or per finished item (measure cache and heap after GC stay flat)', () => {
    // An unusual width: its placeholder is new to ink's cache, so the watcher sees the cache.
    const columns = 97;
    const rows = 6;
    const IN_FLIGHT = 8;
    const FINISH_PER_FRAME = 24;
    const WARM_UP = 150;
    const FRAMES = 300;
    const stdout = new SinkStdout(columns, rows);
    let t = 1_000_000;
    const TOTAL = 10_000_000;
    const state = new JobState({ total: TOTAL, startedAt: t });
    let next = 0;
    const chunks = new Map<number, number>();
    const start = (events: JobEvent[]): void => {
      const i = next++;
      chunks.set(i, 0);
      events.push({ type: 'item-start', index: i, id: `prompts.jsonl:${i}`, attempt: 1, worker: `thread-${(i % 2) + 1}` });
    };
    const first: JobEvent[] = [];
    for (let i = 0; i < IN_FLIGHT; i++) start(first);
    state.apply(first, t);

    let batchKey = 0;
    let finished: FinishedBatch = EMPTY_BATCH;
    let finishedLines = 0;
    const view = (snapshot: JobSnapshot): ReactElement => (
      <SubmitView info={INFO} snapshot={snapshot} phase="running" columns={columns} rows={rows} finished={finished} />
    );
    watcher = watchMeasureCaches();
    // Debug mode: every rerender is one synchronous, unthrottled frame.
    instance = render(view(state.snapshot(t)), {
      stdout: stdout as unknown as NodeJS.WriteStream,
      stdin: new FakeStdin() as unknown as NodeJS.ReadStream,
      stderr: stdout as unknown as NodeJS.WriteStream,
      debug: true,
      exitOnCtrlC: false,
      patchConsole: false,
    });

    /** `n` refreshes 150 ms apart: every stream grows, FINISH_PER_FRAME items finish (and as many start). */
    const frames = (n: number): void => {
      for (let f = 0; f < n; f++) {
        t += 150;
        const events: JobEvent[] = [];
        for (const [i, c] of chunks) {
          events.push({ type: 'chunk', index: i, attempt: 1, text: ` ${WORDS[(i + c) % WORDS.length]}${c}`, n: 1 });
          chunks.set(i, c + 1);
        }
        for (let k = 0; k < FINISH_PER_FRAME; k++) {
          const i = chunks.keys().next().value!;
          chunks.delete(i);
          events.push({
            type: 'item-done',
            index: i,
            id: `prompts.jsonl:${i}`,
            attempt: 1,
            output: `answer ${i}: ${WORDS.join(' ')}`,
            worker: 'thread-1',
            durations: { queuedMs: 0, firstChunkMs: 5, totalMs: 1000 + i },
          });
          start(events);
        }
        state.apply(events, t);
        const lines = state.takeFinished();
        finishedLines += lines.length;
        finished = makeBatch(++batchKey, lines, 200);
        instance!.rerender(view(state.snapshot(t)));
      }
    };

    frames(WARM_UP); // JIT, React and ink settle
    const measure0 = watcher.size();
    const heap0 = heapAfterGc();
    const finished0 = finishedLines;
    const writes0 = stdout.count;
    frames(FRAMES);
    const measure1 = watcher.size();
    const heap1 = heapAfterGc();
    if (process.env.MEM_DEBUG) console.log({ measure: measure1 - measure0, heapMB: (heap1 - heap0) / 2 ** 20 });

    // The view really ran: frames were written, items finished and were printed.
    expect(finishedLines - finished0).toBe(FRAMES * FINISH_PER_FRAME);
    expect(stdout.count - writes0).toBeGreaterThanOrEqual(FRAMES);
    expect(stripAnsi(stdout.lastLive)).toContain(`${formatCount(finishedLines)}/${formatCount(TOTAL)} done`);
    expect(stripAnsi(stdout.lastFinished)).toContain(`✔ prompts.jsonl:${next - IN_FLIGHT - 1} `);
    // The watcher saw ink's measure cache (the placeholder of the new width went in).
    expect(watcher.maps.size).toBeGreaterThan(0);
    // 300 frames and 7,200 finished items: a placeholder or two at most, not an entry per frame
    // and per item (the view that laid out its text added ~13,700 entries over 500 frames).
    expect(measure1 - measure0).toBeLessThan(20);
    // The heap after GC: flat within noise (JIT code, under 1 MB); the view that laid out its
    // text (and printed through <Static>) grew it by ~6 MB over 500 frames (~3.6 MB over these 300).
    expect((heap1 - heap0) / 2 ** 20).toBeLessThan(2);
    // CPU-bound (450 synchronous ink frames, nothing awaited): its time grows with the machine's
    // load (20 s at load 11 on two cores; 750 frames took 42 s at load 19), so it gets a budget for that.
  }, 90_000);
});
