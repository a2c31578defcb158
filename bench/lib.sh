# shellcheck shell=bash
# Sourced by bench/*/run.sh (run from the repository root).

# bench_controlplane NAME [NODES]: starts a private local control plane in a
# fresh /tmp/shardcast-bench-NAME.* directory, exported as SHARDCAST_CP_DIR
# (its kubeconfig is $SHARDCAST_CP_DIR/kubeconfig), with NODES KWOK nodes
# (default: hack/controlplane.sh's). It is stopped and removed when the
# calling script exits.
bench_controlplane() {
  SHARDCAST_CP_DIR=$(mktemp -d "/tmp/shardcast-bench-$1.XXXXXX")
  export SHARDCAST_CP_DIR
  trap 'bash hack/controlplane.sh stop >/dev/null 2>&1 || true; rm -rf "$SHARDCAST_CP_DIR"' EXIT
  if [ -n "${2:-}" ]; then
    SHARDCAST_CP_NODES=$2 bash hack/controlplane.sh start
  else
    bash hack/controlplane.sh start
  fi
}
