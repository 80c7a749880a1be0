/** A pool whose threads cannot even load slowwork's thread module must fail the run, not hang. */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../src/brokers/embedded/broker.js';
import { ThreadPools } from '../../src/brokers/embedded/thread-pools.js';
import { SlowworkError } from '../../src/core/errors.js';
import { fixtureUrl, itemsOf, pipelineOf, spec } from './helpers.js';

let broker: EmbeddedBroker | null = null;
afterEach(async () => {
  await broker?.close();
  broker = null;
});

const BROKEN = { threads: 2, maxConcurrency: 16, threadFile: pathToFileURL(resolve(import.meta.dirname, '../fixtures/broken-thread.mjs')).href };

/** A run of `n` items on `b`: its failure, or null if it succeeded. */
async function failureOf(b: EmbeddedBroker, n: number): Promise<unknown> {
  const run = b.startJob(spec({ pipeline: pipelineOf([fixtureUrl('noop')]), concurrency: 16, retries: 2 }), () => undefined);
  void run.add(itemsOf(Array.from({ length: n }, (_, i) => `p${i}`))).catch(() => undefined);
  run.end();
  // Fails, rather than restarting threads forever (a hang is caught by the test's limit).
  return run.finished.then(
    () => null,
    (e: unknown) => e,
  );
}

describe('embedded broker: threads that cannot start', () => {
  it.each([4, 40])('fails a run of %i items with a clear error instead of hanging', async (n) => {
    broker = new EmbeddedBroker(BROKEN);
    const err = await failureOf(broker, n);
    expect(err).toBeInstanceOf(SlowworkError);
    expect((err as Error).message).toMatch(/worker threads cannot start: .*missing-dependency/);
  });

  it('fails the run too when the threads failed before the broker took them (a submit\'s early pool)', async () => {
    const pools = new ThreadPools(BROKEN);
    await new Promise((resolve) => pools.pool.once('error', resolve));
    broker = new EmbeddedBroker(BROKEN, pools);
    const err = await failureOf(broker, 4);
    expect(err).toBeInstanceOf(SlowworkError);
    expect((err as Error).message).toMatch(/worker threads cannot start: .*missing-dependency/);
  });
});
