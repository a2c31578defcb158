#!/usr/bin/env bash
# Copy throughput of shardcast-agent vs plain MIGRATE loops over the same keys
# (200k keys of 100 B and 20k keys of 4 KiB by default), with the agent's CPU
# seconds and peak RSS. One run; prints a Markdown table.
#   bench/agent/run.sh [BIG_KEYS] [SMALL_KEYS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
nice cmake --build "$build" -j2 --target shardcast-agent bench_agent_copy >/dev/null
"$build/bench/agent/bench_agent_copy" "$@"
