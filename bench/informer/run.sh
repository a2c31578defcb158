#!/usr/bin/env bash
# Informer benchmark: 10,000 Pods on a private local control plane with 10
# KWOK nodes. Usage: bench/informer/run.sh [--pods N] [--updates N]
set -euo pipefail
cd "$(dirname "$0")/../.."
cmake -S . -B build -G Ninja >/dev/null
cmake --build build -j 2 --target bench_informer
export SHARDCAST_CP_DIR=$(mktemp -d /tmp/shardcast-bench-cp.XXXXXX)
trap 'bash hack/controlplane.sh stop >/dev/null 2>&1 || true; rm -rf "$SHARDCAST_CP_DIR"' EXIT
SHARDCAST_CP_NODES=10 bash hack/controlplane.sh start
./build/bench/informer/bench_informer --kubeconfig "$SHARDCAST_CP_DIR/kubeconfig" "$@"
