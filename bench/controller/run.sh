#!/usr/bin/env bash
# ShardSet controller benchmark: 200 ShardSets of 10 pods each on a private
# local control plane. Usage: bench/controller/run.sh [--sets 200] [--replicas 8] [--warm 2]
set -euo pipefail
cd "$(dirname "$0")/../.."
cmake -S . -B build -G Ninja >/dev/null
cmake --build build -j 2 --target shardcast
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_controlplane ctl
python3 bench/controller/bench_controller.py --kubeconfig "$SHARDCAST_CP_DIR/kubeconfig" \
  --binary build/operator/cmd/shardcast --workdir "$SHARDCAST_CP_DIR" "$@"
