// Benchmark 3b: the slow-work workload through the CLI binary, as a user runs it:
//   node bin/slowwork.js submit FILE --processor demo --param first_token_ms=200
//        --param tokens_per_s=0 --param length=1 -c 64 --no-tui --out F
// Wall time from spawn to exit (so it includes Node's start, loading slowwork, reading the
// file and writing the results), as a ratio to the ideal 6.25 s. Also `slowwork --version`
// wall time, to show what process start alone costs.
//
// Env: RUNS, SLOW_ITEMS (2000), SLOW_ITEM_MS (200), SLOW_CONCURRENCY (64), SLOW_CLI_BATCH
//      (unset: the CLI's default), BENCH_OUT (where inputs, results and logs go).
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, RUNS, nowMs, num, record } from './lib/common.mjs';

const ITEMS = num('SLOW_ITEMS', 2000);
const ITEM_MS = num('SLOW_ITEM_MS', 200);
const CONC = num('SLOW_CONCURRENCY', 64);
const IDEAL_MS = (ITEMS * ITEM_MS) / CONC;
const OUT = join(process.env.BENCH_OUT || join(REPO, '.bench-tmp', 'scratch'), 'slow-cli');
mkdirSync(OUT, { recursive: true });
const BIN = join(REPO, 'bin', 'slowwork.js');

const input = join(OUT, 'prompts.txt');
writeFileSync(input, Array.from({ length: ITEMS }, (_, i) => `slow prompt number ${i + 1}`).join('\n') + '\n');

/** Runs `node args...` with stdout/stderr into `log`; resolves {ms, code}. Bounded by a kill timer. */
function run(args, log, limitMs = 120_000) {
  return new Promise((resolve, reject) => {
    const fd = openSync(log, 'w');
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const t0 = nowMs();
    const child = spawn(process.execPath, args, { cwd: OUT, env, stdio: ['ignore', fd, fd] });
    const killer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const ms = nowMs() - t0;
      clearTimeout(killer);
      closeSync(fd);
      resolve({ ms, code, signal });
    });
  });
}

const extra = process.env.SLOW_CLI_BATCH ? ['--batch-size', process.env.SLOW_CLI_BATCH] : [];
const submitArgs = (out) => [
  BIN, 'submit', input, '--processor', 'demo',
  '--param', `first_token_ms=${ITEM_MS}`, '--param', 'tokens_per_s=0', '--param', 'length=1',
  '-c', String(CONC), ...extra, '--no-tui', '--out', out,
];

async function submitOnce(tag) {
  const out = join(OUT, `results-${tag}.jsonl`);
  rmSync(out, { force: true });
  const log = join(OUT, `stdout-${tag}.log`);
  const res = await run(submitArgs(out), log);
  if (res.code !== 0) throw new Error(`slowwork submit exited ${res.code ?? res.signal}: see ${log}`);
  const rows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const done = rows.filter((r) => r.status === 'done').length;
  if (rows.length !== ITEMS || done !== ITEMS) throw new Error(`results file ${out}: ${rows.length} rows, ${done} done, expected ${ITEMS}`);
  return res.ms;
}

await submitOnce('warmup'); // page cache, first compile
const walls = [];
for (let r = 0; r < RUNS; r++) walls.push((await submitOnce(`run${r + 1}`)) / 1000);
const starts = [];
for (let r = 0; r < RUNS; r++) {
  const res = await run([BIN, '--version'], join(OUT, 'version.log'));
  if (res.code !== 0) throw new Error('slowwork --version failed');
  starts.push(res.ms);
}
const settings = { items: ITEMS, itemMs: ITEM_MS, concurrency: CONC, batchSize: process.env.SLOW_CLI_BATCH ? Number(process.env.SLOW_CLI_BATCH) : 'CLI default (16)', threads: 'CLI default (cores)', idealS: IDEAL_MS / 1000, ui: '--no-tui, stdout to a file' };
record('slowwork-cli', 'slow work wall time (process start to exit)', 's', walls, settings);
record('slowwork-cli', 'slow work vs ideal (process start to exit)', 'x', walls.map((s) => (s * 1000) / IDEAL_MS), settings);
record('slowwork-cli', 'process start to exit, --version', 'ms', starts, {});
