/**
 * Metering through `slowwork submit` on the embedded pool: what processors report (ctx.report)
 * lands in the results lines, the --json events and summary, and the final summary's token
 * totals, which count failed attempts too (they were billed).
 */
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { processorFixture, readResults, run, tempDirsPerFile } from './run.js';

const dir = tempDirsPerFile();
const METERED = processorFixture('metered.mjs');

describe.concurrent('token usage on the embedded pool', () => {
  test("results carry each answer's usage, model, finish reason and request id; the summary counts every attempt", async () => {
    const cwd = await dir();
    const res = await run(['submit', '-p', 'one two three', '-p', 'flaky a b c', '-p', 'broken x y', '--processor', METERED, '--retries', '1', '--no-tui', '--out', 'out.jsonl'], { cwd });
    expect(res.code, res.stderr).toBe(1); // one item failed
    const byInput = Object.fromEntries(readResults(path.join(cwd, 'out.jsonl')).map((r) => [String(r.input), r]));
    expect(byInput['one two three']).toMatchObject({ status: 'done', usage: { prompt_tokens: 3, completion_tokens: 3 }, model: 'metered-1', finish_reason: 'stop', request_id: 'req-1-1' });
    // The line is the answer's: the final attempt's usage.
    expect(byInput['flaky a b c']).toMatchObject({ status: 'done', attempts: 2, usage: { prompt_tokens: 4, completion_tokens: 4 }, request_id: 'req-2-2' });
    expect(byInput['broken x y']).toMatchObject({ status: 'failed', usage: { prompt_tokens: 3, completion_tokens: 1 } });
    expect(byInput['broken x y']).not.toHaveProperty('finish_reason');
    // Totals, prompt+completion: 3+3; flaky 4+2 then 4+4; broken 3+1 twice: 17 prompt, 11 completion.
    expect(res.stdout).toContain('tokens:  17 prompt + 11 completion = 28\n');
  });

  test('--json events and summary carry them; a processor that reports nothing adds no field and no tokens line', async () => {
    const cwd = await dir();
    const res = await run(['submit', '-p', 'a b', '--processor', METERED, '--json', '--out', 'out.jsonl'], { cwd });
    expect(res.code, res.stderr).toBe(0);
    const events = res.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.find((e) => e.type === 'item-done')).toMatchObject({ meta: { usage: { prompt_tokens: 2, completion_tokens: 2 }, model: 'metered-1' } });
    expect(events.at(-1)).toMatchObject({ type: 'summary', tokens: { prompt: 2, completion: 2, estimated: false } });

    const plain = await run(['submit', '-p', 'a b', '--processor', processorFixture('echo.mjs'), '--no-tui', '--out', 'plain.jsonl'], { cwd });
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).not.toContain('tokens:');
    expect(readResults(path.join(cwd, 'plain.jsonl'))[0]).not.toHaveProperty('usage');
  });
});

describe.concurrent('budgets', () => {
  test('--budget-tokens: once reached no new item starts; exit 5 with the resume command, which runs the rest on a fresh budget', async () => {
    const cwd = await dir();
    // 8 tokens an item: the second reaches the budget. The later ones take a second, so none can
    // finish before the run hears of it (at most the one already handed on, if any, runs).
    const prompts = ['a b c d', 'e f g h', 'slow i j k', 'slow m n o', 'slow q r s', 'slow u v w', 'slow y z a', 'slow c d e'].flatMap((p) => ['-p', p]);
    const args = ['submit', ...prompts, '--processor', METERED, '--budget-tokens', '10', '--concurrency', '1', '--batch-size', '1', '--no-tui', '--out', 'out.jsonl'];
    const res = await run(args, { cwd });
    expect(res.code, res.stderr).toBe(5);
    expect(res.stdout).toMatch(/^cause: {3}budget reached: \d+ tokens of --budget-tokens 10$/m);
    const first = readResults(path.join(cwd, 'out.jsonl'));
    expect(first.length).toBeGreaterThanOrEqual(2);
    expect(first.length).toBeLessThanOrEqual(3);
    expect(first.every((r) => r.status === 'done')).toBe(true);
    const resume = /^resume: {2}slowwork (.*)$/m.exec(res.stdout)?.[1];
    expect(resume).toContain('--resume');

    // The resumed run's budget starts at zero: it does two or three more, not none.
    const again = await run([...args, '--resume'], { cwd });
    expect([0, 5]).toContain(again.code);
    const after = readResults(path.join(cwd, 'out.jsonl'));
    expect(after.length).toBeGreaterThan(first.length);
    expect(new Set(after.map((r) => r.id)).size).toBe(after.length); // nothing ran twice
  });

  test("--budget counts dollars at the run's prices; without prices it is refused before any work", async () => {
    const cwd = await dir();
    const refused = await run(['submit', '-p', 'a', '--processor', METERED, '--budget', '1', '--no-tui', '--out', 'no.jsonl'], { cwd });
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/^slowwork: --budget needs prices: give --param price_in=… --param price_out=…/);

    const half = await run(['submit', '-p', 'a', '--processor', METERED, '--param', 'price_in=1', '--no-tui', '--out', 'no.jsonl'], { cwd });
    expect(half.code).toBe(2);
    expect(half.stderr).toMatch(/--param price_in needs --param price_out too/);

    // $1 per 1M tokens each way: 8 tokens an item is $0.000008; the budget is two and a half items' worth.
    const prompts = ['a b c d', 'e f g h', 'i j k l', 'slow m n o', 'slow q r s', 'slow u v w', 'slow y z a', 'slow c d e'].flatMap((p) => ['-p', p]);
    const res = await run(['submit', ...prompts, '--processor', METERED, '--param', 'price_in=1', '--param', 'price_out=1', '--budget', '0.00002', '--concurrency', '1', '--batch-size', '1', '--no-tui', '--out', 'out.jsonl'], { cwd });
    expect(res.code, res.stderr).toBe(5);
    expect(res.stdout).toMatch(/^cause: {3}budget reached: \$0\.0000(24|32) of --budget \$0\.000020$/m);
    expect(readResults(path.join(cwd, 'out.jsonl')).length).toBeLessThanOrEqual(4);
    expect(res.stdout).toMatch(/^tokens: {2}\d+ prompt \+ \d+ completion = \d+ · \$0\.0000\d+$/m);
  });
});
