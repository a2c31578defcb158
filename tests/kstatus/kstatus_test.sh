#!/usr/bin/env bash
# kstatus verdicts of the operator's status snapshots, computed by the real
# kstatus library (sigs.k8s.io/cli-utils/pkg/kstatus/status) through
# hack/kstatus (built and cached like the control plane binaries).
#
#   kstatus_test.sh <kstatus_dump_fixtures binary>
#
# Fixtures: every status the C++ condition builders make for the cases just
# created, converging, converged, invalid spec and blocked (tests/kstatus/
# fixtures.cc), plus "just created" objects as the API server returns them
# before the operator has written a status. The latter are created on the
# real control plane when SHARDCAST_TEST_KUBECONFIG is set; without it they
# are made from the CRDs' status defaults.
set -euo pipefail
DUMP="${1:?usage: kstatus_test.sh <kstatus_dump_fixtures>}"
SRC="${SHARDCAST_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
log() { printf '[kstatus_test %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

WORK="$(mktemp -d /tmp/shardcast-kstatus.XXXXXX)"
NS=""
cleanup() {
  if [ -n "$NS" ]; then kubectl --kubeconfig "$SHARDCAST_TEST_KUBECONFIG" delete namespace "$NS" --wait=false >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

"$DUMP" "$WORK"
CHECK="$(bash "$SRC/hack/kstatus/build.sh")"

# Just created: the object the API server returns before any status write.
if [ -n "${SHARDCAST_TEST_KUBECONFIG:-}" ]; then
  K=(kubectl --kubeconfig "$SHARDCAST_TEST_KUBECONFIG" --request-timeout=60s)
  "${K[@]}" apply --server-side --force-conflicts -f "$SRC/crds/" >/dev/null
  "${K[@]}" wait --for=condition=Established --timeout=120s \
    crd/shardsets.shardcast.dev crd/migrationpolicies.shardcast.dev >/dev/null
  NS="kstatus-$(date +%s)-$RANDOM"
  "${K[@]}" create namespace "$NS" >/dev/null
  python3 "$SRC/tests/crds/mk.py" shardset kv | "${K[@]}" -n "$NS" create -o json -f - >"$WORK/shardset-just-created.json"
  python3 "$SRC/tests/crds/mk.py" migrationpolicy mp | "${K[@]}" -n "$NS" create -o json -f - >"$WORK/migrationpolicy-just-created.json"
  "${K[@]}" -n "$NS" get shardset kv -o json >"$WORK/shardset-just-created-get.json"
  log "just-created objects captured from the control plane (namespace $NS)"
else
  python3 - "$SRC" "$WORK" <<'PY'
import json, sys, yaml
src, work = sys.argv[1:]
for kind, crd in (("ShardSet", "shardsets"), ("MigrationPolicy", "migrationpolicies")):
    with open(f"{src}/crds/shardcast.dev_{crd}.yaml") as fh:
        schema = yaml.safe_load(fh)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    obj = {"apiVersion": "shardcast.dev/v1alpha1", "kind": kind,
           "metadata": {"name": "x", "namespace": "team-a", "generation": 1}, "spec": {}}
    if "default" in schema["properties"]["status"]:
        obj["status"] = schema["properties"]["status"]["default"]
    with open(f"{work}/{kind.lower()}-just-created.json", "w") as fh:
        json.dump(obj, fh)
PY
  log "just-created objects made from the CRDs' status defaults (no SHARDCAST_TEST_KUBECONFIG)"
fi
for f in "$WORK"/*just-created*.json; do printf '%s\tInProgress\n' "$(basename "$f")" >>"$WORK/expected.tsv"; done

fails=0
printf '%-46s %-11s %-11s %s\n' FIXTURE WANT GOT MESSAGE
while IFS=$'\t' read -r file want; do
  line="$("$CHECK" "$WORK/$file")"
  got="$(cut -f3 <<<"$line")"
  msg="$(cut -f4 <<<"$line" | cut -c1-90)"
  mark=""
  if [ "$got" != "$want" ]; then mark="  <-- MISMATCH"; fails=$((fails + 1)); fi
  printf '%-46s %-11s %-11s %s%s\n' "${file%.json}" "$want" "$got" "$msg" "$mark"
done <"$WORK/expected.tsv"
total="$(wc -l <"$WORK/expected.tsv")"
if [ "$fails" -gt 0 ]; then
  log "FAIL: $fails of $total verdicts differ"
  exit 1
fi
log "all $total kstatus verdicts as expected"
