/**
 * `slowwork watch dashboard` in a real terminal (tmux on its own socket) with a real
 * redis-server, two `slowwork workers` processes and a running job: the screen shows them,
 * keys select, Enter attaches the live submit view (Esc comes back), c asks and cancels, it
 * fits 60x15 after a resize, and q leaves the alternate screen with exit 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { displayWidth } from '../../src/core/text.js';
import { redisPerFile } from '../redis/server.js';
import { TmuxSession } from './tmux.js';

const BIN = resolve(import.meta.dirname, '../../bin/slowwork.js');
const server = redisPerFile();
const cleanups: Array<() => void> = [];
const dirs: string[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true, maxRetries: 5 });
});

function background(args: string[], cwd: string): { child: ChildProcess; log: () => string } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: '' } });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  cleanups.push(() => child.kill('SIGKILL'));
  return { child, log: () => log };
}

async function until(cond: () => boolean, what: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('watch dashboard in a terminal', () => {
  it('shows two workers and a job live; Enter attaches, Esc returns, c cancels after y, fits 60x15, q quits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sw-e2e-dash-'));
    dirs.push(dir);
    const url = server().url;
    writeFileSync(join(dir, 'prompts.txt'), Array.from({ length: 60 }, (_, i) => `dashboard prompt ${i + 1}`).join('\n') + '\n');
    const workers = [0, 1].map(() => background(['workers', '--redis', url, '-n', '4', '--threads', '1', '--heartbeat', '250'], dir));
    await until(() => workers.every((w) => /Ctrl\+C drains/.test(w.log())), 'two workers serving', 20_000);
    const names = workers.map((w) => /slowwork workers: (\S+):/.exec(w.log())![1]!);
    const submit = background(['submit', 'prompts.txt', '--redis', url, '--no-tui', '--param', 'first_token_ms=100', '--param', 'tokens_per_s=15', '--param', 'length=20-40', '--out', 'out.jsonl'], dir);
    await until(() => /^start {2}job (\w+)/m.test(submit.log()), 'the job to start', 20_000);
    const jobId = /^start {2}job (\w+)/m.exec(submit.log())![1]!;

    const tmux = new TmuxSession(120, 40);
    cleanups.push(() => tmux.kill());
    tmux.start(`node ${BIN} watch dashboard --redis ${url}`, dir);
    const screen = await tmux.waitFor(
      (l) => l.some((x) => x.startsWith('WORKERS 2 alive')) && names.every((n) => l.some((x) => x.includes(n))) && l.some((x) => x.includes(jobId)),
      20_000,
      'both workers and the job on the dashboard',
    );
    expect(screen[0]).toMatch(/^slowwork dashboard · redis 127\.0\.0\.1:\d+ queue default/);
    expect(screen.some((l) => /^items\/s\s+\S+/.test(l))).toBe(true);
    expect(screen.some((l) => /^default\s+\d+\s+\d+\s+\d+\s+\d+\s/.test(l))).toBe(true);
    expect(screen.find((l) => l.includes(jobId))).toMatch(/^› /);
    expect(screen.some((l) => l.includes('Enter attach') && l.includes('q quit'))).toBe(true);
    for (const line of screen) expect(displayWidth(line)).toBeLessThanOrEqual(120);
    // The figures move: the job's done count grows between refreshes.
    const doneOf = (l: string[]): number => Number(/ (\d+)\/0\/60 /.exec(l.find((x) => x.includes(jobId)) ?? '')?.[1] ?? -1);
    const before = doneOf(screen);
    await tmux.waitFor((l) => doneOf(l) > before, 15_000, 'the done count to grow');

    // Enter: the job's live streams, from another process, in the submit view.
    tmux.keys('Enter');
    // Live rows: index, worker, chunks, the newest text.
    const liveRows = (l: string[]): string[] => l.filter((x) => /^\d+\s+\S+\s+\d+ \S/.test(x));
    const attached = await tmux.waitFor(
      (l) => l.some((x) => x.startsWith(`slowwork job ${jobId}`)) && l.some((x) => x.includes('Esc: back to the dashboard')) && liveRows(l).length >= 2,
      15_000,
      'the attached view with live rows',
    );
    expect(liveRows(attached).some((x) => names.some((n) => x.includes(n.slice(0, 4))))).toBe(true);
    tmux.keys('Escape');
    await tmux.waitFor((l) => l[0]?.startsWith('slowwork dashboard') === true && l.some((x) => x.includes(jobId)), 10_000, 'the dashboard again');

    // Keys still work after coming back: c asks, y cancels everywhere.
    tmux.keys('c');
    await tmux.waitFor((l) => l.some((x) => x.startsWith(`Cancel job ${jobId}`)), 5000, 'the confirmation');
    tmux.keys('y');
    await tmux.waitFor((l) => (l.find((x) => x.includes(jobId)) ?? '').includes('cancelled'), 10_000, 'the job cancelled');
    await until(() => submit.child.exitCode !== null, 'the submit to exit', 10_000);
    expect(submit.child.exitCode).toBe(130);

    tmux.resize(60, 15);
    const small = await tmux.waitFor((l) => l[0]?.startsWith('slowwork dashboard') === true && l.some((x) => x.startsWith('WORKERS')), 10_000, 'the dashboard at 60x15');
    expect(small.filter((l) => l.trim() !== '').length).toBeLessThanOrEqual(14);
    for (const line of small) expect(displayWidth(line)).toBeLessThanOrEqual(60);

    tmux.keys('q');
    const end = await tmux.waitFor((l) => l.some((x) => x.startsWith('EXIT=')), 10_000, 'the exit');
    expect(end.find((x) => x.startsWith('EXIT='))).toBe('EXIT=0');
    // The alternate screen is gone: nothing of the dashboard is left on the normal screen.
    expect(end.some((x) => x.startsWith('slowwork dashboard'))).toBe(false);
  });

  it('--url of a running slowwork serve: its action and threads; Enter attaches to the action\'s streams, Esc returns, q quits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sw-e2e-dash-url-'));
    dirs.push(dir);
    const serve = background(['serve', '--port', '0', '--threads', '2'], dir);
    await until(() => /listening on (http:\S+)/.test(serve.log()), 'the server', 20_000);
    const base = /listening on (http:\S+)/.exec(serve.log())![1]!;
    const created = await fetch(`${base}/actions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // A first token at once, then one per 100 s: the action is surely still streaming when the
      // view attaches, however slow the machine (it ended first when its items took 5 s).
      body: JSON.stringify({ pipeline: ['demo'], items: Array.from({ length: 12 }, (_, i) => `story ${i}`), params: { tokens_per_s: '0.01', first_token_ms: '0', length: '60' } }),
    });
    const { id } = (await created.json()) as { id: string };

    const tmux = new TmuxSession(120, 30);
    cleanups.push(() => tmux.kill());
    tmux.start(`node ${BIN} watch dashboard --url ${base}`, dir);
    const screen = await tmux.waitFor((l) => l.some((x) => x.includes(id.slice(0, 6))) && l.some((x) => /thread-\d/.test(x)), 20_000, 'the action and the threads');
    expect(screen[0]).toMatch(/^slowwork dashboard · serve http:\/\/127\.0\.0\.1:\d+ · embedded: 2 threads/);
    tmux.keys('Enter');
    const liveRows = (l: string[]): string[] => l.filter((x) => /^\d+\s+thread-\d\s+\d+\s+\S/.test(x));
    await tmux.waitFor((l) => l.some((x) => x.startsWith(`slowwork job ${id.slice(0, 6)}`)) && liveRows(l).length >= 2, 15_000, 'the action streaming in the submit view');
    tmux.keys('Escape');
    await tmux.waitFor((l) => l[0]?.startsWith('slowwork dashboard') === true, 10_000, 'the dashboard again');
    tmux.keys('q');
    const end = await tmux.waitFor((l) => l.some((x) => x.startsWith('EXIT=')), 10_000, 'the exit');
    expect(end.find((x) => x.startsWith('EXIT='))).toBe('EXIT=0');
  });
});
