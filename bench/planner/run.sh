#!/usr/bin/env bash
# Planner benchmark, on demand (never from tests). Builds bench_planner in
# BUILD_DIR (default build) and runs it: MakePlan latency for 1,000 pods x 64
# ranges and moved ranges / lower bound over 1,000 scenarios, each beside the
# naive greedy baseline of the same run. With BASELINE=<path to an older
# bench_planner binary> it runs that too, so a change can be compared
# before/after on the same machine in one go (the plan digest shows whether
# the plans are the same).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build}
SCENARIOS=${1:-1000}
nice cmake --build "$BUILD_DIR" -j2 --target bench_planner
if [[ -n "${BASELINE:-}" ]]; then
  echo "== baseline: $BASELINE"
  "$BASELINE" "$SCENARIOS"
  echo
fi
echo "== this tree: $BUILD_DIR/bench/planner/bench_planner"
"$BUILD_DIR/bench/planner/bench_planner" "$SCENARIOS"
