#!/usr/bin/env bash
# `make try`: start `slowwork serve` on a free loopback port, send 5 `/generate` requests at once
# with `curl -N`, and print their streams as they arrive: each line is one event, prefixed with
# its request's number, so the interleaving is visible. Then stop the server.
#   TRY_PARAMS  demo params (default: a slow stream, 6 tokens/s after 300 ms)
#   TRY_DELTA   0 (default) the cumulative text, as in the contract; 1 sends only the new pieces
set -euo pipefail
cd "$(dirname "$0")/.."
command -v curl >/dev/null || { echo "make try needs curl (apt-get install -y curl)" >&2; exit 1; }
PARAMS=(${TRY_PARAMS:---param tokens_per_s=6 --param first_token_ms=300 --param length=10-16})
QUERY=$([ "${TRY_DELTA:-0}" = 1 ] && echo '?delta=1' || echo '')
LOG=$(mktemp)
ALL=$(mktemp)
node bin/slowwork.js serve --port 0 "${PARAMS[@]}" >"$LOG" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null; rm -f "$LOG" "$ALL"' EXIT
URL=''
for _ in $(seq 1 100); do
  URL=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$LOG")
  [ -n "$URL" ] && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$LOG" >&2; exit 1; }
  sleep 0.1
done
[ -n "$URL" ] || { echo "the server did not start:" >&2; cat "$LOG" >&2; exit 1; }
cat "$LOG"
echo "5 requests at once: POST $URL/generate$QUERY"
for i in 1 2 3 4 5; do
  curl -sN --max-time 60 -X POST "$URL/generate$QUERY" -H 'content-type: application/json' \
    -d "{\"prompt\": \"tell me story number $i\"}" | sed -u -n "s/^data: /[$i] /p" | tee -a "$ALL" &
done
wait $(jobs -p | grep -v "^$SERVER\$") 2>/dev/null || true
DONE=$(grep -c '"status":"completed"' "$ALL" || true)
[ "$DONE" = 5 ] || { echo "only $DONE of 5 requests completed" >&2; exit 1; }
echo "done: all 5 streams completed"

