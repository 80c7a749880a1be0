// Cold start: how long a user waits for slowwork before any work begins, beside a bare Node.
// Interleaved spawns (the order rotating each time), COLD_SPAWNS of each kind per run:
//   - `node -e 0`, spawn to exit: the anchor, what starting Node itself costs here
//   - `node bin/slowwork.js --version`, spawn to exit
//   - `node bin/slowwork.js submit -p x --processor bench/processors/start-stamp.mjs --no-tui --out F`:
//     spawn to the first item's start, stamped by the processor (CLOCK_MONOTONIC, which the
//     benchmark reads just before spawning), and spawn to exit
//   - the same with a file of COLD_FILE_ITEMS prompts instead of -p: spawn to the first item's start
// The spawning process is this one (a warmed-up Node), so spawn() itself costs the same for all.
// Per run: median and p90 (nearest rank) of each, and the ratios of the medians to `node -e 0`'s
// (the targets: submit first start ≤ 2.0×, --version ≤ 1.3×).
//
// Env: RUNS, COLD_SPAWNS (20 of each kind per run), COLD_FILE_ITEMS (1000), BENCH_OUT.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR, REPO, RUNS, median, nowMs, num, record } from './lib/common.mjs';

const SPAWNS = num('COLD_SPAWNS', 20);
const FILE_ITEMS = num('COLD_FILE_ITEMS', 1000);
const OUT = join(process.env.BENCH_OUT || join(REPO, '.bench-tmp', 'scratch'), 'cold-start');
mkdirSync(OUT, { recursive: true });
const BIN = join(REPO, 'bin', 'slowwork.js');
const STAMP_PROCESSOR = join(BENCH_DIR, 'processors', 'start-stamp.mjs');
const FILE = join(OUT, 'prompts.txt');
writeFileSync(FILE, Array.from({ length: FILE_ITEMS }, (_, i) => `cold prompt ${i + 1}`).join('\n') + '\n');

const env = { ...process.env };
delete env.NODE_OPTIONS;
delete env.SLOWWORK_REDIS_URL; // the embedded pool, whatever the caller's shell says

/** Spawns `node args` (stdio ignored; stderr kept for the error); resolves {exitMs, code}, ms since just before spawn. */
function spawnTimed(args, extraEnv = {}, limitMs = 60_000) {
  return new Promise((resolve, reject) => {
    const t0 = nowMs();
    const child = spawn(process.execPath, args, { cwd: OUT, env: { ...env, ...extraEnv }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const exitMs = nowMs() - t0;
      clearTimeout(killer);
      if (code !== 0) reject(new Error(`node ${args.join(' ')} exited ${code ?? signal}: ${stderr.trim().split('\n').at(-1) ?? ''}`));
      else resolve({ t0, exitMs });
    });
  });
}

let n = 0;
/** A submit with the stamping processor: spawn to the first item's start, and to exit. */
async function submit(inputArgs) {
  const tag = `${process.pid}-${++n}`;
  const stamp = join(OUT, `stamp-${tag}`), out = join(OUT, `results-${tag}.jsonl`);
  const r = await spawnTimed([BIN, 'submit', ...inputArgs, '--processor', STAMP_PROCESSOR, '--no-tui', '--out', out], { SLOWWORK_BENCH_STAMP: stamp });
  if (!existsSync(stamp)) throw new Error('the stamp processor wrote no stamp: no item started');
  const first = Math.min(...readFileSync(stamp, 'utf8').trim().split('\n').map(Number));
  rmSync(stamp, { force: true });
  rmSync(out, { force: true });
  return { first: first - r.t0, exit: r.exitMs };
}

const KINDS = {
  node: async () => ({ exit: (await spawnTimed(['-e', '0'])).exitMs }),
  version: async () => ({ exit: (await spawnTimed([BIN, '--version'])).exitMs }),
  prompt: () => submit(['-p', 'x']),
  file: () => submit([FILE]),
};
const names = Object.keys(KINDS);

// one warm-up of each (disk cache, the build's compile cache if any), not counted
for (const k of names) await KINDS[k]();

const pct = (values, p) => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};
for (let run = 0; run < RUNS; run++) {
  const got = Object.fromEntries(names.map((k) => [k, []]));
  for (let i = 0; i < SPAWNS; i++) {
    // rotate the order so no kind always follows the same one
    for (let j = 0; j < names.length; j++) {
      const k = names[(i + j) % names.length];
      got[k].push(await KINDS[k]());
    }
  }
  const settings = { spawns: SPAWNS, fileItems: FILE_ITEMS, threads: 'default (cores)' };
  const series = {
    node: ['node-bare', 'spawn to exit, node -e 0', got.node.map((x) => x.exit)],
    version: ['slowwork-coldstart', 'spawn to exit, --version', got.version.map((x) => x.exit)],
    prompt: ['slowwork-coldstart', 'spawn to first item start, submit -p x', got.prompt.map((x) => x.first)],
    promptExit: ['slowwork-coldstart', 'spawn to exit, submit -p x', got.prompt.map((x) => x.exit)],
    file: ['slowwork-coldstart', `spawn to first item start, submit FILE of ${FILE_ITEMS}`, got.file.map((x) => x.first)],
  };
  const med = {};
  for (const [key, [bench, metric, values]] of Object.entries(series)) {
    med[key] = median(values);
    record(bench, `${metric}, median of ${SPAWNS}`, 'ms', [med[key]], settings);
    record(bench, `${metric}, p90 of ${SPAWNS}`, 'ms', [pct(values, 90)], settings);
  }
  record('slowwork-coldstart', 'ratio: submit -p x first item start / node -e 0 (medians)', 'x', [med.prompt / med.node], settings);
  record('slowwork-coldstart', 'ratio: --version / node -e 0 (medians)', 'x', [med.version / med.node], settings);
  record('slowwork-coldstart', `ratio: submit FILE of ${FILE_ITEMS} first item start / node -e 0 (medians)`, 'x', [med.file / med.node], settings);
}
