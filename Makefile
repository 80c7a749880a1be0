# slowwork: `make demo` and `make test` work on a fresh clone with nothing but Node 20 and npm.
.PHONY: install build demo test test-tools bench try try-pack install-global clean

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

# The suite also needs redis-server, tmux and curl: test-tools installs them (as root) or says how.
test: build test-tools
	npx vitest run

test-tools:
	@bash scripts/test-tools.sh

# `slowwork serve` on a free port, 5 parallel `curl -N` requests whose streams interleave, then stop.
try: build
	bash scripts/try.sh

# Benchmarks beside the anchors, in the same run; writes docs/benchmarks.md.
bench: build
	bash bench/run.sh

# The published package works after a global install of its tarball.
try-pack: build
	bash test/e2e/pack-check.sh

# `slowwork` on the PATH: the package is not on the npm registry, so pack this clone and install
# the tarball globally (PREFIX=dir installs under dir instead of npm's global prefix).
install-global: build
	@mkdir -p .pack
	@rm -f .pack/slowwork-*.tgz
	npm pack --silent --ignore-scripts --pack-destination .pack >/dev/null
	npm install -g --no-audit --no-fund $(if $(PREFIX),--prefix $(PREFIX)) .pack/slowwork-*.tgz
	@echo "installed: $(if $(PREFIX),$(PREFIX),$$(npm prefix -g))/bin/slowwork"

clean:
	rm -rf dist node_modules slowwork-results .bench-tmp .pack
