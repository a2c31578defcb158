#!/usr/bin/env bash
# examples/flux/ without Flux controllers: the files parse and name what
# exists in the repository, the HelmRelease's values lint and render with the
# chart, the rendered release and the policies (kustomize build) pass a
# server-side dry run with strict field validation.
source "$(dirname "${BASH_SOURCE[0]}")/../crds/lib.sh"
FLUX="$SRC/examples/flux"

if out="$(python3 - "$SRC" <<'PY' 2>&1
import os, sys, yaml
src = sys.argv[1]
flux = os.path.join(src, "examples", "flux")
docs = []
for root, _, files in os.walk(flux):
    for f in files:
        if f.endswith(".yaml"):
            with open(os.path.join(root, f)) as fh:
                docs += [(f, d) for d in yaml.safe_load_all(fh) if d]
kinds = {}
for f, d in docs:
    kinds.setdefault(d["kind"], []).append(d)
errors = []
ks = {d["metadata"]["name"]: d for d in kinds.get("Kustomization", []) if d["apiVersion"].startswith("kustomize.toolkit.fluxcd.io/")}
if set(ks) != {"shardcast-operator", "shardcast-policies"}:
    errors.append(f"Flux Kustomizations: {sorted(ks)}")
for name, d in ks.items():
    path = os.path.normpath(os.path.join(src, d["spec"]["path"]))
    if not os.path.isfile(os.path.join(path, "kustomization.yaml")):
        errors.append(f"{name}: path {d['spec']['path']} has no kustomization.yaml")
    if not d["spec"].get("wait"):
        errors.append(f"{name}: wait is not set (health by kstatus)")
if ks.get("shardcast-policies", {}).get("spec", {}).get("dependsOn") != [{"name": "shardcast-operator"}]:
    errors.append("shardcast-policies must dependOn shardcast-operator")
hr = kinds.get("HelmRelease", [])
if len(hr) != 1 or not hr[0]["apiVersion"].startswith("helm.toolkit.fluxcd.io/"):
    errors.append("one HelmRelease")
else:
    chart = hr[0]["spec"]["chart"]["spec"]["chart"]
    if not os.path.isfile(os.path.join(src, chart, "Chart.yaml")):
        errors.append(f"HelmRelease chart {chart} is not a chart in the repository")
    for k in ("install", "upgrade"):
        if hr[0]["spec"][k].get("crds") != "CreateReplace":
            errors.append(f"HelmRelease {k}.crds is not CreateReplace")
if len(kinds.get("GitRepository", [])) != 1:
    errors.append("one GitRepository")
print("\n".join(errors) if errors else f"{len(docs)} documents: " + ", ".join(sorted(kinds)))
sys.exit(1 if errors else 0)
PY
)"; then pass "examples/flux parse: $out"; else fail "examples/flux: $out"; fi

find_helm
HELM_HOME_DIR="$(mktemp -d /tmp/shardcast-helm.XXXXXX)"
add_cleanup "rm -rf '$HELM_HOME_DIR'"
export HELM_CACHE_HOME="$HELM_HOME_DIR/cache" HELM_CONFIG_HOME="$HELM_HOME_DIR/config" HELM_DATA_HOME="$HELM_HOME_DIR/data"
VALUES="$HELM_HOME_DIR/values.yaml"
python3 -c 'import sys, yaml; print(yaml.safe_dump(yaml.safe_load(open(sys.argv[1]))["spec"]["values"]))' \
  "$FLUX/helmrelease.yaml" >"$VALUES"
if out="$("$HELM" lint --strict "$SRC/charts/shardcast" -f "$VALUES" 2>&1)" && ! grep -q '\[WARNING\]\|\[ERROR\]' <<<"$out"; then
  pass "helm lint --strict with the HelmRelease values"
else
  fail "helm lint with the HelmRelease values: $out"
fi

cluster_up
install_crds
make_namespace flux
SERVER_KUBE=(--kube-version "$(k version -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])')")
if out="$("$HELM" template shardcast "$SRC/charts/shardcast" "${SERVER_KUBE[@]}" -n "$NS" -f "$VALUES" |
  k apply --dry-run=server --validate=strict -f - 2>&1)"; then
  pass "the HelmRelease's release renders and passes a server dry run ($(grep -c . <<<"$out") objects)"
else
  fail "server dry run of the HelmRelease's release: $out"
fi
if out="$(k kustomize --load-restrictor LoadRestrictionsNone "$FLUX/policies" 2>&1)"; then
  objs="$(printf '%s\n' "$out" | k -n "$NS" apply --dry-run=server --validate=strict -f - 2>&1)" &&
    pass "policies/ (kustomize build) pass a server dry run: $(tr '\n' ' ' <<<"$objs")" ||
    fail "policies/ server dry run: $objs"
else
  fail "kustomize build examples/flux/policies: $out"
fi
finish
