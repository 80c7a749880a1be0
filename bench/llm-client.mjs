// LLM client CPU per token: `slowwork submit --processor openai` beside a script using the
// official `openai` npm client (bench/llm-anchor-openai.mjs), each against its own local
// OpenAI-compatible server (src/testing/openai-server, a process of its own, unpaced: the whole
// answer at once, no rate limits), one after the other in each run (the order alternating):
//   - slowwork: `node bin/slowwork.js submit PROMPTS --processor openai --param base_url=URL
//     --param model=M --param max_tokens=T --concurrency C --no-tui --out F` (default threads and
//     batch size);
//   - the anchor: C lanes of streaming chat completions (max_tokens T), each answer joined and
//     written as one JSONL line, default client settings.
// Measured per process: CPU time (user + sys of all its threads, from bash's `time`: the rusage
// the kernel reports when the process is reaped, so nothing between the last sample and the exit
// is missed), wall time, and the tokens streamed (the server's stats, printed on SIGTERM). Both
// must write LLM_REQUESTS lines of T tokens each, and the server must have answered exactly
// LLM_REQUESTS requests (no retries), or the step fails. A warm-up of LLM_WARMUP requests each,
// not counted, precedes the runs. The figure: slowwork's CPU ÷ the anchor's, per run (target ≤ 0.5).
//
// Env: RUNS, LLM_REQUESTS (2000), LLM_TOKENS (200), LLM_CONCURRENCY (64), LLM_WARMUP (200),
//      LLM_SERVER_TPS (0: unpaced; N paces each answer at N tokens/s, so tokens arrive in reads of
//      their own as from a real API), BENCH_ROUND (1: with an even round the anchor goes second),
//      BENCH_OUT.
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR, REPO, RUNS, num, record } from './lib/common.mjs';
import { MODEL, SLOWWORK_BIN, checkResults, runTimed, startLlmServer, writePrompts } from './lib/llm.mjs';
import { deadline, fail } from './lib/serve.mjs';

const REQUESTS = num('LLM_REQUESTS', 2000);
const TOKENS = num('LLM_TOKENS', 200);
const CONC = num('LLM_CONCURRENCY', 64);
const WARMUP = num('LLM_WARMUP', 200);
const SERVER_TPS = num('LLM_SERVER_TPS', 0); // the server's pace per answer; 0: each answer at once
const ROUND = num('BENCH_ROUND', 1);
const ANCHOR = join(BENCH_DIR, 'llm-anchor-openai.mjs');
const OUT = join(process.env.BENCH_OUT || join(REPO, '.bench-tmp', 'scratch'), 'llm-client');
mkdirSync(OUT, { recursive: true });
// about 15 µs of CPU per token for the slower of the two, on 2 cores shared with the server
deadline(120 + (RUNS + 0.2) * 2 * (REQUESTS * TOKENS * 30e-6 + (SERVER_TPS ? (REQUESTS / CONC) * (TOKENS / SERVER_TPS) * 2 : 0) + 10), 'llm-client');

const PROMPTS = join(OUT, 'prompts.txt'), WARM = join(OUT, 'warmup.txt');
writePrompts(PROMPTS, REQUESTS);
writePrompts(WARM, WARMUP);
const openaiVersion = JSON.parse(readFileSync(join(REPO, 'node_modules', 'openai', 'package.json'), 'utf8')).version;

function command(kind, url, prompts, out) {
  if (kind === 'slowwork') {
    return [SLOWWORK_BIN, 'submit', prompts, '--processor', 'openai', '--param', `base_url=${url}`, '--param', `model=${MODEL}`,
      '--param', `max_tokens=${TOKENS}`, '--concurrency', String(CONC), '--no-tui', '--out', out];
  }
  return [ANCHOR, '--base-url', url, '--model', MODEL, '--prompts', prompts, '--out', out, '--lanes', String(CONC), '--max-tokens', String(TOKENS)];
}

/** One client run of `n` prompts against a fresh server: {cpuS, wallS, tokens, serverCpuS}. */
async function measure(kind, prompts, n) {
  const server = await startLlmServer(['--tokens-per-second', String(SERVER_TPS), '--completion-tokens', String(TOKENS)]);
  const out = join(OUT, `${kind}-results.jsonl`);
  rmSync(out, { force: true });
  let t;
  try {
    t = await runTimed(command(kind, server.url, prompts, out), { stdoutFile: join(OUT, `${kind}-stdout.txt`), timeFile: join(OUT, `${kind}-time.txt`) });
  } catch (err) {
    await server.stop();
    fail(`llm-client ${kind}: ${err.message}`);
  }
  const stats = await server.stop();
  const bad = checkResults(out, n, TOKENS);
  if (bad) fail(`llm-client ${kind}: ${bad}`);
  if (stats.requests !== n || stats.completed !== n || stats.completionTokens !== n * TOKENS) {
    fail(`llm-client ${kind}: the server saw ${stats.requests} requests, ${stats.completed} completed, ${stats.completionTokens} tokens; expected ${n}, ${n}, ${n * TOKENS}`);
  }
  rmSync(out, { force: true });
  return { ...t, tokens: stats.completionTokens, serverCpuS: stats.cpuMs / 1000 };
}

const KINDS = ['anchor', 'slowwork'];
await measure('anchor', WARM, WARMUP);
await measure('slowwork', WARM, WARMUP);

const got = { anchor: [], slowwork: [] };
for (let r = 0; r < RUNS; r++) {
  const order = (ROUND - 1 + r) % 2 === 0 ? KINDS : [...KINDS].reverse();
  for (const kind of order) {
    const m = await measure(kind, PROMPTS, REQUESTS);
    got[kind].push(m);
    console.log(`${kind}: ${m.cpuS.toFixed(2)} s CPU (user ${m.userS.toFixed(2)}, sys ${m.sysS.toFixed(2)}), ${m.wallS.toFixed(2)} s wall, ${m.tokens} tokens; server ${m.serverCpuS.toFixed(2)} s CPU`);
  }
}

const settings = { requests: REQUESTS, tokens: TOKENS, concurrency: CONC, warmup: WARMUP, threads: 'default (cores)', batchSize: 'default', openai: openaiVersion, serverTps: SERVER_TPS };
const what = `${REQUESTS} × ${TOKENS} tokens, concurrency ${CONC}${SERVER_TPS ? `, server at ${SERVER_TPS} tokens/s` : ''}`;
for (const [kind, bench] of [['anchor', 'openai-node'], ['slowwork', 'slowwork-llm']]) {
  const runs = got[kind];
  record(bench, `client CPU (user+sys, all threads), ${what}`, 's', runs.map((m) => m.cpuS), settings);
  record(bench, `client CPU per token, ${what}`, 'µs', runs.map((m) => (m.cpuS * 1e6) / m.tokens), settings);
  record(bench, `client wall time, ${what}`, 's', runs.map((m) => m.wallS), settings);
  record(bench, `server CPU per token beside it, ${what}`, 'µs', runs.map((m) => (m.serverCpuS * 1e6) / m.tokens), settings);
}
record('slowwork-llm', `ratio: client CPU, slowwork / openai client, ${what}`, 'x', got.slowwork.map((m, i) => m.cpuS / got.anchor[i].cpuS), settings);
