// Benchmark 4: the live view at 64 streams × 50 chunks/s.
//   node bench/ui.mjs tui     the CLI on a tmux pane of 120x40 (own socket), the live ink view
//   node bench/ui.mjs plain   the same workload with --no-tui, stdout to /dev/null (baseline)
// Workload: demo with tokens_per_s=50, first_token_ms=0, length=600 (12 s per item),
// --concurrency 64, enough items that 64 stream for the whole measurement. After the window
// the run is stopped the way a user does it, with one Ctrl+C (a drain: in-flight items finish,
// nothing new starts), so it ends within about one item's time; a second Ctrl+C and then
// SIGKILL follow only if it overstays.
// Measured from /proc every 5 s: CPU of the main thread (/proc/PID/task/PID/stat; the demo's
// tokens are made in worker threads of the same process) and of the whole process, as % of one
// core over the steady window [UI_SKIP_SECONDS, duration]; RSS; V8 heapUsed from a preload
// probe (heap-probe.mjs). In tui mode the pane is captured mid-run and must show the live view
// (title and progress header), or the run does not count.
//
// Env: BENCH_UI_SECONDS (600, tui: the memory target is about 10 minutes), BENCH_UI_BASELINE_SECONDS (60, plain), UI_SKIP_SECONDS (10),
//      UI_LENGTH (600), UI_TOKENS_PER_S (50), UI_CONCURRENCY (64), BENCH_OUT.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR, REPO, num, record } from './lib/common.mjs';
import { isAlive, paneSlowworkPid, rssBytes, statTicks } from './lib/proc.mjs';

const MODE = process.argv[2] === 'plain' ? 'plain' : 'tui';
const SECONDS = MODE === 'tui' ? num('BENCH_UI_SECONDS', 600) : num('BENCH_UI_BASELINE_SECONDS', 60);
const SKIP = num('UI_SKIP_SECONDS', 10);
const LENGTH = num('UI_LENGTH', 600);
const TPS = num('UI_TOKENS_PER_S', 50);
const CONC = num('UI_CONCURRENCY', 64);
const COLS = 120, ROWS = 40, EVERY_MS = 5000;
const ITEM_S = (LENGTH - 1) / TPS; // first token at once, then a gap before each of the others
const WAVES = Math.ceil(SECONDS / ITEM_S) + 2; // items still waiting when the window ends
const ITEMS = WAVES * CONC;
const OUT = join(process.env.BENCH_OUT || join(REPO, '.bench-tmp', 'scratch'), `ui-${MODE}`);
rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
const HZ = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const input = join(OUT, 'prompts.txt');
writeFileSync(input, Array.from({ length: ITEMS }, (_, i) => `a long answer please, number ${i + 1}`).join('\n') + '\n');
const results = join(OUT, 'results.jsonl');
const heapFile = join(OUT, 'heap.jsonl');
const argv = [
  join(REPO, 'bin', 'slowwork.js'), 'submit', input, '--processor', 'demo',
  '--param', `tokens_per_s=${TPS}`, '--param', 'first_token_ms=0', '--param', `length=${LENGTH}`,
  '--concurrency', String(CONC), '--out', results, ...(MODE === 'plain' ? ['--no-tui'] : []),
];
const probeEnv = { NODE_OPTIONS: `--import=${join(BENCH_DIR, 'heap-probe.mjs')}`, SLOWWORK_HEAP_PROBE: heapFile };

// ---- /proc ------------------------------------------------------------------------------------
const ticks = statTicks;
const threadCount = (pid) => {
  try { return Number(/Threads:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]); } catch { return null; }
};
const alive = isAlive;

// ---- start the process ------------------------------------------------------------------------
const sock = `slowwork-bench-${process.pid}`;
const tmux = (...args) => execFileSync('tmux', ['-L', sock, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
let pid, plainChild = null, plainExit = null;
const t0 = Date.now();

if (MODE === 'tui') {
  const pidFile = join(OUT, 'sh.pid');
  const rcFile = join(OUT, 'exit-code');
  const script = join(OUT, 'run.sh');
  const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
  // CI=true would make ink print only the last frame: a live view needs it unset.
  // slowwork runs in the foreground of this shell (the pane's terminal is its stdin and stdout),
  // which then records its exit code.
  writeFileSync(script, [
    '#!/bin/sh',
    `echo $$ > ${q(pidFile)}`,
    `cd ${q(OUT)}`,
    `env -u CI -u NODE_ENV NODE_OPTIONS=${q(probeEnv.NODE_OPTIONS)} SLOWWORK_HEAP_PROBE=${q(heapFile)} ${q(process.execPath)} ${argv.map(q).join(' ')}`,
    `echo $? > ${q(rcFile)}`,
    '',
  ].join('\n'));
  const conf = join(OUT, 'tmux.conf');
  writeFileSync(conf, 'set -g remain-on-exit on\nset -g history-limit 2000\nset -g status off\n');
  tmux('-f', conf, 'new-session', '-d', '-s', 'bench', '-x', String(COLS), '-y', String(ROWS), `sh ${q(script)}`);
  // slowwork is the shell's child (`env` execs node)
  pid = await paneSlowworkPid(pidFile);
  if (!pid) throw new Error("could not find the slowwork process under the pane's shell");
} else {
  const out = openSync('/dev/null', 'w');
  const err = openSync(join(OUT, 'stderr.log'), 'w');
  const env = { ...process.env, ...probeEnv };
  delete env.NODE_ENV;
  plainChild = spawn(process.execPath, argv, { cwd: OUT, env, stdio: ['ignore', out, err] });
  closeSync(out); closeSync(err);
  plainChild.on('exit', (code, signal) => (plainExit = code ?? signal));
  pid = plainChild.pid;
}

// ---- measure -----------------------------------------------------------------------------------
const samples = [];
let capture = null, paneSize = null;
const cleanup = () => {
  if (MODE === 'tui') { try { tmux('kill-server'); } catch { /* already gone */ } }
  if (pid && alive(pid)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
};
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { cleanup(); process.exit(130); });
try {
  for (let k = 0; k * EVERY_MS <= SECONDS * 1000; k++) {
    const due = t0 + k * EVERY_MS;
    await sleep(Math.max(0, due - Date.now()));
    if (!alive(pid)) throw new Error(`slowwork exited early, at ${((Date.now() - t0) / 1000).toFixed(1)} s (see ${OUT})`);
    samples.push({ t: (Date.now() - t0) / 1000, main: ticks(`/proc/${pid}/task/${pid}/stat`), proc: ticks(`/proc/${pid}/stat`), rss: rssBytes(pid), threads: threadCount(pid) });
    if (MODE === 'tui' && capture === null && k * EVERY_MS >= (SECONDS * 1000) / 2) {
      capture = tmux('capture-pane', '-p', '-t', 'bench');
      paneSize = tmux('display-message', '-p', '-t', 'bench', '#{pane_width}x#{pane_height}').trim();
      writeFileSync(join(OUT, 'capture-mid.txt'), capture);
    }
  }
} catch (err) {
  cleanup();
  throw err;
}

// ---- stop it like a user: Ctrl+C once (drain), bounded ------------------------------------------
const interrupt = () => {
  if (MODE === 'tui') tmux('send-keys', '-t', 'bench', 'C-c');
  else process.kill(pid, 'SIGINT');
};
let lastTicks = samples.at(-1)?.proc ?? 0;
const waitExit = async (ms) => {
  const until = Date.now() + ms;
  while (alive(pid) && Date.now() < until) {
    lastTicks = ticks(`/proc/${pid}/stat`) ?? lastTicks;
    await sleep(200);
  }
  return !alive(pid);
};
const drainAt = (Date.now() - t0) / 1000;
interrupt();
let endedByItself = await waitExit((2 * ITEM_S + 30) * 1000);
const drainSeconds = (Date.now() - t0) / 1000 - drainAt;
if (!endedByItself) {
  interrupt(); // abort
  if (!(await waitExit(10_000))) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
}
let exitStatus = null, finalScreen = null;
if (MODE === 'tui') {
  const rcFile = join(OUT, 'exit-code');
  for (let i = 0; i < 50 && !existsSync(rcFile); i++) await sleep(100);
  exitStatus = existsSync(rcFile) ? readFileSync(rcFile, 'utf8').trim() : null;
  try {
    finalScreen = tmux('capture-pane', '-p', '-t', 'bench');
    writeFileSync(join(OUT, 'capture-end.txt'), finalScreen);
  } catch { /* the server is gone */ }
} else {
  for (let i = 0; i < 40 && plainExit === null; i++) await sleep(50);
  exitStatus = String(plainExit);
}
cleanup();
process.off('exit', cleanup);
// Under tmux the run is not our child: tell run.sh its CPU, so that it is not counted as others'.
if (MODE === 'tui' && process.env.BENCH_OUT) writeFileSync(join(process.env.BENCH_OUT, '.extra-ticks'), String(lastTicks));

// ---- figures -------------------------------------------------------------------------------------
const win = samples.filter((s) => s.t >= SKIP - 0.5);
const a = win[0], b = win.at(-1);
const pct = (key, x, y) => (100 * (y[key] - x[key])) / HZ / (y.t - x.t);
const mainPct = pct('main', a, b), procPct = pct('proc', a, b);
const intervals = win.slice(1).map((s, i) => ({ t: s.t, main: pct('main', win[i], s), proc: pct('proc', win[i], s) }));

const heapAll = existsSync(heapFile) ? readFileSync(heapFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)).map((r) => ({ ...r, t: (r.t - t0) / 1000 })) : [];
const inWin = (r) => r.t >= SKIP - 0.5 && r.t <= SECONDS + 2.5;
const heapWin = heapAll.filter((r) => !r.gc && inWin(r));
const majorWin = heapAll.filter((r) => r.gc === 'major' && inWin(r));
/** least-squares slope of y over x */
function slope(pts) {
  const n = pts.length;
  if (n < 2) return NaN;
  const mx = pts.reduce((s, p) => s + p.x, 0) / n, my = pts.reduce((s, p) => s + p.y, 0) / n;
  let sxy = 0, sxx = 0;
  for (const p of pts) { sxy += (p.x - mx) * (p.y - my); sxx += (p.x - mx) ** 2; }
  return sxy / sxx;
}
const MB = 2 ** 20;
const heapSlope = slope(heapWin.map((r) => ({ x: r.t / 60, y: r.heapUsed / MB })));
const majorSlope = slope(majorWin.map((r) => ({ x: r.t / 60, y: r.heapUsed / MB })));
const rssSlope = slope(win.map((s) => ({ x: s.t / 60, y: s.rss / MB })));

let rows = null, doneRows = null, itemSeconds = null;
if (existsSync(results)) {
  const recs = readFileSync(results, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  rows = recs.length;
  doneRows = recs.filter((r) => r.status === 'done').length;
  const totals = recs.filter((r) => r.status === 'done').map((r) => r.durations.totalMs / 1000).sort((x, y) => x - y);
  if (totals.length) itemSeconds = { min: totals[0], median: totals[totals.length >> 1], max: totals.at(-1) };
}
// What the demo really delivered: its pacing sleeps after each token, so it runs late under load.
const effectiveTokensPerS = itemSeconds ? (LENGTH - 1) / itemSeconds.median : null;
const liveView = MODE === 'tui'
  ? Boolean(capture && /slowwork\s+job/.test(capture) && /\d[\d,]*\/[\d,]+ done/.test(capture) && /in flight/.test(capture) && paneSize === `${COLS}x${ROWS}`)
  : null;

const summary = {
  mode: MODE, seconds: SECONDS, skip: SKIP, window: [a.t, b.t], items: ITEMS, concurrency: CONC, tokensPerS: TPS, length: LENGTH,
  itemSecondsNominal: ITEM_S, itemSeconds, chunksPerSecNominal: CONC * TPS,
  effectiveTokensPerS, chunksPerSecEffective: effectiveTokensPerS && CONC * effectiveTokensPerS, pane: MODE === 'tui' ? paneSize : null, liveView,
  mainCpuPct: mainPct, processCpuPct: procPct, intervals, threads: b.threads,
  rss: { startMB: a.rss / MB, endMB: b.rss / MB, maxMB: Math.max(...win.map((s) => s.rss)) / MB, slopeMBPerMin: rssSlope },
  heap: heapWin.length ? {
    samples: heapWin.length, startMB: heapWin[0].heapUsed / MB, endMB: heapWin.at(-1).heapUsed / MB,
    maxMB: Math.max(...heapWin.map((r) => r.heapUsed)) / MB, minMB: Math.min(...heapWin.map((r) => r.heapUsed)) / MB, slopeMBPerMin: heapSlope,
    heapTotalStartMB: heapWin[0].heapTotal / MB, heapTotalEndMB: heapWin.at(-1).heapTotal / MB,
  } : null,
  afterMajorGc: majorWin.length ? {
    count: majorWin.length, firstMB: majorWin[0].heapUsed / MB, lastMB: majorWin.at(-1).heapUsed / MB,
    maxMB: Math.max(...majorWin.map((r) => r.heapUsed)) / MB, slopeMBPerMin: majorWin.length >= 3 ? majorSlope : null,
    medianGcMs: majorWin.map((r) => r.gcMs).sort((x, y) => x - y)[majorWin.length >> 1],
  } : null,
  heapSeries: heapAll.map((r) => ({ t: +r.t.toFixed(1), ...(r.gc ? { gc: r.gc } : {}), heapUsedMB: +(r.heapUsed / MB).toFixed(2), heapTotalMB: +(r.heapTotal / MB).toFixed(1), rssMB: +(r.rss / MB).toFixed(1) })),
  drainAt, drainSeconds, endedAfterOneCtrlC: endedByItself, exitStatus, resultRows: rows, doneRows,
  captureMid: capture, captureEnd: finalScreen,
};
writeFileSync(join(OUT, 'summary.json'), JSON.stringify(summary, null, 2));

const what = MODE === 'tui' ? `live view, tmux ${COLS}x${ROWS}` : '--no-tui, stdout to /dev/null';
const settings = { streams: CONC, tokensPerS: TPS, effectiveTokensPerS: effectiveTokensPerS && +effectiveTokensPerS.toFixed(1), length: LENGTH, items: ITEMS, seconds: SECONDS, window: `${a.t.toFixed(0)}-${b.t.toFixed(0)} s`, liveViewVerified: liveView, summary: `${OUT}/summary.json` };
if (MODE === 'tui' && !liveView) {
  console.error(`ui: the pane did not show the live view (size ${paneSize}); this run does not count. Capture:\n${capture}`);
  process.exitCode = 1;
} else {
  record('slowwork-ui', `main thread CPU, ${what}`, '% of one core', [mainPct], settings);
  record('slowwork-ui', `process CPU (all threads), ${what}`, '% of one core', [procPct], settings);
  if (summary.afterMajorGc?.slopeMBPerMin != null) record('slowwork-ui', `heap after major GC slope, ${what}`, 'MB/min', [summary.afterMajorGc.slopeMBPerMin], { ...settings, majorGcs: summary.afterMajorGc.count, firstMB: +summary.afterMajorGc.firstMB.toFixed(1), lastMB: +summary.afterMajorGc.lastMB.toFixed(1), maxMB: +summary.afterMajorGc.maxMB.toFixed(1) });
  if (summary.heap) record('slowwork-ui', `heapUsed slope, ${what}`, 'MB/min', [heapSlope], { ...settings, startMB: +summary.heap.startMB.toFixed(1), endMB: +summary.heap.endMB.toFixed(1), maxMB: +summary.heap.maxMB.toFixed(1) });
  record('slowwork-ui', `RSS slope, ${what}`, 'MB/min', [rssSlope], { ...settings, startMB: +summary.rss.startMB.toFixed(1), endMB: +summary.rss.endMB.toFixed(1), maxMB: +summary.rss.maxMB.toFixed(1) });
}
// A drained run exits 130 (interrupted) with every finished item done, none failed.
if (!endedByItself || !['130', '0'].includes(String(exitStatus)) || doneRows !== rows) {
  console.error(`ui (${MODE}): ended after one Ctrl+C: ${endedByItself}, exit status ${exitStatus}, ${doneRows}/${rows} rows done in the results file`);
  process.exitCode = 1;
}
