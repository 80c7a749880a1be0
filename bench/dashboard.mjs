// Benchmark 7: `slowwork watch dashboard` on Redis, at the issue's scale: 50 workers and 20 jobs.
//   node bench/dashboard.mjs      one round (run.sh runs RUNS of them, each its own step)
// Needs the throwaway redis-server run.sh started (REDIS_PORT). Each round:
//   1. flushes it and seeds a simulated system on queue `default` (bench/lib/dashboard-seed.mjs:
//      the keys real workers and submitters write, renewed every second by this process, which
//      plays 50 workers and 20 submitters; no slowwork worker runs, so what is measured is the
//      dashboard's own cost);
//   2. runs `watch dashboard --once --json` and keeps its `cost` (the Redis commands of one
//      sample, as the dashboard counts them);
//   3. runs the interactive dashboard (refresh 1 s, its default on a terminal) in a tmux pane of
//      120x40 on its own socket, CI unset; after DASH_WARMUP_SECONDS measures its process CPU
//      (utime+stime of the node process from /proc/<pid>/stat, not tmux's) as % of one core over
//      BENCH_DASH_SECONDS, and its RSS; the pane, captured mid-window, must show the dashboard
//      ("WORKERS 50 alive" and one of the seeded job ids) or the round does not count;
//   4. with the dashboard still running, pauses the seeder (its last heartbeats live long enough
//      for the window) and reads INFO stats and INFO commandstats before and after
//      DASH_CMD_SECONDS, both taken mid-way between two refreshes, so that only the dashboard's
//      commands are in the difference (our own INFO calls are taken out): commands and
//      redis-server µs per refresh, by command; KEYS and SCAN must not appear;
//   5. quits the dashboard with `q`, then runs the `--no-tui` text snapshots at --interval 1000
//      (stdout to a file) for DASH_PLAIN_SECONDS and measures it the same way (0: skipped).
//
// Env: BENCH_DASH_SECONDS (60), DASH_WARMUP_SECONDS (5), DASH_CMD_SECONDS (10),
//      DASH_PLAIN_SECONDS (30), BENCH_ROUND (1, names the round's directory), BENCH_OUT.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, num, record } from './lib/common.mjs';
import { isAlive, paneSlowworkPid, rssBytes, statTicks } from './lib/proc.mjs';
import { REDIS_URL, adminConnection, deadline, fail, serverInfo, sleep } from './lib/redis.mjs';
import { SEED, seedSystem } from './lib/dashboard-seed.mjs';

const SECONDS = num('BENCH_DASH_SECONDS', 60);
const WARMUP = num('DASH_WARMUP_SECONDS', 5);
const CMD_SECONDS = num('DASH_CMD_SECONDS', 10);
const PLAIN_SECONDS = num('DASH_PLAIN_SECONDS', 30);
const ROUND = num('BENCH_ROUND', 1);
const INTERVAL_MS = 1000;
const COLS = 120, ROWS = 40, EVERY_MS = 5000;
const OUT = join(process.env.BENCH_OUT || join(REPO, '.bench-tmp', 'scratch'), 'dashboard', `r${ROUND}`);
rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
deadline(WARMUP * 2 + SECONDS + CMD_SECONDS + PLAIN_SECONDS + 120, 'dashboard benchmark');
const HZ = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const MB = 2 ** 20;
const CLI = join(REPO, 'bin', 'slowwork.js');
const DASH_ARGS = ['watch', 'dashboard', '--redis', REDIS_URL, '--queue', SEED.queue];

// ---- /proc ----------------------------------------------------------------------------------------
const ticks = (pid) => statTicks(`/proc/${pid}/stat`);
const alive = isAlive;

/** CPU (% of one core) and RSS of `pid` from `from` for `seconds`, sampled every 5 s. */
async function measure(pid, t0, from, seconds, midway) {
  const samples = [];
  for (let k = 0; k * EVERY_MS <= seconds * 1000; k++) {
    await sleep(Math.max(0, t0 + from * 1000 + k * EVERY_MS - Date.now()));
    if (!alive(pid)) throw new Error(`the dashboard exited early, at ${((Date.now() - t0) / 1000).toFixed(1)} s (see ${OUT})`);
    samples.push({ t: (Date.now() - t0) / 1000, ticks: ticks(pid), rss: rssBytes(pid) });
    if (midway && k * EVERY_MS >= (seconds * 1000) / 2) { midway(); midway = null; }
  }
  const a = samples[0], b = samples.at(-1);
  const pct = (x, y) => (100 * (y.ticks - x.ticks)) / HZ / (y.t - x.t);
  return {
    window: [a.t, b.t], cpuPct: pct(a, b),
    intervals: samples.slice(1).map((s, i) => +pct(samples[i], s).toFixed(2)),
    rss: { startMB: a.rss / MB, endMB: b.rss / MB, maxMB: Math.max(...samples.map((s) => s.rss)) / MB },
    lastTicks: b.ticks,
  };
}

// ---- INFO --------------------------------------------------------------------------------------------
async function redisStats(r) {
  const text = await r.info('commandstats');
  const stats = await r.info('stats');
  const cmds = {};
  for (const m of text.matchAll(/cmdstat_([\w|]+):calls=(\d+),usec=(\d+)/g)) cmds[m[1]] = { calls: Number(m[2]), usec: Number(m[3]) };
  return { at: Date.now(), total: Number(/total_commands_processed:(\d+)/.exec(stats)[1]), cmds };
}

// ---- the simulated system ------------------------------------------------------------------------
const seedConn = await adminConnection();
const infoConn = await adminConnection();
const server = await serverInfo();
const seeder = await seedSystem(seedConn);
seeder.start();
const children = new Set();
const sock = `slowwork-bench-dash-${process.pid}`;
const tmux = (...args) => execFileSync('tmux', ['-L', sock, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
let tuiPid = null, tmuxUp = false;
const cleanup = () => {
  if (tmuxUp) { try { tmux('kill-server'); } catch { /* gone */ } tmuxUp = false; }
  if (tuiPid && alive(tuiPid)) try { process.kill(tuiPid, 'SIGKILL'); } catch { /* gone */ }
  for (const c of children) try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
};
process.on('exit', cleanup);
await sleep(2500); // a few beats: counters have moved, rates exist

// ---- (a) the dashboard's own count: one sample, --once --json ---------------------------------------
// Asynchronously: this process beats for the seeded workers, and must go on beating meanwhile.
const once = JSON.parse((await promisify(execFile)(process.execPath, [CLI, ...DASH_ARGS, '--once', '--json'], { cwd: REPO, encoding: 'utf8', timeout: 30_000 })).stdout);
writeFileSync(join(OUT, 'once.json'), JSON.stringify(once, null, 1));
const expectCost = 6 + (SEED.workers + SEED.deadWorkers) + 2 * SEED.jobs + (once.queues?.[0]?.waiting > 0 ? 1 : 0);
if (once.totals?.alive !== SEED.workers || once.totals?.dead !== SEED.deadWorkers || once.jobs?.length !== SEED.jobs) {
  fail(`dashboard: --once --json did not see the seeded system (alive ${once.totals?.alive}, dead ${once.totals?.dead}, jobs ${once.jobs?.length})`);
}

// ---- the interactive dashboard in tmux ------------------------------------------------------------
const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
const pidFile = join(OUT, 'sh.pid'), rcFile = join(OUT, 'exit-code'), script = join(OUT, 'run.sh');
// CI=true would make ink print only the last frame: a live view needs it unset.
writeFileSync(script, ['#!/bin/sh', `echo $$ > ${q(pidFile)}`, `cd ${q(REPO)}`,
  `env -u CI -u NODE_ENV ${q(process.execPath)} ${[CLI, ...DASH_ARGS].map(q).join(' ')}`, `echo $? > ${q(rcFile)}`, ''].join('\n'));
writeFileSync(join(OUT, 'tmux.conf'), 'set -g remain-on-exit on\nset -g history-limit 2000\nset -g status off\n');
const t0 = Date.now();
tmux('-f', join(OUT, 'tmux.conf'), 'new-session', '-d', '-s', 'bench', '-x', String(COLS), '-y', String(ROWS), `sh ${q(script)}`);
tmuxUp = true;
tuiPid = await paneSlowworkPid(pidFile);
if (!tuiPid) fail('dashboard: could not find the dashboard process under the pane\'s shell');

let capture = null, paneSize = null;
const tui = await measure(tuiPid, t0, WARMUP, SECONDS, () => {
  capture = tmux('capture-pane', '-p', '-t', 'bench');
  paneSize = tmux('display-message', '-p', '-t', 'bench', '#{pane_width}x#{pane_height}').trim();
  writeFileSync(join(OUT, 'capture-mid.txt'), capture);
});
const shownJob = seeder.jobIds.find((id) => capture?.includes(id)) ?? null;
const verified = Boolean(capture && new RegExp(`WORKERS ${SEED.workers} alive`).test(capture) && shownJob && paneSize === `${COLS}x${ROWS}`);

// ---- (b) commands per refresh, seen from redis-server, the seeder paused -----------------------------
await seeder.pause((CMD_SECONDS + 15) * 1000);
/** Waits for the next refresh (its XINFO GROUPS), then until mid-way to the one after. */
async function midRefresh() {
  const xinfo = async () => Number(/cmdstat_xinfo\|groups:calls=(\d+)/.exec(await infoConn.info('commandstats'))?.[1] ?? 0);
  const start = await xinfo(), until = Date.now() + 3 * INTERVAL_MS;
  while ((await xinfo()) === start && Date.now() < until) await sleep(20);
  await sleep(INTERVAL_MS / 2 - 20);
}
await midRefresh();
const s0 = await redisStats(infoConn);
const r0 = ticks(server.pid);
await sleep(Math.max(0, s0.at + CMD_SECONDS * INTERVAL_MS - Date.now()));
const s1 = await redisStats(infoConn);
const r1 = ticks(server.pid);
seeder.start();
const OURS = /^info$/; // our own INFO reads (nothing else of ours runs: the seeder is paused)
const delta = {};
for (const [name, v] of Object.entries(s1.cmds)) {
  const d = { calls: v.calls - (s0.cmds[name]?.calls ?? 0), usec: v.usec - (s0.cmds[name]?.usec ?? 0) };
  if (d.calls > 0) delta[name] = d;
}
const refreshes = delta['xinfo|groups']?.calls ?? 0; // one XINFO GROUPS per refresh and queue
const oursCalls = Object.entries(delta).filter(([n]) => OURS.test(n)).reduce((s, [, d]) => s + d.calls, 0);
const dashCmds = Object.fromEntries(Object.entries(delta).filter(([n]) => !OURS.test(n)));
const perRefresh = Object.fromEntries(Object.entries(dashCmds).map(([n, d]) => [n, { calls: d.calls / refreshes, usec: d.usec / refreshes }]));
const totalPerRefresh = (s1.total - s0.total - oursCalls) / refreshes;
const usecPerRefresh = Object.values(dashCmds).reduce((s, d) => s + d.usec, 0) / refreshes;
const forbidden = Object.keys(dashCmds).filter((n) => /^(keys|scan|hscan|sscan|zscan)$/.test(n));
const cmdWindowS = (s1.at - s0.at) / 1000;
const redisCpuPct = r0 !== null && r1 !== null ? (100 * (r1 - r0)) / HZ / cmdWindowS : null;

// ---- quit it like a user: q ------------------------------------------------------------------------
tmux('send-keys', '-t', 'bench', 'q');
let lastTicks = tui.lastTicks;
for (let i = 0; i < 100 && alive(tuiPid); i++) { lastTicks = ticks(tuiPid) ?? lastTicks; await sleep(100); }
const quitOk = !alive(tuiPid);
for (let i = 0; i < 30 && !existsSync(rcFile); i++) await sleep(100);
const tuiExit = existsSync(rcFile) ? readFileSync(rcFile, 'utf8').trim() : null;
cleanup();
// Under tmux the dashboard is not our child: tell run.sh its CPU, so that it is not counted as others'.
if (process.env.BENCH_OUT) writeFileSync(join(process.env.BENCH_OUT, '.extra-ticks'), String(lastTicks ?? 0));

// ---- the --no-tui text snapshots, refresh 1 s ----------------------------------------------------------
let plain = null;
if (PLAIN_SECONDS > 0) {
  const outFile = join(OUT, 'plain-stdout.txt');
  const out = openSync(outFile, 'w'), err = openSync(join(OUT, 'plain-stderr.txt'), 'w');
  const env = { ...process.env };
  delete env.NODE_ENV;
  const child = spawn(process.execPath, [CLI, ...DASH_ARGS, '--no-tui', '--interval', String(INTERVAL_MS)], { cwd: REPO, env, stdio: ['ignore', out, err] });
  closeSync(out); closeSync(err);
  children.add(child);
  let exit = null;
  const exited = new Promise((resolve) => child.once('exit', (code, sig) => { exit = code ?? sig; children.delete(child); resolve(); }));
  const p0 = Date.now();
  const m = await measure(child.pid, p0, WARMUP, PLAIN_SECONDS);
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(10_000)]);
  const text = readFileSync(outFile, 'utf8');
  plain = {
    ...m, exit, snapshots: (text.match(/^slowwork dashboard · /gm) ?? []).length, bytes: text.length,
    verified: new RegExp(`WORKERS ${SEED.workers} alive`).test(text) && seeder.jobIds.some((id) => text.includes(id)),
  };
}
await seeder.pause();
await seedConn.quit();
await infoConn.quit();

// ---- figures ----------------------------------------------------------------------------------------------
const summary = {
  round: ROUND, seed: SEED, seconds: SECONDS, warmup: WARMUP, intervalMs: INTERVAL_MS, pane: paneSize, verified, shownJob,
  once: { cost: once.cost, expected: expectCost, alive: once.totals.alive, dead: once.totals.dead, jobs: once.jobs.length, queue: once.queues[0] },
  tui: { ...tui, quitWithQ: quitOk, exit: tuiExit },
  commands: { windowS: cmdWindowS, refreshes, ourInfoCalls: oursCalls, totalPerRefresh, usecPerRefresh, perRefresh, forbidden, redisCpuPct, redisPid: server.pid },
  plain,
  captureMid: capture,
};
writeFileSync(join(OUT, 'summary.json'), JSON.stringify(summary, null, 2));
writeFileSync(join(OUT, '..', 'summary.json'), JSON.stringify(summary, null, 2)); // the newest round's, for the report

const settings = {
  workers: SEED.workers, deadWorkers: SEED.deadWorkers, jobs: SEED.jobs, refreshMs: INTERVAL_MS, seconds: SECONDS,
  window: `${tui.window[0].toFixed(0)}-${tui.window[1].toFixed(0)} s`, verified, summary: join(OUT, 'summary.json'),
};
if (!verified) {
  console.error(`dashboard: the pane did not show the dashboard (size ${paneSize}, a seeded job id: ${shownJob}); this round does not count. Capture:\n${capture}`);
  process.exitCode = 1;
} else {
  record('slowwork-dashboard', 'process CPU, interactive view, tmux 120x40', '% of one core', [tui.cpuPct], { ...settings, intervals: tui.intervals });
  record('slowwork-dashboard', 'peak RSS, interactive view, tmux 120x40', 'MB', [tui.rss.maxMB], { ...settings, startMB: +tui.rss.startMB.toFixed(1), endMB: +tui.rss.endMB.toFixed(1) });
}
if (plain) {
  if (!plain.verified) {
    console.error(`dashboard: the --no-tui snapshots did not show the dashboard (${plain.snapshots} snapshots, see ${OUT}/plain-stdout.txt)`);
    process.exitCode = 1;
  } else {
    const ps = { ...settings, seconds: PLAIN_SECONDS, window: `${plain.window[0].toFixed(0)}-${plain.window[1].toFixed(0)} s`, snapshots: plain.snapshots, bytes: plain.bytes };
    record('slowwork-dashboard', 'process CPU, --no-tui snapshots, stdout to a file', '% of one core', [plain.cpuPct], { ...ps, intervals: plain.intervals });
    record('slowwork-dashboard', 'peak RSS, --no-tui snapshots, stdout to a file', 'MB', [plain.rss.maxMB], ps);
  }
}
record('slowwork-dashboard', "Redis commands per refresh, the dashboard's own count (--once --json cost)", 'commands', [once.cost], { expected: expectCost, formula: '6 + workers in the zset + 2 × jobs + 1 if items wait' });
if (refreshes > 0) {
  const cs = { windowS: +cmdWindowS.toFixed(2), refreshes, ourInfoCallsExcluded: oursCalls, forbidden };
  record('slowwork-dashboard', 'Redis commands per refresh, INFO stats total_commands_processed', 'commands', [totalPerRefresh], cs);
  record('slowwork-dashboard', 'redis-server time per refresh, INFO commandstats usec', 'µs', [usecPerRefresh], cs);
  record('slowwork-dashboard', 'KEYS and SCAN calls per refresh', 'calls', [forbidden.reduce((s, n) => s + dashCmds[n].calls, 0) / refreshes], cs);
  if (redisCpuPct !== null) record('slowwork-dashboard', 'redis-server process CPU while only the dashboard runs', '% of one core', [redisCpuPct], cs);
  for (const [name, v] of Object.entries(perRefresh).sort((x, y) => y[1].calls - x[1].calls)) {
    record('slowwork-dashboard', `per refresh, calls: ${name}`, 'calls', [v.calls], cs);
    record('slowwork-dashboard', `per refresh, redis-server µs: ${name}`, 'µs', [v.usec], cs);
  }
} else {
  console.error('dashboard: no refresh seen in the commands window');
  process.exitCode = 1;
}
if (forbidden.length) { console.error(`dashboard: it issued ${forbidden.join(', ')}`); process.exitCode = 1; }
if (!quitOk || tuiExit !== '0') { console.error(`dashboard: q did not end it cleanly (still running: ${!quitOk}, exit ${tuiExit})`); process.exitCode = 1; }
if (plain && String(plain.exit) !== '0') { console.error(`dashboard: --no-tui ended with ${plain.exit} after SIGTERM`); process.exitCode = 1; }
console.log(`dashboard round ${ROUND}: cpu ${tui.cpuPct.toFixed(2)}% (tui), ${plain ? plain.cpuPct.toFixed(2) : '-'}% (--no-tui); cost ${once.cost} (expected ${expectCost}); from redis ${totalPerRefresh.toFixed(2)} commands and ${usecPerRefresh.toFixed(0)} µs per refresh over ${refreshes} refreshes`);
process.exit();
