#!/usr/bin/env bash
# The Helm chart on the real control plane: lint clean, CRD templates in sync
# with crds/, rendered objects accepted by the API server (server dry run),
# least-privilege RBAC, install / upgrade / uninstall.
source "$(dirname "${BASH_SOURCE[0]}")/../crds/lib.sh"
CHART="$SRC/charts/shardcast"

find_helm
log "helm: $HELM ($("$HELM" version --short 2>/dev/null))"
HELM_HOME_DIR="$(mktemp -d /tmp/shardcast-helm.XXXXXX)"
add_cleanup "rm -rf '$HELM_HOME_DIR'"
export HELM_CACHE_HOME="$HELM_HOME_DIR/cache" HELM_CONFIG_HOME="$HELM_HOME_DIR/config" HELM_DATA_HOME="$HELM_HOME_DIR/data"

# ---- static: lint and sync ---------------------------------------------------
lint_clean() { # extra helm args...
  local out
  if out="$("$HELM" lint --strict "$CHART" "$@" 2>&1)" && ! grep -q '\[WARNING\]\|\[ERROR\]' <<<"$out"; then
    pass "helm lint --strict $*"
  else
    fail "helm lint --strict $*: $out"
  fi
}
lint_clean
lint_clean --set 'watchNamespaces={a}' --set crds.install=false --set replicaCount=1
if out="$(bash "$SRC/hack/sync-crds.sh" --check 2>&1)"; then pass "CRD templates in sync with crds/"; else fail "$out"; fi

# Rendered objects: what the chart promises (checked on the YAML).
# Offline rendering assumes Kubernetes v1.20 unless told; the chart needs >= 1.30.
OFFLINE_KUBE=(--kube-version 1.33.0)
check_render() { # python-check-name helm-template-args...
  local check="$1"
  shift
  "$HELM" template shardcast "$CHART" "${OFFLINE_KUBE[@]}" --namespace shardcast-system "$@" |
    python3 "$SRC/tests/charts/render_check.py" "$check"
}
out="$(check_render cluster 2>&1)" && pass "rendered chart (cluster scope): $(tail -1 <<<"$out")" || fail "rendered chart (cluster scope): $out"
out="$(check_render namespaced --set 'watchNamespaces={team-a}' --set crds.install=false 2>&1)" &&
  pass "rendered chart (namespaced): $(tail -1 <<<"$out")" || fail "rendered chart (namespaced): $out"
if out="$("$HELM" template shardcast "$CHART" "${OFFLINE_KUBE[@]}" --set 'watchNamespaces={a,b}' 2>&1)"; then
  fail "two watchNamespaces rendered, want a clear error"
elif [[ "$out" == *"watchNamespaces: the operator watches either all namespaces"* ]]; then
  pass "two watchNamespaces refused: $(grep -m1 watchNamespaces <<<"$out")"
else
  fail "two watchNamespaces: unclear error: $out"
fi

# ---- cluster ----------------------------------------------------------------
cluster_up
make_namespace chart
REL="shardcast-$RANDOM"
TAKE=()
help="$("$HELM" install --help 2>/dev/null || true)"
if [[ "$help" == *--take-ownership* ]]; then TAKE=(--take-ownership); fi

# Everything the chart renders is accepted by the API server.
SERVER_KUBE=(--kube-version "$(k version -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])')")
for args in "" "--set watchNamespaces={$NS} --set crds.install=false"; do
  # shellcheck disable=SC2086
  if out="$("$HELM" template "$REL" "$CHART" "${SERVER_KUBE[@]}" --namespace "$NS" $args | k apply --dry-run=server -f - 2>&1)"; then
    pass "helm template $args | kubectl apply --dry-run=server ($(grep -c . <<<"$out") objects)"
  else
    fail "server dry run of the rendered chart ($args): $out"
  fi
done

WAIT=()
if [ -n "$(k get nodes -l type=kwok -o name 2>/dev/null)" ]; then WAIT=(--wait --timeout 5m); fi
add_cleanup "'$HELM' uninstall '$REL' -n '$NS' >/dev/null 2>&1"
if out="$("$HELM" install "$REL" "$CHART" -n "$NS" "${TAKE[@]}" "${WAIT[@]}" 2>&1)"; then
  pass "helm install ${WAIT[*]}"
else
  die "helm install failed: $out"
fi
DEPLOY="$REL"
[ "$(k -n "$NS" get deploy "$DEPLOY" -o jsonpath='{.spec.replicas}')" = 2 ] && pass "Deployment has 2 replicas" || fail "Deployment replicas"
if [ ${#WAIT[@]} -gt 0 ]; then
  ready="$(k -n "$NS" get deploy "$DEPLOY" -o jsonpath='{.status.readyReplicas}')"
  [ "$ready" = 2 ] && pass "2 operator pods ready (on KWOK nodes)" || fail "ready replicas: $ready"
fi
[ "$(k -n "$NS" get svc "$REL-metrics" -o jsonpath='{.spec.ports[0].name}:{.spec.ports[0].port}')" = metrics:8080 ] &&
  pass "metrics Service port 8080 named metrics" || fail "metrics Service"
k wait --for=condition=Established --timeout=60s crd/shardsets.shardcast.dev crd/migrationpolicies.shardcast.dev >/dev/null &&
  pass "CRDs Established after helm install" || fail "CRDs not Established"
[ "$(k get crd shardsets.shardcast.dev -o jsonpath='{.metadata.annotations.meta\.helm\.sh/release-name}')" = "$REL" ] &&
  pass "CRDs owned by the release" || fail "CRDs not owned by release $REL"

# RBAC as the operator's ServiceAccount.
SA="system:serviceaccount:$NS:$REL"
can() { k auth can-i "$@" --as="$SA" 2>/dev/null || true; }
# A SubjectAccessReview straight to the API server (no discovery needed, so it
# also works for metrics.k8s.io before the metrics API is available).
sar() { # verb group resource namespace -> yes|no
  k create -o jsonpath='{.status.allowed}' -f - <<EOS | sed 's/^true$/yes/; s/^false$/no/; s/^$/no/'
{"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
 "spec": {"user": "$SA", "groups": ["system:serviceaccounts", "system:serviceaccounts:$NS", "system:authenticated"],
          "resourceAttributes": {"verb": "$1", "group": "$2", "resource": "$3", "namespace": "$4"}}}
EOS
}
expect_sar() { # yes|no verb group resource namespace
  local want="$1" got
  shift
  got="$(sar "$@")"
  [ "$got" = "$want" ] && pass "SubjectAccessReview $* = $want" || fail "SubjectAccessReview $* = $got, want $want"
}
expect_can() { # yes|no verb resource [args]
  local want="$1"
  shift
  local got
  got="$(can "$@")"
  [ "$got" = "$want" ] && pass "can-i $* = $want" || fail "can-i $* = $got, want $want"
}
expect_can yes list shardsets.shardcast.dev -A
expect_can yes watch migrationpolicies.shardcast.dev -A
expect_can no update shardsets.shardcast.dev -n "$NS"
expect_can no patch shardsets.shardcast.dev -n "$NS"
expect_can yes patch shardsets.shardcast.dev --subresource=status -n "$NS"
expect_can yes update migrationpolicies.shardcast.dev --subresource=status -n "$NS"
expect_can yes create pods -n "$NS"
expect_can yes delete persistentvolumeclaims -n "$NS"
expect_can no update persistentvolumeclaims -n "$NS"
expect_can yes update configmaps -n "$NS"
expect_can no delete configmaps -n "$NS"
expect_can yes create events.events.k8s.io -n "$NS"
expect_sar yes list metrics.k8s.io pods "$NS"
expect_sar yes get metrics.k8s.io pods "$NS"
expect_sar no watch metrics.k8s.io pods "$NS"
expect_can yes update leases.coordination.k8s.io -n "$NS"
expect_can no update leases.coordination.k8s.io -n default
expect_can no get secrets -n "$NS"
expect_can no list secrets -A
expect_can no delete deployments.apps -n "$NS"

# Upgrade changing a value.
if out="$("$HELM" upgrade "$REL" "$CHART" -n "$NS" "${TAKE[@]}" --reuse-values --set logLevel=debug "${WAIT[@]}" 2>&1)"; then
  pass "helm upgrade --set logLevel=debug"
else
  fail "helm upgrade: $out"
fi
args="$(k -n "$NS" get deploy "$DEPLOY" -o jsonpath='{.spec.template.spec.containers[0].args}')"
[[ "$args" == *"--log-level=debug"* && "$args" == *"--leader-elect"* ]] && pass "upgraded args: $args" || fail "args after upgrade: $args"
[ "$("$HELM" status "$REL" -n "$NS" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')" = 2 ] &&
  pass "release revision 2" || fail "release revision is not 2"

# Uninstall: the operator goes, the CRDs stay (helm.sh/resource-policy: keep).
if out="$("$HELM" uninstall "$REL" -n "$NS" --wait 2>&1)"; then pass "helm uninstall"; else fail "helm uninstall: $out"; fi
k -n "$NS" get deploy "$DEPLOY" >/dev/null 2>&1 && fail "Deployment still there after uninstall" || pass "Deployment removed"
k get clusterrole "$REL" >/dev/null 2>&1 && fail "ClusterRole still there after uninstall" || pass "ClusterRole removed"
k get crd shardsets.shardcast.dev >/dev/null 2>&1 && pass "CRDs kept after uninstall" || fail "CRDs deleted by uninstall"

# Namespaced install: a Role in the watched namespace and no cluster-wide access.
REL2="shardcast-ns-$RANDOM"
add_cleanup "'$HELM' uninstall '$REL2' -n '$NS' >/dev/null 2>&1"
if out="$("$HELM" install "$REL2" "$CHART" -n "$NS" --set "watchNamespaces={$NS}" --set crds.install=false 2>&1)"; then
  pass "helm install (watchNamespaces=$NS, crds.install=false)"
  SA="system:serviceaccount:$NS:$REL2"
  expect_can yes list shardsets.shardcast.dev -n "$NS"
  expect_can no list shardsets.shardcast.dev -n default
  expect_can no list shardsets.shardcast.dev -A
  args="$(k -n "$NS" get deploy "$REL2" -o jsonpath='{.spec.template.spec.containers[0].args}')"
  [[ "$args" == *"--namespace=$NS"* ]] && pass "--namespace=$NS passed" || fail "args: $args"
  "$HELM" uninstall "$REL2" -n "$NS" >/dev/null 2>&1 || fail "helm uninstall $REL2"
else
  fail "namespaced helm install: $out"
fi

finish
