#!/usr/bin/env bash
# `make bench`: slowwork's hot paths beside the anchors (../shared/anchors), in the same run,
# then docs/benchmarks.md. Everything is bounded, loopback only, and stops by itself.
#
#   dispatch  piscina no-op anchor        vs EmbeddedBroker no-op items/s          (bench/dispatch.mjs)
#   chunks    piscina MessagePort stream  vs chunks/s to the job listener          (bench/chunks.mjs)
#             (+ raw worker_threads postMessage, for context)
#   slow      2000 × 200 ms on 64 slots vs the ideal 6.25 s: broker and CLI        (bench/slow*.mjs)
#   ui        the live view in tmux 120x40 at 64 × 50 chunks/s: CPU and memory    (bench/ui.mjs)
#   redis     Redis mode, on a throwaway redis-server without persistence, then with AOF everysec:
#             BullMQ c100 anchor         vs no-op items/s, 2 worker processes      (bench/redis-dispatch.mjs)
#             100 XADD/tick anchor       vs chunks/s, 1 worker to the submitter    (bench/redis-chunks.mjs)
#             BullMQ add->processor start vs submit->processor start, p50/p99      (bench/redis-latency.mjs)
#             2000 × 200 ms on 2 workers × 32 slots vs the ideal 6.25 s             (bench/redis-slow.mjs)
#   serve     `slowwork serve` as an HTTP service, each benchmark on its own server (SIGTERM-stopped):
#             overhead to the first token at light load, p50/p99, batch window 2 ms and 0 (bench/serve-overhead.mjs)
#             1000 concurrent /generate streams: all completed, wall time, server RSS     (bench/serve-streams.mjs)
#             raw node:http anchor vs /v1/chat/completions requests/s, 64 clients      (bench/serve-throughput.mjs)
#   coldstart spawn -> exit of `node -e 0` (the anchor) and `slowwork --version`, spawn -> first item
#             start of `slowwork submit -p x` and of a 1000-line file, interleaved spawns  (bench/cold-start.mjs)
#   dashboard `slowwork watch dashboard` on a throwaway redis-server seeded with a simulated system of
#             50 workers and 20 jobs (bench/lib/dashboard-seed.mjs): its CPU and RSS in tmux 120x40
#             and with --no-tui, Redis commands and redis-server µs per refresh   (bench/dashboard.mjs)
#   llm       the openai processor against the local OpenAI-compatible server (its own process):
#             client CPU per token of `slowwork submit --processor openai` vs a script on the official
#             `openai` client, 2000 × 200 tokens unpaced, 64 at a time   (bench/llm-client.mjs)
#             10,000 streams at 5 tokens/s through one process: all complete, memory per open stream
#             (bench/llm-streams.mjs)
#
# The anchor and slowwork figures that are compared run interleaved, in RUNS rounds of one run
# each (order alternating), so both see the same machine; ratios are taken per round.
# Env: RUNS (5), BENCH_ONLY (dispatch,chunks,slow,ui,redis,serve,dashboard,coldstart,llm), ANCHORS_DIR (<repo>/../shared/anchors),
#      BENCH_UI_SECONDS (600), BENCH_UI_BASELINE_SECONDS (60), BENCH_DASH_SECONDS (60), BENCH_QUIET_WAIT (5 s at most,
#      before each step, for a >= 80% idle machine), BENCH_WRITE_DOC (default: 1 for a full run,
#      0 for a BENCH_ONLY subset, whose report stays in .bench-tmp/<run>/benchmarks.md; either way
#      the benchmarks not run are carried over from the runs docs/benchmarks.md names), and the
#      per-benchmark knobs documented at the top of each bench/*.mjs.
set -euo pipefail
STARTED=$(date +%s)
REPO="$(cd "$(dirname "$0")" && git rev-parse --show-toplevel 2>/dev/null || (cd "$(dirname "$0")/.." && pwd))"
cd "$REPO"
ANCHORS_DIR="${ANCHORS_DIR:-$REPO/../shared/anchors}"
export RUNS="${RUNS:-5}"
ALL=dispatch,chunks,slow,ui,redis,serve,dashboard,coldstart,llm
ONLY="${BENCH_ONLY:-$ALL}"
want() { [[ ",$ONLY," == *",$1,"* ]]; }
for w in ${ONLY//,/ }; do [[ ",$ALL," == *",$w,"* ]] || { echo "BENCH_ONLY: unknown benchmark '$w' (known: $ALL)" >&2; exit 2; }; done
if [ "$ONLY" = "$ALL" ]; then WRITE_DOC="${BENCH_WRITE_DOC:-1}"; else WRITE_DOC="${BENCH_WRITE_DOC:-0}"; fi

[ -f "$ANCHORS_DIR/piscina-bench.mjs" ] || { echo "anchors not found at $ANCHORS_DIR (set ANCHORS_DIR)" >&2; exit 1; }
[ -f dist/cli/main.js ] || { echo "dist/ is missing: run 'make build' (make bench does)" >&2; exit 1; }
if want ui || want dashboard; then command -v tmux >/dev/null || { echo "tmux is required for the ui and dashboard benchmarks (apt-get install -y tmux)" >&2; exit 1; }; fi
if want llm; then [ -d node_modules/openai ] || { echo "the llm benchmark's anchor needs the openai package (a devDependency): npm ci" >&2; exit 1; }; fi
if want redis || want dashboard; then command -v redis-server >/dev/null && command -v redis-cli >/dev/null || { echo "redis-server and redis-cli are required for the redis and dashboard benchmarks (apt-get install -y redis-server)" >&2; exit 1; }; fi

RUN_ID="$(date +%Y%m%d-%H%M%S)"
OUT="$REPO/.bench-tmp/$RUN_ID"
COPY="$REPO/.bench-tmp/anchors"
mkdir -p "$OUT/rounds" "$COPY"
export BENCH_OUT="$OUT" BENCH_ANCHORS_COPY="$COPY" ANCHORS_MODE=default
echo "# slowwork bench $RUN_ID: RUNS=$RUNS, BENCH_ONLY=$ONLY, anchors from $ANCHORS_DIR, output in $OUT"

# ---- the anchors, installed beside us (npm install, not ci: see the anchors' README) ------------
cp -r "$ANCHORS_DIR"/lib "$ANCHORS_DIR"/*.mjs "$ANCHORS_DIR"/package.json "$ANCHORS_DIR"/package-lock.json "$COPY"/
# (the serve benchmark needs only their lib/*.mjs: its anchor is bench/serve-anchor-http.mjs)
if want dispatch || want chunks || want redis; then
  if [ ! -d "$COPY/node_modules/piscina" ] || ! cmp -s "$COPY/package-lock.json" "$COPY/.installed-lock.json"; then
    (cd "$COPY" && npm install --no-audit --no-fund --loglevel=error)
    cp "$COPY/package-lock.json" "$COPY/.installed-lock.json"
  fi
fi
(cd "$COPY" && node lib/envinfo.mjs) > "$OUT/env.json"
# start_redis/stop_redis (throwaway redis-server on a free loopback port, stopped by pid). Sourced
# before our own helpers below, whose cpu_idle_pct/wait_quiet must win over the anchors' versions.
# shellcheck source=/dev/null
source "$COPY/lib/redis.sh"
trap 'stop_redis' EXIT
{ echo "{\"slowworkCommit\":\"$(git rev-parse --short HEAD 2>/dev/null || echo unknown)\",\"dirty\":$([ -n "$(git status --porcelain -- src 2>/dev/null)" ] && echo true || echo false),"
  echo "\"distBuilt\":\"$(date -u -r dist/cli/main.js +%Y-%m-%dT%H:%M:%SZ)\","
  echo "\"redis\":\"$(redis-server --version 2>/dev/null | sed -n 's/.*v=\([0-9.]*\).*/\1/p')\","
  echo "\"nproc\":$(nproc),\"loadavgStart\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"runs\":$RUNS,\"only\":\"$ONLY\",\"started\":$STARTED}"; } > "$OUT/run.json"

# ---- conditions: how idle the machine was, and what others took meanwhile ---------------------
cpu_idle_pct() {
  local a b c d e f g h t1 i1 t2 i2
  read -r _ a b c d e f g h _ < /proc/stat; t1=$((a+b+c+d+e+f+g+h)); i1=$((d+e))
  sleep 1
  read -r _ a b c d e f g h _ < /proc/stat; t2=$((a+b+c+d+e+f+g+h)); i2=$((d+e))
  echo $(( 100 * (i2 - i1) / (t2 - t1 > 0 ? t2 - t1 : 1) ))
}
wait_quiet() {
  local idle=0 i
  for i in $(seq 1 "${BENCH_QUIET_WAIT:-5}"); do idle=$(cpu_idle_pct); [ "$idle" -ge 80 ] && break; done
  echo "$idle"
}
busy_ticks() { local a b c d e f g h; read -r _ a b c d e f g h _ < /proc/stat; echo "$((a+b+c+f+g+h)) $((a+b+c+d+e+f+g+h))"; }
# our redis-server is nobody's waited-for child while it runs: count its CPU as ours, not others'
redis_ticks() { if [ -n "${REDIS_PID:-}" ] && [ -r "/proc/$REDIS_PID/stat" ]; then awk '{print $14+$15}' "/proc/$REDIS_PID/stat"; else echo 0; fi; }
# `times` must run in this shell to see its children's CPU time
child_ticks() { tail -n 1 "$OUT/.times" | awk '{ s=0; for (i=1;i<=2;i++) { split($i,a,/[ms]/); s+=a[1]*60+a[2] } printf "%d\n", s*100 }'; }
# step LABEL RESULTS_FILE CMD...: runs CMD with ANCHORS_RESULTS=RESULTS_FILE, logs conditions
step() {
  local label="$1" results="$2"; shift 2
  local idle b0 t0 b1 t1 c0 c1 r0 r1 others pct s0
  idle=$(wait_quiet)
  echo; echo "=== $label (cpu idle before: ${idle}%, loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
  read -r b0 t0 < <(busy_ticks); r0=$(redis_ticks); times > "$OUT/.times"; c0=$(child_ticks); s0=$(date +%s)
  local rc=0
  set +e
  ANCHORS_RESULTS="$results" "$@" 2>&1 | tee -a "$OUT/bench.log"
  rc=${PIPESTATUS[0]}
  set -e
  if [ "$rc" -ne 0 ]; then echo "!!! $label failed (exit $rc)"; echo "$label (exit $rc)" >> "$OUT/failed.txt"; fi
  read -r b1 t1 < <(busy_ticks); r1=$(redis_ticks); times > "$OUT/.times"; c1=$(child_ticks)
  # CPU of our processes that are not our children (the slowwork run inside tmux), if a step said
  local extra=0; if [ -f "$OUT/.extra-ticks" ]; then extra=$(cat "$OUT/.extra-ticks"); rm -f "$OUT/.extra-ticks"; fi
  others=$(( (b1 - b0) - (c1 - c0) - (r1 - r0) - extra )); [ "$others" -lt 0 ] && others=0
  pct=$(( 100 * others / (t1 - t0 > 0 ? t1 - t0 : 1) ))
  echo "--- $label: $(( $(date +%s) - s0 )) s; other processes used ~${pct}% of the machine's CPU meanwhile"
  echo "{\"step\":\"$label\",\"cpuIdleBeforePct\":$idle,\"othersCpuPctDuring\":$pct,\"seconds\":$(( $(date +%s) - s0 )),\"end\":\"$(date -Is)\"}" >> "$OUT/conditions.jsonl"
}

# ---- interleaved rounds: anchors and slowwork, one run each per round ---------------------------
if want dispatch || want chunks; then
  for r in $(seq 1 "$RUNS"); do
    f="$OUT/rounds/r$r.jsonl"
    anchors() {
      (cd "$COPY" && step "round $r: anchor piscina" "$f" env RUNS=1 node piscina-bench.mjs)
      if want chunks; then (cd "$COPY" && step "round $r: anchor worker_threads" "$f" env RUNS=1 node postmessage-bench.mjs); fi
    }
    ours() {
      if want dispatch; then step "round $r: slowwork dispatch" "$f" env RUNS=1 node bench/dispatch.mjs; fi
      if want chunks; then step "round $r: slowwork chunks" "$f" env RUNS=1 node bench/chunks.mjs; fi
    }
    if [ $((r % 2)) -eq 1 ]; then anchors; ours; else ours; anchors; fi
  done
fi

# ---- Redis mode: interleaved with BullMQ and raw Streams, per persistence mode --------------------
# One throwaway redis-server per mode (the anchors' start_redis: --save '', and for aof
# --appendonly yes --appendfsync everysec), shared by the anchors and slowwork in every round.
# Each bench/redis-*.mjs starts its own `slowwork workers` processes and stops them (SIGTERM).
if want redis; then
  for mode in default aof; do
    if [ "$mode" = aof ]; then start_redis aof; else start_redis noaof; fi
    export ANCHORS_MODE="$mode"
    for r in $(seq 1 "$RUNS"); do
      f="$OUT/rounds/r$r.jsonl"
      # only the anchor figures we compare with: BullMQ at concurrency 100 (+ its light-load
      # latency, always run), raw chunk streaming with 100 XADDs per tick
      anchors() {
        (cd "$COPY" && step "round $r ($mode): anchor bullmq" "$f" env RUNS=1 BULL_CONCS=100 node bullmq-bench.mjs)
        (cd "$COPY" && step "round $r ($mode): anchor streams chunks" "$f" env RUNS=1 SC_BURSTS=100 node streams-chunks-bench.mjs)
      }
      ours() {
        for b in dispatch chunks latency slow; do step "round $r ($mode): slowwork redis $b" "$f" env RUNS=1 node "bench/redis-$b.mjs"; done
      }
      if [ $((r % 2)) -eq 1 ]; then anchors; ours; else ours; anchors; fi
    done
    stop_redis
  done
  export ANCHORS_MODE=default
fi

# ---- slowwork serve: the HTTP service, beside a raw node:http server --------------------------------
# Every bench/serve-*.mjs starts its own `slowwork serve --port 0` (the anchor: bench/serve-anchor-http.mjs)
# and stops it with SIGTERM; the client is the script itself, a process apart from the server's.
if want serve; then
  for r in $(seq 1 "$RUNS"); do
    f="$OUT/rounds/r$r.jsonl"
    # the throughput pair back to back, the order alternating; then the two without an anchor
    anchors() { step "round $r: anchor node:http server" "$f" env RUNS=1 node bench/serve-throughput.mjs anchor; }
    ours() { step "round $r: slowwork serve throughput" "$f" env RUNS=1 node bench/serve-throughput.mjs slowwork; }
    if [ $((r % 2)) -eq 1 ]; then anchors; ours; else ours; anchors; fi
    step "round $r: slowwork serve overhead" "$f" env RUNS=1 node bench/serve-overhead.mjs
    step "round $r: slowwork serve streams" "$f" env RUNS=1 node bench/serve-streams.mjs
  done
fi

# ---- the dashboard: `slowwork watch dashboard` on a simulated system --------------------------------
# One throwaway redis-server (start_redis: --save '') for all rounds; each round flushes it, seeds
# 50 workers and 20 jobs on queue `default` (the keys real workers write, renewed every second by
# the benchmark itself), runs the dashboard in tmux and then with --no-tui, and stops everything.
if want dashboard; then
  start_redis noaof
  for r in $(seq 1 "$RUNS"); do
    step "round $r: slowwork dashboard" "$OUT/rounds/r$r.jsonl" env RUNS=1 BENCH_ROUND="$r" node bench/dashboard.mjs
  done
  stop_redis
fi
# ---- cold start: how long slowwork takes to begin, beside a bare `node -e 0` ------------------------
# Each round is one run of bench/cold-start.mjs: COLD_SPAWNS (20) spawns of each kind, interleaved
# spawn by spawn (the order rotating), so the anchor and slowwork see the same machine.
if want coldstart; then
  for r in $(seq 1 "$RUNS"); do
    step "round $r: slowwork cold start" "$OUT/rounds/r$r.jsonl" env RUNS=1 node bench/cold-start.mjs
  done
fi
# ---- the LLM client: the openai processor beside the official `openai` client ------------------------
# Each step starts its own local OpenAI-compatible server (dist/testing/openai-server/main.js) per
# client run and stops it with SIGTERM. llm-client runs slowwork and the anchor script one after the
# other (the order alternating with BENCH_ROUND); llm-streams holds LLM_STREAMS streams in one process.
if want llm; then
  for r in $(seq 1 "$RUNS"); do
    step "round $r: slowwork llm client" "$OUT/rounds/r$r.jsonl" env RUNS=1 BENCH_ROUND="$r" node bench/llm-client.mjs
    step "round $r: slowwork llm streams" "$OUT/rounds/r$r.jsonl" env RUNS=1 node bench/llm-streams.mjs
  done
fi
node bench/lib/merge.mjs "$OUT"

# ---- slow work, the live view -------------------------------------------------------------------
R="$OUT/results.jsonl"
if want slow; then
  step "slowwork slow work (broker)" "$R" node bench/slow.mjs
  step "slowwork slow work (CLI)" "$R" node bench/slow-cli.mjs
fi
if want ui; then
  step "slowwork live view (tmux)" "$R" node bench/ui.mjs tui
  step "slowwork plain baseline" "$R" node bench/ui.mjs plain
fi
rm -f "$OUT/.times"

# ---- the report ---------------------------------------------------------------------------------
DOC="$OUT/benchmarks.md"
[ "$WRITE_DOC" = 1 ] && DOC="$REPO/docs/benchmarks.md"
BENCH_STARTED="$STARTED" node bench/report.mjs "$OUT" "$DOC"
echo; echo "results: $R"; echo "report:  $DOC"; echo "make bench took $(( $(date +%s) - STARTED )) s"
if [ -s "$OUT/failed.txt" ]; then echo "failed steps:"; cat "$OUT/failed.txt"; exit 1; fi
