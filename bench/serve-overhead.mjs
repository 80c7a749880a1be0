// HTTP server benchmark 1: the overhead `slowwork serve` adds to a stream's first token, at light
// load. The server runs `demo` with first_token_ms=F and tokens_per_s=0; requests arrive paced
// (open loop, SERVE_OVH_RATE/s, each one alone in the server's batch window), over a keep-alive
// node:http agent whose sockets the warm-up opened. For each request the client takes the time
// from just before writing it to reading the first event with non-empty text, minus F:
//   - POST /generate?delta=1 (demo)
//   - POST /v1/chat/completions with stream:true (demo; the first frame with delta.content)
//   - POST /generate?delta=1 with bench/serve-stamp-processor.mjs, which reports when it started
//     and when it yielded its first chunk (CLOCK_MONOTONIC, shared by every process of the host):
//     time to first text minus the processor's own measured first-token latency (so the timer
//     lateness of its F ms wait is not counted as overhead), split into request -> processor
//     start and first chunk -> client.
// Each at the server's default --batch-window (2 ms: a lone request waits at most that long by
// design) and at --batch-window 0, a fresh server for each. p50 and p99 per run (nearest rank).
// For scale, the same client and pace against the raw node:http anchor (bench/serve-anchor-http.mjs):
// its round trip, request written to the first byte of the answer, is what HTTP on loopback costs
// with no server work at all.
//
// Env: RUNS, SERVE_OVH_FIRST_TOKEN_MS (50), SERVE_OVH_RATE (125 requests/s),
//      SERVE_OVH_REQUESTS (250 per route and run), SERVE_OVH_WARMUP (50 per route),
//      SERVE_OVH_WINDOWS ("default,0": batch windows in ms, "default" = no flag, the server's 2).
import { RUNS, nowMs, num, record } from './lib/common.mjs';
import { agent, deadline, fail, postJson, postSse, sleep, startAnchor, startServe, summary } from './lib/serve.mjs';

const F = num('SERVE_OVH_FIRST_TOKEN_MS', 50);
const RATE = num('SERVE_OVH_RATE', 125);
const REQUESTS = num('SERVE_OVH_REQUESTS', 250);
const WARMUP = num('SERVE_OVH_WARMUP', 50);
const WINDOWS = (process.env.SERVE_OVH_WINDOWS || 'default,0').split(',').map((s) => s.trim()).filter(Boolean);
const DEFAULT_WINDOW_MS = 2; // `slowwork serve --help`: --batch-window (default: "2")
deadline(60 + (WINDOWS.length + 1) * (10 + RUNS * 3 * (REQUESTS / RATE + 5)), 'serve-overhead');

/** One request of a route; resolves its timings (ms) or throws. */
const ROUTES = {
  generate: {
    label: '/generate?delta=1',
    async once(ag, port, i) {
      let first = null, firstEvent = null, done = false;
      const r = await postSse(ag, port, '/generate?delta=1', { prompt: `overhead prompt ${i}` }, (data, t) => {
        const e = JSON.parse(data);
        if (firstEvent === null) firstEvent = t;
        if (first === null && e.text) first = t;
        if (e.status === 'failed') throw new Error(`request failed: ${e.error}`);
        if (e.status === 'completed') done = true;
      });
      if (!done || first === null) throw new Error(`/generate: stream ended without text or completion (${r.events} events)`);
      return { ttft: first - r.t0, firstEvent: firstEvent - r.t0, reused: r.reused };
    },
  },
  chat: {
    label: '/v1/chat/completions stream',
    async once(ag, port, i) {
      let first = null, done = false;
      const r = await postSse(ag, port, '/v1/chat/completions', { model: 'demo', stream: true, messages: [{ role: 'user', content: `overhead prompt ${i}` }] }, (data, t) => {
        if (data === '[DONE]') { done = true; return; }
        if (first !== null) return;
        const e = JSON.parse(data);
        if (e.error) throw new Error(`chat stream error: ${JSON.stringify(e.error)}`);
        if (e.choices?.[0]?.delta?.content) first = t;
      });
      if (!done || first === null) throw new Error(`/v1/chat/completions: stream ended without content or [DONE] (${r.events} events)`);
      return { ttft: first - r.t0, reused: r.reused };
    },
  },
  anchor: {
    label: 'raw node:http anchor, fixed JSON answer',
    async once(ag, port, i) {
      const r = await postJson(ag, port, '/', { prompt: `overhead prompt ${i}` });
      if (r.status !== 200) throw new Error(`anchor: HTTP ${r.status}`);
      return { ttft: r.tBody - r.t0, reused: r.reused };
    },
  },
  stamp: {
    label: '/generate?delta=1, serve-stamp processor',
    async once(ag, port, i) {
      let first = null, stamp = null, done = false;
      const r = await postSse(ag, port, '/generate?delta=1', { prompt: `overhead prompt ${i}`, processor: 'serve-stamp' }, (data, t) => {
        const e = JSON.parse(data);
        if (e.status === 'failed') throw new Error(`request failed: ${e.error}`);
        if (first === null && e.text) {
          first = t;
          const m = /^(\d+\.\d+)\/(\d+\.\d+) /.exec(e.text);
          if (!m) throw new Error(`serve-stamp: unexpected first text ${JSON.stringify(e.text)}`);
          stamp = { start: Number(m[1]), first: Number(m[2]) };
        }
        if (e.status === 'completed') done = true;
      });
      if (!done || first === null) throw new Error('/generate (serve-stamp): stream ended without text or completion');
      const own = stamp.first - stamp.start;
      return { ttft: first - r.t0, own, pickup: stamp.start - r.t0, back: first - stamp.first, reused: r.reused };
    },
  },
};

/** `count` requests of a route at `rate`/s (open loop: each starts on time, whatever the others do). */
async function paced(route, ag, port, count, rate) {
  const interval = 1000 / rate, start = nowMs() + 5, pending = [];
  for (let i = 0; i < count; i++) {
    const wait = start + i * interval - nowMs();
    if (wait > 1) await sleep(wait - 0.5);
    while (nowMs() < start + i * interval) { /* the last half millisecond, for an even pace */ }
    pending.push(route.once(ag, port, i));
  }
  return Promise.all(pending);
}

const stat = (samples) => summary(samples);
const results = {}; // window -> route -> [{...per run}]
let serverLine = '';
for (const w of WINDOWS) {
  const flags = ['--processor', 'demo', '--processor', 'bench/serve-stamp-processor.mjs',
    '--param', `first_token_ms=${F}`, '--param', 'tokens_per_s=0', '--param', 'length=8'];
  if (w !== 'default') flags.push('--batch-window', w);
  const server = await startServe(flags);
  serverLine = server.line.replace(/^.*?\(/, '(');
  const ag = agent(64);
  const byRoute = (results[w] = {});
  const routes = Object.entries(ROUTES).filter(([name]) => name !== 'anchor');
  try {
    for (const [, route] of routes) await paced(route, ag, server.port, WARMUP, RATE);
    for (let r = 0; r < RUNS; r++) {
      for (const [name, route] of routes) {
        const xs = await paced(route, ag, server.port, REQUESTS, RATE);
        (byRoute[name] ??= []).push({
          overhead: stat(xs.map((x) => x.ttft - (name === 'stamp' ? x.own : F))),
          ttft: stat(xs.map((x) => x.ttft)),
          firstEvent: name === 'generate' ? stat(xs.map((x) => x.firstEvent)) : null,
          own: name === 'stamp' ? stat(xs.map((x) => x.own)) : null,
          pickup: name === 'stamp' ? stat(xs.map((x) => x.pickup)) : null,
          back: name === 'stamp' ? stat(xs.map((x) => x.back)) : null,
          newConnections: xs.filter((x) => !x.reused).length,
        });
      }
    }
  } catch (e) {
    fail(`serve-overhead (window ${w}): ${e.stack || e}\nserver stderr: ${server.stderr().trim()}`);
  }
  ag.destroy();
  await server.stop();
}

// The floor: the same client and pace against a server that does nothing.
const anchorRtt = [];
let anchorFresh = 0;
{
  const server = await startAnchor();
  const ag = agent(64);
  try {
    await paced(ROUTES.anchor, ag, server.port, WARMUP, RATE);
    for (let r = 0; r < RUNS; r++) {
      const xs = await paced(ROUTES.anchor, ag, server.port, REQUESTS, RATE);
      anchorRtt.push(stat(xs.map((x) => x.ttft)));
      anchorFresh += xs.filter((x) => !x.reused).length;
    }
  } catch (e) {
    fail(`serve-overhead (anchor): ${e.stack || e}\nserver stderr: ${server.stderr().trim()}`);
  }
  ag.destroy();
  await server.stop();
}
const anchorSettings = { route: ROUTES.anchor.label, rate: RATE, requests: REQUESTS, warmup: WARMUP, client: 'node:http, keep-alive agent (64 sockets), separate process', newConnectionsMeasured: anchorFresh, server: 'bench/serve-anchor-http.mjs' };
for (const p of ['p50', 'p99']) record('node-http', `light-load round trip ${p} (request written -> first byte of the answer)`, 'ms', anchorRtt.map((x) => x[p]), anchorSettings);

for (const w of WINDOWS) {
  const wl = w === 'default' ? `${DEFAULT_WINDOW_MS} ms (default)` : `${w} ms`;
  const settings = (route) => ({
    batchWindowMs: w === 'default' ? DEFAULT_WINDOW_MS : Number(w), batchWindowFlag: w === 'default' ? null : `--batch-window ${w}`,
    route: ROUTES[route].label, firstTokenMs: F, rate: RATE, requests: REQUESTS, warmup: WARMUP,
    processor: route === 'stamp' ? 'bench/serve-stamp-processor.mjs' : 'demo (tokens_per_s=0, length=8)', threads: 'the default, one per core',
    client: 'node:http, keep-alive agent (64 sockets), separate process', newConnectionsMeasured: results[w][route].reduce((s, x) => s + x.newConnections, 0),
    server: serverLine,
  });
  const rec = (route, metric, pick) => {
    for (const p of ['p50', 'p99']) record('slowwork-serve', `${metric} ${p}, ${ROUTES[route].label}, window ${wl}`, 'ms', results[w][route].map((x) => pick(x)[p]), settings(route));
  };
  rec('generate', `overhead (first text - first_token_ms)`, (x) => x.overhead);
  rec('chat', `overhead (first text - first_token_ms)`, (x) => x.overhead);
  rec('stamp', `overhead (first text - processor's own first-token time)`, (x) => x.overhead);
  rec('generate', 'first event (empty in_progress)', (x) => x.firstEvent);
  rec('stamp', 'request -> processor start', (x) => x.pickup);
  rec('stamp', "processor's own first-token time", (x) => x.own);
  rec('stamp', 'first chunk -> client', (x) => x.back);
}
