# shellcheck shell=bash
# Sourced by bench/*/*.sh (run from the repository root).

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

# bench_e2e_kubeconfig: sets KC to $E2E_KUBECONFIG when given (a running
# control plane), else starts a private one (bench_controlplane e2e) and
# sets KC to its kubeconfig. For bench/e2e/*.sh.
# shellcheck disable=SC2034  # KC is read by the caller
bench_e2e_kubeconfig() {
  if [ -n "${E2E_KUBECONFIG:-}" ]; then
    KC=$E2E_KUBECONFIG
  else
    bench_controlplane e2e
    KC=$SHARDCAST_CP_DIR/kubeconfig
  fi
}
