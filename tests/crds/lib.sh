# Shared helpers of the CRD, chart and example tests (sourced, bash).
#
# cluster_up: uses $SHARDCAST_TEST_KUBECONFIG when set; otherwise starts a
# private control plane with hack/controlplane.sh in a temporary state dir
# and stops it on exit. Every test works in its own namespace ($NS).
set -euo pipefail

SRC="${SHARDCAST_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
KUBECTL_BIN="${KUBECTL:-$(command -v kubectl || echo /usr/bin/kubectl)}"
FAILURES=0
_CLEANUPS=()

log() { printf '[%s %s] %s\n' "$(basename "$0" .sh)" "$(date +%H:%M:%S)" "$*" >&2; }
fail() { log "FAIL: $*"; FAILURES=$((FAILURES + 1)); }
pass() { log "ok: $*"; }
die() { log "ERROR: $*"; exit 1; }

on_exit() { # run cleanups in reverse order
  local rc=$? i
  for ((i = ${#_CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${_CLEANUPS[$i]}" || true; done
  exit "$rc"
}
trap on_exit EXIT
add_cleanup() { _CLEANUPS+=("$1"); }

k() { "$KUBECTL_BIN" --request-timeout=60s "$@"; }

cluster_up() {
  if [ -n "${SHARDCAST_TEST_KUBECONFIG:-}" ]; then
    export KUBECONFIG="$SHARDCAST_TEST_KUBECONFIG"
    log "using the control plane of SHARDCAST_TEST_KUBECONFIG=$KUBECONFIG"
  else
    CP_DIR="$(mktemp -d /tmp/shardcast-test-cp.XXXXXX)"
    export SHARDCAST_CP_DIR="$CP_DIR"
    add_cleanup "SHARDCAST_CP_DIR='$CP_DIR' bash '$SRC/hack/controlplane.sh' stop >/dev/null 2>&1; rm -rf '$CP_DIR'"
    log "starting a private control plane in $CP_DIR"
    bash "$SRC/hack/controlplane.sh" start || die "hack/controlplane.sh start failed"
    eval "$(bash "$SRC/hack/controlplane.sh" env)"
    export KUBECONFIG="$CP_DIR/kubeconfig"
  fi
  k get --raw /readyz >/dev/null || die "API server not ready (KUBECONFIG=$KUBECONFIG)"
}

# A fresh namespace, deleted on exit.
make_namespace() {
  NS="${1:-shardcast-test}-$(date +%s)-$RANDOM"
  k create namespace "$NS" >/dev/null
  add_cleanup "'$KUBECTL_BIN' delete namespace '$NS' --wait=false >/dev/null 2>&1"
}

# Applies crds/ and waits until both CRDs are Established.
install_crds() {
  k apply --server-side --force-conflicts -f "$SRC/crds/" >/dev/null || die "kubectl apply -f crds/ failed"
  k wait --for=condition=Established --timeout=120s \
    crd/shardsets.shardcast.dev crd/migrationpolicies.shardcast.dev >/dev/null ||
    die "CRDs did not become Established"
}

find_helm() {
  if [ -n "${SHARDCAST_HELM:-}" ] && [ -x "$SHARDCAST_HELM" ]; then HELM="$SHARDCAST_HELM"; return 0; fi
  if command -v helm >/dev/null 2>&1; then HELM="$(command -v helm)"; return 0; fi
  local h
  h="$(bash "$SRC/hack/controlplane.sh" env 2>/dev/null | sed -n 's/^export SHARDCAST_HELM=//p')"
  if [ -n "$h" ] && [ -x "$h" ]; then HELM="$h"; return 0; fi
  for h in "${SHARDCAST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/shardcast}"/bin/helm-*/helm; do
    if [ -x "$h" ]; then HELM="$h"; return 0; fi
  done
  die "helm not found: set SHARDCAST_HELM or run hack/controlplane.sh build helm"
}

# expect_reject <description> <substring the error must contain> <kubectl args...>
# The command (reading a manifest on stdin) must fail with a message that
# contains the substring.
expect_reject() {
  local what="$1" want="$2" out
  shift 2
  if out="$(k "$@" 2>&1)"; then
    fail "$what: accepted, want rejection mentioning '$want'"
    return
  fi
  if [[ "$out" == *"$want"* ]]; then
    pass "$what: rejected: $(printf '%s' "$out" | tr '\n' ' ' | cut -c1-300)"
  else
    fail "$what: rejected, but the message does not contain '$want': $out"
  fi
}

finish() {
  if [ "$FAILURES" -gt 0 ]; then
    log "$FAILURES check(s) failed"
    exit 1
  fi
  log "all checks passed"
}
