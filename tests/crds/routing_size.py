#!/usr/bin/env python3
"""Worst-case size of the routing document (docs/routing.md) under the CRD's
caps, serialized compactly as the operator writes it (nlohmann::json dump():
no spaces).

  routing_size.py <source dir>

Worst case per entry: a 63-character pod name (a 57-character ShardSet name,
the CRD's cap, plus "-" and a 5-digit ordinal), the longest bracketed IPv6
endpoint, the largest ids and bounds, and a shadowFraction printed with 17
significant digits. Checks that spec.keySpace.ranges' maximum keeps a
document of that many stable entries, plus the in-flight moves of the widest
limits (64 migrating entries) and 64 echoes, under 768 KiB (75% of the 1 MiB
ConfigMap limit), and that the CRD's description states the measured numbers.
Prints the measurements.
"""
import json
import os
import sys

import yaml

POD = "a" * 57 + "-10099"
ENDPOINT = "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535"
LIMIT = 1024 * 1024
BUDGET = 768 * 1024
MAX_IN_FLIGHT = 64  # MigrationPolicy spec.limits.maxConcurrentMigrations maximum


def compact(v):
    return len(json.dumps(v, separators=(",", ":")))


def stable(i):
    return {"id": i, "start": 4294967295, "end": 4294967295, "owner": POD, "endpoint": ENDPOINT,
            "state": "stable", "source": None, "target": None, "shadowFraction": 0, "echoes": []}


def migrating(i):
    e = stable(i)
    e.update(state="migrating", source=POD, target=POD, targetEndpoint=ENDPOINT, shadowFraction=0.30000000000000004)
    return e


def main(src):
    with open(os.path.join(src, "crds", "shardcast.dev_shardsets.yaml")) as fh:
        crd = yaml.safe_load(fh)
    ranges = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["keySpace"]["properties"]["ranges"]
    n = ranges["maximum"]
    per_stable = compact(stable(4095))
    per_migrating = compact(migrating(4095))
    per_echo = compact(dict(stable(4095), echoes=[{"pod": POD, "endpoint": ENDPOINT}])) - per_stable
    entries = [stable(4095) for _ in range(n - MAX_IN_FLIGHT)] + [migrating(4095) for _ in range(MAX_IN_FLIGHT)]
    for e in entries[:MAX_IN_FLIGHT]:
        e["echoes"] = [{"pod": POD, "endpoint": ENDPOINT}]
    doc = {"schemaVersion": 1, "shardSet": "a" * 57, "epoch": 9223372036854775807, "hash": "fnv1a64-high32",
           "ranges": entries}
    total = compact(doc)
    all_stable = n * per_stable
    print(f"bytes per entry: stable {per_stable}, migrating/shadow {per_migrating}, +{per_echo} per echo")
    print(f"keySpace.ranges maximum {n}: {n} stable entries {all_stable} bytes; with {MAX_IN_FLIGHT} in flight "
          f"and {MAX_IN_FLIGHT} echoes {total} bytes = {100 * total / LIMIT:.1f}% of 1 MiB")
    ok = True
    if total > BUDGET:
        print(f"FAIL: {total} bytes exceeds the {BUDGET}-byte budget")
        ok = False
    desc = " ".join(ranges["description"].split())
    for want in (f"{per_stable} bytes per stable", f"{per_migrating} per migrating", f"{per_echo} more per echo",
                 f"{n} stable entries are {round(all_stable, -3):,} bytes"):
        if want not in desc:
            print(f"FAIL: spec.keySpace.ranges description does not say '{want}'")
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")))
