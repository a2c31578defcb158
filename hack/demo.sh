#!/usr/bin/env bash
# The main job (README: `make demo`): the operator against the default local
# control plane, with the example workload.
#
#   1. builds (or reuses) the local control plane and starts it in
#      ${SHARDCAST_CP_DIR:-/tmp/shardcast-controlplane}
#   2. builds the operator and installs crds/ and examples/
#   3. runs the operator and shows a live view of the ShardSet, its pods
#      (role, CPU) and its routing epoch, for --seconds (default 120) or until
#      Ctrl-C; then stops everything it started.
#
# Flags: --seconds N, --keep (leave the control plane running afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECONDS_TO_RUN=120
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_TO_RUN=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "demo: unknown flag '$1' (try --help)" >&2; exit 2 ;;
  esac
done
export SHARDCAST_CP_DIR=${SHARDCAST_CP_DIR:-/tmp/shardcast-controlplane}
say() { printf '\n==> %s\n' "$*"; }

OP_PID=""
STARTED_CP=0
cleanup() {
  trap - EXIT INT TERM
  if [ -n "$OP_PID" ] && kill -0 "$OP_PID" 2>/dev/null; then
    kill -TERM "$OP_PID" 2>/dev/null || true
    wait "$OP_PID" 2>/dev/null || true
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
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "${JOBS:-2}" --target shardcast

say "installing CRDs and examples"
kubectl apply --server-side -f crds/
kubectl wait --for=condition=Established crd/shardsets.shardcast.dev crd/migrationpolicies.shardcast.dev --timeout=60s
kubectl apply --server-side -f examples/shardset.yaml -f examples/migrationpolicy.yaml

say "running the operator (log: $SHARDCAST_CP_DIR/operator.log)"
./build/operator/cmd/shardcast run --kubeconfig "$KUBECONFIG" --namespace default \
  --metrics-bind-address 127.0.0.1:0 --health-probe-bind-address "" \
  >"$SHARDCAST_CP_DIR/operator.log" 2>&1 &
OP_PID=$!

end=$(( $(date +%s) + SECONDS_TO_RUN ))
while [ "$(date +%s)" -lt "$end" ]; do
  if ! kill -0 "$OP_PID" 2>/dev/null; then
    echo "demo: the operator exited; last log lines:" >&2
    tail -20 "$SHARDCAST_CP_DIR/operator.log" >&2
    exit 1
  fi
  clear 2>/dev/null || true
  echo "Shardcast demo — $(date -u +%H:%M:%S) — $(( end - $(date +%s) ))s left (Ctrl-C stops)"
  echo
  kubectl get shardsets,migrationpolicies 2>&1 || true
  echo
  kubectl get pods -l shardcast.dev/shardset -L shardcast.dev/role 2>&1 | head -20 || true
  echo
  kubectl top pods -l shardcast.dev/shardset 2>/dev/null | head -20 || echo "(metrics not yet available)"
  echo
  epoch=$(kubectl get configmap kv-routing -o jsonpath='{.data.routing\.json}' 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print("epoch", d["epoch"], "ranges", len(d["ranges"]))' 2>/dev/null || echo "routing table not yet published")
  echo "routing: $epoch"
  echo
  echo "recent events:"
  kubectl get events --sort-by=.lastTimestamp 2>/dev/null | grep -iE 'shardset|promot|range|scale' | tail -6 || true
  # The live view refreshes every few seconds; this is a display interval,
  # not synchronisation.
  sleep 3
done
say "summary"
kubectl get shardsets -o wide || true
promotions=$(kubectl get events -o jsonpath='{range .items[*]}{.reason}{"\n"}{end}' 2>/dev/null | grep -c '^Promoted$' || true)
echo "promotion events: ${promotions:-0}"
echo "operator log: $SHARDCAST_CP_DIR/operator.log"
