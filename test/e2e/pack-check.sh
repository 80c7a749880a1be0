#!/usr/bin/env bash
# The published package works after a global install of its tarball:
# build, `npm pack`, `npm install -g --prefix <tmp> <tarball>` (dependencies come from the
# registry), then run the installed `slowwork` outside the repository and check its results.
# It builds and packs a copy of the sources, never the repository's own dist/: the test suite
# runs this beside tests that start bin/slowwork.js, which must not see dist/ rewritten under them.
# Usage: bash test/e2e/pack-check.sh   (or `make try-pack`). Cleans up after itself.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/slowwork-pack-check.XXXXXX")
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

fail() {
  echo "pack-check: FAIL: $*" >&2
  exit 1
}
step() { echo "pack-check: $*"; }

step "copying the sources to $tmp/src"
mkdir -p "$tmp/src"
cd "$repo"
cp -r package.json package-lock.json tsconfig.json README.md bin scripts src examples "$tmp/src/"
ln -s "$repo/node_modules" "$tmp/src/node_modules"
cd "$tmp/src"

step "packing into $tmp"
# prepack builds (into the copy's dist/); --silent leaves only the tarball's name on stdout.
tarball=$(npm pack --silent --pack-destination "$tmp" | tail -n 1)
[ -f "$tmp/$tarball" ] || fail "npm pack did not produce a tarball (got '$tarball')"

contents=$(tar -tzf "$tmp/$tarball")
for f in package/package.json package/bin/slowwork.js package/dist/cli/main.js package/dist/processors/demo.js package/README.md; do
  grep -qx "$f" <<<"$contents" || fail "$f is missing from $tarball"
done
if grep -qE '^package/(src|test)/' <<<"$contents"; then fail "$tarball ships src/ or test/"; fi

step "installing $tarball globally under $tmp/prefix"
npm install -g --prefix "$tmp/prefix" "$tmp/$tarball" --no-audit --no-fund --loglevel=error >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "npm install -g failed"; }
bin="$tmp/prefix/bin/slowwork"
[ -x "$bin" ] || fail "$bin is not an executable"

# Run outside the repository, with nothing from it on the module path.
mkdir -p "$tmp/work"
cd "$tmp/work"
unset NODE_PATH

version=$("$bin" --version) || fail "slowwork --version exited $?"
expected=$(node -p "require('$repo/package.json').version")
[ "$version" = "$expected" ] || fail "slowwork --version printed '$version', expected '$expected'"

step "running the installed slowwork"
set +e
"$bin" submit -p hello --param first_token_ms=0 --no-tui --out "$tmp/r.jsonl" >"$tmp/stdout" 2>"$tmp/stderr"
code=$?
set -e
cat "$tmp/stdout"
[ "$code" -eq 0 ] || { cat "$tmp/stderr" >&2; fail "slowwork submit exited $code"; }
[ -s "$tmp/stderr" ] && { cat "$tmp/stderr" >&2; fail "slowwork submit wrote to stderr"; }

node --input-type=module -e '
  import { readFileSync } from "node:fs";
  const text = readFileSync(process.argv[1], "utf8");
  const lines = text.split("\n").filter((l) => l !== "");
  if (!text.endsWith("\n") || lines.length !== 1) throw new Error(`expected one line, got ${lines.length}: ${text}`);
  const r = JSON.parse(lines[0]);
  if (r.id !== "1" || r.input !== "hello" || r.status !== "done" || typeof r.output !== "string" || r.output === "") {
    throw new Error(`unexpected result: ${lines[0]}`);
  }
' "$tmp/r.jsonl" || fail "the results file is not one done line for 'hello'"

step "OK: $tarball installs globally and runs (one done line in r.jsonl)"
