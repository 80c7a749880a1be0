// HTTP server benchmark 2: streams held at once. SERVE_STREAMS concurrent POST /generate?delta=1
// streams on the embedded pool (`demo` with tokens_per_s=20, first_token_ms=0, length=40: each
// stream lasts about 2 s), all sent at once by this process (the client, apart from the server)
// over a node:http agent with a socket per stream. Every stream must end `completed` with its
// 40 tokens: any failure, early end or HTTP error fails the benchmark. Measured: how many
// completed of those started, the wall time from the first request written to the last stream
// completed, the time until every stream had its first event, each stream's duration, and the
// server's memory: RSS before (idle, after a warm-up of SERVE_STREAMS_WARMUP streams), its peak
// during the run (VmRSS polled every 20 ms from /proc/<pid>/status, and VmHWM at the end: a fresh
// server per run, so its high-water mark is this run's), and its CPU. A fresh server each run.
//
// Env: RUNS, SERVE_STREAMS (1000), SERVE_STREAMS_TOKENS_PER_S (20), SERVE_STREAMS_LENGTH (40),
//      SERVE_STREAMS_WARMUP (50).
import { RUNS, nowMs, num, record } from './lib/common.mjs';
import { agent, deadline, fail, postSse, procCpuMs, procMem, sleep, startServe, summary } from './lib/serve.mjs';

const STREAMS = num('SERVE_STREAMS', 1000);
const TPS = num('SERVE_STREAMS_TOKENS_PER_S', 20);
const LENGTH = num('SERVE_STREAMS_LENGTH', 40);
const WARMUP = num('SERVE_STREAMS_WARMUP', 50);
const NOMINAL_S = (LENGTH - 1) / TPS; // the first token at once, then LENGTH-1 gaps
deadline(60 + RUNS * (3 * NOMINAL_S + 40), 'serve-streams');

/** `n` streams at once; resolves per-stream timings, or rejects on the first failure. */
async function streams(ag, port, n) {
  const t0 = nowMs();
  let opened = 0, tOpen = null;
  const one = async (i) => {
    let first = null, end = null, pieces = 0, text = '', done = false;
    const r = await postSse(ag, port, '/generate?delta=1', { prompt: `stream prompt ${i}` }, (data, t) => {
      const e = JSON.parse(data);
      if (first === null) {
        first = t;
        if (++opened === n) tOpen = t;
      }
      if (e.status === 'failed') throw new Error(`stream ${i} failed: ${e.error}`);
      if (e.text) { pieces++; text += e.text; }
      if (e.status === 'completed') { done = true; end = t; }
    });
    if (!done) throw new Error(`stream ${i} ended without "completed" after ${r.events} events`);
    return { first: first - r.t0, seconds: (end - r.t0) / 1000, end, pieces, words: text.split(' ').length, reused: r.reused };
  };
  const out = await Promise.allSettled(Array.from({ length: n }, (_, i) => one(i)));
  const ok = out.filter((o) => o.status === 'fulfilled').map((o) => o.value);
  const errors = out.filter((o) => o.status === 'rejected').map((o) => String(o.reason?.message ?? o.reason));
  const tEnd = ok.length ? Math.max(...ok.map((x) => x.end)) : nowMs();
  return { ok, errors, wallS: (tEnd - t0) / 1000, openMs: tOpen === null ? NaN : tOpen - t0 };
}

const rows = [];
for (let r = 0; r < RUNS; r++) {
  const server = await startServe(['--param', `tokens_per_s=${TPS}`, '--param', 'first_token_ms=0', '--param', `length=${LENGTH}`]);
  const ag = agent(STREAMS + 16);
  const warm = await streams(ag, server.port, WARMUP);
  if (warm.errors.length) fail(`serve-streams warm-up: ${warm.errors[0]}\nserver stderr: ${server.stderr().trim()}`);
  await sleep(500); // settle: the warm-up's garbage collected, its streams gone
  const before = procMem(server.pid);
  let peak = before.rss, polling = true;
  const poller = (async () => {
    while (polling) {
      await sleep(20);
      try { peak = Math.max(peak, procMem(server.pid).rss); } catch {}
    }
  })();
  const c0 = procCpuMs(server.pid), t0 = nowMs();
  const res = await streams(ag, server.port, STREAMS);
  const cpuPct = (100 * (procCpuMs(server.pid) - c0)) / (nowMs() - t0);
  polling = false;
  await poller;
  const after = procMem(server.pid);
  ag.destroy();
  await server.stop();
  const words = summary(res.ok.map((x) => x.words));
  const row = {
    started: STREAMS, completed: res.ok.length, errors: res.errors, wallS: res.wallS, openMs: res.openMs,
    first: summary(res.ok.map((x) => x.first)), seconds: summary(res.ok.map((x) => x.seconds)),
    rssBeforeMB: before.rss / 2 ** 20, peakRssMB: Math.max(peak, after.hwm) / 2 ** 20, polledPeakMB: peak / 2 ** 20, rssAfterMB: after.rss / 2 ** 20,
    cpuPct, eventsPerS: res.ok.reduce((s, x) => s + x.pieces + 2, 0) / res.wallS, pieces: summary(res.ok.map((x) => x.pieces)),
    newConnections: res.ok.filter((x) => !x.reused).length, words,
  };
  rows.push(row);
  if (process.env.BENCH_VERBOSE) console.error(JSON.stringify(row));
  if (row.completed !== STREAMS || words.min !== LENGTH || words.max !== LENGTH) {
    record('slowwork-serve', `${STREAMS} streams: completed`, 'streams', [row.completed], { started: STREAMS });
    fail(`serve-streams: ${row.completed} of ${STREAMS} streams completed (tokens per stream ${words.min}-${words.max}, expected ${LENGTH}); first errors:\n${[...new Set(row.errors)].slice(0, 5).join('\n')}`);
  }
}

const settings = {
  streams: STREAMS, route: 'POST /generate?delta=1', processor: `demo tokens_per_s=${TPS} first_token_ms=0 length=${LENGTH}`, nominalStreamS: NOMINAL_S,
  warmup: WARMUP, client: `node:http, agent with ${STREAMS + 16} sockets, separate process`, newConnectionsLastRun: rows.at(-1).newConnections,
  eventsPerStreamLastRun: rows.at(-1).pieces.p50 + 2, server: 'slowwork serve, embedded pool, defaults (threads: one per core; -c 1024)',
};
const rec = (metric, unit, pick) => record('slowwork-serve', `${STREAMS} streams: ${metric}`, unit, rows.map(pick), settings);
rec('completed', 'streams', (x) => x.completed);
rec('wall time, first request to last completed', 's', (x) => x.wallS);
rec('time until every stream had its first event', 'ms', (x) => x.openMs);
rec('first event p50', 'ms', (x) => x.first.p50);
rec('first event p99', 'ms', (x) => x.first.p99);
rec('stream duration p50', 's', (x) => x.seconds.p50);
rec('stream duration p99', 's', (x) => x.seconds.p99);
rec('server RSS before (idle, after warm-up)', 'MB', (x) => x.rssBeforeMB);
rec('server peak RSS', 'MB', (x) => x.peakRssMB);
rec('server RSS growth per stream', 'KB', (x) => ((x.peakRssMB - x.rssBeforeMB) * 1024) / STREAMS);
rec('server CPU', '% of one core', (x) => x.cpuPct);
rec('SSE events delivered', 'events/s', (x) => x.eventsPerS);
