#!/usr/bin/env python3
"""Static checks of the CRDs, chart CRD templates, examples and the routing
schema (no cluster). Usage: static_test.py <source dir>"""
import glob
import json
import os
import subprocess
import sys

import yaml

FAILURES = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        FAILURES.append(what)


def walk(schema, path, missing):
    """Collects every property path below schema that lacks a description."""
    for name, sub in (schema.get("properties") or {}).items():
        p = f"{path}.{name}"
        if path == "" and name == "metadata":
            continue  # ObjectMeta: the API server documents it
        if not sub.get("description"):
            missing.append(p.lstrip("."))
        walk(sub, p, missing)
    items = schema.get("items")
    if isinstance(items, dict):
        walk(items, path + "[]", missing)
    addl = schema.get("additionalProperties")
    if isinstance(addl, dict):
        walk(addl, path + "{}", missing)


def main(src):
    crds = {}
    for f in sorted(glob.glob(os.path.join(src, "crds", "*.yaml"))):
        with open(f) as fh:
            crd = yaml.safe_load(fh)
        crds[crd["spec"]["names"]["kind"]] = crd
    check(set(crds) == {"ShardSet", "MigrationPolicy"}, f"crds/ holds ShardSet and MigrationPolicy (got {sorted(crds)})")

    for kind, crd in crds.items():
        spec = crd["spec"]
        check(crd["metadata"]["name"] == f"{spec['names']['plural']}.shardcast.dev", f"{kind}: CRD name")
        check(spec["group"] == "shardcast.dev" and spec["scope"] == "Namespaced", f"{kind}: group and scope")
        check("shardcast" in spec["names"].get("categories", []), f"{kind}: category shardcast")
        versions = spec["versions"]
        check(len(versions) == 1 and versions[0]["name"] == "v1alpha1" and versions[0]["served"]
              and versions[0]["storage"], f"{kind}: v1alpha1 served and storage")
        v = versions[0]
        check("status" in v.get("subresources", {}), f"{kind}: status subresource")
        schema = v["schema"]["openAPIV3Schema"]
        missing = []
        walk(schema, "", missing)
        check(not missing, f"{kind}: every field has a description (missing: {missing})")
        for rule in _rules(schema):
            check(bool(rule.get("message")), f"{kind}: CEL rule {rule['rule']!r} has a message")

    shs = crds["ShardSet"]
    check(shs["spec"]["names"]["shortNames"] == ["shs"], "ShardSet short name shs")
    check(crds["MigrationPolicy"]["spec"]["names"]["shortNames"] == ["mp"], "MigrationPolicy short name mp")
    scale = shs["spec"]["versions"][0]["subresources"].get("scale", {})
    check(scale == {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
                    "labelSelectorPath": ".status.selector"}, "ShardSet scale subresource paths")
    cols = [c["name"] for c in shs["spec"]["versions"][0]["additionalPrinterColumns"]]
    check(cols == ["Desired", "Active", "Warm", "Ready", "Epoch", "Status", "Age"], f"ShardSet columns {cols}")
    cols = [c["name"] for c in crds["MigrationPolicy"]["spec"]["versions"][0]["additionalPrinterColumns"]]
    check(cols == ["Mode", "Selected", "Proposal", "Age"], f"MigrationPolicy columns {cols}")
    ranges = shs["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["keySpace"]["properties"]["ranges"]
    check(any(r["rule"] == "self == oldSelf" for r in ranges.get("x-kubernetes-validations", [])),
          "keySpace.ranges has the transition rule self == oldSelf")

    # The routing document stays well under 1 MiB at the keySpace.ranges cap.
    proc = subprocess.run([sys.executable, os.path.join(src, "tests", "crds", "routing_size.py"), src],
                          capture_output=True, text=True)
    check(proc.returncode == 0, "routing document under the 1 MiB ConfigMap limit: " + proc.stdout.strip().replace("\n", "; "))

    # Chart CRD templates are generated from crds/.
    proc = subprocess.run(["bash", os.path.join(src, "hack", "sync-crds.sh"), "--check"],
                          capture_output=True, text=True)
    check(proc.returncode == 0, "charts/shardcast/templates/crds in sync with crds/ " + proc.stderr.strip())

    # Examples parse and use the contract's names.
    docs = []
    for f in sorted(glob.glob(os.path.join(src, "examples", "*.yaml"))):
        with open(f) as fh:
            docs += [d for d in yaml.safe_load_all(fh) if d]
    kinds = {d["kind"]: d for d in docs}
    check(set(kinds) == {"ShardSet", "MigrationPolicy"}, f"examples/ holds a ShardSet and a MigrationPolicy ({sorted(kinds)})")
    if "ShardSet" in kinds:
        s = kinds["ShardSet"]["spec"]
        check((s["replicas"], s["warmPool"]["size"], s["keySpace"]["ranges"], s["capacity"]["cpuMillis"],
               s["routing"]["configMapName"]) == (3, 2, 64, 1000, "kv-routing"), "example ShardSet values")
        pod = s["template"]["spec"]
        check(pod.get("nodeSelector") == {"type": "kwok"}, "example ShardSet schedules onto KWOK nodes")
        check({"key": "kwok.x-k8s.io/node", "operator": "Equal", "value": "fake", "effect": "NoSchedule"}
              in pod.get("tolerations", []), "example ShardSet tolerates the KWOK taint")
    if "MigrationPolicy" in kinds and "ShardSet" in kinds:
        mp = kinds["MigrationPolicy"]["spec"]
        labels = kinds["ShardSet"]["metadata"].get("labels", {})
        sel = mp["shardSetSelector"]["matchLabels"]
        check(mp["mode"] == "Proposal" and all(labels.get(k) == v for k, v in sel.items()),
              "example MigrationPolicy is in Proposal mode and selects the example ShardSet")

    # Routing schema: valid 2020-12 schema; accepts the contract's example and
    # rejects broken documents.
    try:
        import jsonschema
    except ImportError:
        jsonschema = None
    with open(os.path.join(src, "docs", "routing.schema.json")) as fh:
        rschema = json.load(fh)
    check(rschema.get("$schema") == "https://json-schema.org/draft/2020-12/schema", "routing schema is 2020-12")
    if jsonschema is None:
        print("skip routing schema validation: python3 jsonschema not installed")
    else:
        v = jsonschema.Draft202012Validator
        v.check_schema(rschema)
        good = {"schemaVersion": 1, "shardSet": "name", "epoch": 7, "hash": "fnv1a64-high32",
                "ranges": [{"id": 0, "start": 0, "end": 16777215, "owner": "kv-0", "endpoint": "10.0.0.5:8080",
                            "state": "stable", "source": None, "target": None, "shadowFraction": 0,
                            "echoes": [{"pod": "kv-3", "endpoint": "10.0.0.8:8080"}]}]}
        errs = list(v(rschema).iter_errors(good))
        check(not errs, f"routing schema accepts the design contract's example {[e.message for e in errs]}")
        migrating = json.loads(json.dumps(good))
        migrating["ranges"][0].update(state="migrating", source="kv-0", target="kv-1",
                                      targetEndpoint="10.0.0.6:8080")
        errs = list(v(rschema).iter_errors(migrating))
        check(not errs, f"routing schema accepts a migrating range {[e.message for e in errs]}")
        bad_cases = {
            "unknown state": lambda d: d["ranges"][0].update(state="moving"),
            "end beyond 2^32-1": lambda d: d["ranges"][0].update(end=4294967296),
            "migrating without target": lambda d: d["ranges"][0].update(state="migrating", source="kv-0"),
            "shadowFraction above 1": lambda d: d["ranges"][0].update(shadowFraction=1.5),
            "missing epoch": lambda d: d.pop("epoch"),
            "unknown hash": lambda d: d.update(hash="md5"),
        }
        for what, mutate in bad_cases.items():
            d = json.loads(json.dumps(good))
            mutate(d)
            check(bool(list(v(rschema).iter_errors(d))), f"routing schema rejects: {what}")

    # The FNV-1a test vectors in docs/routing.md are right.
    import re
    with open(os.path.join(src, "docs", "routing.md")) as fh:
        md = fh.read()
    rows = re.findall(r"^\| `([^`]*)`[^|]* \| `(0x[0-9a-f]{16})` \| (\d+) \| (\d+) \|$", md, re.M)
    check(len(rows) >= 4, f"docs/routing.md has FNV-1a test vectors ({len(rows)})")
    for key, full, high, rng in rows:
        key = "" if key == '""' else key
        h = 14695981039346656037
        for b in key.encode():
            h = ((h ^ b) * 1099511628211) % 2**64
        check((hex(h), h >> 32, (h >> 32) * 256 >> 32) == (full, int(high), int(rng)),
              f"routing.md vector {key!r}: {hex(h)} {h >> 32}")

    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed")
        return 1
    print("all static checks passed")
    return 0


def _rules(schema):
    for r in schema.get("x-kubernetes-validations", []) or []:
        yield r
    for sub in (schema.get("properties") or {}).values():
        yield from _rules(sub)
    if isinstance(schema.get("items"), dict):
        yield from _rules(schema["items"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")))
