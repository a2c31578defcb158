#!/usr/bin/env bash
# The main job (README: `make demo`): Shardcast in Auto mode against a load
# trace replayed in accelerated time on the local control plane
# (docs/demo.md). By default on the real data plane:
#
#   1. builds (or reuses) the local control plane and starts it in
#      ${SHARDCAST_CP_DIR:-/tmp/shardcast-controlplane}
#   2. builds the operator, shardcast-router and shardcast-agent, installs
#      crds/ and the demo ShardSet (hack/demo/shardset.yaml: hooks enabled)
#      and MigrationPolicy (examples/demo/) in a fresh namespace
#   3. serves the pods with the pod runner (hack/podrunner/: real
#      redis-server + shardcast-agent per pod, real CPU as the pods' usage),
#      runs two shardcast-routers on loopback ports following the routing
#      ConfigMap, backfills the forecast history from the trace and runs the
#      operator with a domain clock (--time-scale)
#   4. sends the trace's load through the routers with the load generator
#      (hack/loadgen/), runs redis-benchmark beside it through a router, and
#      shows a live view: trace time, redis-benchmark's throughput and p99,
#      each pod's real CPU vs capacity, the operator's actions
#   5. writes a timeline plot and a summary (with redis-benchmark before and
#      during moves) to --out (default $SHARDCAST_CP_DIR/demo); Ctrl-C stops
#      everything it started.
#
# --simulated: the earlier demo, no processes behind the pods: every second
# each pod's kwok.x-k8s.io/usage-cpu is set to the load of the ranges routed
# to it (hack/replay/run.py).
#
# Flags: --trace SPEC (generated | nab:realKnownCause/nyc_taxi.csv | ...,
#        see hack/replay/traces.py), --hours H (trace hours), --time-scale S
#        (trace seconds per real second, default 120), --out DIR, --keep
#        (leave the control plane and the namespace running afterwards),
#        --simulated, --arms predictive[,reactive] (--simulated only),
#        --capacity M (real data plane: millicores per pod, default 100).
# Environment: BUILD_DIR (default build), JOBS (default 2),
#        SHARDCAST_DEMO_SKIP_DEPS=1 (do not run hack/install-deps.sh),
#        SHARDCAST_DEMO_NO_BUILD=1 (use the binaries already in BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
KEEP=0
OUT=""
SIMULATED=0
REPLAY_ARGS=()
DEMO_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --trace|--hours|--time-scale|--arms|--start) REPLAY_ARGS+=("$1" "$2"); shift 2 ;;
    --capacity) DEMO_ARGS+=("$1" "$2"); shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --simulated) SIMULATED=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
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

if [ "$SIMULATED" = 1 ] && [ ${#DEMO_ARGS[@]} -gt 0 ]; then
  echo "demo: --capacity is for the real data plane (not with --simulated)" >&2; exit 2
fi
if [ "${SHARDCAST_DEMO_SKIP_DEPS:-0}" != 1 ]; then
  say "dependencies"
  bash hack/install-deps.sh
fi
say "control plane binaries (the first build takes many minutes; cached afterwards)"
bash hack/controlplane.sh build
if ! bash hack/controlplane.sh status >/dev/null 2>&1; then STARTED_CP=1; fi
say "starting the local control plane in $SHARDCAST_CP_DIR"
bash hack/controlplane.sh start
export KUBECONFIG="$SHARDCAST_CP_DIR/kubeconfig"

build() {
  if [ "${SHARDCAST_DEMO_NO_BUILD:-0}" = 1 ]; then
    say "using the binaries in $BUILD_DIR (SHARDCAST_DEMO_NO_BUILD=1): $*"
    return
  fi
  say "building $*"
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD_DIR" -j "${JOBS:-2}" --target "$@"
}

mkdir -p "$OUT"
keep_ns=()
[ "$KEEP" = 1 ] && keep_ns=(--keep)
if [ "$SIMULATED" = 1 ]; then
  build shardcast
  say "replaying the trace on annotated pods (--simulated; operator logs and results in $OUT)"
  # Run in the background and wait, so that Ctrl-C reaches this script's trap
  # (which stops the driver) while the driver draws the live view.
  python3 hack/replay/run.py --kubeconfig "$KUBECONFIG" --binary "$BUILD_DIR/operator/cmd/shardcast" \
    --out "$OUT" --namespace-prefix demo --live ${REPLAY_ARGS[@]+"${REPLAY_ARGS[@]}"} ${keep_ns[@]+"${keep_ns[@]}"} &
else
  build shardcast shardcast-router shardcast-agent
  say "the trace through real redis shards (pod runner, routers, load generator; logs and results in $OUT)"
  # /usr/bin/python3: the Debian interpreter with python3-yaml (install-deps.sh).
  /usr/bin/python3 hack/demo/run.py --kubeconfig "$KUBECONFIG" --binary "$BUILD_DIR/operator/cmd/shardcast" \
    --router "$BUILD_DIR/router/shardcast-router" --agent "$BUILD_DIR/agent/shardcast-agent" \
    --out "$OUT" --namespace-prefix demo --live ${REPLAY_ARGS[@]+"${REPLAY_ARGS[@]}"} \
    ${DEMO_ARGS[@]+"${DEMO_ARGS[@]}"} ${keep_ns[@]+"${keep_ns[@]}"} &
fi
REPLAY_PID=$!
wait "$REPLAY_PID"
REPLAY_PID=""
say "done: plot $OUT/timeline.svg, summary $OUT/summary.txt"
