#!/usr/bin/env bash
# The main job (README: `make demo`): Shardcast in Auto mode against a load
# trace replayed in accelerated time on the local control plane
# (docs/demo.md).
#
#   1. builds (or reuses) the local control plane and starts it in
#      ${SHARDCAST_CP_DIR:-/tmp/shardcast-controlplane}
#   2. builds the operator, installs crds/ and the demo ShardSet and
#      MigrationPolicy (examples/demo/) in a fresh namespace
#   3. backfills the forecast history from the trace, runs the operator with
#      a domain clock (--time-scale) and replays the trace: every second each
#      pod's kwok.x-k8s.io/usage-cpu is the load of the ranges routed to it;
#      a live view shows trace time, each pod's load vs capacity, the
#      forecast band and the actions with their reasons
#   4. writes a timeline plot and a summary to --out (default
#      $SHARDCAST_CP_DIR/demo); Ctrl-C stops everything it started.
#
# Flags: --trace SPEC (generated | nab:realKnownCause/nyc_taxi.csv | ...,
#        see hack/replay/traces.py), --hours H (trace hours), --time-scale S
#        (trace seconds per real second, default 120), --arms
#        predictive[,reactive], --out DIR, --keep (leave the control plane
#        and the namespace running afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
KEEP=0
OUT=""
REPLAY_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --trace|--hours|--time-scale|--arms|--start) REPLAY_ARGS+=("$1" "$2"); shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "demo: unknown flag '$1' (try --help)" >&2; exit 2 ;;
  esac
done
export SHARDCAST_CP_DIR=${SHARDCAST_CP_DIR:-/tmp/shardcast-controlplane}
OUT=${OUT:-$SHARDCAST_CP_DIR/demo}
BUILD_DIR=${BUILD_DIR:-build}
say() { printf '\n==> %s\n' "$*"; }

REPLAY_PID=""
STARTED_CP=0
cleanup() {
  trap - EXIT INT TERM
  if [ -n "$REPLAY_PID" ] && kill -0 "$REPLAY_PID" 2>/dev/null; then
    # The driver stops its operators and deletes its namespace on SIGTERM.
    kill -TERM "$REPLAY_PID" 2>/dev/null || true
    wait "$REPLAY_PID" 2>/dev/null || true
  fi
  if [ "$STARTED_CP" = 1 ] && [ "$KEEP" = 0 ]; then
    say "stopping the control plane"
    bash hack/controlplane.sh stop || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "dependencies"
bash hack/install-deps.sh
say "control plane binaries (the first build takes many minutes; cached afterwards)"
bash hack/controlplane.sh build
if ! bash hack/controlplane.sh status >/dev/null 2>&1; then STARTED_CP=1; fi
say "starting the local control plane in $SHARDCAST_CP_DIR"
bash hack/controlplane.sh start
export KUBECONFIG="$SHARDCAST_CP_DIR/kubeconfig"

say "building the operator"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j "${JOBS:-2}" --target shardcast

say "replaying the trace (operator logs and results in $OUT)"
mkdir -p "$OUT"
keep_ns=()
[ "$KEEP" = 1 ] && keep_ns=(--keep)
# Run in the background and wait, so that Ctrl-C reaches this script's trap
# (which stops the driver) while the driver draws the live view.
python3 hack/replay/run.py --kubeconfig "$KUBECONFIG" --binary "$BUILD_DIR/operator/cmd/shardcast" \
  --out "$OUT" --namespace-prefix demo --live ${REPLAY_ARGS[@]+"${REPLAY_ARGS[@]}"} ${keep_ns[@]+"${keep_ns[@]}"} &
REPLAY_PID=$!
wait "$REPLAY_PID"
REPLAY_PID=""
say "done: plot $OUT/timeline.svg, summary $OUT/summary.txt"
