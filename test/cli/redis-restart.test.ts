/**
 * Redis going away mid-run (AOF on, so it comes back with its data): the workers and the
 * submitter wait, reconnect, and the job completes with every item recorded exactly once.
 */
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { expectAllDoneOnce, freshQueue, itemViews, jsonEvents, paramArgs, processes, writePrompts } from '../fixtures/redis-workers.js';
import { redisPerFile } from '../redis/server.js';
import { demoOutput, fileLines, tempDirsPerFile, waitFor } from './run.js';

const redis = redisPerFile({ aof: true });
const newDir = tempDirsPerFile();

/** About 0.3 s per item. */
const PARAMS = { first_token_ms: '100', tokens_per_s: '40', length: '4-12' };
const N = 400;

describe('slowwork with Redis restarted mid-job (AOF on)', () => {
  test('restart(1000) while items stream: workers and submit reconnect, every item done exactly once, exact answers', { timeout: 60_000 }, async ({ onTestFinished }) => {
    const procs = processes(onTestFinished);
    const cwd = await newDir();
    const queue = freshQueue('restart');
    const prompts = Array.from({ length: N }, (_, k) => `restart prompt ${k + 1}`);
    writePrompts(cwd, 'prompts.txt', prompts);
    const url = redis().url;
    const workers = await Promise.all([0, 1].map(() => procs.worker(url, queue, cwd, ['-n', '20', '--threads', '1', '--heartbeat', '200'])));
    const out = path.join(cwd, 'out.jsonl');
    const sub = procs.submit(['submit', 'prompts.txt', '--redis', url, '--queue', queue, ...paramArgs(PARAMS), '--json', '--out', 'out.jsonl'], cwd, 50_000);

    await waitFor(() => fileLines(out).lines.length >= 60, '60 results before the restart', 20_000);
    const before = fileLines(out).lines.length;
    await redis().restart(1000);
    const after = fileLines(out).lines.length;
    // It happened mid-job: much was left to do.
    expect(after).toBeLessThan(N / 2);

    const res = await sub.exited;
    expect(res.code, `stdout tail:\n${res.stdout.slice(-3000)}\nstderr:\n${res.stderr}`).toBe(0);
    expect(res.stderr).toBe('');
    const got = expectAllDoneOnce(out, prompts, PARAMS);
    // What was written before Redis went away stays, and nothing after it repeats an id.
    expect(before).toBeGreaterThanOrEqual(60);
    for (const r of got.values()) expect(workers.map((w) => w.name)).toContain(r.worker);

    const events = jsonEvents(res.stdout);
    expect(events.at(-1)).toMatchObject({ type: 'summary', counts: { total: N, done: N, failed: 0, unfinished: 0 } });
    const views = itemViews(events);
    const wrong = [...views].filter(([i, v]) => !v.done || v.text !== demoOutput(prompts[i]!, PARAMS)).map(([i]) => i + 1);
    if (wrong.length > 0) { const { writeFileSync } = await import("node:fs"); writeFileSync("/tmp/swtry/restart-events.ndjson", res.stdout); writeFileSync("/tmp/swtry/restart-w.log", workers.map((w) => w.proc.stderr()).join("\n----\n")); console.log("WRONG", wrong); }
    expect(wrong.slice(0, 5), `${wrong.length} items whose final attempt did not stream exactly their answer`).toEqual([]);

    // The workers lived through it, and still serve: SIGTERM drains them, exit 0.
    for (const w of workers) {
      expect(w.proc.child.exitCode).toBeNull();
      w.proc.child.kill('SIGTERM');
    }
    for (const w of workers) expect((await w.exited).code, w.proc.stderr()).toBe(0);
  });
});
