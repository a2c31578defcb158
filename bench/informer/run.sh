#!/usr/bin/env bash
# Informer benchmark: 10,000 Pods on a private local control plane with 10
# KWOK nodes. Usage: bench/informer/run.sh [--pods N] [--updates N]
set -euo pipefail
cd "$(dirname "$0")/../.."
cmake -S . -B build -G Ninja >/dev/null
cmake --build build -j 2 --target bench_informer
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_controlplane cp 10
./build/bench/informer/bench_informer --kubeconfig "$SHARDCAST_CP_DIR/kubeconfig" "$@"
