# slowwork: `make demo` and `make test` work on a fresh clone with nothing but Node 20 and npm.
.PHONY: install build demo test bench try try-pack clean

NODE_MODULES_STAMP := node_modules/.install-stamp

$(NODE_MODULES_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: $(NODE_MODULES_STAMP)

build: install
	npm run --silent build

# About 20 seconds of 40 slow demo generations, 8 at a time: live on a terminal, plain lines when piped.
demo: build
	node bin/slowwork.js submit examples/prompts.txt --concurrency 8 --param tokens_per_s=8 --out slowwork-results/demo-$$(date +%Y%m%d-%H%M%S).jsonl

test: build
	npx vitest run

# `slowwork serve` on a free port, 5 parallel `curl -N` requests whose streams interleave, then stop.
try: build
	bash scripts/try.sh

# Benchmarks beside the anchors, in the same run; writes docs/benchmarks.md.
bench: build
	bash bench/run.sh

# The published package works after a global install of its tarball.
try-pack: build
	bash test/e2e/pack-check.sh

clean:
	rm -rf dist node_modules slowwork-results .bench-tmp
