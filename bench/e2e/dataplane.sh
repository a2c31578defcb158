#!/usr/bin/env bash
# The generated trace on the real data plane (docs/benchmarks.md, "The
# generated trace on the real data plane"): bench/e2e/run.sh's generated
# window (24 trace hours at x120) through hack/demo/run.py, where every pod
# is a real redis-server with a shardcast-agent, two shardcast-routers follow
# the routing ConfigMap and the load generator sends the trace's load as
# real requests. The data plane runs one arm at a time, so the predictive arm
# (with the planner oracle) runs first and the reactive arm after it, on the
# same trace window, one after the other (~20 minutes each). The first arm
# measures the calibration (operations/s per millicore, over 15 s) and the
# second reuses it, so both send the same requests. Then bench/e2e/table.py
# merges the two and prints the targets, with the bytes the agents moved.
#
# Usage: bench/e2e/dataplane.sh            # both arms
#        bench/e2e/dataplane.sh predictive # one of: predictive reactive
# Env:   E2E_KUBECONFIG=path  use a running control plane instead of a
#                             private one; BUILD_DIR (default build);
#        CAPACITY (millicores per pod, default 100, as make demo);
#        CALIBRATION=path/results.json  reuse that run's calibration for
#                             every arm (default: the first arm measures it).
# Output: bench/e2e/results/dataplane/<arm>/ (ignored by git: results.json,
#         summary.txt with the data plane's summary, timeline.svg, logs).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-build}
CAPACITY=${CAPACITY:-100}
arms=("$@")
[ ${#arms[@]} -gt 0 ] || arms=(predictive reactive)
for a in "${arms[@]}"; do
  case "$a" in
    predictive|reactive) ;;
    *) echo "bench/e2e/dataplane.sh: unknown arm '$a' (predictive, reactive)" >&2; exit 2 ;;
  esac
done
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j 2 --target shardcast shardcast-router shardcast-agent
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_e2e_kubeconfig
base="$ROOT/bench/e2e/results/dataplane"
rc=0
calibration=${CALIBRATION:-}
for a in "${arms[@]}"; do
  out="$base/$a"
  rm -rf "$out"
  mkdir -p "$out"
  oracle=()
  [ "$a" = predictive ] && oracle=(--oracle)
  cal=(--calibration-seconds 15)
  [ -n "$calibration" ] && cal=(--reuse-calibration "$calibration")
  echo "==> $a arm on the real data plane: generated --start 2026-11-13T00:00:00Z --hours 24 -> $out" \
       "(log: $out/run.log)"
  # /usr/bin/python3: the Debian interpreter with python3-yaml (install-deps.sh).
  /usr/bin/python3 hack/demo/run.py --kubeconfig "$KC" --binary "$BUILD_DIR/operator/cmd/shardcast" \
    --router "$BUILD_DIR/router/shardcast-router" --agent "$BUILD_DIR/agent/shardcast-agent" \
    --trace generated --start 2026-11-13T00:00:00Z --hours 24 --time-scale 120 \
    --capacity "$CAPACITY" --arms "$a" --namespace-prefix "bench-dp-$a" \
    ${oracle[@]+"${oracle[@]}"} "${cal[@]}" --out "$out" >"$out/run.log" 2>&1 || rc=1
  # The next arm sends the same requests: it reuses this arm's calibration.
  if [ -z "$calibration" ] && [ -f "$out/results.json" ]; then calibration="$out/results.json"; fi
  echo "==> $a done ($(date -u +%H:%M:%S))"
  if [ -f "$out/summary.txt" ]; then cat "$out/summary.txt"; else tail -5 "$out/run.log"; fi
done
echo
python3 bench/e2e/table.py "$base" || rc=1
exit $rc
