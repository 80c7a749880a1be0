/** `slowwork processor serve` as a process (the built binary): flags, registration, signals, a kill. */
import { describe, expect, it } from 'vitest';
import { REPO, run, start } from '../../cli/run.js';
import { Recorder, itemsOf, outcomes } from '../helpers.js';
import { closedPort, demoOutput, inputsOf, spec, startManager, startProcessor, waitFor } from './helpers.js';

const LINE = /^processor (\S+) \(id (\S+)\) listening on (http:\/\/127\.0\.0\.1:\d+), registered with (\S+)\n$/;

describe('slowwork processor serve', () => {
  it('shows its flags, and refuses a missing --manager with one line and exit code 2', async () => {
    const help = await run(['processor', 'serve', '--help'], { cwd: REPO });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--manager <url>/);
    const missing = await run(['processor', 'serve'], { cwd: REPO });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe('slowwork: processor serve needs --manager URL (or SLOWWORK_MANAGER): the slowwork serve to register with\n');
  });

  it('exits 2 with one line when the manager never accepts it', async () => {
    const port = await closedPort();
    const res = await run(['processor', 'serve', '--manager', `http://127.0.0.1:${port}`, '--id', 'lonely'], { cwd: REPO });
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(new RegExp(`^slowwork: cannot register demo \\(id lonely\\) with http://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED.* \\(5 tries\\)\\n$`));
  });

  it('refuses a mistyped --param before registering: one line naming the nearest param, exit code 2', async () => {
    const port = await closedPort();
    const res = await run(['processor', 'serve', '--manager', `http://127.0.0.1:${port}`, '--param', 'lenght=3'], { cwd: REPO });
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/^slowwork: unknown param lenght: did you mean length\? \(demo takes [^\n]*\)\n$/);
  });

  it('serves items and stops on SIGTERM with exit code 0', async () => {
    const manager = await startManager();
    const child = start(['processor', 'serve', '--manager', manager.url, '--name', 'cli', '--id', 'cli-1', '--param', 'first_token_ms=0', '--param', 'tokens_per_s=0'], { cwd: REPO });
    await waitFor(() => LINE.test(child.stdout()), 'the listening line', 15_000);
    expect(LINE.exec(child.stdout())?.slice(1, 3)).toEqual(['cli', 'cli-1']);
    const rec = new Recorder();
    const job = manager.broker.startJob(spec({ pipeline: [{ name: 'cli', url: '' }] }), rec.listener);
    const inputs = inputsOf(10, 'cli');
    await job.add(itemsOf(inputs));
    job.end();
    expect(await job.finished).toEqual({ total: 10, done: 10, failed: 0, unfinished: 0 });
    for (const [index, e] of outcomes(rec)) expect(e).toMatchObject({ output: demoOutput(inputs[index]!, { first_token_ms: '0', tokens_per_s: '0' }) });
    child.child.kill('SIGTERM');
    const exit = await child.exited;
    expect(exit.code).toBe(0);
    expect(exit.stderr).toBe('processor cli (id cli-1) stopped\n');
  });

  it('a processor process killed mid-stream loses no item: the rest finish on another endpoint', async () => {
    const manager = await startManager({ healthIntervalMs: 200 });
    const slow = { first_token_ms: '0', tokens_per_s: '40', length: '40' };
    const params = Object.entries(slow).flatMap(([k, v]) => ['--param', `${k}=${v}`]);
    const child = start(['processor', 'serve', '--manager', manager.url, '--id', 'doomed', ...params], { cwd: REPO });
    await waitFor(() => LINE.test(child.stdout()), 'the listening line', 15_000);
    const rec = new Recorder();
    const job = manager.broker.startJob(spec({ concurrency: 6 }), rec.listener);
    const inputs = inputsOf(6, 'doomed');
    await job.add(itemsOf(inputs));
    job.end();
    await rec.until(() => rec.count('chunk') >= 6, 'chunks from the doomed process');
    child.child.kill('SIGKILL');
    await startProcessor(manager.url, { id: 'rescue', params: slow });
    expect(await job.finished).toEqual({ total: 6, done: 6, failed: 0, unfinished: 0 });
    for (const [index, e] of outcomes(rec)) expect(e).toMatchObject({ worker: 'rescue', output: demoOutput(inputs[index]!, slow) });
    expect(rec.of('item-retry').map((r) => r.charged)).toEqual(Array(6).fill(false));
    expect((await child.exited).signal).toBe('SIGKILL');
  });
});
