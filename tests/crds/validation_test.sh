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

# One invalid object per admission rule added for issue 14 (the operator
# would reject or misread each of them), then valid edge cases.
long58="$(printf 'a%.0s' $(seq 1 58))"
long57="$(printf 'b%.0s' $(seq 1 57))"
reject_shs_named() { # name description expected-substring mk-args...
  local name="$1" what="$2" want="$3"
  shift 3
  expect_reject "ShardSet $what" "$want" -n "$NS" create -f - < <($MK shardset "$name" "$@")
}
reject_shs_named "$long58" "name of 58 characters" "metadata.name must be a DNS-1123 label of at most 57 characters"
reject_shs_named "kv.a" "name with a dot" "metadata.name must be a DNS-1123 label"
reject_shs "zero replicas" "spec.replicas: Invalid value: 0" spec.replicas=0 spec.minReplicas=1
reject_shs "zero minReplicas" "spec.minReplicas: Invalid value: 0" spec.minReplicas=0
reject_shs "2049 ranges (routing document cap)" "spec.keySpace.ranges: Invalid value: 2049" spec.keySpace.ranges=2049
reject_shs "template without spec" "spec.template.spec: Required value" spec.template='{"metadata":{"labels":{"a":"b"}}}'
reject_shs "template without containers" "spec.template.spec.containers: Required value" \
  spec.template.spec='{"nodeSelector":{"type":"kwok"}}'
reject_shs "template with an empty container list" "spec.template.spec.containers: Invalid value" \
  spec.template.spec.containers='[]'
reject_shs "container without image" "spec.template.spec.containers[0].image: Required value" \
  spec.template.spec.containers='[{"name":"kv"}]'
reject_shs "duplicate container names" "spec.template.spec.containers[1]: Duplicate value" \
  spec.template.spec.containers='[{"name":"kv","image":"a"},{"name":"kv","image":"b"}]'
reject_shs "container name not a DNS label" "spec.template.spec.containers[0].name" \
  spec.template.spec.containers='[{"name":"KV_1","image":"a"}]'
reject_shs "duplicate init container names" "spec.template.spec.initContainers[1]: Duplicate value" \
  spec.template.spec.initContainers='[{"name":"init","image":"a"},{"name":"init","image":"b"}]'
reject_shs "duplicate volume names" "spec.template.spec.volumes[1]: Duplicate value" \
  spec.template.spec.volumes='[{"name":"data","emptyDir":{}},{"name":"data","emptyDir":{}}]'
reject_shs "template label shardcast.dev/role" "may not set shardcast.dev/shardset or shardcast.dev/role" \
  spec.template.metadata='{"labels":{"shardcast.dev/role":"active"}}'
reject_shs "template label value with a space" "spec.template.metadata.labels values must be valid label values" \
  spec.template.metadata='{"labels":{"app":"k v"}}'
reject_shs "template hostname" "spec.template.spec.hostname may not be set" spec.template.spec.hostname=shared
reject_shs "serviceAccount differs from serviceAccountName" "serviceAccountName must be equal" \
  spec.template.spec.serviceAccount=a spec.template.spec.serviceAccountName=b
reject_shs "invalid serviceAccountName" "spec.template.spec.serviceAccountName" spec.template.spec.serviceAccountName=Bad_SA
reject_shs "claim template without a name" "spec.volumeClaimTemplates[0].metadata.name: Required value" \
  spec.volumeClaimTemplates='[{"metadata":{"labels":{"a":"b"}},"spec":{}}]'
reject_shs "claim name with a dot" "spec.volumeClaimTemplates[0].metadata.name" \
  spec.volumeClaimTemplates='[{"metadata":{"name":"data.v1"},"spec":{}}]'
reject_shs "duplicate claim names" "spec.volumeClaimTemplates[].metadata.name must be unique" \
  spec.volumeClaimTemplates='[{"metadata":{"name":"data"},"spec":{}},{"metadata":{"name":"data"},"spec":{}}]'
reject_shs "claim named like a template volume" "must differ from the names of spec.template.spec.volumes" \
  spec.volumeClaimTemplates='[{"metadata":{"name":"data"},"spec":{}}]' \
  spec.template.spec.volumes='[{"name":"data","emptyDir":{}}]'
reject_shs "hook path with a space" "spec.hooks.preparePath" spec.hooks='{"preparePath":"/shardcast/pre pare"}'
reject_shs "metrics path without a slash" "spec.metrics.path" spec.metrics='{"path":"metrics"}'

accept_shs() { # description mk-args...
  local what="$1" out
  shift
  if out="$($MK shardset "$@" | k -n "$NS" create --dry-run=server -f - 2>&1)"; then
    pass "ShardSet edge case accepted: $what"
  else
    fail "ShardSet edge case rejected: $what: $out"
  fi
}
accept_shs "name of 57 characters" "$long57"
accept_shs "2048 ranges, one replica" edge-ranges spec.keySpace.ranges=2048 spec.replicas=1 spec.minReplicas=1 spec.maxReplicas=1
accept_shs "init containers, volumes and claims with distinct names, serviceAccount equal to serviceAccountName" edge-pod \
  spec.template.spec.initContainers='[{"name":"init","image":"a"}]' \
  spec.template.spec.volumes='[{"name":"scratch","emptyDir":{}}]' \
  spec.template.spec.serviceAccount=kv spec.template.spec.serviceAccountName=kv \
  spec.volumeClaimTemplates='[{"metadata":{"name":"data"},"spec":{}},{"metadata":{"name":"wal"},"spec":{}}]'
accept_shs "empty label value and other template labels" edge-labels \
  spec.template.metadata='{"labels":{"app":"kv","tier":""},"annotations":{"note":"any text at all"}}'

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

# One invalid MigrationPolicy per rule added for issue 14.
reject_mp "zero horizon" "spec.forecast.horizon must be a duration of at least 1s" spec.forecast='{"horizon":"0s"}'
reject_mp "sub-second step" "spec.forecast.step must be a duration of at least 1s" spec.forecast='{"step":"500ms"}'
reject_mp "fractional-second cooldown" "spec.limits.cooldown must be a duration written with whole numbers of h, m and s" spec.limits='{"cooldown":"1.5s"}'
reject_mp "horizon shorter than step" "spec.forecast.horizon must be at least spec.forecast.step" \
  spec.forecast='{"horizon":"1m","step":"5m"}'
reject_mp "horizon over 5000 steps" "spec.forecast.horizon may be at most 5000 times spec.forecast.step" \
  spec.forecast='{"horizon":"100h","step":"1s"}'
reject_mp "seasonalPeriods with Auto" "spec.forecast.seasonalPeriods may only be set when spec.forecast.seasonality is Manual" \
  spec.forecast='{"seasonality":"Auto","seasonalPeriods":["24h"]}'
reject_mp "seasonal period not a multiple of step" "each spec.forecast.seasonalPeriods entry must be a whole multiple of spec.forecast.step" \
  spec.forecast='{"seasonality":"Manual","step":"7m","seasonalPeriods":["24h"]}'
reject_mp "seasonal period of one step" "each spec.forecast.seasonalPeriods entry must be a whole multiple" \
  spec.forecast='{"seasonality":"Manual","step":"1h","seasonalPeriods":["1h"]}'
reject_mp "duplicate seasonal periods" "spec.forecast.seasonalPeriods[1]: Duplicate value" \
  spec.forecast='{"seasonality":"Manual","seasonalPeriods":["24h","24h"]}'
reject_mp "seasonality outside the enum" 'spec.forecast.seasonality: Unsupported value: "Daily"' \
  spec.forecast='{"seasonality":"Daily"}'
reject_mp "zero-length window" "spec.windows[].duration must be a duration of at least 1s" \
  spec.windows='[{"schedule":"0 8 * * 1-5","duration":"0s"}]'
for cron in "60 8 * * *" "0 24 * * *" "0 8 0 * *" "0 8 * 13 *" "0 8 * * 8" "0 8 * * MON" "*/0 * * * *" "0 8 * * 1,,5" "0 8 * * * *"; do
  reject_mp "window cron '$cron'" "spec.windows[].schedule must be a cron expression with 5 fields" \
    spec.windows="[{\"schedule\":\"$cron\",\"duration\":\"1h\"}]"
done
reject_mp "blackout cron with a reversed range" "spec.blackouts[].schedule has a range a-b with a greater than b" \
  spec.blackouts='[{"schedule":"0 8 * * 5-1","duration":"1h"}]'
reject_mp "zero-length event" "spec.events[].duration must be a duration of at least 1s" \
  spec.events='[{"name":"sale","start":"2026-11-27T08:00:00Z","duration":"0s"}]'
reject_mp "duplicate event names" "spec.events[1]: Duplicate value" \
  spec.events='[{"name":"sale","start":"2026-11-27T08:00:00Z","duration":"1h"},{"name":"sale","start":"2026-11-28T08:00:00Z","duration":"1h"}]'
reject_mp "duplicate event range ids" "spec.events[0].ranges[1]: Duplicate value" \
  spec.events='[{"name":"sale","start":"2026-11-27T08:00:00Z","duration":"1h","ranges":[3,3]}]'
reject_mp "zero proposal TTL" "spec.migration.proposalTTL must be a duration of at least 1s" spec.migration='{"proposalTTL":"0s"}'
reject_mp "zero shadow duration" "spec.migration.shadow.duration must be a duration of at least 1s" \
  spec.migration='{"shadow":{"enabled":true,"duration":"0s"}}'
reject_mp "selector label key with a space" "spec.shardSetSelector.matchLabels keys must be label keys" \
  spec.shardSetSelector='{"matchLabels":{"bad key":"x"}}'
reject_mp "selector label value with a space" "spec.shardSetSelector.matchLabels" \
  spec.shardSetSelector='{"matchLabels":{"app":"k v"}}'
reject_mp "selector expression key invalid" "spec.shardSetSelector.matchExpressions[0].key" \
  spec.shardSetSelector='{"matchExpressions":[{"key":"-bad","operator":"Exists"}]}'

accept_mp() { # description mk-args...
  local what="$1" out
  shift
  if out="$($MK migrationpolicy edge "$@" | k -n "$NS" create --dry-run=server -f - 2>&1)"; then
    pass "MigrationPolicy edge case accepted: $what"
  else
    fail "MigrationPolicy edge case rejected: $what: $out"
  fi
}
accept_mp "zero cooldown, stabilization, lead times and verification window" \
  spec.limits='{"cooldown":"0s","scaleInStabilization":"0s"}' \
  spec.migration='{"leadTime":{"promotion":"0s","perRange":"0s"},"verification":{"window":"0s"}}'
accept_mp "seasonality None (no seasonal model)" spec.forecast='{"seasonality":"None"}'
accept_mp "horizon equal to step" spec.forecast='{"horizon":"1m","step":"1m"}'
accept_mp "horizon of exactly 5000 steps" spec.forecast='{"horizon":"83h20m","step":"1m"}'
accept_mp "Manual seasonal period of two steps and 100000 steps" \
  spec.forecast='{"seasonality":"Manual","step":"1m","seasonalPeriods":["2m","1666h40m"]}'
accept_mp "cron lists, ranges, steps, leading zeros and Sunday as 7" \
  spec.windows='[{"schedule":"*/15 0-23/2 1,15 1-12 0,7","duration":"1h"},{"schedule":"00 08 * * 1-5","duration":"1s"},{"schedule":"  5 4 31 12 *  ","duration":"48h"}]'
accept_mp "selector with a prefixed key and an empty value" \
  spec.shardSetSelector='{"matchLabels":{"shardcast.dev/policy":"","app":"kv"}}'

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
actions_patch() { # field count
  python3 -c 'import json,sys
f, n = sys.argv[1], int(sys.argv[2])
acts = [{"id": "a%d" % i, "shardSet": "fixed", "type": "Move", "range": i % 2048, "phase": "Pending"} for i in range(n)]
st = {"actions": acts} if f == "actions" else {"proposal": {"id": "p-big", "actions": acts}}
print(json.dumps({"status": st}))' "$1" "$2"
}
expect_reject "MigrationPolicy with 1001 actions in flight" "status.actions: Too many: 1001: must have at most 1000 items" \
  -n "$NS" patch migrationpolicy full --subresource=status --type merge -p "$(actions_patch actions 1001)"
expect_reject "MigrationPolicy proposal of 1001 actions" "status.proposal.actions: Too many: 1001: must have at most 1000 items" \
  -n "$NS" patch migrationpolicy full --subresource=status --type merge -p "$(actions_patch proposal 1001)"
k -n "$NS" patch migrationpolicy full --subresource=status --type merge -p "$(actions_patch actions 1000)" >/dev/null &&
  pass "1000 actions in flight accepted" || fail "1000 actions rejected"

finish
