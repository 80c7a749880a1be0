/**
 * A pool ended while its threads still load modules: Node 20 can abort the whole process when a
 * thread is terminated mid-load (a V8 fatal error), so close() lets them finish loading first.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../src/brokers/embedded/broker.js';
import { resolveProcessorRef } from '../../src/processors/registry.js';

const SLOW = resolveProcessorRef(fileURLToPath(new URL('../fixtures/processors/slow-to-load.mjs', import.meta.url)));
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  delete process.env.SLOWWORK_TEST_LOADED;
});

describe('closing a pool whose threads are loading', () => {
  it('waits until each thread has loaded its modules before ending it', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sw-loading-'));
    dirs.push(dir);
    const marker = path.join(dir, 'loaded');
    process.env.SLOWWORK_TEST_LOADED = marker; // threads inherit the environment when they start
    const broker = new EmbeddedBroker({ threads: 2, maxConcurrency: 4, preload: [SLOW] });
    await broker.close(); // at once: both threads are still in the module's 300 ms of loading
    expect(existsSync(marker)).toBe(true);
    expect(readFileSync(marker, 'utf8').trim().split('\n')).toHaveLength(2);
  });
});
