#!/usr/bin/env bash
# CRDs on the real API server: they become Established, `kubectl explain`
# teaches nested fields, `kubectl get shardcast` lists both kinds, defaults
# apply, and invalid objects are rejected with messages that name the field.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
MK="python3 $SRC/tests/crds/mk.py"

cluster_up
# The plain manifest install path: kubectl apply -f crds/ (client-side).
out="$(k apply -f "$SRC/crds/" 2>&1)" || die "kubectl apply -f crds/ failed: $out"
pass "kubectl apply -f crds/: $(tr '\n' ' ' <<<"$out")"
install_crds
pass "CRDs Established"
make_namespace crds

# ---- (a) kubectl explain shows the schema descriptions ----------------------
explain_has() { # resource.path substring
  local out
  if ! out="$(k explain "$1" 2>&1)"; then fail "kubectl explain $1: $out"; return; fi
  if [[ "$out" == *"$2"* ]]; then pass "explain $1"; else fail "kubectl explain $1 lacks '$2': $out"; fi
}
explain_has shardset.spec.keySpace.hashing.loadFactor "Bounded-load factor"
explain_has shardset.spec.warmPool.size "Number of warm spare pods"
explain_has shardset.spec.capacity.cpuMillis "millicores"
explain_has shardset.status.forecasts.probExceed "Probability"
explain_has shs.spec.template "PodTemplateSpec"
explain_has migrationpolicy.spec.thresholds.maxUtilization "relieved ahead"
explain_has mp.spec.migration.shadow.fraction "mirrored to the target"
explain_has migrationpolicy.status.actions.phase "Verifying"

# ---- defaults ---------------------------------------------------------------
$MK shardset defaults spec.keySpace- spec.replicas- spec.minReplicas- spec.maxReplicas- |
  k -n "$NS" apply -f - >/dev/null || die "creating a minimal ShardSet failed"
got="$(k -n "$NS" get shardset defaults -o jsonpath='{.spec.replicas},{.spec.minReplicas},{.spec.maxReplicas},{.spec.keySpace.ranges},{.spec.keySpace.hashing.algorithm},{.spec.keySpace.hashing.virtualNodes},{.spec.keySpace.hashing.loadFactor},{.spec.warmPool.size},{.spec.metrics.port},{.spec.metrics.path},{.spec.routing.port}')"
want="3,1,10,256,ConsistentHash,64,1.25,1,9090,/metrics,8080"
if [ "$got" = "$want" ]; then pass "ShardSet defaults ($got)"; else fail "ShardSet defaults: got $got, want $want"; fi

$MK migrationpolicy defaults spec.mode- | k -n "$NS" apply -f - >/dev/null || die "creating a minimal MigrationPolicy failed"
got="$(k -n "$NS" get migrationpolicy defaults -o jsonpath='{.spec.mode},{.spec.forecast.horizon},{.spec.forecast.step},{.spec.forecast.confidence},{.spec.thresholds.scaleInUtilization},{.spec.thresholds.targetUtilization},{.spec.thresholds.maxUtilization},{.spec.limits.maxConcurrentMigrations},{.spec.limits.cooldown},{.spec.migration.proposalTTL},{.spec.migration.verification.maxLatencyRatio}')"
want="Proposal,30m,1m,0.9,0.3,0.6,0.8,2,5m,15m,1.5"
if [ "$got" = "$want" ]; then pass "MigrationPolicy defaults ($got)"; else fail "MigrationPolicy defaults: got $got, want $want"; fi

# ---- categories, short names, printer columns -------------------------------
out="$(k -n "$NS" get shardcast -o name)"
if [[ "$out" == *"shardset.shardcast.dev/defaults"* && "$out" == *"migrationpolicy.shardcast.dev/defaults"* ]]; then
  pass "kubectl get shardcast lists both kinds"
else
  fail "kubectl get shardcast: $out"
fi
k -n "$NS" get shs defaults >/dev/null && pass "short name shs" || fail "kubectl get shs"
k -n "$NS" get mp defaults >/dev/null && pass "short name mp" || fail "kubectl get mp"
hdr="$(k -n "$NS" get shardsets)"; hdr="$(head -1 <<<"$hdr")"
for col in NAME DESIRED ACTIVE WARM READY EPOCH STATUS AGE; do
  [[ "$hdr" == *"$col"* ]] || fail "ShardSet printer column $col missing: $hdr"
done
hdr="$(k -n "$NS" get migrationpolicies)"; hdr="$(head -1 <<<"$hdr")"
for col in NAME MODE SELECTED PROPOSAL AGE; do
  [[ "$hdr" == *"$col"* ]] || fail "MigrationPolicy printer column $col missing: $hdr"
done
pass "printer columns"

# ---- (b) invalid ShardSets ---------------------------------------------------
reject_shs() { # description expected-substring mk-args...
  local what="$1" want="$2"
  shift 2
  expect_reject "ShardSet $what" "$want" -n "$NS" create -f - < <($MK shardset bad "$@")
}
reject_shs "negative replicas" "spec.replicas: Invalid value: -1" spec.replicas=-1
reject_shs "max below min" "spec.maxReplicas must be greater than or equal to spec.minReplicas" \
  spec.minReplicas=5 spec.maxReplicas=2 spec.replicas=3
reject_shs "replicas above max" "spec.replicas must be at most spec.maxReplicas" spec.replicas=11
reject_shs "replicas below min" "spec.replicas must be at least spec.minReplicas" spec.minReplicas=4
reject_shs "unknown hashing algorithm" 'spec.keySpace.hashing.algorithm: Unsupported value: "Rendezvous"' \
  spec.keySpace.hashing.algorithm=Rendezvous
reject_shs "zero ranges" "spec.keySpace.ranges: Invalid value: 0" spec.keySpace.ranges=0
reject_shs "too many ranges" "spec.keySpace.ranges: Invalid value: 5000" spec.keySpace.ranges=5000
reject_shs "loadFactor above 4" "spec.keySpace.hashing.loadFactor" spec.keySpace.hashing.loadFactor=4.5
reject_shs "CPU metric without cpuMillis" "spec.capacity.cpuMillis is required when spec.capacity.metric is CPU" \
  spec.capacity.cpuMillis-
reject_shs "RPS metric without requestsPerSecond" "spec.capacity.requestsPerSecond is required" \
  spec.capacity.metric=RequestsPerSecond
reject_shs "unknown metric" 'spec.capacity.metric: Unsupported value: "Memory"' spec.capacity.metric=Memory
reject_shs "invalid routing ConfigMap name" "spec.routing.configMapName must be a DNS-1123 subdomain" \
  spec.routing.configMapName=Bad_Name
reject_shs "missing routing" "spec.routing: Required value" spec.routing-
reject_shs "warm pool above 100" "spec.warmPool.size" spec.warmPool='{"size":101}'

# volumeClaimTemplates: apiVersion/kind default like a StatefulSet's; the
# pod template's unknown fields are preserved.
$MK shardset withpvc spec.volumeClaimTemplates='[{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}]' \
  spec.template.spec.containers='[{"name":"kv","image":"example/kv:1.0","args":["--x"],"volumeMounts":[{"name":"data","mountPath":"/data"}]}]' |
  k -n "$NS" create -f - >/dev/null || fail "ShardSet with volumeClaimTemplates rejected"
got="$(k -n "$NS" get shardset withpvc -o jsonpath='{.spec.volumeClaimTemplates[0].apiVersion},{.spec.volumeClaimTemplates[0].kind},{.spec.volumeClaimTemplates[0].metadata.name},{.spec.volumeClaimTemplates[0].spec.resources.requests.storage},{.spec.template.spec.containers[0].volumeMounts[0].mountPath}')"
[ "$got" = "v1,PersistentVolumeClaim,data,1Gi,/data" ] && pass "volumeClaimTemplates and template kept ($got)" ||
  fail "volumeClaimTemplates/template: got $got"

# The number of ranges is immutable after creation.
$MK shardset fixed | k -n "$NS" create -f - >/dev/null || die "creating ShardSet fixed failed"
expect_reject "ShardSet change of keySpace.ranges" "spec.keySpace.ranges is immutable" \
  -n "$NS" patch shardset fixed --type merge -p '{"spec":{"keySpace":{"ranges":128}}}'
k -n "$NS" patch shardset fixed --type merge -p '{"spec":{"replicas":4,"keySpace":{"hashing":{"virtualNodes":32}}}}' >/dev/null &&
  pass "other ShardSet fields stay mutable" || fail "patching replicas/virtualNodes was rejected"
[ "$(k -n "$NS" get shardset fixed -o jsonpath='{.spec.keySpace.ranges}')" = 64 ] || fail "ranges changed"

# Status: the schema accepts the operator's fields and rejects unknown enums.
status_patch='{"status":{"observedGeneration":1,"replicas":3,"selector":"shardcast.dev/shardset=fixed","readyReplicas":3,"activeReplicas":3,"warmReplicas":1,"epoch":7,
 "conditions":[{"type":"Ready","status":"True","reason":"AllReplicasReady","message":"ok","lastTransitionTime":"2026-11-22T00:00:00Z","observedGeneration":1}],
 "pods":[{"name":"fixed-0","role":"active","ready":true,"ranges":22}],
 "forecasts":[{"pod":"fixed-0","horizonSeconds":1800,"peak":700.5,"p90":800,"p99":900,"probExceed":0.02,"trusted":true}]}}'
if out="$(k -n "$NS" patch shardset fixed --subresource=status --type merge -p "$status_patch" 2>&1)"; then
  got="$(k -n "$NS" get shardset fixed -o jsonpath='{.status.epoch},{.status.pods[0].role},{.status.forecasts[0].p99}')"
  [ "$got" = "7,active,900" ] && pass "ShardSet status subresource" || fail "status not stored: $got"
else
  fail "ShardSet status patch: $out"
fi
expect_reject "ShardSet status with unknown pod role" "status.pods[0].role" \
  -n "$NS" patch shardset fixed --subresource=status --type merge -p '{"status":{"pods":[{"name":"fixed-0","role":"spare"}]}}'
k -n "$NS" patch shardset fixed --type merge -p '{"status":{"epoch":99}}' >/dev/null 2>&1 || true
[ "$(k -n "$NS" get shardset fixed -o jsonpath='{.status.epoch}')" = 7 ] &&
  pass "status is only written through the status subresource" || fail "main resource wrote status"

# ---- invalid MigrationPolicies -----------------------------------------------
reject_mp() {
  local what="$1" want="$2"
  shift 2
  expect_reject "MigrationPolicy $what" "$want" -n "$NS" create -f - < <($MK migrationpolicy bad "$@")
}
reject_mp "scaleIn above target" "spec.thresholds.scaleInUtilization must be less than spec.thresholds.targetUtilization" \
  spec.thresholds='{"scaleInUtilization":0.7,"targetUtilization":0.6,"maxUtilization":0.8}'
reject_mp "target equal to max" "spec.thresholds.targetUtilization must be less than spec.thresholds.maxUtilization" \
  spec.thresholds='{"targetUtilization":0.8,"maxUtilization":0.8}'
reject_mp "max above 1" "spec.thresholds.maxUtilization: Invalid value: 1.5" spec.thresholds='{"maxUtilization":1.5}'
reject_mp "unknown mode" 'spec.mode: Unsupported value: "Yolo"' spec.mode=Yolo
reject_mp "bad horizon duration" "spec.forecast.horizon must be a duration" spec.forecast='{"horizon":"30 minutes"}'
reject_mp "confidence below 0.5" "spec.forecast.confidence" spec.forecast='{"confidence":0.2}'
reject_mp "Manual seasonality without periods" "spec.forecast.seasonalPeriods must list at least one period" \
  spec.forecast='{"seasonality":"Manual"}'
reject_mp "window cron with 4 fields" "spec.windows[].schedule must be a cron expression with 5 fields" \
  spec.windows='[{"schedule":"0 8 * *","duration":"10h"}]'
reject_mp "blackout with bad duration" "spec.blackouts[].duration must be a duration" \
  spec.blackouts='[{"schedule":"0 0 24 12 *","duration":"2 days"}]'
reject_mp "event with bad start" "spec.events[0].start" \
  spec.events='[{"name":"sale","start":"tomorrow","duration":"6h"}]'
reject_mp "maxConcurrentMigrations 0" "spec.limits.maxConcurrentMigrations" spec.limits='{"maxConcurrentMigrations":0}'
reject_mp "selector In without values" "values must be non-empty for operator In" \
  spec.shardSetSelector='{"matchExpressions":[{"key":"app","operator":"In"}]}'

# A policy with every list filled in is accepted.
$MK migrationpolicy full \
  spec.forecast='{"seasonality":"Manual","seasonalPeriods":["24h","168h"]}' \
  spec.windows='[{"schedule":"0 8 * * 1-5","duration":"10h"}]' \
  spec.blackouts='[{"schedule":"0 0 24 12 *","duration":"48h"}]' \
  spec.events='[{"name":"black-friday","start":"2026-11-27T08:00:00Z","duration":"6h","multiplier":3.0,"ranges":[1,2,3]}]' |
  k -n "$NS" create -f - >/dev/null && pass "full MigrationPolicy accepted" || fail "full MigrationPolicy rejected"
mp_status='{"status":{"observedGeneration":1,"selectedShardSets":["fixed"],"conflicts":[{"shardSet":"fixed","policies":["full","defaults"],"chosen":"defaults"}],
 "proposal":{"id":"p-1","createdAt":"2026-11-22T00:00:00Z","expiresAt":"2026-11-22T00:15:00Z","podsBefore":3,"podsAfter":4,"reasons":["kv-1 forecast 0.93 > 0.8"],
   "actions":[{"id":"a1","shardSet":"fixed","type":"Promote","target":"fixed-3","reason":"warm spare"},{"id":"a2","shardSet":"fixed","type":"Move","range":12,"source":"fixed-1","target":"fixed-3"}]},
 "actions":[{"id":"a2","shardSet":"fixed","type":"Move","range":12,"source":"fixed-1","target":"fixed-3","phase":"Copying","startedAt":"2026-11-22T00:01:00Z","phaseStartedAt":"2026-11-22T00:01:10Z","attempts":1,"message":"copying"}],
 "history":[{"id":"a1","shardSet":"fixed","type":"Promote","target":"fixed-3","phase":"Completed","startedAt":"2026-11-22T00:00:10Z","finishedAt":"2026-11-22T00:00:40Z","attempts":1}]}}'
if out="$(k -n "$NS" patch migrationpolicy full --subresource=status --type merge -p "$mp_status" 2>&1)"; then
  got="$(k -n "$NS" get migrationpolicy full -o jsonpath='{.status.proposal.id},{.status.actions[0].phase},{.status.history[0].phase}')"
  [ "$got" = "p-1,Copying,Completed" ] && pass "MigrationPolicy status subresource" || fail "MigrationPolicy status not stored: $got"
  row="$(k -n "$NS" get mp full)"
  [[ "$row" == *"p-1"* ]] && pass "Proposal printer column" || fail "Proposal column: $row"
else
  fail "MigrationPolicy status patch: $out"
fi
expect_reject "MigrationPolicy action with unknown phase" "status.actions[0].phase" \
  -n "$NS" patch migrationpolicy full --subresource=status --type merge -p '{"status":{"actions":[{"id":"x","type":"Move","phase":"Teleporting"}]}}'
expect_reject "MigrationPolicy action with unknown type" "status.actions[0].type" \
  -n "$NS" patch migrationpolicy full --subresource=status --type merge -p '{"status":{"actions":[{"id":"x","type":"Teleport","phase":"Pending"}]}}'

finish
