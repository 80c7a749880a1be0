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
