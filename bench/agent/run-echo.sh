#!/usr/bin/env bash
# What keeping an echo in sync costs per logged write (the echo pod's redis-server
# and shardcast-agent, and the owner's extra), against the owner's CPU per write
# without an echo, at three write rates and two batch sizes. One run; prints a
# Markdown table. The ratio is what migration.echoSyncCost stands for.
#   bench/agent/run-echo.sh [SECONDS per phase, default 8]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
nice cmake --build "$build" -j2 --target shardcast-agent bench_echo_sync >/dev/null
"$build/bench/agent/bench_echo_sync" "$@"
