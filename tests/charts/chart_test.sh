#!/usr/bin/env bash
# The Helm chart on the real control plane: lint clean under several value
# sets, CRD templates in sync with crds/, rendered objects accepted by the API
# server (server dry run, strict field validation) for the namespaced default,
# cluster-wide, NetworkPolicy and ServiceAccount allow-list value sets,
# least-privilege RBAC, the allow-list enforced, install / upgrade (including
# a CRD schema change) / uninstall.
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
VALUE_SETS=(
  "default|"
  "namespaced|--set watchNamespaces={team-a} --set crds.install=false"
  "cluster|--set clusterWide=true"
  "netpol|--set networkPolicy.enabled=true --set networkPolicy.apiServer.cidrs={10.0.0.1/32}"
  "sa-allowlist|--set serviceAccountAllowList.enabled=true --set serviceAccountAllowList.names={kv,default}"
)
for vs in "${VALUE_SETS[@]}"; do
  # shellcheck disable=SC2086
  lint_clean ${vs#*|}
done
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
for vs in "${VALUE_SETS[@]}"; do
  name="${vs%%|*}"
  # shellcheck disable=SC2086
  out="$(check_render "$name" ${vs#*|} 2>&1)" && pass "rendered chart ($name): $(tail -1 <<<"$out")" ||
    fail "rendered chart ($name): $out"
done
refuse() { # what expected-substring helm-args...
  local what="$1" want="$2" out
  shift 2
  if out="$("$HELM" template shardcast "$CHART" "${OFFLINE_KUBE[@]}" "$@" 2>&1)"; then
    fail "$what rendered, want a clear error"
  elif [[ "$out" == *"$want"* ]]; then
    pass "$what refused: $(grep -m1 -o "$want.*" <<<"$out" | cut -c1-160)"
  else
    fail "$what: unclear error: $out"
  fi
}
refuse "two watchNamespaces" "watchNamespaces: the operator watches either all namespaces" --set 'watchNamespaces={a,b}'
refuse "clusterWide with a watchNamespace" "watchNamespaces must be empty when clusterWide is true" \
  --set clusterWide=true --set 'watchNamespaces={a}'
refuse "an empty allow-list" "serviceAccountAllowList.names must list at least one" \
  --set serviceAccountAllowList.enabled=true --set 'serviceAccountAllowList.names=null'

# ---- cluster ----------------------------------------------------------------
cluster_up
make_namespace chart
REL="shardcast-$RANDOM"
TAKE=()
help="$("$HELM" install --help 2>/dev/null || true)"
if [[ "$help" == *--take-ownership* ]]; then TAKE=(--take-ownership); fi

# Everything the chart renders is accepted by the API server, field by field
# (--validate=strict fails on unknown or duplicate fields).
SERVER_KUBE=(--kube-version "$(k version -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])')")
for vs in "${VALUE_SETS[@]}"; do
  name="${vs%%|*}"
  args="${vs#*|}"
  args="${args//team-a/$NS}"
  # shellcheck disable=SC2086
  if out="$("$HELM" template "$REL" "$CHART" "${SERVER_KUBE[@]}" --namespace "$NS" $args |
    k apply --dry-run=server --validate=strict -f - 2>&1)"; then
    pass "helm template ($name) | kubectl apply --dry-run=server --validate=strict ($(grep -c . <<<"$out") objects)"
  else
    fail "server dry run of the rendered chart ($name: $args): $out"
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
# The default install watches the release namespace only (Role, no ClusterRole).
expect_can yes list shardsets.shardcast.dev -n "$NS"
expect_can yes watch migrationpolicies.shardcast.dev -n "$NS"
expect_can no list shardsets.shardcast.dev -A
expect_can no list shardsets.shardcast.dev -n default
expect_can no create pods -n default
expect_can no create pods -n kube-system
expect_can no update configmaps -n kube-system
k get clusterrole "$REL" >/dev/null 2>&1 && fail "default install created ClusterRole $REL" || pass "no ClusterRole by default"
args="$(k -n "$NS" get deploy "$DEPLOY" -o jsonpath='{.spec.template.spec.containers[0].args}')"
[[ "$args" == *"--namespace=$NS"* ]] && pass "default install passes --namespace=$NS" || fail "args: $args"
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
expect_sar no list metrics.k8s.io pods default
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

# Upgrade changing a CRD schema: Helm never upgrades a chart's crds/ files,
# so the chart ships the CRDs as templates. A copy of the chart whose
# ShardSet CRD allows warmPool.size up to 200 (instead of 100) must change the
# API server's schema on `helm upgrade`, and the original chart must change it
# back.
warm_max() { k get crd shardsets.shardcast.dev -o jsonpath='{.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.warmPool.properties.size.maximum}'; }
wait_warm_max() { # want: the CRD's schema and the API server's validation agree
  local want="$1" deadline=$((SECONDS + 60))
  while [ $SECONDS -lt $deadline ]; do
    if [ "$(warm_max)" = "$want" ]; then return 0; fi
    sleep 1
  done
  return 1
}
CHART2="$HELM_HOME_DIR/chart-v2"
cp -r "$CHART" "$CHART2"
python3 - "$CHART2/templates/crds/shardcast.dev_shardsets.yaml" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
old = "maximum: 100\n                      description: Number of warm spare pods, 0..100. Default 1."
assert old in s, "warmPool.size maximum not found"
open(p, "w").write(s.replace(old, "maximum: 200\n                      description: Number of warm spare pods, 0..200. Default 1."))
PY
sed -i 's/^version: .*/version: 0.1.1-schema-test/' "$CHART2/Chart.yaml"
[ "$(warm_max)" = 100 ] || fail "warmPool.size maximum before the upgrade: $(warm_max), want 100"
mk_warm() { python3 "$SRC/tests/crds/mk.py" shardset "$1" spec.warmPool="{\"size\":$2}"; }
if out="$("$HELM" upgrade "$REL" "$CHART2" -n "$NS" --reuse-values 2>&1)"; then
  pass "helm upgrade to a chart with a changed CRD schema"
else
  fail "helm upgrade (CRD schema change): $out"
fi
wait_warm_max 200 && pass "helm upgrade changed the CRD schema (warmPool.size maximum 200)" ||
  fail "CRD schema not upgraded: warmPool.size maximum $(warm_max)"
accepted=""
for _ in $(seq 1 30); do # the API server swaps its validator shortly after the CRD update
  if mk_warm warm150 150 | k -n "$NS" create --dry-run=server -f - >/dev/null 2>&1; then accepted=1; break; fi
  sleep 1
done
[ -n "$accepted" ] && pass "a ShardSet with warmPool.size=150 is accepted after the upgrade" ||
  fail "warmPool.size=150 still rejected after the CRD upgrade"
if out="$("$HELM" upgrade "$REL" "$CHART" -n "$NS" --reuse-values 2>&1)"; then
  pass "helm upgrade back to the original chart"
else
  fail "helm upgrade back: $out"
fi
wait_warm_max 100 && pass "the CRD schema is back to warmPool.size maximum 100" || fail "CRD schema not restored: $(warm_max)"
rejected=""
for _ in $(seq 1 30); do
  if ! mk_warm warm150 150 | k -n "$NS" create --dry-run=server -f - >/dev/null 2>&1; then rejected=1; break; fi
  sleep 1
done
[ -n "$rejected" ] && pass "warmPool.size=150 rejected again" || fail "warmPool.size=150 accepted after the downgrade"

# Uninstall: the operator goes, the CRDs stay (helm.sh/resource-policy: keep).
if out="$("$HELM" uninstall "$REL" -n "$NS" --wait 2>&1)"; then pass "helm uninstall"; else fail "helm uninstall: $out"; fi
k -n "$NS" get deploy "$DEPLOY" >/dev/null 2>&1 && fail "Deployment still there after uninstall" || pass "Deployment removed"
k -n "$NS" get role "$REL" >/dev/null 2>&1 && fail "Role still there after uninstall" || pass "Role removed"
k get crd shardsets.shardcast.dev >/dev/null 2>&1 && pass "CRDs kept after uninstall" || fail "CRDs deleted by uninstall"

# Cluster-wide install (explicit value): a ClusterRole, every namespace.
REL2="shardcast-cw-$RANDOM"
add_cleanup "'$HELM' uninstall '$REL2' -n '$NS' >/dev/null 2>&1"
if out="$("$HELM" install "$REL2" "$CHART" -n "$NS" --set clusterWide=true --set crds.install=false 2>&1)"; then
  pass "helm install (clusterWide=true, crds.install=false)"
  SA="system:serviceaccount:$NS:$REL2"
  expect_can yes list shardsets.shardcast.dev -A
  expect_can yes create pods -n default
  expect_can no get secrets -n default
  args="$(k -n "$NS" get deploy "$REL2" -o jsonpath='{.spec.template.spec.containers[0].args}')"
  [[ "$args" != *"--namespace="* ]] && pass "no --namespace when cluster-wide" || fail "args: $args"
  "$HELM" uninstall "$REL2" -n "$NS" >/dev/null 2>&1 || fail "helm uninstall $REL2"
  k get clusterrole "$REL2" >/dev/null 2>&1 && fail "ClusterRole still there after uninstall" || pass "ClusterRole removed"
else
  fail "cluster-wide helm install: $out"
fi

# ServiceAccount allow-list: a ValidatingAdmissionPolicy rejects templates
# with other ServiceAccounts in the watched namespace.
REL3="shardcast-sa-$RANDOM"
add_cleanup "'$HELM' uninstall '$REL3' -n '$NS' >/dev/null 2>&1"
if out="$("$HELM" install "$REL3" "$CHART" -n "$NS" --set crds.install=false --set serviceAccountAllowList.enabled=true \
  --set 'serviceAccountAllowList.names={kv}' --set replicaCount=1 2>&1)"; then
  pass "helm install (serviceAccountAllowList.names={kv})"
  mk_sa() { python3 "$SRC/tests/crds/mk.py" shardset "$1" ${2:+spec.template.spec.serviceAccountName=$2}; }
  denied=""
  for _ in $(seq 1 60); do # the policy takes effect once the API server has loaded it
    out="$(mk_sa sa-bad builder | k -n "$NS" create --dry-run=server -f - 2>&1)" || true
    if [[ "$out" == *"ShardSet pods may only use the ServiceAccounts kv"* ]]; then denied=1; break; fi
    sleep 1
  done
  [ -n "$denied" ] && pass "template with serviceAccountName=builder denied: $(tr '\n' ' ' <<<"$out" | cut -c1-200)" ||
    fail "template with serviceAccountName=builder not denied: $out"
  out="$(mk_sa sa-default | k -n "$NS" create --dry-run=server -f - 2>&1)" &&
    fail "template without serviceAccountName (default) accepted with names={kv}" ||
    { [[ "$out" == *"not default"* ]] && pass "template without serviceAccountName counts as default and is denied" || fail "default SA: $out"; }
  mk_sa sa-good kv | k -n "$NS" create --dry-run=server -f - >/dev/null 2>&1 &&
    pass "template with serviceAccountName=kv accepted" || fail "serviceAccountName=kv rejected"
  OTHER="$NS-other"
  k create namespace "$OTHER" >/dev/null && add_cleanup "'$KUBECTL_BIN' delete namespace '$OTHER' --wait=false >/dev/null 2>&1"
  mk_sa sa-elsewhere builder | k -n "$OTHER" create --dry-run=server -f - >/dev/null 2>&1 &&
    pass "the allow-list applies to the watched namespace only" || fail "the allow-list denied in namespace $OTHER"
  "$HELM" uninstall "$REL3" -n "$NS" >/dev/null 2>&1 || fail "helm uninstall $REL3"
else
  fail "helm install with the allow-list: $out"
fi

finish
