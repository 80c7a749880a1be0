// LLM streams held open at once through one slowwork process: `slowwork submit` of LLM_STREAMS
// prompts with --concurrency LLM_STREAMS (--processor openai, default threads and batch size,
// --no-tui) against the local OpenAI-compatible server paced at LLM_STREAM_TPS tokens/s, each
// answer LLM_STREAM_TOKENS tokens long. The server runs in its own process (it holds about 15–17
// KB and burns CPU per open stream itself), a fresh one per slowwork run, so its stats
// (peakOpenStreams, completed) are that run's.
// Memory is the slowwork process's only (main thread and worker threads: one process): VmRSS
// sampled every 50 ms from /proc/PID/status and its VmHWM (the kernel's own peak), the higher of
// the two. The baseline is the same command with one prompt (its peak RSS: Node, slowwork, the
// threads and the processor loaded, one stream), so
//   memory per open stream = (peak RSS − baseline peak RSS) / the most streams open at once
// (as the server counted them; equal to LLM_STREAMS when every stream was open together).
// Every item must end done with all its tokens, or the step fails. CPU of the slowwork process
// from bash's `time` (as in bench/llm-client.mjs), per token, for context. Target ≤ 25 KB/stream.
//
// Env: RUNS, LLM_STREAMS (10000), LLM_STREAM_TOKENS (20), LLM_STREAM_TPS (5), LLM_STREAM_FLAGS (more
//      submit flags for both runs, e.g. "--threads 1"; none by default), BENCH_OUT.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, RUNS, num, record } from './lib/common.mjs';
import { MODEL, SLOWWORK_BIN, checkResults, runTimed, startLlmServer, writePrompts } from './lib/llm.mjs';
import { deadline, fail, procMem, sleep } from './lib/serve.mjs';

const STREAMS = num('LLM_STREAMS', 10_000);
const TOKENS = num('LLM_STREAM_TOKENS', 20);
const TPS = num('LLM_STREAM_TPS', 5);
const EXTRA = (process.env.LLM_STREAM_FLAGS || '').split(' ').filter(Boolean); // e.g. "--threads 1 --batch-size 64"
const OUT = join(process.env.BENCH_OUT || join(REPO, '.bench-tmp', 'scratch'), 'llm-streams');
mkdirSync(OUT, { recursive: true });
const NOMINAL_S = TOKENS / TPS;
deadline(60 + RUNS * 2 * (3 * NOMINAL_S + STREAMS / 50 + 30), 'llm-streams');

const ONE = join(OUT, 'prompts-1.txt'), MANY = join(OUT, `prompts-${STREAMS}.txt`);
writePrompts(ONE, 1);
writePrompts(MANY, STREAMS);

/** One submit of the `n` prompts in `prompts`: its peak RSS, CPU and wall time, and the server's stats. */
async function submit(prompts, n) {
  const server = await startLlmServer(['--tokens-per-second', String(TPS), '--completion-tokens', String(TOKENS)]);
  const out = join(OUT, `results-${n}.jsonl`);
  rmSync(out, { force: true });
  const args = [SLOWWORK_BIN, 'submit', prompts, '--processor', 'openai', '--param', `base_url=${server.url}`, '--param', `model=${MODEL}`,
    '--param', `max_tokens=${TOKENS}`, '--concurrency', String(n), '--no-tui', '--out', out, ...EXTRA];
  let pid = null, peak = 0, hwm = 0, samples = 0;
  const polling = { on: true };
  const poller = (async () => {
    while (polling.on) {
      if (pid !== null) {
        try {
          const m = procMem(pid); // a zombie's status has no VmRSS: NaN, skipped
          if (Number.isFinite(m.rss)) { peak = Math.max(peak, m.rss); samples++; }
          if (Number.isFinite(m.hwm)) hwm = Math.max(hwm, m.hwm);
        } catch {
          // gone: its exit is on its way
        }
      }
      await sleep(50);
    }
  })();
  let t;
  try {
    t = await runTimed(args, { stdoutFile: join(OUT, `stdout-${n}.txt`), timeFile: join(OUT, `time-${n}.txt`), limitS: 3 * NOMINAL_S + n / 10 + 120, onStart: (p) => { pid = p; } });
  } catch (err) {
    await server.stop();
    fail(`llm-streams, ${n} streams: ${err.message}`);
  } finally {
    polling.on = false;
    await poller;
  }
  const stats = await server.stop();
  const bad = checkResults(out, n, TOKENS);
  if (bad) fail(`llm-streams, ${n} streams: ${bad}`);
  if (stats.completed < n) fail(`llm-streams, ${n} streams: the server completed ${stats.completed} answers, not ${n}`);
  if (samples === 0) fail(`llm-streams, ${n} streams: no RSS sample of the slowwork process`);
  rmSync(out, { force: true });
  return { ...t, peakBytes: Math.max(peak, hwm), samples, stats, completed: n }; // every item done, checked above
}

await submit(ONE, 1); // warm-up, not counted: disk cache, the server's and slowwork's first start

const got = [];
for (let r = 0; r < RUNS; r++) {
  const base = await submit(ONE, 1);
  await sleep(500);
  const many = await submit(MANY, STREAMS);
  const open = many.stats.peakOpenStreams;
  const perStream = (many.peakBytes - base.peakBytes) / open;
  got.push({ base, many, open, perStream });
  console.log(`${STREAMS} streams: peak RSS ${(many.peakBytes / 2 ** 20).toFixed(1)} MB (baseline ${(base.peakBytes / 2 ** 20).toFixed(1)} MB), ${open} open at once, ${(perStream / 1024).toFixed(1)} KB per open stream; ` +
    `${many.wallS.toFixed(1)} s wall, ${many.cpuS.toFixed(2)} s CPU; server: ${many.stats.requests} requests, ${many.stats.completed} completed, ${(many.stats.cpuMs / 1000).toFixed(2)} s CPU`);
}

const settings = { streams: STREAMS, tokens: TOKENS, tokensPerS: TPS, threads: 'default (cores)', batchSize: 'default', concurrency: STREAMS, ...(EXTRA.length ? { flags: EXTRA.join(' ') } : {}) };
const what = `${STREAMS} streams × ${TOKENS} tokens at ${TPS} tokens/s`;
record('slowwork-llm', `open streams: memory per open stream, ${what}`, 'KB', got.map((g) => g.perStream / 1024), settings);
record('slowwork-llm', `open streams: peak RSS, ${what}`, 'MB', got.map((g) => g.many.peakBytes / 2 ** 20), settings);
record('slowwork-llm', 'open streams: baseline peak RSS, the same submit with 1 stream', 'MB', got.map((g) => g.base.peakBytes / 2 ** 20), settings);
record('slowwork-llm', `open streams: most open at once (server), ${what}`, 'streams', got.map((g) => g.open), settings);
record('slowwork-llm', `open streams: items completed, ${what}`, 'items', got.map((g) => g.many.completed), settings);
record('slowwork-llm', `open streams: requests the server received, ${what}`, 'requests', got.map((g) => g.many.stats.requests), settings);
record('slowwork-llm', `open streams: wall time, ${what}`, 's', got.map((g) => g.many.wallS), settings);
record('slowwork-llm', `open streams: client CPU per token, ${what}`, 'µs', got.map((g) => (g.many.cpuS * 1e6) / g.many.stats.completionTokens), settings);
record('slowwork-llm', `open streams: server CPU per token, ${what}`, 'µs', got.map((g) => (g.many.stats.cpuMs * 1e3) / g.many.stats.completionTokens), settings);
