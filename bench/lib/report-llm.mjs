// The LLM client's parts of docs/benchmarks.md (bench/llm-client.mjs, bench/llm-streams.mjs): its
// Targets rows, its section and its observations, rendered by bench/report.mjs with its helpers.

/** The three parts, over the run's rows; `h` holds report.mjs's renderers (p, num, range, fig, xq, verdict). */
export function llmParts(rows, h) {
  const { p, num, range, fig, xq, verdict } = h;

  // bench/llm-client.mjs and bench/llm-streams.mjs rows, found by how their metrics begin
  const by = (bench, start) => rows.find((r) => r.bench === bench && r.metric.startsWith(start)) ?? null;
  const side = (bench) => ({ cpu: by(bench, 'client CPU (user+sys'), perToken: by(bench, 'client CPU per token'), wall: by(bench, 'client wall time'), server: by(bench, 'server CPU per token beside it') });
  const st = (start) => by('slowwork-llm', `open streams: ${start}`);
  const f = {
    ours: side('slowwork-llm'), anchor: side('openai-node'), ratio: by('slowwork-llm', 'ratio: client CPU'),
    streams: {
      perStream: st('memory per open stream'), peak: st('peak RSS'), base: st('baseline peak RSS'), open: st('most open at once'),
      completed: st('items completed'), requests: st('requests the server'), wall: st('wall time'), cpu: st('client CPU per token'), server: st('server CPU per token'),
    },
    // issue 17's targets
    cpuX: 0.5, streamKB: 25, targetStreams: 10_000,
  };

  function cpuText(side) {
    return side.cpu ? `**${num(side.cpu.median, 2)}** s CPU (${range(side.cpu, 2)}; ${num(side.perToken?.median, 1)} µs/token)` : 'not run';
  }

  function targets() {
    const c = f.ours.cpu?.settings, s = f.streams, st = s.perStream?.settings;
    p(`| LLM client: CPU per token, \`slowwork submit --processor openai\`${c ? `, ${num(c.requests)} × ${c.tokens} tokens, concurrency ${c.concurrency}, ${c.serverTps ? `server at ${c.serverTps} tokens/s` : 'unpaced server'}` : ''} | ${cpuText(f.ours)} | official \`openai\`${c ? ` ${c.openai}` : ''} client script ${cpuText(f.anchor)} | ${xq(f.ratio)} | ≤ ${num(f.cpuX, 1)}× | ${verdict(f.ratio ? f.ratio.median <= f.cpuX : null)} |`);
    const allDone = s.completed && st ? s.completed.min === st.streams : null;
    const held = s.perStream ? `**${num(s.perStream.median, 1)}** KB (${range(s.perStream, 1)}); ${num(s.completed?.min)} of ${num(st.streams)} completed (worst run), at most ${num(s.open?.min)}${s.open && s.open.max !== s.open.min ? ` – ${num(s.open.max)}` : ''} open at once${st.streams < f.targetStreams ? ` (the target says ${num(f.targetStreams)})` : ''}` : 'not run';
    p(`| LLM client: ${st ? `${num(st.streams)} streams at ${st.tokensPerS} tokens/s` : 'open streams'} through one \`slowwork submit\`: memory per open stream | ${held} | — | — | ≤ ${f.streamKB} KB, all complete | ${verdict(s.perStream ? s.perStream.median <= f.streamKB && allDone : null)} |`);
  }

  function section() {
    const s = f.streams;
    p('## 9. LLM client (`--processor openai`)', '');
    if (!f.ours.cpu && !s.perStream) { p('Not run in this pass.', ''); return; }
    if (f.ours.cpu) {
      const c = f.ours.cpu.settings;
      p(`\`bench/llm-client.mjs\`: the CPU each streamed token costs the client. \`slowwork submit PROMPTS --processor openai --param base_url=URL --param model=M --param max_tokens=${c.tokens} --concurrency ${c.concurrency} --no-tui --out F\` (default threads and batch size) beside \`bench/llm-anchor-openai.mjs\`, a script on the official \`openai\` npm client (${c.openai}, default settings): ${c.concurrency} lanes of streaming chat completions with \`max_tokens\` ${c.tokens}, each answer's text joined and written as one JSONL line to a WriteStream. Each gets ${num(c.requests)} prompts and its own local OpenAI-compatible server (\`src/testing/openai-server\`, docs/testing-server.md): a process apart, fresh for every client run, ${c.serverTps ? `paced at ${c.serverTps} tokens/s per answer` : 'unpaced: each answer is written at once, so it reaches the client in one or a few socket reads; LLM_SERVER_TPS=N paces it so that tokens arrive one read at a time, as from a real API'} and without limits. The two run one after the other in each round, the order alternating, after a warm-up of ${num(c.warmup, 0)} requests each. CPU is the client process's user + system time over all its threads, from bash's \`time\` (the kernel's rusage when the process is reaped, so nothing up to its exit is missed); µs per token divides it by the tokens the server streamed (its stats, printed on SIGTERM). Both must write ${num(c.requests)} lines of ${c.tokens} tokens and the server must have answered exactly ${num(c.requests)} requests, or the step fails.`, '');
      p('| | slowwork | `openai` client script | slowwork ÷ script |', '|---|---:|---:|---:|');
      p(`| client CPU (user + sys), s | ${fig(f.ours.cpu, 2)} | ${fig(f.anchor.cpu, 2)} | ${xq(f.ratio)} per round (target ≤ ${num(f.cpuX, 1)}×) |`);
      p(`| client CPU per token, µs | ${fig(f.ours.perToken, 1)} | ${fig(f.anchor.perToken, 1)} | ${f.anchor.perToken ? `${num(f.ours.perToken.median / f.anchor.perToken.median, 2)}× (of medians)` : '—'} |`);
      p(`| wall time, s | ${fig(f.ours.wall, 2)} | ${fig(f.anchor.wall, 2)} | ${f.anchor.wall ? `${num(f.ours.wall.median / f.anchor.wall.median, 2)}× (of medians)` : '—'} |`);
      p(`| the server's CPU per token beside it, µs (context) | ${fig(f.ours.server, 1)} | ${fig(f.anchor.server, 1)} | |`);
      p('');
    }
    if (s.perStream) {
      const st = s.perStream.settings;
      p(`\`bench/llm-streams.mjs\`: streams held open at once by one process. \`slowwork submit\` of ${num(st.streams)} prompts with \`--concurrency ${st.streams}\` (\`--processor openai\`, \`max_tokens\` ${st.tokens}, default threads and batch size, \`--no-tui\`) against the local server paced at ${st.tokensPerS} tokens/s (${st.tokens} tokens: ${num(st.tokens / st.tokensPerS, 0)} s per stream at that pace), a process apart and fresh for every run: it holds memory and burns CPU for every stream itself, so it is kept out of the figure. The slowwork process's memory (one process: its main thread and worker threads) is VmRSS sampled every 50 ms from /proc/PID/status, or its VmHWM if higher; the baseline is the peak RSS of the same command with one prompt (Node, slowwork, the worker threads and the processor loaded, one stream). Memory per open stream = (peak RSS − baseline) ÷ the most streams open at once, as the server counted them. Every item must end done with its ${st.tokens} tokens.`, '');
      p('| what | median (min – max) |', '|---|---:|');
      p(`| items completed, of ${num(st.streams)} | ${fig(s.completed, 0)} |`);
      p(`| most streams open at once (the server's count) | ${fig(s.open, 0)} |`);
      p(`| requests the server received | ${fig(s.requests, 0)} |`);
      p(`| baseline peak RSS, the same submit with 1 stream, MB | ${fig(s.base, 1)} |`);
      p(`| peak RSS, MB | ${fig(s.peak, 1)} |`);
      p(`| **memory per open stream**, KB (target ≤ ${f.streamKB}) | ${fig(s.perStream, 1)} |`);
      p(`| wall time, s | ${fig(s.wall, 1)} |`);
      p(`| slowwork's CPU per token, µs | ${fig(s.cpu, 1)} |`);
      p(`| the server's CPU per token, µs (context) | ${fig(s.server, 1)} |`);
      p('');
    }
  }

  function observations() {
    const s = f.streams;
    if (!f.ours.perToken || !s.cpu) return [];
    const st = s.cpu.settings;
    return [`LLM client: with ${num(st.streams)} streams at ${st.tokensPerS} tokens/s slowwork spent ${num(s.cpu.median, 1)} µs of CPU per token, ${num(s.cpu.median / f.ours.perToken.median, 1)}× the ${num(f.ours.perToken.median, 1)} µs of the ${f.ours.perToken.settings.serverTps ? `run paced at ${f.ours.perToken.settings.serverTps} tokens/s` : 'unpaced run, where an answer arrives in a few large reads'}: a token at ${st.tokensPerS} tokens/s is read and handled on its own, and each stream's connection and request are shared by ${st.tokens} tokens instead of ${f.ours.perToken.settings.tokens}.`];
  }

  return { targets, section, observations };
}
