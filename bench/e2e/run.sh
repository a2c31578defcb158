#!/usr/bin/env bash
# End-to-end comparison (docs/benchmarks.md, "End-to-end comparison"): each
# trace through the predictive arm (Auto mode, backfilled history) and the
# reactive arm (--forecasting=false) at the same time on one local control
# plane, plus the offline packing bound and planner oracle (hack/replay/run.py,
# hack/replay/oracle.py, docs/demo.md).
# The traces also run concurrently (own namespaces and operators).
#
# Usage: bench/e2e/run.sh            # both full-length traces, ~18 minutes
#        bench/e2e/run.sh generated  # one of: generated nab
# Env:   E2E_KUBECONFIG=path  use a running control plane instead of a
#                             private one; BUILD_DIR (default build).
# Output: bench/e2e/results/<trace>/ (ignored by git: results.json, logs,
#         summary.txt, timeline.svg); the summary and the plot are also
#         copied to bench/e2e/plots/<trace>{-summary.txt,.svg} (committed,
#         linked from docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j 2 --target shardcast
if [ -n "${E2E_KUBECONFIG:-}" ]; then
  KC=$E2E_KUBECONFIG
else
  # shellcheck source=bench/lib.sh
  . bench/lib.sh
  bench_controlplane e2e
  KC=$SHARDCAST_CP_DIR/kubeconfig
fi
# name | trace | measured window (trace time) -- 24 trace hours each at x120
# (12 real minutes) after the warm-up (32 forecast steps, ~5.5 real minutes).
declare -A TRACE=([generated]=generated [nab]=nab:realKnownCause/nyc_taxi.csv)
declare -A WINDOW=([generated]="--start 2026-11-13T00:00:00Z --hours 24"
                   [nab]="--start 2014-08-06T05:00:00Z --hours 24")
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(generated nab)
pids=()
for n in "${names[@]}"; do
  [ -n "${TRACE[$n]:-}" ] || { echo "bench/e2e: unknown trace '$n' (generated, nab)" >&2; exit 2; }
  out="$ROOT/bench/e2e/results/$n"
  mkdir -p "$out"
  echo "==> $n: ${TRACE[$n]} ${WINDOW[$n]} -> $out (log: $out/run.log)"
  # shellcheck disable=SC2086
  python3 hack/replay/run.py --kubeconfig "$KC" --binary "$BUILD_DIR/operator/cmd/shardcast" \
    --arms predictive,reactive --namespace-prefix "bench-$n" --trace "${TRACE[$n]}" ${WINDOW[$n]} \
    --time-scale 120 --out "$out" >"$out/run.log" 2>&1 &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
mkdir -p "$ROOT/bench/e2e/plots"
for n in "${names[@]}"; do
  echo
  if [ -f "$ROOT/bench/e2e/results/$n/summary.txt" ]; then
    cat "$ROOT/bench/e2e/results/$n/summary.txt"
    cp "$ROOT/bench/e2e/results/$n/summary.txt" "$ROOT/bench/e2e/plots/$n-summary.txt"
    cp "$ROOT/bench/e2e/results/$n/timeline.svg" "$ROOT/bench/e2e/plots/$n.svg"
  else
    tail -5 "$ROOT/bench/e2e/results/$n/run.log"
  fi
done
exit $rc
