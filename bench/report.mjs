// Renders docs/benchmarks.md from one bench run's directory (.bench-tmp/<run>/):
// results.jsonl (the anchors' row format), rounds.json (per-round values, for paired ratios),
// env.json, run.json, conditions.jsonl and the UI summaries. Benchmarks this run did not run
// (BENCH_ONLY) are carried over from the runs the published docs/benchmarks.md took them from
// (bench/lib/carry.mjs), and the doc says which figures come from which run. When such a run's
// directory is not on this machine (.bench-tmp/ is not committed), its benchmarks are carried over
// as the published doc's own text: their Targets rows, sections, observations and conditions.
// Usage: node bench/report.mjs OUT_DIR DOC_PATH
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { llmParts } from './lib/report-llm.mjs';
import { SUITES, loadRun, observationSuite, parsePublished, previousSources, runsComment, sourcesComment, suiteOfRow, suitesOfStep, textRun } from './lib/carry.mjs';

const [OUT, DOC] = process.argv.slice(2);
const REPO = new URL('..', import.meta.url).pathname;

const here = loadRun(OUT);
const { env, run, failed } = here;
const ranHere = new Set((run.only || SUITES.join(',')).split(','));
const previous = previousSources(join(REPO, 'docs', 'benchmarks.md'), REPO);
const published = parsePublished(join(REPO, 'docs', 'benchmarks.md'));
const loaded = new Map([[resolve(OUT), here]]);
/** suite -> the run (directory relative to the repo, and its data) its figures come from. */
const source = {};
for (const s of SUITES) {
  if (ranHere.has(s)) source[s] = { dir: relative(REPO, OUT), data: here };
  else if (previous[s] && existsSync(join(REPO, previous[s], 'results.jsonl'))) {
    const abs = resolve(REPO, previous[s]);
    if (!loaded.has(abs)) loaded.set(abs, loadRun(abs));
    source[s] = { dir: previous[s], data: loaded.get(abs), carried: true };
  } else if (previous[s] && (published.targets[s] || published.sections[s])) {
    // the run's directory is gone: its figures as the published doc showed them
    const abs = resolve(REPO, previous[s]);
    if (!loaded.has(abs)) loaded.set(abs, textRun(previous[s], published));
    source[s] = { dir: previous[s], data: loaded.get(abs), carried: true, text: true };
  }
}
/** Benchmarks carried over as the published doc's text: their parts are copied, not rendered. */
const asText = (s) => Boolean(source[s]?.text);
const rows = SUITES.flatMap((s) => (source[s] ? source[s].data.rows.filter((r) => suiteOfRow(r) === s) : []));
const rounds = {};
for (const s of SUITES) if (source[s]) for (const [k, v] of Object.entries(source[s].data.rounds)) if (suiteOfRow({ bench: k.split('|')[0], metric: k.split('|')[1] }) === s) rounds[k] = v;
const carriedRuns = [...new Set(SUITES.filter((s) => source[s]?.carried).map((s) => source[s].dir))];
const conditions = [
  ...here.conditions,
  ...carriedRuns.flatMap((dir) => loaded.get(resolve(REPO, dir)).conditions
    .filter((c) => suitesOfStep(c.step).some((s) => source[s]?.dir === dir))
    .map((c) => ({ ...c, run: dir }))),
];
const uiTui = source.ui?.data.uiTui ?? null;
const uiPlain = source.ui?.data.uiPlain ?? null;

const median = (a) => {
  const s = a.filter((x) => Number.isFinite(x)).sort((x, y) => x - y), n = s.length;
  if (!n) return NaN;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const find = (bench, metric) => rows.find((r) => r.bench === bench && r.metric === metric) ?? null;
const findBy = (bench, pred) => rows.find((r) => r.bench === bench && pred(r)) ?? null;
const keyOf = (r) => `${r.bench}|${r.metric}|${r.mode}`;

const num = (x, d) => {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  if (d !== undefined) return x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  return x.toFixed(a >= 1 ? 2 : 3);
};
const range = (r, d) => (r ? `${num(r.min, d)} – ${num(r.max, d)}` : '—');
const fig = (r, d) => (r ? `**${num(r.median, d)}** (${range(r, d)})` : 'not run');

/** Ratio of slowwork to anchor, paired per round when both ran in the same rounds. */
function ratio(ours, anchor) {
  if (!ours || !anchor) return null;
  const a = rounds[keyOf(ours)], b = rounds[keyOf(anchor)];
  const ofMedians = ours.median / anchor.median;
  if (a && b && a.length === b.length) {
    const per = a.map((x, i) => (x !== null && b[i] !== null ? x / b[i] : null)).filter((x) => x !== null);
    if (per.length) return { paired: median(per), min: Math.min(...per), max: Math.max(...per), n: per.length, ofMedians };
  }
  return { paired: null, ofMedians };
}
const ratioText = (q) => (q ? (q.paired !== null ? `**${num(q.paired, 2)}×** (${num(q.min, 2)} – ${num(q.max, 2)})` : `**${num(q.ofMedians, 2)}×**`) : '—');
const ratioValue = (q) => (q ? (q.paired ?? q.ofMedians) : null);
const verdict = (ok) => (ok === null ? 'not run' : ok ? '**met**' : '**not met**');

// ---- the figures -------------------------------------------------------------------------------
const dispatchRows = rows.filter((r) => r.bench === 'slowwork-embedded' && r.metric.startsWith('dispatch noop'));
const dispatch = dispatchRows.find((r) => r.settings?.primary) ?? dispatchRows[0] ?? null;
const aNoop = find('piscina', 'noop throughput');
const aRt = find('piscina', 'noop round trip (1 in flight)');
const qDispatch = ratio(dispatch, aNoop);

const chunkRows = rows.filter((r) => r.bench === 'slowwork-embedded' && r.metric.startsWith('stream '));
const chunks = chunkRows.find((r) => r.settings?.primary) ?? chunkRows[0] ?? null;
const aStream = find('piscina', 'stream via MessagePort');
const aPm1 = find('worker_threads', 'postMessage small string, batch=1');
const aPm16 = find('worker_threads', 'postMessage array of 16 strings');
const aPing = find('worker_threads', 'ping-pong round trip');
const qChunks = ratio(chunks, aStream);

const slowRows = rows.filter((r) => r.bench === 'slowwork-embedded' && r.metric.startsWith('slow work vs ideal'));
const slow = slowRows.find((r) => r.settings?.primary) ?? slowRows[0] ?? null;
const slowWall = slow ? find('slowwork-embedded', slow.metric.replace('vs ideal', 'wall time')) : null;
const cliWall = find('slowwork-cli', 'slow work wall time (process start to exit)');
const cliRatio = find('slowwork-cli', 'slow work vs ideal (process start to exit)');
const cliStart = find('slowwork-cli', 'process start to exit, --version');

const uiMain = findBy('slowwork-ui', (r) => r.metric.startsWith('main thread CPU, live view'));
const uiProc = findBy('slowwork-ui', (r) => r.metric.startsWith('process CPU (all threads), live view'));
const plMain = findBy('slowwork-ui', (r) => r.metric.startsWith('main thread CPU, --no-tui'));
const plProc = findBy('slowwork-ui', (r) => r.metric.startsWith('process CPU (all threads), --no-tui'));
// "Flat": the live heap (after major GCs), extrapolated over the target's 10 minutes, grows by
// at most 5% of where it started, or 1 MB, whichever is more.
const heapSlope = uiTui?.afterMajorGc?.slopeMBPerMin ?? uiTui?.heap?.slopeMBPerMin ?? null;
const heapBase = uiTui?.afterMajorGc?.firstMB ?? uiTui?.heap?.minMB ?? null;
const FLAT_MB_PER_MIN = heapBase === null ? 0.1 : Math.max(1, 0.05 * heapBase) / 10;
const heapFlat = heapSlope === null ? null : Math.abs(heapSlope) <= FLAT_MB_PER_MIN;

// Redis mode, per persistence mode: slowwork's rows beside the BullMQ and raw-Streams anchors
// of the same rounds (bench/redis-*.mjs, the anchors' bullmq-bench.mjs and streams-chunks-bench.mjs).
const MODES = [['default', 'no persistence'], ['aof', 'AOF everysec']];
const findM = (bench, mode, pred) => rows.find((r) => r.bench === bench && r.mode === mode && (typeof pred === 'string' ? r.metric === pred : pred(r))) ?? null;
const redis = Object.fromEntries(MODES.map(([m]) => {
  const ours = (pred) => findM('slowwork-redis', m, pred);
  const bull = (metric) => findM('bullmq', m, metric);
  const cpuOf = (row) => (row ? Object.fromEntries(['submitter', 'workers', 'redis-server'].map((who) => [who, ours(`${row.metric.replace(', first enqueue to job end', '')}: CPU ${who}`)])) : null);
  const disp = ours((r) => r.metric.startsWith('dispatch noop') && r.metric.endsWith('first enqueue to job end'));
  const small = ours((r) => r.metric.startsWith('dispatch noop') && r.metric.endsWith('default batch size: items/s'));
  const chunk = ours((r) => r.metric.startsWith('stream ') && !r.metric.includes(': CPU'));
  const x = {
    disp, dispCpu: cpuOf(disp), chunk, chunkCpu: cpuOf(chunk), small,
    dispLua: disp ? ours(disp.metric.replace(', first enqueue to job end', ': redis-server time in Lua scripts per item')) : null,
    dispRead: disp ? ours(disp.metric.replace(', first enqueue to job end', ': redis-server time in XREADGROUP/XREAD per item')) : null,
    dispPerCall: disp ? ours(disp.metric.replace(', first enqueue to job end', ': items per script call')) : null,
    slowX: ours((r) => r.metric.startsWith('slow work vs ideal')),
    slowW: ours((r) => r.metric.startsWith('slow work wall time')),
    slowCpu: ours((r) => r.metric.startsWith('slow work') && r.metric.endsWith('CPU all processes')),
    pick50: ours('light-load add->processor start p50'), pick99: ours('light-load add->processor start p99'),
    done50: ours('light-load add->done seen by the submitter p50'), done99: ours('light-load add->done seen by the submitter p99'),
    bc100: bull('process no-op jobs, concurrency 100'), be2e100: bull('enqueue then process, whole batch, concurrency 100'),
    bPick50: bull('light-load add->processor start p50'), bPick99: bull('light-load add->processor start p99'),
    bDone50: bull('light-load add->completed p50'), bDone99: bull('light-load add->completed p99'),
    xadd: findM('redis-chunks', m, 'stream chunks end to end, 100 XADD/tick'),
  };
  return [m, { ...x, qSmall: ratio(x.small, x.bc100), qDisp: ratio(x.disp, x.bc100), qDispE2e: ratio(x.disp, x.be2e100), qChunk: ratio(x.chunk, x.xadd), qPick50: ratio(x.pick50, x.bPick50), qPick99: ratio(x.pick99, x.bPick99), qDone50: ratio(x.done50, x.bDone50), qDone99: ratio(x.done99, x.bDone99) }];
}));
const anyRedis = MODES.some(([m]) => Object.values(redis[m]).some((v) => v && v.bench)) || asText('redis');
/** CPU per item in µs from a "% of one core" row and a rate in items (or chunks) per second. */
const perItemUs = (pctRow, rateRow) => (pctRow && rateRow ? (pctRow.median / 100) * 1e6 / rateRow.median : NaN);

// The HTTP server (bench/serve-*.mjs): overhead at light load per batch window, concurrent
// streams, and /v1/chat/completions requests/s beside the raw node:http anchor.
const serveRows = rows.filter((r) => r.bench === 'slowwork-serve');
const sv = (pred) => serveRows.find(pred) ?? null;
/** The batch-window settings the overhead ran at: the server's default (no flag) first. */
const serveWindows = [...new Map(serveRows.filter((r) => r.settings && 'batchWindowFlag' in r.settings)
  .map((r) => [r.settings.batchWindowFlag, r.settings.batchWindowMs])).entries()]
  .sort((a, b) => (a[0] === null ? -1 : b[0] === null ? 1 : a[1] - b[1]))
  .map(([flag, ms]) => ({ flag, ms, label: flag === null ? `default window (${ms} ms)` : `\`${flag}\`` }));
const OVH_DEMO = 'overhead (first text - first_token_ms)';
const OVH_EXACT = "overhead (first text - processor's own first-token time)";
/** An overhead row: `what` p50|p99 of `route` at window `w`. */
const ovh = (w, what, p, route = '/generate?delta=1') => sv((r) => r.metric.startsWith(`${what} ${p}, ${route}, window `) && r.settings.batchWindowFlag === w.flag);
const ovhTarget = serveWindows.map((w) => ({ w, p50: ovh(w, OVH_DEMO, 'p50'), p99: ovh(w, OVH_DEMO, 'p99') }));
const anchorRtt50 = find('node-http', 'light-load round trip p50 (request written -> first byte of the answer)');
const anchorRtt99 = find('node-http', 'light-load round trip p99 (request written -> first byte of the answer)');
const streamRow = (what) => sv((r) => r.metric === `${r.settings?.streams} streams: ${what}`);
const stCompleted = streamRow('completed');
const tpOf = (bench, start, client) => rows.find((r) => r.bench === bench && r.metric.startsWith(start) && r.metric.endsWith(`, ${client} client`)) ?? null;
const tpCpu = (row, who) => (row ? find(row.bench, `${row.metric}: ${who} CPU`) : null);
const serveTp = ['raw sockets', 'node:http'].map((client) => {
  const ours = tpOf('slowwork-serve', 'POST /v1/chat/completions non-streaming', client);
  const anchor = tpOf('node-http', 'POST, fixed JSON answer (raw node:http)', client);
  return { client, ours, anchor, q: ratio(ours, anchor) };
});

// The dashboard (bench/dashboard.mjs): `slowwork watch dashboard` on a simulated system of 50
// workers and 20 jobs; its CPU and RSS, and the Redis commands it issues per refresh.
const dq = (metric) => find('slowwork-dashboard', metric);
const dash = {
  cpu: dq('process CPU, interactive view, tmux 120x40'), rss: dq('peak RSS, interactive view, tmux 120x40'),
  plainCpu: dq('process CPU, --no-tui snapshots, stdout to a file'), plainRss: dq('peak RSS, --no-tui snapshots, stdout to a file'),
  cost: dq("Redis commands per refresh, the dashboard's own count (--once --json cost)"),
  cmds: dq('Redis commands per refresh, INFO stats total_commands_processed'),
  us: dq('redis-server time per refresh, INFO commandstats usec'),
  forbidden: dq('KEYS and SCAN calls per refresh'),
  redisCpu: dq('redis-server process CPU while only the dashboard runs'),
  summary: source.dashboard?.data.dashboard ?? null,
};
dash.perCommand = rows.filter((r) => r.bench === 'slowwork-dashboard' && r.metric.startsWith('per refresh, calls: '))
  .map((r) => { const name = r.metric.slice('per refresh, calls: '.length); return { name, calls: r, us: dq(`per refresh, redis-server µs: ${name}`) }; })
  .sort((a, b) => b.calls.median - a.calls.median || a.name.localeCompare(b.name));
const DASH_TARGET_PCT = 10;

// Cold start (bench/cold-start.mjs): spawn -> exit of `node -e 0` and `slowwork --version`, spawn ->
// first item start of `slowwork submit`; each run's median and p90 over its spawns, the ratios of
// the medians to `node -e 0`'s taken within each run (spawns interleaved).
const cs = (bench, start) => rows.find((r) => r.bench === bench && r.metric.startsWith(start)) ?? null;
const cold = {
  node: cs('node-bare', 'spawn to exit, node -e 0, median'), node90: cs('node-bare', 'spawn to exit, node -e 0, p90'),
  version: cs('slowwork-coldstart', 'spawn to exit, --version, median'), version90: cs('slowwork-coldstart', 'spawn to exit, --version, p90'),
  prompt: cs('slowwork-coldstart', 'spawn to first item start, submit -p x, median'), prompt90: cs('slowwork-coldstart', 'spawn to first item start, submit -p x, p90'),
  promptExit: cs('slowwork-coldstart', 'spawn to exit, submit -p x, median'), promptExit90: cs('slowwork-coldstart', 'spawn to exit, submit -p x, p90'),
  file: cs('slowwork-coldstart', 'spawn to first item start, submit FILE of'), 
  qPrompt: cs('slowwork-coldstart', 'ratio: submit -p x first item start'), qVersion: cs('slowwork-coldstart', 'ratio: --version'),
  qFile: cs('slowwork-coldstart', 'ratio: submit FILE of'),
};
cold.file90 = cold.file ? find('slowwork-coldstart', cold.file.metric.replace(', median of', ', p90 of')) : null;
const COLD_SUBMIT_X = 2.0, COLD_VERSION_X = 1.3;

// ---- the document --------------------------------------------------------------------------------
const L = [];
const p = (...lines) => L.push(...lines);
const llm = llmParts(rows, { p, num, range, fig, xq, verdict });
const started = Number(process.env.BENCH_STARTED || run.started || 0);
const tookS = started ? Math.round(Date.now() / 1000 - started) : null;
const date = env.date ? env.date.slice(0, 10) : new Date().toISOString().slice(0, 10);
const loadEnd = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

p('# slowwork benchmarks', '');
p(`Written by \`make bench\` (\`bench/run.sh\`, rendered by \`bench/report.mjs\`) on ${date}; do not edit by hand, run it again.`);
p('Each figure below was measured in one and the same run as the anchors it is compared with.', '');
if (failed.length) p(`> **Some steps failed in this run** and their figures are missing: ${failed.join('; ')}.`, '');

p('## Machine and method', '');
p(`- **Machine:** ${run.nproc ?? env.cpus} cores (${env.cpuModel ?? '?'}), ${env.memGiB ?? '?'} GiB, ${env.os ?? '?'}, kernel ${env.kernel ?? '?'}.`);
p(`- **Software:** Node ${env.node ?? process.version}, npm ${env.npm ?? '?'}; anchors with piscina ${anchorPkg('piscina')}${anyRedis ? `, bullmq ${anchorPkg('bullmq')}, ioredis ${anchorPkg('ioredis')}` : ''} (pinned)${anyRedis ? `; redis-server ${source.redis?.data.run.redis || '?'}` : ''}; slowwork at commit \`${run.slowworkCommit ?? '?'}\`${run.dirty ? ' with uncommitted changes in src/' : ''} (dist/ built ${run.distBuilt ?? '?'}), on its own piscina ${pkgVersion('piscina')}, ink ${pkgVersion('ink')}.`);
p(`- **Load average** (1, 5, 15 min): ${run.loadavgStart ?? '?'} at the start, ${loadEnd} at the end. The machine is shared: the "others" column of [Conditions](#conditions) shows how much CPU other processes took during each step.`);
const runsOf = (s) => source[s]?.data.run.runs ?? run.runs ?? '?';
const runsList = [...new Set(SUITES.filter((s) => source[s]).map(runsOf))];
p(`- **Runs:** every figure is the median over RUNS=${runsList.length > 1 ? SUITES.filter((s) => source[s]).map((s) => `${runsOf(s)} (${s})`).join(', ') : runsList[0] ?? run.runs ?? '?'} runs, with the min – max, after a discarded warm-up. Dispatch and chunk streaming run **interleaved** with their anchors: ${runsOf(source.dispatch ? 'dispatch' : 'chunks')} rounds, each running the piscina anchor, the worker_threads anchor and slowwork's benchmarks once (the order alternates between rounds). A ratio is taken **per round** (slowwork ÷ the anchor of the same round) and the table gives the median of those ratios with their range; "ratio of medians" is given too.`);
if (anyRedis) p(`- **Redis mode** runs the same way, once per persistence mode, each on its own throwaway redis-server (loopback, free port, \`--save ''\`; then \`--appendonly yes --appendfsync everysec\`) that the anchors and slowwork share: ${source.redis?.data.run.runs ?? '?'} rounds, each running the BullMQ anchor (\`bullmq-bench.mjs\`, concurrency 100 and its light-load run), the raw Streams chunk anchor (\`streams-chunks-bench.mjs\`, 100 XADDs per tick) and slowwork's four Redis benchmarks once, the order alternating. Every slowwork benchmark starts its own \`slowwork workers\` processes and stops them with SIGTERM.`);
if (source.serve) p(`- **HTTP server** (\`slowwork serve\`, section 6): ${runsOf('serve')} rounds, each running the raw node:http anchor and slowwork's throughput benchmark back to back (the order alternating), then the overhead and the concurrent-streams benchmarks. Every benchmark starts its own server (\`node bin/slowwork.js serve --port 0 ...\`, or \`bench/serve-anchor-http.mjs\`) on a free loopback port and stops it with SIGTERM, waiting for its exit; the client is the benchmark script, a process apart from the server's.`);
if (source.dashboard) p(`- **Dashboard** (\`slowwork watch dashboard\`, section 7): ${runsOf('dashboard')} rounds on one throwaway redis-server (loopback, free port, \`--save ''\`), flushed and seeded again by every round with a simulated system (no worker process runs: the benchmark writes the keys real workers and submitters write); each round measures the interactive dashboard in tmux, the Redis commands it issues with the seeder paused, then the \`--no-tui\` text snapshots, and stops each by itself (\`q\`, SIGTERM).`);
if (carriedRuns.length) {
  const what = { dispatch: 'embedded dispatch', chunks: 'embedded chunk streaming', slow: 'slow work', ui: 'the live view', redis: 'Redis mode', serve: 'the HTTP server', dashboard: 'the dashboard', coldstart: 'cold start', llm: 'the LLM client' };
  const ranList = SUITES.filter((s) => source[s] && !source[s].carried).map((s) => what[s]);
  const textDirs = carriedRuns.filter((dir) => loaded.get(resolve(REPO, dir)).textOnly);
  p(`- **Figures from more than one run.** This run (\`${relative(REPO, OUT)}\`, BENCH_ONLY=${run.only}) measured ${ranList.join(', ') || 'nothing'}. Carried over unchanged from earlier runs, with their own anchors: ${carriedRuns.map((dir) => {
    const d = loaded.get(resolve(REPO, dir));
    return `${SUITES.filter((s) => source[s]?.dir === dir).map((s) => what[s]).join(', ')} from \`${dir}\` (${d.env.date ? d.env.date.slice(0, 10) : '?'}, slowwork \`${d.run.slowworkCommit ?? '?'}\`, RUNS=${d.run.runs ?? '?'})`;
  }).join('; ')}. Ratios are only ever taken within one run.${textDirs.length ? ` The run director${textDirs.length > 1 ? 'ies' : 'y'} ${textDirs.map((d) => `\`${d}\``).join(', ')} ${textDirs.length > 1 ? 'are' : 'is'} not on the machine that wrote this page, so ${textDirs.length > 1 ? 'their' : 'its'} figures (Targets rows, sections, observations, conditions) are copied from the previous docs/benchmarks.md as they were published.` : ''}`);
}
const missing = SUITES.filter((s) => !source[s]);
if (missing.length) p(`- **Not measured** in this run nor carried over (no earlier run found): ${missing.join(', ')}.`);
p(`- **Duration:** this \`make bench\` took ${tookS === null ? '?' : `${Math.floor(tookS / 60)} min ${tookS % 60} s`} (building excluded).`);
p(`- Raw rows, in the anchors' JSONL format: \`.bench-tmp/<run>/results.jsonl\` (this run: \`${relative(REPO, OUT)}\`); compare two runs with the anchors' \`lib/compare.mjs\`.`, '');

p('## Targets', '');
p(`| target (docs/DESIGN.md${anyRedis ? '; Redis rows: the Redis-mode issue' : ''}${source.dashboard ? '; Dashboard rows: the dashboard issue' : ''}${source.coldstart ? '; Cold start rows: issue 16' : ''}${source.llm ? '; LLM client rows: issue 17' : ''}) | slowwork | anchor, same run | ratio | target | status |`);
p('|---|---:|---:|---:|---:|---|');
/** A benchmark's Targets rows: rendered from its rows, or copied as published. */
const T = (suite, render) => (asText(suite) ? p(...(published.targets[suite] ?? [])) : render());
T('dispatch', () => p(`| embedded dispatch, no-op items | ${fig(dispatch)} items/s | piscina no-op ${fig(aNoop)} tasks/s | ${ratioText(qDispatch)} | ≥ 2× | ${verdict(qDispatch ? ratioValue(qDispatch) >= 2 : null)} |`));
T('chunks', () => p(`| embedded chunk streaming to the consumer | ${fig(chunks)} chunks/s | piscina MessagePort ${fig(aStream)} chunks/s | ${ratioText(qChunks)} | ≥ 0.5× | ${verdict(qChunks ? ratioValue(qChunks) >= 0.5 : null)} |`));
T('slow', () => p(`| slow work, 2000 × 200 ms on 64 slots | ${slowWall ? `${fig(slowWall, 3)} s` : 'not run'} | ideal 6.25 s | ${slow ? `**${num(slow.median, 3)}×** (${range(slow, 3)})` : '—'} | ≤ 1.03× | ${verdict(slow ? slow.median <= 1.03 : null)} |`));
T('ui', () => { p(`| live view, 64 streams × 50 chunks/s: CPU | main thread ${uiMain ? `**${num(uiMain.median, 1)}%**` : 'not run'} of one core | — | — | ≤ 20% | ${verdict(uiMain ? uiMain.median <= 20 : null)} |`);
p(`| live view: memory flat | heap after major GC ${heapSlope === null ? 'not run' : `**${heapSlope >= 0 ? '+' : ''}${num(heapSlope, 2)} MB/min**`} over ${uiTui ? `${Math.round(uiTui.window[1] - uiTui.window[0])} s${uiTui.window[1] < 599 ? ' (the target says 10 min)' : ` (a ${num(uiTui.window[1] / 60, 0)}-minute run)`}` : '—'} | — | — | flat: \\|slope\\| ≤ ${num(FLAT_MB_PER_MIN, 2)} MB/min (≤ 5% or 1 MB in 10 min) | ${verdict(heapFlat)} |`); });
const PICK = (a, b) => (a ? `**${num(a.median, 3)}** ms (p99 ${num(b?.median, 2)})` : 'not run');
if (anyRedis) T('redis', () => { for (const [m, label] of MODES) {
  const x = redis[m];
  p(`| Redis, ${label}: no-op items, 2 worker processes, first enqueue to job end${x.disp ? ` (batch ${x.disp.settings.batchSize}, job concurrency ${x.disp.settings.concurrency}, ${x.disp.settings.slotsPerWorker} slots per worker${x.qSmall ? `; at the default batch size, ${x.small.settings.batchSize}: ${ratioText(x.qSmall).replace(/\*\*/g, '')}` : ''})` : ''} | ${fig(x.disp)} items/s | BullMQ c100 ${fig(x.bc100)} jobs/s | ${ratioText(x.qDisp)} | ≥ 4× | ${verdict(x.qDisp ? ratioValue(x.qDisp) >= 4 : null)} |`);
  p(`| Redis, ${label}: chunks, 1 worker to the submitter's listener | ${fig(x.chunk)} chunks/s | raw XADD, 100/tick ${fig(x.xadd)} chunks/s | ${ratioText(x.qChunk)} | ≥ 0.7× | ${verdict(x.qChunk ? ratioValue(x.qChunk) >= 0.7 : null)} |`);
  p(`| Redis, ${label}: pickup at 200 items/s, submit to processor start, p50 | ${PICK(x.pick50, x.pick99)} | BullMQ add to processor start ${PICK(x.bPick50, x.bPick99)} | ${ratioText(x.qPick50)} | p50 below BullMQ's (< 1×) | ${verdict(x.qPick50 ? ratioValue(x.qPick50) < 1 : null)} |`);
  p(`| Redis, ${label}: slow work, 2000 × 200 ms on 2 workers × 32 slots | ${x.slowW ? `${fig(x.slowW, 3)} s` : 'not run'} | ideal 6.25 s | ${x.slowX ? `**${num(x.slowX.median, 3)}×** (${range(x.slowX, 3)})` : '—'} | ≤ 1.05× | ${verdict(x.slowX ? x.slowX.median <= 1.05 : null)} |`);
} });
T('serve', () => serveTargets());
if (source.dashboard) T('dashboard', () => dashboardTargets());
if (source.coldstart) T('coldstart', () => coldTargets());
if (source.llm) T('llm', () => llm.targets());
p('');
const tableSettings = [
  ...(asText('dispatch') ? published.settings.dispatch ?? [] : []),
  ...(asText('chunks') ? published.settings.chunks ?? [] : []),
  ...(asText('slow') ? published.settings.slow ?? [] : []),
  dispatch && `dispatch ${dispatch.settings.concurrency} in flight, batch size ${dispatch.settings.batchSize}, ${dispatch.settings.threads} threads, ${num(dispatch.settings.items)} items a run`,
  chunks && `streaming with \`${chunks.settings.processor}\` (${chunks.settings.kind}), ${num(chunks.settings.items)} items × ${chunks.settings.chunksPerItem} chunks, concurrency ${chunks.settings.concurrency}, ${chunks.settings.threads} threads`,
  slow && `slow work with batch size ${slow.settings.batchSize}, ${slow.settings.threads} threads (the default: the number of cores)`,
].filter(Boolean);
if (tableSettings.length) p('Settings of the figures in this table: ' + tableSettings.join('; ') + '.', '');

/** A benchmark's section: rendered from its rows, or copied as published. */
const S = (suite, render) => (asText(suite) ? p(...(published.sections[suite] ?? [])) : render());

// ---- 1 ----
S('dispatch', () => {
p('## 1. Embedded dispatch, no-op items', '');
p('`bench/dispatch.mjs`: `EmbeddedBroker` with 2 threads, a processor that yields one chunk per item (`bench/processors/noop.mjs`), items fed by `add()` in slices of 1024 (awaiting its backpressure). Time from the first `add()` until `finished` resolves, after every `item-done` reached the listener. The anchor runs `pool.run(null)` with 64 tasks in flight. The first setting is the headline figure; the others show how the batch size matters.', '');
p('| what | median (min – max) | ratio to piscina no-op, per round | ratio of medians | settings |');
p('|---|---:|---:|---:|---|');
for (const r of dispatchRows) {
  const q = ratio(r, aNoop);
  p(`| slowwork, concurrency ${r.settings.concurrency}, batch ${r.settings.batchSize}${r === dispatch ? ' (headline)' : ''} | ${fig(r)} items/s | ${ratioText(q)} | ${q ? num(q.ofMedians, 2) + '×' : '—'} | ${r.settings.eventsPerItem} events/item, ${num(r.settings.itemsPerListenerCall)} items per listener call (last run) |`);
}
p(`| anchor: piscina no-op throughput | ${fig(aNoop)} tasks/s | | | 2 threads, ${aNoop ? num(aNoop.settings.tasks) : '?'} tasks, ${aNoop?.settings.inflight ?? '?'} in flight |`);
p(`| anchor: piscina no-op round trip | ${fig(aRt)} µs/task | | | 1 in flight |`);
p('');
});

// ---- 2 ----
S('chunks', () => {
p('## 2. Embedded chunk streaming', '');
p('`bench/chunks.mjs`: items that stream 100 short chunks (`\'tok\' + i + \' \'`) each, 2 threads, concurrency 16 (the anchor\'s 16 in flight). Chunks/s counted at the job listener as the sum of the chunk events\' `n` (chunks merged into one event are counted one by one), from the first `add()` to `finished`. The headline processor is an **async generator**, as real processors are written. For context: the same chunks from a synchronous iterable (an array), and an async generator that waits one `setImmediate` between chunks, which leaves nothing to merge (the worst case for the thread\'s per-tick coalescing).', '');
p('| what | median (min – max) | ratio to piscina MessagePort, per round | ratio of medians | chunks per chunk event |');
p('|---|---:|---:|---:|---:|');
for (const r of chunkRows) {
  const q = ratio(r, aStream);
  p(`| slowwork, \`${r.settings.processor.replace('bench/processors/', '')}\`: ${r.settings.kind}${r === chunks ? ' (headline)' : ''}${r.settings.items !== 10000 ? `, ${num(r.settings.items)} items` : ''} | ${fig(r)} chunks/s | ${ratioText(q)} | ${q ? num(q.ofMedians, 2) + '×' : '—'} | ${num(r.settings.chunksPerChunkEvent)} |`);
}
p(`| anchor: piscina, 100 chunks per task over a MessagePort | ${fig(aStream)} chunks/s | | | 1 (one message per chunk) |`);
p(`| anchor: worker_threads postMessage, 1 string per message | ${fig(aPm1)} msgs/s | | | |`);
p(`| anchor: worker_threads postMessage, arrays of 16 strings | ${fig(aPm16)} chunks/s | | | |`);
p(`| anchor: worker_threads ping-pong round trip | ${fig(aPing)} µs | | | |`);
p('');
});

// ---- 3 ----
S('slow', () => {
p('## 3. Slow work efficiency', '');
p('2000 items of 200 ms each (`demo` with `first_token_ms=200`, `tokens_per_s=0`, `length=1`) on 64 slots. The ideal is 2000 × 0.2 s / 64 = **6.25 s**; since items are whole, 2000/64 needs 32 waves, so **6.4 s (1.024×) is the floor** any scheduler can reach, and the 1.03× target leaves about 37 ms of overhead over the whole run.', '');
const floor = (r) => (r ? `${num((r.median * 6.25) / 6.4, 3)}` : '—');
p('| what | wall time, median (min – max) | ÷ 6.25 s (ideal) | ÷ 6.4 s (floor) | settings |');
p('|---|---:|---:|---:|---|');
for (const r of slowRows) {
  const w = find('slowwork-embedded', r.metric.replace('vs ideal', 'wall time'));
  p(`| \`EmbeddedBroker\`, first \`add()\` to \`finished\`${r === slow ? ' (headline)' : ''} | ${fig(w, 3)} s | ${fig(r, 3)} | ${floor(r)} | concurrency ${r.settings.concurrency}, batch size ${r.settings.batchSize}, window ${r.settings.batchWindowMs} ms, ${r.settings.threads} threads |`);
}
for (const r of slowRows) {
  const c = findBy('node-timers', (x) => x.metric.endsWith(`beside the run b${r.settings.batchSize}`));
  if (c) p(`| context: ${c.settings.waves} sequential ${c.settings.itemMs} ms timers on the main thread, beside that run (the floor plus timer lateness) | ${fig(c, 3)} s | ${num(c.median / 6.25, 3)} | ${num(c.median / 6.4, 3)} | |`);
}
p(`| CLI: \`slowwork submit prompts.txt --processor demo ... -c 64 --no-tui --out F\`, spawn to exit | ${fig(cliWall, 3)} s | ${fig(cliRatio, 3)} | ${floor(cliRatio)} | CLI defaults (batch size 16, threads = cores); includes Node's start, loading slowwork, reading the file, writing 2000 results |`);
p(`| CLI: \`slowwork --version\`, spawn to exit (process start alone) | ${fig(cliStart)} ms | | | |`);
p('');
});

// ---- 4 ----
S('ui', () => {
p('## 4. Live view at 64 streams × 50 chunks/s', '');
if (uiTui || uiPlain) {
  const u = uiTui ?? uiPlain;
  p(`\`bench/ui.mjs\`: \`slowwork submit\` with \`demo\` (\`tokens_per_s=${u.tokensPerS}\`, \`first_token_ms=0\`, \`length=${u.length}\`: ${num(u.itemSecondsNominal, 1)} s per item) at \`--concurrency ${u.concurrency}\`, ${num(u.items)} items, so that 64 items stream all the time. The live view runs in a tmux pane of 120x40 (own socket); the baseline is the same workload with \`--no-tui\`, stdout to /dev/null. CPU is read from \`/proc\`: the **main thread** alone (\`/proc/PID/task/PID/stat\`: the demo's tokens are made in worker threads of the same process, and the target is about the UI side) and the whole process, as % of one core over the steady window (the first ${u.skip} s skipped). Memory: RSS from \`/proc/PID/status\`, V8 \`heapUsed\` from a preload probe (\`bench/heap-probe.mjs\`) every 5 s and right after each major GC. After the window one Ctrl+C drains the run (the in-flight items finish), as a user would stop it.`, '');
  p('| | live view (tmux 120x40) | `--no-tui` baseline | UI cost |');
  p('|---|---:|---:|---:|');
  const d = (a, b) => (a && b ? `${num(a.median - b.median, 1)} points` : '—');
  p(`| measured for | ${uiTui ? `${uiTui.seconds} s (window ${Math.round(uiTui.window[0])}–${Math.round(uiTui.window[1])} s)` : 'not run'} | ${uiPlain ? `${uiPlain.seconds} s (window ${Math.round(uiPlain.window[0])}–${Math.round(uiPlain.window[1])} s)` : 'not run'} | |`);
  p(`| main thread CPU, % of one core | ${uiMain ? `**${num(uiMain.median, 1)}**` : '—'} | ${plMain ? num(plMain.median, 1) : '—'} | ${d(uiMain, plMain)} |`);
  p(`| whole process CPU (all threads), % of one core | ${uiProc ? num(uiProc.median, 1) : '—'} | ${plProc ? num(plProc.median, 1) : '—'} | ${d(uiProc, plProc)} |`);
  const iv = (s) => (s ? `${num(Math.min(...s.intervals.map((i) => i.main)), 1)} – ${num(Math.max(...s.intervals.map((i) => i.main)), 1)}` : '—');
  p(`| main thread CPU per 5 s interval, min – max | ${iv(uiTui)} | ${iv(uiPlain)} | |`);
  const eff = (s) => (s?.effectiveTokensPerS ? `${num(s.effectiveTokensPerS, 1)} tokens/s per stream (${num(s.chunksPerSecEffective)} chunks/s in all; items took ${num(s.itemSeconds.median, 1)} s, ${num(s.itemSeconds.min, 1)} – ${num(s.itemSeconds.max, 1)})` : '—');
  p(`| pace the demo really delivered (from the results file) | ${eff(uiTui)} | ${eff(uiPlain)} | |`);
  const mem = (s) => (s?.heap ? `${num(s.heap.startMB, 1)} → ${num(s.heap.endMB, 1)} MB, max ${num(s.heap.maxMB, 1)}; slope ${num(s.heap.slopeMBPerMin, 2)} MB/min` : '—');
  const gcm = (s) => (s?.afterMajorGc ? `${s.afterMajorGc.count} GCs: ${num(s.afterMajorGc.firstMB, 1)} → ${num(s.afterMajorGc.lastMB, 1)} MB, max ${num(s.afterMajorGc.maxMB, 1)}; slope ${s.afterMajorGc.slopeMBPerMin === null ? '—' : num(s.afterMajorGc.slopeMBPerMin, 2)} MB/min` : '—');
  const rss = (s) => (s ? `${num(s.rss.startMB, 0)} → ${num(s.rss.endMB, 0)} MB, max ${num(s.rss.maxMB, 0)}; slope ${num(s.rss.slopeMBPerMin, 2)} MB/min` : '—');
  p(`| heapUsed every 5 s (window) | ${mem(uiTui)} | ${mem(uiPlain)} | |`);
  p(`| heapUsed right after each major GC (window) | ${gcm(uiTui)} | ${gcm(uiPlain)} | |`);
  p(`| RSS (window) | ${rss(uiTui)} | ${rss(uiPlain)} | |`);
  p(`| ended after one Ctrl+C (drain) | ${uiTui ? `${uiTui.endedAfterOneCtrlC ? 'yes' : 'no'}, in ${num(uiTui.drainSeconds, 1)} s, exit ${uiTui.exitStatus}, ${num(uiTui.doneRows)} done rows` : '—'} | ${uiPlain ? `${uiPlain.endedAfterOneCtrlC ? 'yes' : 'no'}, in ${num(uiPlain.drainSeconds, 1)} s, exit ${uiPlain.exitStatus}, ${num(uiPlain.doneRows)} done rows` : '—'} | |`);
  p('');
  if (uiTui) {
    p(`Memory of the live-view run over time (window and after; "GC" rows are taken right after a major GC):`, '');
    p('| t (s) | heapUsed (MB) | heapTotal (MB) | RSS (MB) |', '|---:|---:|---:|---:|');
    const periodic = uiTui.heapSeries.filter((r) => !r.gc);
    const step = Math.max(1, Math.round(periodic.length / 14));
    periodic.forEach((r, i) => { if (i % step === 0 || i === periodic.length - 1) p(`| ${num(r.t, 0)} | ${num(r.heapUsedMB, 1)} | ${num(r.heapTotalMB, 1)} | ${num(r.rssMB, 0)} |`); });
    const gcs = uiTui.heapSeries.filter((r) => r.gc);
    if (gcs.length) p('', `After major GCs (t s: MB): ${gcs.map((r) => `${num(r.t, 0)}: ${num(r.heapUsedMB, 1)}`).join(', ')}.`);
    p('', `The pane mid-run (\`tmux capture-pane\`, pane ${uiTui.pane}; the first lines; live view verified: ${uiTui.liveView ? 'yes' : '**no**'}):`, '');
    p('```', ...(uiTui.captureMid ?? '').split('\n').slice(0, 6).map((l) => l.replace(/\s+$/, '')), '```', '');
  }
} else {
  p('Not run in this pass.', '');
}
});

// ---- 5 ----
S('redis', () => {
p('## 5. Redis mode', '');
if (anyRedis) {
  const d = redis.default.disp ?? redis.aof.disp, c = redis.default.chunk ?? redis.aof.chunk, l = redis.default.pick50 ?? redis.aof.pick50, w = redis.default.slowX ?? redis.aof.slowX;
  const cols = `| what | ${MODES.map(([, label]) => label).join(' | ')} |`, sep = `|---|${MODES.map(() => '---:').join('|')}|`;
  const row = (what, f) => p(`| ${what} | ${MODES.map(([m]) => f(redis[m])).join(' | ')} |`);
  const cpu3 = (cpu) => (cpu ? ['submitter', 'workers', 'redis-server'].map((who) => num(cpu[who]?.median, 1)).join(' / ') : '—');
  const us3 = (cpu, rate) => (cpu ? ['submitter', 'workers', 'redis-server'].map((who) => num(perItemUs(cpu[who], rate), 1)).join(' / ') : '—');

  p(`**No-op dispatch** (\`bench/redis-dispatch.mjs\`): ${d ? `${d.settings.workers} \`slowwork workers\` processes of ${d.settings.slotsPerWorker} slots and ${d.settings.threadsPerWorker} thread${d.settings.threadsPerWorker === 1 ? '' : 's'} each (${d.settings.workers * d.settings.threadsPerWorker} threads in all, the anchors' 2), \`bench/processors/noop.mjs\` (one chunk per item), ${num(d.settings.items)} items a run, job concurrency ${d.settings.concurrency}, batch size ${d.settings.batchSize} (one work stream entry a batch: the settings README advises for many short items, where each entry, claim and report is shared by that many items), fed by \`add()\` in slices of 1024 (awaiting its backpressure), after a discarded warm-up job of ${num(d.settings.warmup ?? 2000)} items on the same worker processes (workers are long-lived daemons, so their steady state is the figure; their first 100,000 or so items run up to 40% slower while the JIT settles, and the first run after the warm-up is still some 10% slower, the warm-up job's garbage being collected)` : 'not run'}. Time from the first \`add()\` (the first enqueue) until \`finished\`, after the submitter has read every item's result from the job's events stream: enqueueing overlaps processing. The BullMQ anchor (one \`Worker\` at concurrency 100 in a child process) enqueues its 20,000 jobs first and times the processing alone, which favours BullMQ; its "enqueue then process" figure counts both. CPU: each process's CPU time from \`/proc/<pid>/stat\` over the measured run, as % of one core (the machine has ${run.nproc ?? env.cpus ?? '?'} cores: ${100 * (run.nproc ?? env.cpus ?? 2)}% in all).`, '');
  p(cols, sep);
  row('slowwork: no-op items/s, first enqueue to job end', (x) => (x.disp ? `${fig(x.disp)}` : 'not run'));
  row('ratio to BullMQ processing at concurrency 100, per round (target ≥ 4×)', (x) => ratioText(x.qDisp));
  row('ratio to BullMQ enqueue then process, concurrency 100, per round', (x) => ratioText(x.qDispE2e));
  const smallSet = redis.default.small?.settings ?? redis.aof.small?.settings;
  if (smallSet) {
    row(`slowwork, the default batch size (batch ${smallSet.batchSize}, ${smallSet.slotsPerWorker} slots per worker, job concurrency ${smallSet.concurrency}): no-op items/s`, (x) => (x.small ? fig(x.small) : 'not run'));
    row('default batch size: ratio to BullMQ processing at concurrency 100, per round', (x) => ratioText(x.qSmall));
  }
  row('anchor: BullMQ 6, process 20k no-op jobs, concurrency 100 (jobs/s)', (x) => fig(x.bc100));
  row('anchor: BullMQ 6, addBulk then process, concurrency 100 (jobs/s)', (x) => fig(x.be2e100));
  row('slowwork CPU, % of one core: submitter / workers / redis-server', (x) => cpu3(x.dispCpu));
  row('slowwork CPU per item, µs: submitter / workers / redis-server', (x) => us3(x.dispCpu, x.disp));
  row('redis-server\'s own time per item (INFO commandstats), µs: Lua scripts / XREADGROUP + XREAD', (x) => (x.dispLua ? `${num(x.dispLua.median, 1)} / ${num(x.dispRead?.median, 1)}` : '—'));
  row('items per script call (enqueue, claim, report)', (x) => (x.dispPerCall ? num(x.dispPerCall.median, 1) : '—'));
  p('');

  p(`**Chunk streaming** (\`bench/redis-chunks.mjs\`): ${c ? `one \`slowwork workers\` process of ${c.settings.slotsPerWorker} slots and ${c.settings.threadsPerWorker} threads, \`${c.settings.processor}\` (an async generator, ${c.settings.chunksPerItem} short chunks per item), ${num(c.settings.items)} items a run (${num(c.settings.items * c.settings.chunksPerItem)} chunks)` : 'not run'}. Chunks/s counted at the submitter's job listener as the sum of the chunk events' \`n\`, from the first \`add()\` to \`finished\`: everything a watcher of the job receives. The worker merges an item's chunks between two reports (every 25 ms at most) into one event. The anchor is the raw transport with no job around it: one producer XADDing each chunk as its own entry, 100 auto-pipelined XADDs per tick, and one consumer in XREAD BLOCK, 50,000 chunks.`, '');
  p(cols, sep);
  row('slowwork: chunks/s at the submitter\'s listener', (x) => (x.chunk ? fig(x.chunk) : 'not run'));
  row('ratio to raw XADD, 100 per tick, per round (target ≥ 0.7×)', (x) => ratioText(x.qChunk));
  row('anchor: raw XADD, 100 per tick, producer start to last chunk read (chunks/s)', (x) => fig(x.xadd));
  row('chunks per chunk event (first round)', (x) => (x.chunk ? num(x.chunk.settings.chunksPerChunkEvent) : '—'));
  row('slowwork CPU, % of one core: submitter / worker / redis-server', (x) => cpu3(x.chunkCpu));
  p('');

  p(`**Pickup latency at light load** (\`bench/redis-latency.mjs\`): ${l ? `${num(l.settings.items)} items added one at a time at ${l.settings.rate}/s to one \`slowwork workers\` process of ${l.settings.slotsPerWorker} slots and ${l.settings.threadsPerWorker} threads (the anchor's worker has concurrency 16)` : 'not run'}. Each item carries the time just before its \`add()\` (\`process.hrtime\`: CLOCK_MONOTONIC, the same clock in every process and thread of the host); \`bench/processors/pickup.mjs\` reads the clock when it starts, in a worker thread of the worker process. BullMQ's figure is the same measure (\`add()\` to its processor function, stamp in the job data). Also: add to the item's result reaching the submitter's listener, beside BullMQ's add to \`completed\` seen through \`QueueEvents\`. p50 and p99 per run (nearest rank), the median of those over the rounds.`, '');
  p(cols, sep);
  row('slowwork: submit to processor start, p50 (ms)', (x) => fig(x.pick50, 3));
  row('anchor: BullMQ add to processor start, p50 (ms)', (x) => fig(x.bPick50, 3));
  row('ratio p50, per round (target < 1×)', (x) => ratioText(x.qPick50));
  row('slowwork: submit to processor start, p99 (ms)', (x) => fig(x.pick99, 2));
  row('anchor: BullMQ add to processor start, p99 (ms)', (x) => fig(x.bPick99, 2));
  row('ratio p99, per round', (x) => ratioText(x.qPick99));
  row('slowwork: submit to result at the submitter, p50 / p99 (ms)', (x) => `${num(x.done50?.median, 3)} / ${num(x.done99?.median, 2)}`);
  row('anchor: BullMQ add to completed via QueueEvents, p50 / p99 (ms)', (x) => `${num(x.bDone50?.median, 3)} / ${num(x.bDone99?.median, 2)}`);
  p('');

  p(`**Slow work** (\`bench/redis-slow.mjs\`): ${w ? `${num(w.settings.items)} items of ${w.settings.itemMs} ms (\`demo\` with \`first_token_ms=${w.settings.itemMs}\`, \`tokens_per_s=0\`, \`length=1\`) on ${w.settings.workers} \`slowwork workers\` processes × ${w.settings.slotsPerWorker} slots (threads: ${w.settings.threadsPerWorker})` : 'not run'}, first \`add()\` to \`finished\`. The ideal is 6.25 s, the floor for whole items 6.4 s (1.024×), as in section 3.`, '');
  p(cols, sep);
  row('wall time, median (min – max), s', (x) => fig(x.slowW, 3));
  row('÷ 6.25 s (ideal; target ≤ 1.05×)', (x) => fig(x.slowX, 3));
  row('÷ 6.4 s (floor)', (x) => (x.slowX ? num((x.slowX.median * 6.25) / 6.4, 3) : '—'));
  row('CPU of all its processes (submitter, workers, redis-server), % of one core', (x) => fig(x.slowCpu, 1));
  p('');
} else {
  p('Not run in this pass.', '');
}
});

// ---- 6 ----
S('serve', () => serveSection());

// ---- 7 ----
if (source.dashboard) S('dashboard', () => dashboardSection());

// ---- 8 ----
if (source.coldstart) S('coldstart', () => coldSection());

// ---- 9 ----
if (source.llm) S('llm', () => llm.section());

// ---- observations, computed from the figures above ----
const obs = [];
const syncRow = chunkRows.find((r) => r.metric.includes('stream100-sync'));
if (chunks && syncRow && syncRow !== chunks) {
  obs.push(`The same 100 chunks per item reach the listener ${num(syncRow.median / chunks.median, 1)}× faster from an array than from an async generator, although both arrive merged ${num(chunks.settings.chunksPerChunkEvent)} to an event: the cost of an async processor is in the thread's per-chunk loop, not in the transport.`);
}
if (dispatchRows.length > 1) {
  const best = dispatchRows.reduce((a, b) => (b.median > a.median ? b : a));
  obs.push(`Dispatch: the fastest setting in this run was concurrency ${best.settings.concurrency} with batch size ${best.settings.batchSize} (${num(best.median)} items/s); the headline uses concurrency ${dispatch.settings.concurrency}, batch size ${dispatch.settings.batchSize}, fixed before the run.`);
}
const chainRow = slow ? findBy('node-timers', (x) => x.metric.endsWith(`beside the run b${slow.settings.batchSize}`)) : null;
if (slowWall && chainRow) obs.push(`Slow work: a bare chain of ${chainRow.settings.waves} sequential ${chainRow.settings.itemMs} ms timers, run beside the broker in the same process, took ${num(chainRow.median, 3)} s (${num(chainRow.median / 6.25, 3)}× the ideal): timer lateness alone uses ${num(((chainRow.median - 6.4) / 0.0375) * 100, 0)}% of the 37.5 ms the target allows. The broker adds ${num(((slowWall.median - chainRow.median) * 1000) / chainRow.settings.waves, 1)} ms per wave on top.`);
if (uiTui?.afterMajorGc && heapSlope !== null) obs.push(`The live heap (after major GCs) went from ${num(uiTui.afterMajorGc.firstMB, 1)} to ${num(uiTui.afterMajorGc.lastMB, 1)} MB over ${Math.round(uiTui.window[1] - uiTui.window[0])} s (${uiTui.afterMajorGc.count} GCs), ${heapSlope >= 0 ? '+' : ''}${num(heapSlope, 2)} MB/min: ${num(heapSlope * 10, 1)} MB per 10 minutes if it keeps that pace.`);
if (slowWall && cliWall) obs.push(`The CLI takes ${num(cliWall.median - slowWall.median, 2)} s more than the broker alone for the same work; for scale, \`slowwork --version\` (start, load, exit) takes ${num(cliStart?.median)} ms.`);
if (uiMain && plMain) obs.push(`The live view costs ${num(uiMain.median - plMain.median, 1)} points of one core on the main thread over the plain reporter, for the same workload.`);
if (uiTui?.effectiveTokensPerS && uiTui.effectiveTokensPerS < 0.95 * uiTui.tokensPerS) obs.push(`The demo processor delivered ${num(uiTui.effectiveTokensPerS, 1)} tokens/s per stream in the live-view run, not the ${uiTui.tokensPerS} asked for (items took ${num(uiTui.itemSeconds.median, 1)} s instead of ${num(uiTui.itemSecondsNominal, 1)} s): its pacing sleeps after each token, so it runs late on a busy machine, and the view was measured at ${num(uiTui.chunksPerSecEffective)} chunks/s rather than ${num(uiTui.chunksPerSecNominal)}.`);
for (const [m, label] of MODES) {
  const x = redis[m];
  if (!x.disp || !x.dispCpu?.workers) continue;
  const us = ['submitter', 'workers', 'redis-server'].map((who) => perItemUs(x.dispCpu[who], x.disp));
  const sum = us.reduce((a, b) => a + b, 0), cores = run.nproc ?? env.cpus ?? 2;
  const busy = ['submitter', 'workers', 'redis-server'].reduce((a, who) => a + (x.dispCpu[who]?.median ?? 0), 0);
  obs.push(`Redis dispatch (${label}): at ${num(x.disp.median)} items/s slowwork's processes (submitter, workers, redis-server) used ${num(busy, 0)}% of the machine's ${100 * cores}% of CPU; each item cost ${num(sum, 0)} µs of CPU in all (workers ${num(us[1], 0)}, redis-server ${num(us[2], 0)}, submitter ${num(us[0], 0)}). On ${cores} cores that allows at most ~${num((cores * 1e6) / sum)} items/s ≈ ${num((cores * 1e6) / sum / (x.bc100?.median ?? NaN), 2)}× BullMQ c100, if nothing else were waiting; redis-server alone, on its one core, caps it at ~${num(1e6 / us[2])} items/s${x.dispLua ? `, of which ${num(x.dispLua.median, 1)} µs per item is in slowwork's Lua scripts (about ${num(x.dispPerCall?.median, 0)} items per call)` : ''}.`);
}
if (redis.default.disp && redis.aof.disp) obs.push(`AOF everysec against no persistence, slowwork: dispatch ${num(redis.aof.disp.median / redis.default.disp.median, 2)}×${redis.default.chunk && redis.aof.chunk ? `, chunks ${num(redis.aof.chunk.median / redis.default.chunk.median, 2)}×` : ''}${redis.default.pick50 && redis.aof.pick50 ? `, pickup p50 ${num(redis.aof.pick50.median / redis.default.pick50.median, 2)}×` : ''}; BullMQ c100 ${redis.default.bc100 && redis.aof.bc100 ? `${num(redis.aof.bc100.median / redis.default.bc100.median, 2)}×` : '—'}.`);
obs.push(...serveObservations());
obs.push(...dashboardObservations());
obs.push(...coldObservations());
obs.push(...llm.observations());
// per benchmark, in the order of the sections; those carried as text keep their published ones
const allObs = [
  ...SUITES.flatMap((s) => (asText(s) ? published.observations[s] ?? [] : obs.filter((o) => observationSuite(o) === s))),
  ...obs.filter((o) => !SUITES.includes(observationSuite(o))),
];
if (allObs.length) {
  p('## Observations', '', 'Computed from the figures above:', '');
  for (const o of allObs) p(`- ${o}`);
  p('');
}

// ---- conditions ----
p('## Conditions', '');
p(`Before each step the harness waits up to ${process.env.BENCH_QUIET_WAIT || 5} s for the machine to be at least 80% idle; "others" is the CPU that processes outside this run took during the step, as % of the whole machine (100% = all cores). The slowwork run inside tmux is not counted as others\' (its CPU is subtracted).`, '');
if (conditions.length) {
  if (carriedRuns.length) {
    p('| run | step | idle before | others during | seconds |', '|---|---|---:|---:|---:|');
    for (const c of conditions) p(`| ${c.run ? `\`${c.run.replace('.bench-tmp/', '')}\`` : 'this run'} | ${c.step} | ${c.cpuIdleBeforePct}% | ${c.othersCpuPctDuring}% | ${c.seconds} |`);
  } else {
    p('| step | idle before | others during | seconds |', '|---|---:|---:|---:|');
    for (const c of conditions) p(`| ${c.step} | ${c.cpuIdleBeforePct}% | ${c.othersCpuPctDuring}% | ${c.seconds} |`);
  }
  p('');
}
p('## Reproduce', '');
p('```sh');
p('make bench                                   # everything, RUNS=5, ~30 min on 2 cores');
p('RUNS=3 BENCH_ONLY=dispatch,chunks make bench # a subset (its report stays in .bench-tmp/<run>/)');
p('BENCH_ONLY=redis RUNS=3 BENCH_WRITE_DOC=1 make bench  # Redis mode only, into this file (the rest carried over)');
p('BENCH_ONLY=serve RUNS=3 make bench            # the HTTP server only (~3 min)');
p('BENCH_ONLY=dashboard RUNS=3 BENCH_DASH_SECONDS=60 make bench  # the dashboard only (~6 min)');
p('BENCH_ONLY=coldstart RUNS=3 make bench       # cold start only (~2 min)');
p('BENCH_ONLY=llm RUNS=3 make bench             # the LLM client only (~10 min; LLM_STREAMS=2000 for a shorter one)');
p('ANCHORS_DIR=/path/to/anchors BENCH_UI_SECONDS=180 make bench  # other anchors, a shorter live-view run');
p('```');
p('Knobs are listed at the top of `bench/run.sh` and of each `bench/*.mjs`.');

// Where each benchmark's figures came from, for the next subset run to carry over.
p('', sourcesComment(Object.fromEntries(SUITES.filter((s) => source[s]).map((s) => [s, source[s].dir]))));
// What each of those runs was, for carrying its figures as text where its directory is gone.
p(runsComment(Object.fromEntries([...new Set(SUITES.filter((s) => source[s]).map((s) => source[s].dir))].map((dir) => {
  const d = dir === relative(REPO, OUT) ? here : loaded.get(resolve(REPO, dir));
  return [dir, { date: d.env.date ? d.env.date.slice(0, 10) : null, commit: d.run.slowworkCommit ?? null, runs: d.run.runs ?? null, redis: d.run.redis || null }];
}))));
writeFileSync(DOC, L.join('\n') + '\n');
console.log(`wrote ${DOC}`);

// ---- the HTTP server's parts of the document -----------------------------------------------------
function serveTargets() {
  for (const { w, p50, p99 } of ovhTarget) {
    // the headline: first text − first_token_ms; beside it the exact figure (the processor's own
    // measured first-token time taken out, bench/serve-stamp-processor.mjs)
    const exact = ovh(w, OVH_EXACT, 'p50', '/generate?delta=1, serve-stamp processor');
    const ok = p50 ? p50.median <= 2 : null, exactOk = exact ? exact.median <= 2 : null;
    p(`| HTTP server: overhead to the first token at light load, \`/generate\`, p50, ${w.label} | ${p50 ? `**${num(p50.median, 2)}** ms (${range(p50, 2)}; p99 ${num(p99?.median, 1)})${exact ? `; exact: ${num(exact.median, 2)} ms` : ''}` : 'not run'} | raw node:http round trip, for scale: ${anchorRtt50 ? `${num(anchorRtt50.median, 2)} ms (p99 ${num(anchorRtt99?.median, 1)})` : '—'} | — | p50 ≤ 2 ms | ${verdict(ok)}${exactOk !== null && exactOk !== ok ? ` (exact: ${exactOk ? 'met' : 'not met'})` : ''} |`);
  }
  if (!ovhTarget.length) p('| HTTP server: overhead to the first token at light load, `/generate`, p50 | not run | — | — | p50 ≤ 2 ms | not run |');
  const wall = streamRow('wall time, first request to last completed'), rss = streamRow('server peak RSS');
  if (stCompleted) p(`| HTTP server: ${num(stCompleted.settings.streams)} concurrent \`/generate\` streams on the embedded pool | **${num(stCompleted.min)}** of ${num(stCompleted.settings.streams)} completed (worst run), in ${fig(wall, 2)} s; server peak RSS ${fig(rss, 0)} MB | — | — | all complete | ${verdict(stCompleted.min === stCompleted.settings.streams)} |`);
}

function serveSection() {
  p('## 6. HTTP server (`slowwork serve`)', '');
  if (!serveRows.length) { p('Not run in this pass.', ''); return; }
  const any = ovhTarget.find((x) => x.p50)?.p50;
  const F = any?.settings.firstTokenMs;
  p(`**Overhead to the first token at light load** (\`bench/serve-overhead.mjs\`): ${any ? `\`slowwork serve\` with \`demo\` at \`first_token_ms=${F}\` (\`tokens_per_s=0\`, \`length=8\`; threads: ${any.settings.threads}); ${num(any.settings.requests)} requests per route and run, paced at ${any.settings.rate}/s (open loop: each is sent on time whatever the others do, so each arrives alone in the batch window), after ${any.settings.warmup} warm-up requests per route. The client (${any.settings.client}) takes the time from just before writing a request to reading the first event with non-empty text, minus ${F} ms; connections are opened by the warm-up (new connections during the measured requests: ${serveWindows.map((w) => num(ovh(w, OVH_DEMO, 'p50')?.settings.newConnectionsMeasured ?? NaN, 0)).join(', ')}). The demo's wait is a timer, which fires a little late: \`bench/serve-stamp-processor.mjs\` waits the same ${F} ms but reports when it started and when it yielded its first chunk (CLOCK_MONOTONIC, shared by all processes of the host), so the exact overhead (first text minus the processor's own measured time) and where it goes can be given too. Each batch window on a fresh server. p50 and p99 per run (nearest rank), the median of those over the rounds (min – max).` : 'not run'}`, '');
  if (serveWindows.length) {
    p(`| ms | ${serveWindows.map((w) => w.label).join(' | ')} |`, `|---|${serveWindows.map(() => '---:').join('|')}|`);
    const row = (what, f) => p(`| ${what} | ${serveWindows.map((w) => f(w)).join(' | ')} |`);
    const pp = (a, b, d = 2) => (a ? `${fig(a, d)} / ${num(b?.median, 1)}` : '—');
    row(`\`/generate?delta=1\`: first text − ${F} ms, p50 / p99 (**target p50 ≤ 2**)`, (w) => pp(ovh(w, OVH_DEMO, 'p50'), ovh(w, OVH_DEMO, 'p99')));
    row(`\`/v1/chat/completions\` streaming: first \`delta.content\` − ${F} ms, p50 / p99`, (w) => pp(ovh(w, OVH_DEMO, 'p50', '/v1/chat/completions stream'), ovh(w, OVH_DEMO, 'p99', '/v1/chat/completions stream')));
    const st = '/generate?delta=1, serve-stamp processor';
    row('`/generate?delta=1`, serve-stamp: first text − the processor\'s own first-token time (exact), p50 / p99', (w) => pp(ovh(w, OVH_EXACT, 'p50', st), ovh(w, OVH_EXACT, 'p99', st)));
    row('… of which request written → processor started, p50 / p99', (w) => pp(ovh(w, 'request -> processor start', 'p50', st), ovh(w, 'request -> processor start', 'p99', st)));
    row('… of which first chunk yielded → read by the client, p50 / p99', (w) => pp(ovh(w, 'first chunk -> client', 'p50', st), ovh(w, 'first chunk -> client', 'p99', st)));
    row(`the processor's own first-token time (its ${F} ms timer), p50 / p99`, (w) => pp(ovh(w, "processor's own first-token time", 'p50', st), ovh(w, "processor's own first-token time", 'p99', st)));
    row('`/generate`: request written → first event (the empty `in_progress`), p50 / p99', (w) => pp(ovh(w, 'first event (empty in_progress)', 'p50'), ovh(w, 'first event (empty in_progress)', 'p99')));
    p(`| anchor: raw node:http server, same client and pace: request written → first byte of the answer, p50 / p99 | ${anchorRtt50 ? `${fig(anchorRtt50, 2)} / ${num(anchorRtt99?.median, 1)}` : '—'} |${serveWindows.slice(1).map(() => ' |').join('')}`);
    p('');
  }

  const S2 = stCompleted?.settings;
  const sr = (what) => streamRow(what);
  p(`**Streams held at once** (\`bench/serve-streams.mjs\`): ${S2 ? `${num(S2.streams)} \`POST ${S2.route.replace('POST ', '')}\` streams sent at once to \`slowwork serve\` (${S2.server.replace(/^slowwork serve, /, '')}) with \`${S2.processor}\` (about ${num(S2.nominalStreamS, 2)} s per stream, ${S2.eventsPerStreamLastRun} events each), by a client in its own process (${S2.client}; the ${num(S2.streams)} connections are opened by the run itself, ${num(S2.newConnectionsLastRun)} new in the last run). Every stream must end \`completed\` with its 40 tokens, or the benchmark fails. A fresh server per run, warmed by ${S2.warmup} streams; its RSS is read from \`/proc/<pid>/status\`: before (idle, after the warm-up), and the peak during the run (VmRSS every 20 ms and VmHWM at the end).` : 'not run'}`, '');
  if (S2) {
    p('| what | median (min – max) |', '|---|---:|');
    p(`| streams completed, of ${num(S2.streams)} started | ${fig(stCompleted, 0)} |`);
    p(`| wall time, first request written to last stream completed (s) | ${fig(sr('wall time, first request to last completed'), 2)} |`);
    p(`| time until every stream had its first event (ms) | ${fig(sr('time until every stream had its first event'), 0)} |`);
    p(`| first event per stream, p50 / p99 (ms; includes opening its connection) | ${num(sr('first event p50')?.median, 0)} / ${num(sr('first event p99')?.median, 0)} |`);
    p(`| stream duration, p50 / p99 (s; nominal ${num(S2.nominalStreamS, 2)}) | ${num(sr('stream duration p50')?.median, 2)} / ${num(sr('stream duration p99')?.median, 2)} |`);
    p(`| server RSS before (idle, after the warm-up), MB | ${fig(sr('server RSS before (idle, after warm-up)'), 0)} |`);
    p(`| **server peak RSS**, MB | ${fig(sr('server peak RSS'), 0)} |`);
    p(`| server RSS growth per stream, KB | ${fig(sr('server RSS growth per stream'), 0)} |`);
    p(`| server CPU during the run, % of one core (all its threads) | ${fig(sr('server CPU'), 0)} |`);
    p(`| SSE events delivered to the client, events/s | ${fig(sr('SSE events delivered'))} |`);
    p('');
  }

  const t0 = serveTp[0].ours ?? serveTp[0].anchor;
  p(`**\`/v1/chat/completions\` throughput** (\`bench/serve-throughput.mjs\`, no target): ${t0 ? `non-streaming requests to \`slowwork serve\` with \`demo\` at zero delay (\`tokens_per_s=0\`, \`first_token_ms=0\`, \`length=8\`; the server's defaults otherwise), ${t0.settings.clients} requests in flight over as many keep-alive connections, ${num(t0.settings.requests)} requests a run after ${num(t0.settings.warmup)} to warm up; every answer must be 200 with a finished choice. The anchor, run back to back with it in every round (the order alternating), is \`bench/serve-anchor-http.mjs\`: a raw node:http server that reads the body and answers a fixed JSON body of the same size, with no routing, parsing or work. Both are driven by the same client, from the benchmark's own process: first a lean one (plain sockets, a minimal HTTP/1.1 reader: the headline, cheap enough that the server is what is measured), then node:http's client with a keep-alive agent (costlier: at the anchor's pace the client, not the server, is the limit). The ratio is taken per round. The client and the server share the machine's ${run.nproc ?? env.cpus ?? 2} cores.` : 'not run'}`, '');
  if (t0) {
    p('| client | slowwork, requests/s | anchor: raw node:http, requests/s | slowwork ÷ anchor, per round | ratio of medians | CPU, % of one core: slowwork server / its client; anchor server / its client |');
    p('|---|---:|---:|---:|---:|---|');
    for (const x of serveTp) {
      if (!x.ours && !x.anchor) continue;
      p(`| ${x.client} | ${fig(x.ours)} | ${fig(x.anchor)} | ${ratioText(x.q)} | ${x.q ? num(x.q.ofMedians, 2) + '×' : '—'} | ${num(tpCpu(x.ours, 'server')?.median, 0)} / ${num(tpCpu(x.ours, 'client')?.median, 0)}; ${num(tpCpu(x.anchor, 'server')?.median, 0)} / ${num(tpCpu(x.anchor, 'client')?.median, 0)} |`);
    }
    p('');
  }
}

function serveObservations() {
  const out = [];
  const def = serveWindows.find((w) => w.flag === null), zero = serveWindows.find((w) => w.ms === 0 && w.flag !== null);
  const st = '/generate?delta=1, serve-stamp processor';
  if (def && zero) {
    const d = ovh(def, OVH_DEMO, 'p50'), z = ovh(zero, OVH_DEMO, 'p50');
    const pd = ovh(def, 'request -> processor start', 'p50', st), pz = ovh(zero, 'request -> processor start', 'p50', st);
    if (d && z && pd && pz) {
      // Whether a lone request still waits for the window shows in request -> processor start.
      const waits = pd.median - pz.median > def.ms / 2;
      out.push(waits
        ? `HTTP server: the batch window is most of the overhead at light load: a lone request waits for it. Request → processor start takes ${num(pd.median, 2)} ms at the default ${def.ms} ms window against ${num(pz.median, 2)} ms with \`--batch-window 0\`, and the overhead p50 goes from ${num(d.median, 2)} to ${num(z.median, 2)} ms.`
        : `HTTP server: at light load a lone request does not wait for the batch window (a short batch goes at once when nothing of the job runs or no batch went within the window): request → processor start takes ${num(pd.median, 2)} ms at the default ${def.ms} ms window and ${num(pz.median, 2)} ms with \`--batch-window 0\`; the overhead p50 is ${num(d.median, 2)} and ${num(z.median, 2)} ms.`);
    }
  }
  const ex = (zero ?? def) ? ovh(zero ?? def, OVH_EXACT, 'p50', st) : null, ow = (zero ?? def) ? ovh(zero ?? def, "processor's own first-token time", 'p50', st) : null;
  if (ex && ow) out.push(`HTTP server: the demo's ${ow.settings.firstTokenMs} ms wait itself took ${num(ow.median, 2)} ms (p50, timer lateness), which "first text − first_token_ms" counts as overhead; measured exactly (serve-stamp), the overhead p50 is ${num(ex.median, 2)} ms at ${(zero ?? def).label}${anchorRtt50 ? `, of which a bare node:http request and answer on this machine, with the same client, take ${num(anchorRtt50.median, 2)} ms` : ''}.`);
  const raw = serveTp[0], http = serveTp[1];
  if (raw.q && http.q && http.anchor) {
    const cc = tpCpu(http.anchor, 'client');
    out.push(`HTTP server: \`/v1/chat/completions\` keeps ${num(ratioValue(raw.q), 2)}× of the raw node:http ceiling with the lean client (${num(raw.ours.median)} against ${num(raw.anchor.median)} requests/s), ${num(ratioValue(http.q), 2)}× with node:http's client, which at the anchor's ${num(http.anchor.median)} requests/s uses ${num(cc?.median, 0)}% of a core itself and so hides most of the difference.`);
  }
  return out;
}

// ---- the dashboard's parts of the document --------------------------------------------------------
/** A count that should not vary: "**100** in every round", or the median with its range. */
function steady(r) {
  return r && r.min === r.max ? `**${num(r.median, 0)}** in every round` : fig(r, 0);
}

function dashboardTargets() {
  const seed = dash.summary?.seed;
  const scale = seed ? `${seed.workers} workers and ${seed.jobs} jobs` : '50 workers and 20 jobs';
  p(`| Dashboard: CPU with ${scale}, refresh 1 s | ${dash.cpu ? `**${num(dash.cpu.median, 1)}%** (${range(dash.cpu, 1)}) of one core, interactive view in tmux 120x40${dash.plainCpu ? `; \`--no-tui\` snapshots ${num(dash.plainCpu.median, 1)}%` : ''}` : 'not run'} | — | — | ≤ ${DASH_TARGET_PCT}% of one core | ${verdict(dash.cpu ? dash.cpu.median <= DASH_TARGET_PCT : null)} |`);
  const f = dash.forbidden;
  p(`| Dashboard: Redis commands per refresh, ${scale} | ${dash.cmds ? `**${num(dash.cmds.median, 0)}** commands ${dash.cmds.min === dash.cmds.max ? 'in every round' : `(${range(dash.cmds, 0)})`}, in 2 pipelined round trips, ${num(dash.us?.median, 0)} µs of redis-server time; its own count: ${num(dash.cost?.median, 0)}; KEYS/SCAN: ${f && f.max === 0 ? 'none' : `**${num(f?.max, 1)} per refresh**`}` : 'not run'} | — | — | no KEYS or SCAN: counters, XINFO and bounded reads only | ${verdict(f ? f.max === 0 : null)} |`);
}

function dashboardSection() {
  p('## 7. Dashboard (`slowwork watch dashboard`) with 50 workers and 20 jobs', '');
  const sm = dash.summary, seed = sm?.seed;
  if (!dash.cpu && !dash.cmds) { p('Not run in this pass.', ''); return; }
  const q0 = sm?.once?.queue;
  p(`**The system is simulated.** No worker or submitter process runs: \`bench/lib/dashboard-seed.mjs\`, inside the benchmark's own process, writes the keys real ones write, in slowwork's key layout and, where slowwork writes them with a Lua script, with that same script (heartbeat, create-job, enqueue), and renews them every second. So the dashboard reads exactly what it would read from a live system of that size, and what is measured is the dashboard's own cost (and redis-server's for its reads), not the seeder's. ${seed ? `On queue \`${seed.queue}\`: **${seed.workers} live workers** (${seed.hosts} hosts, ${seed.slots} slots and ${seed.threads} threads each; the heartbeat hash with every field a worker writes, renewed every ${seed.heartbeatMs} ms with a TTL of ${seed.heartbeatTtlMs} ms, the ${seed.workers} beats spread over the second; processed, failed and chunks growing, busy and cpu varying) and **${seed.deadWorkers} dead ones** (in the workers zset, hash expired); **${seed.jobs} running jobs** (the fields create-job.lua writes, totals of 2,000 – 5,500 items, \`done\` growing at 0.5 – 4.5 items/s each with a failure now and then, a spec naming their processor, a run hash of about ${Math.round((q0?.inFlight ?? 0) / seed.jobs / (seed.entryItems ?? 1))} entries each); the items stream with the \`workers\` group, ${seed.itemsPerJob ?? seed.entriesPerJob} items per job enqueued at the start in entries of ${seed.entryItems ?? 1}${q0 ? ` (when sampled: ${num(q0.waiting, 0)} waiting, ${num(q0.inFlight, 0)} in flight, read under the workers' consumer names)` : ''}, ${seed.churnPerSec} more enqueued, read, acknowledged and deleted every second; ${seed.delayed} retries in the delayed zset; ${seed.dlq} entries in the dead-letter stream.` : ''}`, '');
  p(`**CPU and memory** (\`bench/dashboard.mjs\`): the interactive dashboard (\`node bin/slowwork.js watch dashboard --redis URL --queue default\`, its default refresh of 1 s on a terminal) in a tmux pane of 120x40 on its own socket, CI unset; after ${sm?.warmup ?? '?'} s of warm-up its process CPU (utime + stime of the node process from \`/proc/<pid>/stat\`, not tmux's) over ${sm?.seconds ?? '?'} s as % of one core, and its RSS (\`/proc/<pid>/status\`). The pane, captured mid-window, must show \`WORKERS ${seed?.workers ?? 50} alive\` and a seeded job id or the round does not count. It is then quit with \`q\` (exit 0 required). The second column is the same dashboard without a terminal (\`--no-tui --interval 1000\`, stdout to a file): a full text snapshot every second, measured the same way.`, '');
  p('| | interactive view (tmux 120x40) | `--no-tui` text snapshots |', '|---|---:|---:|');
  p(`| measured for (per round) | ${sm ? `${num(sm.tui.window[1] - sm.tui.window[0], 0)} s` : '—'} | ${sm?.plain ? `${num(sm.plain.window[1] - sm.plain.window[0], 0)} s (${sm.plain.snapshots} snapshots, ${num(sm.plain.bytes / 1024, 0)} KB)` : '—'} |`);
  p(`| **process CPU, % of one core** (target ≤ ${DASH_TARGET_PCT}) | ${fig(dash.cpu, 1)} | ${fig(dash.plainCpu, 1)} |`);
  p(`| CPU per refresh, ms | ${num(dash.cpu ? dash.cpu.median * 10 : NaN, 1)} | ${num(dash.plainCpu ? dash.plainCpu.median * 10 : NaN, 1)} |`);
  const iv = (row) => (row?.settings.intervals?.length ? `${num(Math.min(...row.settings.intervals), 1)} – ${num(Math.max(...row.settings.intervals), 1)}` : '—');
  p(`| CPU per 5 s interval, min – max (first round) | ${iv(dash.cpu)} | ${iv(dash.plainCpu)} |`);
  p(`| peak RSS, MB | ${fig(dash.rss, 0)} | ${fig(dash.plainRss, 0)} |`);
  const rssPath = (x) => (x ? `${num(x.rss.startMB, 0)} → ${num(x.rss.endMB, 0)}` : '—');
  p(`| RSS at the start → end of the window, MB (newest round) | ${rssPath(sm?.tui)} | ${rssPath(sm?.plain)} |`);
  p('');

  const what = {
    hgetall: 'one per name in the workers zset (live or dead): the heartbeat hash',
    hmget: 'one per job: the fields of the job hash the rows show',
    hlen: "one per job: its run hash (items running)",
    zrevrange: 'the workers zset (at most 200, with scores) and the jobs zset (at most 30)',
    xlen: 'the items stream and the dead-letter stream',
    'xinfo|groups': "the items stream's groups: in flight and the last delivered id",
    zcard: 'the delayed zset',
    xrange: 'COUNT 1 from the last delivered id: the oldest waiting entry (the lag)',
  };
  p(`**Redis commands per refresh.** (a) The dashboard's own count: \`watch dashboard --once --json\` prints \`cost\`, the commands of its one sample: ${steady(dash.cost)}; 6 per queue + one per worker in the zset + 2 per job + 1 when items wait: ${sm ? `6 + ${seed.workers + seed.deadWorkers} + 2 × ${seed.jobs} + 1 = ${sm.once.expected}` : '—'}. (b) Seen from redis-server: with the interactive dashboard still running, the seeder is paused (its last heartbeats live long enough) and INFO stats and INFO commandstats are read before and after ${sm ? `${num(sm.commands.windowS, 0)} s` : 'a window'}, both mid-way between two refreshes; the difference, less our own INFO calls, is the dashboard's alone, divided by the refreshes in the window (its XINFO GROUPS calls, one per refresh: ${sm?.commands.refreshes ?? '?'} in the newest round). µs: redis-server's own time in each command (commandstats \`usec\`), without network and event-loop time.`, '');
  p('| command | calls per refresh | redis-server µs per refresh | what for |', '|---|---:|---:|---|');
  for (const c of dash.perCommand) p(`| \`${c.name.replace('|', ' ').toUpperCase()}\` | ${num(c.calls.median, c.calls.max === c.calls.min && Number.isInteger(c.calls.median) ? 0 : 2)} | ${fig(c.us, 1)} | ${what[c.name] ?? ''} |`);
  p(`| **all, from total_commands_processed** | **${num(dash.cmds?.median, dash.cmds && Number.isInteger(dash.cmds.median) ? 0 : 2)}** (${range(dash.cmds, 0)}) | ${fig(dash.us, 0)} | the dashboard's own count: ${num(dash.cost?.median, 0)} |`);
  p('');
  p(`KEYS, SCAN, HSCAN, SSCAN, ZSCAN: ${dash.forbidden ? (dash.forbidden.max === 0 ? 'none in any round' : `**${num(dash.forbidden.max, 1)} per refresh**`) : '—'}. redis-server's process CPU over the same window (the dashboard's reads, our INFO calls and its own housekeeping): ${fig(dash.redisCpu, 2)}% of one core.`, '');
  if (sm?.captureMid) {
    const lines = sm.captureMid.split('\n').map((l) => l.replace(/\s+$/, ''));
    const jobsAt = lines.findIndex((l) => /^JOBS /.test(l));
    const shown = [...lines.slice(0, 11), '…', ...(jobsAt > 0 ? lines.slice(jobsAt, jobsAt + 4) : []), '…', ...lines.filter((l) => l).slice(-1)];
    p(`The pane mid-window (\`tmux capture-pane\`, pane ${sm.pane}, newest round; some lines left out; dashboard verified: ${sm.verified ? 'yes' : '**no**'}):`, '');
    p('```', ...shown, '```', '');
  }
}

function dashboardObservations() {
  const out = [];
  if (dash.cpu) out.push(`Dashboard: at one refresh a second with ${dash.summary?.seed.workers ?? 50} workers and ${dash.summary?.seed.jobs ?? 20} jobs, the interactive view takes ${num(dash.cpu.median, 1)}% of one core (${num(dash.cpu.median * 10, 1)} ms of CPU per refresh), ${num(dash.cpu.median / DASH_TARGET_PCT * 100, 0)}% of the ${DASH_TARGET_PCT}% budget${dash.plainCpu ? `; the \`--no-tui\` snapshots of the same data, with no ink, ${num(dash.plainCpu.median, 1)}%, so about ${num(Math.max(0, dash.cpu.median - dash.plainCpu.median), 1)} points go to the interactive view's rendering (ink) beyond sampling and formatting the same rows` : ''}.`);
  const hg = dash.perCommand.find((c) => c.name === 'hgetall');
  if (dash.cmds && hg && dash.us) out.push(`Dashboard: of the ${num(dash.cmds.median, 0)} commands per refresh, ${num(hg.calls.median, 0)} are HGETALLs of the worker hashes (${num(hg.us?.median, 0)} of the ${num(dash.us.median, 0)} µs of redis-server time): the cost grows by one command per worker listed (at most 200 per queue) and two per job (at most 30), and stays flat in the size of the streams and zsets, read only by XLEN, ZCARD, XINFO GROUPS and an XRANGE of COUNT 1.`);
  return out;
}

/** An anchor package's version: as installed for this run, else as pinned in the anchors' package.json. */
function anchorPkg(name) {
  if (env.packages?.[name]) return env.packages[name];
  try {
    const pkg = JSON.parse(readFileSync(join(process.env.BENCH_ANCHORS_COPY || join(REPO, '.bench-tmp', 'anchors'), 'package.json'), 'utf8'));
    return pkg.dependencies?.[name] ?? '?';
  } catch {
    return '?';
  }
}

function pkgVersion(name) {
  try {
    return JSON.parse(readFileSync(join(REPO, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return '?';
  }
}

// ---- cold start's parts of the document ------------------------------------------------------------
function ms(r) {
  return r ? `**${num(r.median, 0)}** ms (${range(r, 0)})` : 'not run';
}
function xq(r) {
  return r ? `**${num(r.median, 2)}×** (${range(r, 2)})` : '—';
}

function coldTargets() {
  p(`| Cold start: spawn → first item start, \`slowwork submit -p x\` (embedded, stamping processor) | ${ms(cold.prompt)} | \`node -e 0\` spawn → exit ${ms(cold.node)} | ${xq(cold.qPrompt)} | ≤ ${num(COLD_SUBMIT_X, 1)}× | ${verdict(cold.qPrompt ? cold.qPrompt.median <= COLD_SUBMIT_X : null)} |`);
  p(`| Cold start: spawn → exit, \`slowwork --version\` | ${ms(cold.version)} | \`node -e 0\` spawn → exit ${ms(cold.node)} | ${xq(cold.qVersion)} | ≤ ${num(COLD_VERSION_X, 1)}× | ${verdict(cold.qVersion ? cold.qVersion.median <= COLD_VERSION_X : null)} |`);
}

function coldSection() {
  p('## 8. Cold start', '');
  if (!cold.node) { p('Not run in this pass.', ''); return; }
  const n = cold.node.settings.spawns;
  p(`\`bench/cold-start.mjs\`: ${n} spawns of each kind per run, interleaved spawn by spawn with the order rotating, from one Node process that reads CLOCK_MONOTONIC (\`process.hrtime\`) just before \`spawn()\` and again at the child's exit. The first item's start is stamped by the processor itself (\`bench/processors/start-stamp.mjs\`: the first item each thread starts appends \`process.hrtime\` to a file named by an environment variable; the earliest stamp counts), so it includes Node's start, loading slowwork, checking the pipeline and the input, starting the worker threads and loading the processor in them. Embedded pool, default threads (the number of cores), \`--no-tui\`, stdout ignored. Each run gives a median and a p90 (nearest rank) per kind; the table shows the median of those over the rounds (min – max), and the ratios are of the medians within each run.`, '');
  p('| ms | median | p90 | ÷ `node -e 0` (medians, per run) |', '|---|---:|---:|---:|');
  p(`| \`node -e 0\`, spawn → exit (the anchor) | ${ms(cold.node)} | ${num(cold.node90?.median, 0)} | 1 |`);
  p(`| \`slowwork --version\`, spawn → exit | ${ms(cold.version)} | ${num(cold.version90?.median, 0)} | ${xq(cold.qVersion)} (target ≤ ${num(COLD_VERSION_X, 1)}×) |`);
  p(`| \`slowwork submit -p x\`, spawn → first item start | ${ms(cold.prompt)} | ${num(cold.prompt90?.median, 0)} | ${xq(cold.qPrompt)} (target ≤ ${num(COLD_SUBMIT_X, 1)}×) |`);
  p(`| \`slowwork submit -p x\`, spawn → exit | ${ms(cold.promptExit)} | ${num(cold.promptExit90?.median, 0)} | ${cold.promptExit ? num(cold.promptExit.median / cold.node.median, 2) + '× (of medians)' : '—'} |`);
  if (cold.file) p(`| \`slowwork submit FILE\` (${num(cold.file.settings.fileItems)} lines), spawn → first item start | ${ms(cold.file)} | ${num(cold.file90?.median, 0)} | ${xq(cold.qFile)} |`);
  p('');
}

function coldObservations() {
  if (!cold.prompt || !cold.node || !cold.version) return [];
  return [`Cold start: of the ${num(cold.prompt.median, 0)} ms a one-prompt submit takes to start its item, ${num(cold.node.median, 0)} ms is Node's own start (\`node -e 0\`) and ${num(cold.prompt.median - cold.node.median, 0)} ms is slowwork's: loading the submit flow, checking the pipeline and the input, and the worker threads' start (begun before the submit flow loads) with the processor loaded in them.`];
}
