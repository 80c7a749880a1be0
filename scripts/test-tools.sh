#!/usr/bin/env bash
# What the test suite needs beyond Node and npm: redis-server (the Redis tests start their own on
# a free loopback port, never a system service), tmux (a real terminal for the end-to-end tests)
# and curl (the HTTP tests' real client). `make test` calls this first: as root it installs what is
# missing with apt-get; otherwise it names the command to run, in one line, and fails.
set -euo pipefail
missing=()
for tool in redis-server tmux curl; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test-tools: installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
  exit 0
fi
echo "test-tools: the tests need ${missing[*]}: install them (Debian/Ubuntu: sudo apt-get install ${missing[*]}; macOS: brew install ${missing[*]/redis-server/redis})" >&2
exit 1
