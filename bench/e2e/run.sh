#!/usr/bin/env bash
# End-to-end comparison (docs/benchmarks.md, "End-to-end comparison"): each
# trace through the predictive arm (Auto mode, backfilled history) and the
# reactive arm (--forecasting=false) at the same time on one local control
# plane, plus the offline packing bound and planner oracle (hack/replay/run.py,
# hack/replay/oracle.py, docs/demo.md).
# The traces also run concurrently (own namespaces and operators).
#
# Usage: bench/e2e/run.sh            # the three full-length traces, ~18 minutes
#        bench/e2e/run.sh generated  # some of: generated nab traffic
#        RUNS=3 bench/e2e/run.sh     # three rounds one after another, ~45 minutes
# Traces: generated (hack/replay/traces.py), nab (NAB realKnownCause/nyc_taxi),
#         traffic (NAB realTraffic/occupancy_6005, which no code or setting
#         here was tuned on; its window is Monday 2015-09-14, the first
#         weekday after a quiet weekend, with its morning peak).
# Env:   E2E_KUBECONFIG=path  use a running control plane instead of a
#                             private one; BUILD_DIR (default build);
#        RUNS (default 1).
# Output: bench/e2e/results/<trace>/ (RUNS=1) or results/<trace>/run<k>/
#         (ignored by git: results.json, logs, summary.txt, timeline.svg);
#         the summary and the plot of the last round are also copied to
#         bench/e2e/plots/<trace>{-summary.txt,.svg} (committed, linked from
#         docs/benchmarks.md); then bench/e2e/table.py prints every trace's
#         sums over the rounds, their spread and the targets.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j 2 --target shardcast
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_e2e_kubeconfig
# name | trace | measured window (trace time) -- 24 trace hours each at x120
# (12 real minutes) after the warm-up (32 forecast steps, ~5.5 real minutes).
declare -A TRACE=([generated]=generated [nab]=nab:realKnownCause/nyc_taxi.csv
                  [traffic]=nab:realTraffic/occupancy_6005.csv)
declare -A WINDOW=([generated]="--start 2026-11-13T00:00:00Z --hours 24"
                   [nab]="--start 2014-08-06T05:00:00Z --hours 24"
                   [traffic]="--start 2015-09-14T00:00:00Z --hours 24")
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(generated nab traffic)
for n in "${names[@]}"; do
  [ -n "${TRACE[$n]:-}" ] || { echo "bench/e2e: unknown trace '$n' (generated, nab, traffic)" >&2; exit 2; }
done
RUNS=${RUNS:-1}
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "bench/e2e: RUNS must be a positive integer, got '$RUNS'" >&2; exit 2; }
rc=0
dirs=()
for k in $(seq 1 "$RUNS"); do
  pids=()
  for n in "${names[@]}"; do
    out="$ROOT/bench/e2e/results/$n"
    [ "$RUNS" = 1 ] || out="$out/run$k"
    mkdir -p "$out"
    dirs+=("$out")
    echo "==> round $k/$RUNS, $n: ${TRACE[$n]} ${WINDOW[$n]} -> $out (log: $out/run.log)"
    # shellcheck disable=SC2086
    python3 hack/replay/run.py --kubeconfig "$KC" --binary "$BUILD_DIR/operator/cmd/shardcast" \
      --arms predictive,reactive --namespace-prefix "bench-$n" --trace "${TRACE[$n]}" ${WINDOW[$n]} \
      --time-scale 120 --out "$out" >"$out/run.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  echo "==> round $k/$RUNS done ($(date -u +%H:%M:%S))"
done
mkdir -p "$ROOT/bench/e2e/plots"
for n in "${names[@]}"; do
  out="$ROOT/bench/e2e/results/$n"
  [ "$RUNS" = 1 ] || out="$out/run$RUNS"
  echo
  if [ -f "$out/summary.txt" ]; then
    cat "$out/summary.txt"
    cp "$out/summary.txt" "$ROOT/bench/e2e/plots/$n-summary.txt"
    cp "$out/timeline.svg" "$ROOT/bench/e2e/plots/$n.svg"
  else
    tail -5 "$out/run.log"
  fi
done
echo
python3 bench/e2e/table.py "${dirs[@]}" || rc=1
exit $rc
