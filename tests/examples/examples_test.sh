#!/usr/bin/env bash
# examples/ on the real API server: `kubectl apply --server-side -f examples/`
# twice changes nothing the second time, the ShardSet scales through the scale
# subresource, and its pod template schedules onto the KWOK fake nodes.
source "$(dirname "${BASH_SOURCE[0]}")/../crds/lib.sh"

cluster_up
install_crds
make_namespace examples

state() { # generation/resourceVersion of both example objects
  k -n "$NS" get shardset/kv migrationpolicy/kv \
    -o jsonpath='{range .items[*]}{.kind}:{.metadata.generation}/{.metadata.resourceVersion} {end}'
}

out="$(k -n "$NS" apply --server-side -f "$SRC/examples/" 2>&1)" || die "first apply failed: $out"
pass "first server-side apply: $(echo "$out" | tr '\n' ' ')"
first="$(state)"
out="$(k -n "$NS" apply --server-side -f "$SRC/examples/" 2>&1)" || die "second apply failed: $out"
second="$(state)"
gens() { echo "$1" | sed 's#/[0-9]*##g'; }
if [ "$(gens "$first")" = "$(gens "$second")" ] && [ -n "$(gens "$first")" ]; then
  pass "second apply kept metadata.generation ($(gens "$second"))"
else
  fail "second apply changed metadata.generation: $first -> $second"
fi
# The second apply may write once: the API server returns the schema default
# status.observedGeneration 0 for an object no operator has seen yet, and
# that apply persists it (metadata.generation stays). From then on an apply
# of the same files is a no-op.
out="$(k -n "$NS" apply --server-side -f "$SRC/examples/" 2>&1)" || die "third apply failed: $out"
third="$(state)"
[ "$second" = "$third" ] && pass "third apply was a no-op (resourceVersions unchanged)" ||
  fail "third apply wrote the objects: $second -> $third"
# Plain (client-side) `kubectl apply -f examples/` works too (own namespace).
SSA_NS="$NS"
make_namespace examples-csa
k -n "$NS" apply -f "$SRC/examples/" >/dev/null && pass "kubectl apply -f examples/ (client-side)" ||
  fail "kubectl apply -f examples/ failed"
NS="$SSA_NS"

# The schema's defaults did not alter what the user wrote.
got="$(k -n "$NS" get shardset kv -o jsonpath='{.spec.replicas},{.spec.warmPool.size},{.spec.keySpace.ranges},{.spec.capacity.cpuMillis},{.spec.routing.configMapName}')"
[ "$got" = "3,2,64,1000,kv-routing" ] && pass "example ShardSet stored ($got)" || fail "example ShardSet: $got"

# ---- scale subresource -------------------------------------------------------
k -n "$NS" patch shardset kv --subresource=status --type merge \
  -p '{"status":{"replicas":3,"selector":"shardcast.dev/shardset=kv","observedGeneration":1}}' >/dev/null ||
  fail "status patch failed"
out="$(k -n "$NS" scale shardset/kv --replicas=5 2>&1)" || fail "kubectl scale --replicas=5: $out"
[ "$(k -n "$NS" get shardset kv -o jsonpath='{.spec.replicas}')" = 5 ] && pass "kubectl scale set spec.replicas=5" ||
  fail "spec.replicas after scale: $(k -n "$NS" get shardset kv -o jsonpath='{.spec.replicas}')"
scale="$(k get --raw "/apis/shardcast.dev/v1alpha1/namespaces/$NS/shardsets/kv/scale")"
got="$(printf '%s' "$scale" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["kind"], s["spec"]["replicas"], s["status"]["replicas"], s["status"]["selector"])')"
[ "$got" = "Scale 5 3 shardcast.dev/shardset=kv" ] && pass "scale subresource reads ($got)" || fail "scale subresource: $got"
expect_reject "scale above maxReplicas" "spec.replicas must be at most spec.maxReplicas" \
  -n "$NS" scale shardset/kv --replicas=9
expect_reject "scale below minReplicas" "spec.replicas must be at least spec.minReplicas" \
  -n "$NS" scale shardset/kv --replicas=1
[ "$(k -n "$NS" get shardset kv -o jsonpath='{.spec.replicas}')" = 5 ] || fail "rejected scale changed spec.replicas"

# ---- the pod template schedules onto KWOK nodes ------------------------------
if [ -n "$(k get nodes -l type=kwok -o name 2>/dev/null)" ]; then
  k -n "$NS" get shardset kv -o json | python3 -c '
import json, sys
t = json.load(sys.stdin)["spec"]["template"]
meta = t.get("metadata", {})
print(json.dumps({"apiVersion": "v1", "kind": "Pod",
                  "metadata": {"name": "kv-template-check", "labels": meta.get("labels", {}),
                               "annotations": meta.get("annotations", {})},
                  "spec": t["spec"]}))' | k -n "$NS" create -f - >/dev/null || fail "pod from the example template rejected"
  if k -n "$NS" wait --for=condition=Ready pod/kv-template-check --timeout=120s >/dev/null; then
    node="$(k -n "$NS" get pod kv-template-check -o jsonpath='{.spec.nodeName}')"
    [ "$(k get node "$node" -o jsonpath='{.metadata.labels.type}')" = kwok ] &&
      pass "example pod template runs on KWOK node $node" || fail "pod ran on non-KWOK node $node"
  else
    fail "pod from the example template not Ready: $(k -n "$NS" describe pod kv-template-check | tail -15)"
  fi
else
  log "skip: no KWOK nodes (type=kwok) in this cluster"
fi

finish
