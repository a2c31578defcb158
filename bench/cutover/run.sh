#!/usr/bin/env bash
# Write unavailability of a moving range through shardcast-router, in one
# run: writers send sequence-numbered SETs to keys of one range through the
# router, first with no move (the baseline), then while the range moves from
# shard A to shard B with the agent's hooks (prepare, copy, cutover, routing
# document update the router follows via --routing-file, release). Prints
# p50/p99/max write latency (retries included) and errors returned to
# clients per arm, and reads every key back at the end (lost acknowledged
# writes). Also the target agent's CPU seconds and peak RSS over the move.
#   bench/cutover/run.sh [FILL_KEYS] [WRITERS] [RATE_PER_WRITER] [BASELINE_SECONDS] [COPY_RATE]
# Defaults: 100000 background keys of 100 B in the range, 8 writers at 500
# writes/s each, 10 s baseline, the agent's --copy-rate 0 (unlimited).
# Exits 1 when a step fails, an acknowledged write is lost or a key is left
# behind (the temp dir with the logs is kept then).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
command -v redis-server > /dev/null || { echo "missing redis-server" >&2; exit 2; }
nice cmake --build "$build" -j2 --target shardcast-agent shardcast-router bench_cutover > /dev/null
"$build/bench/cutover/bench_cutover" "$@"
