/** Shared helpers for the broker tests: fixture URLs, a job runner and an event recorder. */
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventListener, JobCounts, JobEvent, JobEventType } from '../../src/core/events.js';
import type { ItemInput, ItemSpec, JobSpec, Pipeline } from '../../src/core/types.js';
import type { Broker, JobRun } from '../../src/brokers/broker.js';
import type { EmbeddedJobRun, LocalRunOptions } from '../../src/brokers/embedded/job-run.js';
import { resolveProcessorRef } from '../../src/processors/registry.js';
import { EmbeddedBroker, type EmbeddedBrokerOptions } from '../../src/brokers/embedded/broker.js';
import { afterEach } from 'vitest';

const fixtures = fileURLToPath(new URL('../fixtures/processors/', import.meta.url));

/** URL of a fixture processor module (test/fixtures/processors/NAME.mjs). */
export const fixtureUrl = (name: string): string => resolveProcessorRef(`${fixtures}${name}.mjs`);

/**
 * URL of a built-in processor as a thread can import it. Under vitest the registry resolves
 * built-ins next to src/processors/registry.ts (a .js file that does not exist there); threads
 * run from dist/, like the broker's own thread file.
 */
export const builtinUrl = (name: string): string => resolveProcessorRef(name);

/** A pipeline of these module URLs, each stage named after its file. */
export const pipelineOf = (urls: readonly string[]): Pipeline => urls.map((url) => ({ name: basename(url).replace(/\.m?js$/, ''), url }));

/** What `spec()` runs unless told otherwise: a stand-in that a TestPool replaces with its own pipeline. */
export const FIXTURE_PIPELINE: Pipeline = [{ name: 'fixture', url: 'file:///fake.mjs' }];

/**
 * An embedded pool whose jobs run its own pipeline when their spec names the stand-in: a test
 * picks the processors once, when it opens the pool, as it reads best.
 */
export class TestPool extends EmbeddedBroker {
  constructor(
    options: EmbeddedBrokerOptions,
    private readonly pipeline: Pipeline,
  ) {
    super(options);
  }

  override startLocalRun(spec: JobSpec, listener: EventListener, options?: LocalRunOptions): EmbeddedJobRun {
    return super.startLocalRun(spec.pipeline === FIXTURE_PIPELINE ? { ...spec, pipeline: this.pipeline } : spec, listener, options);
  }
}

/**
 * A pool per test, closed after it. `const open = poolPerTest()`, then `open(urls)` in a test
 * gives a fresh 2-thread broker whose jobs run those modules.
 */
export function poolPerTest(): (processorUrls: string[], maxConcurrency?: number, options?: Partial<EmbeddedBrokerOptions>) => TestPool {
  const opened: EmbeddedBroker[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((b) => b.close()));
  });
  /** A 2-thread broker; `options` may change that and the rest. */
  return (processorUrls, maxConcurrency = 16, options = {}) => {
    const broker = new TestPool({ threads: 2, maxConcurrency, ...options }, pipelineOf(processorUrls));
    opened.push(broker);
    return broker;
  };
}

export type EventOf<T extends JobEventType> = Extract<JobEvent, { type: T }>;

/** Collects a job's events with the wall-clock time each array arrived, and waits on conditions. */
export class Recorder {
  readonly events: JobEvent[] = [];
  readonly times: number[] = [];
  readonly batches: number[] = [];
  private waiters: Array<{ check: () => boolean; resolve: () => void }> = [];

  readonly listener = (events: readonly JobEvent[]): void => {
    const now = performance.now();
    this.batches.push(events.length);
    for (const e of events) {
      this.events.push(e);
      this.times.push(now);
    }
    this.waiters = this.waiters.filter((w) => {
      if (!w.check()) return true;
      w.resolve();
      return false;
    });
  };

  of<T extends JobEventType>(type: T): EventOf<T>[] {
    return this.events.filter((e): e is EventOf<T> => e.type === type);
  }

  forItem(index: number): JobEvent[] {
    return this.events.filter((e) => 'index' in e && e.index === index);
  }

  count(type: JobEventType): number {
    let n = 0;
    for (const e of this.events) if (e.type === type) n++;
    return n;
  }

  /** Resolves once `check()` holds (checked on every delivery), or rejects after `timeoutMs`. */
  until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      this.waiters.push({
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }
}

export const spec = (over: Partial<JobSpec> = {}): JobSpec => ({
  jobId: 'job-test',
  pipeline: FIXTURE_PIPELINE,
  params: {},
  concurrency: 8,
  batchSize: 4,
  batchWindowMs: 0,
  retries: 0,
  timeoutMs: 0,
  ...over,
});

export const itemsOf = (inputs: readonly ItemInput[], from = 0): ItemSpec[] =>
  inputs.map((input, k) => ({ id: `item-${from + k + 1}`, index: from + k, input }));

export interface Ran {
  readonly run: JobRun;
  readonly rec: Recorder;
  readonly counts: JobCounts;
  readonly ms: number;
}

/** Starts a job, adds all inputs, ends the input and waits for the job to finish. */
export async function runAll(broker: Broker, inputs: readonly ItemInput[], over: Partial<JobSpec> = {}): Promise<Ran> {
  const rec = new Recorder();
  const t0 = performance.now();
  const run = broker.startJob(spec(over), rec.listener);
  await run.add(itemsOf(inputs));
  run.end();
  const counts = await run.finished;
  return { run, rec, counts, ms: performance.now() - t0 };
}

/** The final event of each item, keyed by index. */
export function outcomes(rec: Recorder): Map<number, EventOf<'item-done'> | EventOf<'item-failed'>> {
  const map = new Map<number, EventOf<'item-done'> | EventOf<'item-failed'>>();
  for (const e of rec.events) {
    if (e.type === 'item-done' || e.type === 'item-failed') {
      if (map.has(e.index)) throw new Error(`item ${e.index} settled twice`);
      map.set(e.index, e);
    }
  }
  return map;
}

/** The joined chunk text of one attempt (and stage) of an item. */
export function chunkText(rec: Recorder, index: number, attempt?: number, stage = 0): string {
  return rec
    .of('chunk')
    .filter((c) => c.index === index && (attempt === undefined || c.attempt === attempt) && (c.stage ?? 0) === stage)
    .map((c) => c.text)
    .join('');
}
