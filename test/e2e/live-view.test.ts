/**
 * The live view end to end, in a real terminal (tmux): the built binary, the real pool, the
 * demo processor. Several streams must visibly advance at once; Ctrl+C must drain, print the
 * resume command and leave a results file that agrees with the screen.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TmuxSession } from './tmux.js';

const BIN = resolve(import.meta.dirname, '../../bin/slowwork.js');
const sessions: TmuxSession[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const s of sessions.splice(0)) s.kill();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true, maxRetries: 5 });
});

function workdir(prompts: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'sw-e2e-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'prompts.txt'), Array.from({ length: prompts }, (_, i) => `prompt number ${i + 1}`).join('\n') + '\n');
  return dir;
}

/** Live rows look like `12  thread-3   27 …text`: id, worker (dropped when narrow), chunk count, stream tail. */
function liveRows(lines: string[]): Map<string, { chunks: number; text: string }> {
  const rows = new Map<string, { chunks: number; text: string }>();
  for (const line of lines) {
    const m = /^(\d+)\s+(?:↻\d+\s+)?(?:thread-\d+\s+)?(\d+)\s+(.*)$/.exec(line.trimEnd());
    if (m) rows.set(m[1]!, { chunks: Number(m[2]), text: m[3]! });
  }
  return rows;
}

const hasHeader = (lines: string[]) => lines.some((l) => l.includes('in flight') && l.includes('done'));

describe('live view in a real terminal', () => {
  it('streams several items at once, drains on Ctrl+C, and the results file matches', async () => {
    const dir = workdir(40);
    const tmux = new TmuxSession(110, 30);
    sessions.push(tmux);
    tmux.start(
      `node ${BIN} submit prompts.txt -c 6 --param first_token_ms=50 --param tokens_per_s=12 --param length=30-50 --out results.jsonl`,
      dir,
    );

    // Several streams advance at once: between two looks, at least three rows grew.
    const first = liveRows(await tmux.waitFor((l) => liveRows(l).size >= 4, 15_000, 'four live rows'));
    // Waits for the growth itself, not a fixed while (a busy machine may render later).
    const grew = (l: string[]) => [...liveRows(l)].filter(([id, row]) => (first.get(id)?.chunks ?? Infinity) < row.chunks);
    const second = await tmux.waitFor((l) => grew(l).length >= 3, 15_000, 'three rows to grow');
    expect(grew(second).length).toBeGreaterThanOrEqual(3);
    expect(tmux.screen().some((l) => /\d+\/40 done/.test(l))).toBe(true);

    // d: the dashboard panels of this job (its threads, its items as a queue, itself), d again: the rows.
    tmux.keys('d');
    const panels = await tmux.waitFor((l) => l.some((x) => /^WORKERS \d+ alive · \d+\/6 slots busy/.test(x)), 5_000, 'the dashboard panels');
    expect(panels.some((x) => /^●\s+thread-\d/.test(x))).toBe(true);
    expect(panels.some((x) => /^› \w+\s+.*\d+\/\d+\/40\s/.test(x))).toBe(true);
    expect(panels.some((x) => x.startsWith('d back to the streams'))).toBe(true);
    tmux.keys('d');
    await tmux.waitFor((l) => liveRows(l).size >= 4 && !l.some((x) => x.startsWith('WORKERS')), 5_000, 'the live rows again');

    // Let a few finish, then Ctrl+C once: it drains, exits 130 and says how to resume.
    await tmux.waitFor((l) => l.filter((x) => x.startsWith('✔')).length >= 2, 20_000, 'two finished items');
    tmux.keys('C-c');
    await tmux.waitFor((l) => l.some((x) => x.includes('draining') || x.includes('interrupted')), 5_000, 'the draining notice');
    const end = await tmux.waitFor((l) => l.some((x) => x.startsWith('EXIT=')), 20_000, 'the exit');
    expect(end.find((x) => x.startsWith('EXIT='))).toBe('EXIT=130');

    const history = tmux.history().join('\n');
    expect(history).not.toMatch(/\n\s+at /); // never a stack trace
    expect(history).toContain('--resume --out results.jsonl');
    const summary = /interrupted: (\d+) done, (\d+) failed, (\d+) unfinished of 40/.exec(history);
    expect(summary).not.toBeNull();

    const records = readFileSync(join(dir, 'results.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { id: string; status: string; output: string });
    expect(records.length).toBe(Number(summary![1]));
    expect(records.every((r) => r.status === 'done' && r.output.length > 0)).toBe(true);
    expect(new Set(records.map((r) => r.id)).size).toBe(records.length);
    expect(records.length).toBeLessThan(40);
  });

  it('fits a 60x15 terminal, follows a resize, and aborts on a second Ctrl+C', async () => {
    const dir = workdir(200);
    const tmux = new TmuxSession(100, 30);
    sessions.push(tmux);
    tmux.start(`node ${BIN} submit prompts.txt -c 16 --param first_token_ms=0 --param tokens_per_s=5 --param length=200 --out results.jsonl`, dir);
    await tmux.waitFor((l) => hasHeader(l) && liveRows(l).size >= 16, 15_000, 'sixteen live rows at 100x30');

    tmux.resize(60, 15);
    const small = await tmux.waitFor((l) => hasHeader(l) && l.some((x) => /\+\d+ more items? in flight/.test(x)), 10_000, 'the compact view at 60x15');
    expect(small.length).toBe(15);
    expect(liveRows(small).size).toBeGreaterThan(0);
    expect(liveRows(small).size).toBeLessThan(16);

    tmux.resize(120, 40);
    await tmux.waitFor((l) => liveRows(l).size >= 16, 10_000, 'all sixteen rows again at 120x40');

    // Twice: abort now. The items would take 40 s; the exit must come long before (the wait for
    // it gives up after 10 s).
    tmux.keys('C-c');
    await tmux.waitFor((l) => l.some((x) => x.includes('draining')), 5_000, 'draining');
    tmux.keys('C-c');
    const end = await tmux.waitFor((l) => l.some((x) => x.startsWith('EXIT=')), 10_000, 'the exit after abort');
    expect(end.find((x) => x.startsWith('EXIT='))).toBe('EXIT=130');
    expect(tmux.history().join('\n')).toContain('--resume --out results.jsonl');
  });
});
