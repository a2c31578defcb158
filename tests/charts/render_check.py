#!/usr/bin/env python3
"""Checks `helm template` output (stdin) of charts/shardcast (release
namespace shardcast-system).

  render_check.py default      default values: watches the release namespace (Role)
  render_check.py namespaced   watchNamespaces=[team-a], crds.install=false
  render_check.py cluster      clusterWide=true (ClusterRole)
  render_check.py netpol       networkPolicy.enabled=true (default scope)
  render_check.py sa-allowlist serviceAccountAllowList.enabled=true, names=[kv,default]
"""
import sys

import yaml

EXPECTED_RULES = {  # (apiGroup, resource) -> verbs
    ("shardcast.dev", "shardsets"): {"get", "list", "watch"},
    ("shardcast.dev", "shardsets/status"): {"get", "update", "patch"},
    ("shardcast.dev", "migrationpolicies"): {"get", "list", "watch"},
    ("shardcast.dev", "migrationpolicies/status"): {"get", "update", "patch"},
    ("", "pods"): {"get", "list", "watch", "create", "delete", "patch"},
    ("", "persistentvolumeclaims"): {"get", "list", "watch", "create", "delete"},
    ("", "configmaps"): {"get", "list", "watch", "create", "update", "patch"},
    ("", "events"): {"create", "patch"},
    ("events.k8s.io", "events"): {"create", "patch"},
    ("metrics.k8s.io", "pods"): {"get", "list"},
}
LEASE_RULES = {("coordination.k8s.io", "leases"): {"get", "create", "update"}, ("", "events"): {"create", "patch"}}


def flatten(rules):
    out = {}
    for r in rules:
        for g in r.get("apiGroups", []):
            for res in r.get("resources", []):
                out.setdefault((g, res), set()).update(r.get("verbs", []))
    return out


def main(mode):
    docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    errors = []

    def expect(cond, what):
        if not cond:
            errors.append(what)

    crds = by_kind.get("CustomResourceDefinition", [])
    watched = {"namespaced": "team-a", "cluster": None}.get(mode, "shardcast-system")
    if mode == "namespaced":
        expect(not crds, "no CRDs with crds.install=false")
    else:
        expect(len(crds) == 2, f"2 CRDs rendered, got {len(crds)}")
    if mode == "cluster":
        expect(len(by_kind.get("ClusterRole", [])) == 1, "one ClusterRole")
        expect(len(by_kind.get("ClusterRoleBinding", [])) == 1, "one ClusterRoleBinding")
        roles = by_kind.get("ClusterRole", [])
    else:
        expect("ClusterRole" not in by_kind and "ClusterRoleBinding" not in by_kind, "no cluster-wide RBAC")
        roles = [r for r in by_kind.get("Role", []) if not r["metadata"]["name"].endswith("-leader-election")]
        expect([r["metadata"]["namespace"] for r in roles] == [watched], f"a Role in the watched namespace {watched}")
        expect(len(by_kind.get("RoleBinding", [])) == 2, f"RoleBindings for {watched} and the lease")
    nps = by_kind.get("NetworkPolicy", [])
    expect(len(nps) == (1 if mode == "netpol" else 0), f"NetworkPolicy only when enabled ({len(nps)})")
    if mode == "netpol" and nps:
        np = nps[0]["spec"]
        expect(np["podSelector"]["matchLabels"].get("app.kubernetes.io/name") == "shardcast", "NetworkPolicy selects the operator")
        expect(sorted(np["policyTypes"]) == ["Egress", "Ingress"], "NetworkPolicy limits both directions")
        ports = {p["port"] for r in np["egress"] for p in r.get("ports", [])}
        expect({53, 443, 6443} <= ports, f"egress to DNS and the API server ({ports})")
        pods = [r for r in np["egress"] if any("podSelector" in t for t in r.get("to", []))]
        expect(len(pods) == 1 and pods[0]["to"][0]["namespaceSelector"]["matchLabels"]
               == {"kubernetes.io/metadata.name": watched}, "egress to ShardSet pods of the watched namespace")
    vaps = by_kind.get("ValidatingAdmissionPolicy", [])
    bindings = by_kind.get("ValidatingAdmissionPolicyBinding", [])
    want = 1 if mode == "sa-allowlist" else 0
    expect(len(vaps) == want and len(bindings) == want, f"ValidatingAdmissionPolicy only when enabled ({len(vaps)}, {len(bindings)})")
    if want and vaps and bindings:
        v = vaps[0]["spec"]
        expect({"name": "allowed", "expression": '["kv","default"]'} in v["variables"], f"allow-list variable {v['variables']}")
        expect(bindings[0]["spec"]["validationActions"] == ["Deny"], "binding denies")
        expect(bindings[0]["spec"]["matchResources"]["namespaceSelector"]["matchLabels"]
               == {"kubernetes.io/metadata.name": watched}, "binding scoped to the watched namespace")
    for role in roles:
        got = flatten(role["rules"])
        expect(got == EXPECTED_RULES, f"{role['kind']} {role['metadata']['name']} rules: {got}")
    lease = [r for r in by_kind.get("Role", []) if r["metadata"]["name"].endswith("-leader-election")]
    expect(len(lease) == 1 and flatten(lease[0]["rules"]) == LEASE_RULES
           and lease[0]["metadata"]["namespace"] == "shardcast-system", "leader-election Role in the release namespace")
    for d in docs:
        for r in d.get("rules", []) or []:
            expect("secrets" not in r.get("resources", []), f"{d['kind']} grants secrets")
            expect("*" not in r.get("verbs", []) and "*" not in r.get("resources", []), f"{d['kind']} uses a wildcard")

    deps = by_kind.get("Deployment", [])
    expect(len(deps) == 1, "one Deployment")
    if deps:
        spec = deps[0]["spec"]
        expect(spec["replicas"] == 2, "2 replicas")
        pod = spec["template"]["spec"]
        c = pod["containers"][0]
        args = c["args"]
        expect(args[:1] == ["run"], f"first argument is the run command: {args}")
        for a in ["--leader-elect", "--leader-election-namespace=shardcast-system",
                  "--leader-election-id=shardcast", "--log-level=info", "--log-format=json",
                  "--metrics-bind-address=:8080", "--health-probe-bind-address=:8081"]:
            expect(a in args, f"arg {a} in {args}")
        if watched:
            expect(f"--namespace={watched}" in args, f"--namespace={watched} in {args}")
        else:
            expect(not any(a.startswith("--namespace=") for a in args), "no --namespace for all namespaces")
        expect(c["image"] == "shardcast/operator:0.1.0", f"image {c['image']}")
        expect(c["imagePullPolicy"] == "IfNotPresent", "pull policy")
        expect(c["livenessProbe"]["httpGet"]["path"] == "/healthz", "liveness /healthz")
        expect(c["readinessProbe"]["httpGet"]["path"] == "/readyz", "readiness /readyz")
        sc = c["securityContext"]
        expect(sc.get("runAsNonRoot") is True and sc.get("runAsUser") == 65532, "non-root 65532")
        expect(sc.get("readOnlyRootFilesystem") is True, "read-only root filesystem")
        expect(sc.get("allowPrivilegeEscalation") is False, "no privilege escalation")
        expect(sc.get("capabilities", {}).get("drop") == ["ALL"], "drop ALL capabilities")
        expect(sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "seccomp RuntimeDefault")
        expect(pod["securityContext"].get("runAsNonRoot") is True, "pod runAsNonRoot")
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        expect(ports == {"metrics": 8080, "health": 8081}, f"container ports {ports}")
    svcs = by_kind.get("Service", [])
    expect(len(svcs) == 1 and svcs[0]["spec"]["ports"][0]["name"] == "metrics"
           and svcs[0]["spec"]["ports"][0]["port"] == 8080, "metrics Service on 8080")
    expect(len(by_kind.get("ServiceAccount", [])) == 1, "one ServiceAccount")

    if errors:
        for e in errors:
            print("FAIL", e)
        return 1
    print(f"{len(docs)} objects: " + ", ".join(f"{k}x{len(v)}" for k, v in sorted(by_kind.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "default"))
