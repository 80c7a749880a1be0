import { afterEach, describe, expect, it } from 'vitest';
import { SUBMIT_VALUE_FLAGS, discardSpeculativePool, startSpeculativePool, type PoolChoice } from '../../src/app/early-pool.js';
import { adoptPool, type EarlyPool } from '../../src/app/submit-pool.js';
import { submitCommand } from '../../src/cli/submit.js';
import { defaultThreads } from '../../src/brokers/embedded/default-threads.js';
import type { ThreadPools } from '../../src/brokers/embedded/thread-pools.js';

const opened: Array<{ close(): Promise<void> }> = [];
function track<T extends EarlyPool | ThreadPools | null>(pool: T): T {
  if (pool && 'broker' in pool) opened.push(pool.broker);
  else if (pool) opened.push({ close: () => pool.destroy() });
  return pool;
}
afterEach(async () => {
  await discardSpeculativePool();
  await Promise.all(opened.splice(0).map((p) => p.close()));
});

/** Options as the submit command parses them, for the parts the pool depends on. */
const choice = (over: Partial<PoolChoice>): PoolChoice => ({ files: [], prompts: [], processors: [], threads: undefined, concurrency: 16, ...over });

describe('the speculative pool of a submit', () => {
  it('knows every submit option that takes a value, with its short name, and no other', () => {
    const takesValue = submitCommand(() => {})
      .options.filter((o) => o.required || o.optional)
      .map((o) => [o.long!.replace(/^--/, ''), o.short?.replace(/^-/, '')] as const);
    expect(Object.fromEntries(takesValue)).toEqual(SUBMIT_VALUE_FLAGS);
  });

  it('is adopted when the parsed options want the same pool: prompts alone get a thread each', () => {
    const guess = track(startSpeculativePool(['-p', 'a', '--out', 'r.jsonl', '--no-tui', '--prompt=b', '-c', '4']));
    expect(guess?.threads).toBe(Math.min(defaultThreads(), 2));
    const adopted = track(adoptPool(choice({ prompts: ['a', 'b'], concurrency: 4 }), process.cwd()));
    expect(adopted?.broker.pools).toBe(guess);
  });

  it('tells a flag value from an input file, so a file run gets the default pool', () => {
    const guess = track(startSpeculativePool(['prompts.txt', '--out', 'r.jsonl', '-p', 'x']));
    const adopted = track(adoptPool(choice({ files: ['prompts.txt'], prompts: ['x'] }), process.cwd()));
    expect(adopted?.broker.pools).toBe(guess);
  });

  it('is closed and replaced when the guess was wrong', async () => {
    const guess = track(startSpeculativePool(['-p', 'x', '--threads', '3']));
    const adopted = track(adoptPool(choice({ prompts: ['x'], threads: 2 }), process.cwd()));
    expect(adopted?.broker.pools).not.toBe(guess);
    expect(adopted?.broker.threads).toBe(2);
    // a second submit in the same process finds no leftover guess
    const again = track(adoptPool(choice({ prompts: ['x'], threads: 3 }), process.cwd()));
    expect(again?.broker.pools).not.toBe(guess);
  });

  it('is not started for --help, --redis, SLOWWORK_REDIS_URL or a processor that does not resolve', () => {
    expect(startSpeculativePool(['-p', 'x', '--help'])).toBeNull();
    expect(startSpeculativePool(['-h'])).toBeNull();
    expect(startSpeculativePool(['-p', 'x', '--redis', 'redis://127.0.0.1:1'])).toBeNull();
    expect(startSpeculativePool(['-p', 'x'], process.cwd(), { SLOWWORK_REDIS_URL: 'redis://127.0.0.1:1' })).toBeNull();
    expect(startSpeculativePool(['-p', 'x', '--processor', 'no-such-builtin'])).toBeNull();
    process.env.SLOWWORK_THREAD_HEAP_MB = 'lots'; // the broker refuses it: the submit flow says so, not this guess
    try {
      expect(startSpeculativePool(['-p', 'x'])).toBeNull();
    } finally {
      delete process.env.SLOWWORK_THREAD_HEAP_MB;
    }
  });

  it('gives no pool to a Redis run', () => {
    expect(adoptPool(choice({ prompts: ['x'], redis: { url: 'redis://127.0.0.1:1' } }), process.cwd())).toBeNull();
  });
});
