#!/usr/bin/env python3
"""Prints a ShardSet or MigrationPolicy manifest (JSON) for the tests.

  mk.py shardset|migrationpolicy <name> [path=json-value | path- ...]

Starts from a small valid object and sets (path=value, value as JSON or a
bare string) or deletes (path-) dotted paths, e.g.
  mk.py shardset bad spec.replicas=-1 spec.keySpace.hashing.algorithm=Rendezvous
"""
import json
import sys

BASE = {
    "shardset": {
        "apiVersion": "shardcast.dev/v1alpha1",
        "kind": "ShardSet",
        "metadata": {"name": "x"},
        "spec": {
            "replicas": 3,
            "minReplicas": 1,
            "maxReplicas": 10,
            "keySpace": {"ranges": 64},
            "capacity": {"metric": "CPU", "cpuMillis": 1000},
            "routing": {"configMapName": "x-routing"},
            "template": {
                "spec": {
                    "nodeSelector": {"type": "kwok"},
                    "containers": [{"name": "kv", "image": "example/kv:1.0"}],
                }
            },
        },
    },
    "migrationpolicy": {
        "apiVersion": "shardcast.dev/v1alpha1",
        "kind": "MigrationPolicy",
        "metadata": {"name": "x"},
        "spec": {"mode": "Proposal", "shardSetSelector": {"matchLabels": {"app": "x"}}},
    },
}


def set_path(obj, path, value, delete=False):
    keys = path.split(".")
    for key in keys[:-1]:
        if isinstance(obj, list):
            obj = obj[int(key)]
        else:
            obj = obj.setdefault(key, {})
    last = keys[-1]
    if delete:
        obj.pop(last, None)
    elif isinstance(obj, list):
        obj[int(last)] = value
    else:
        obj[last] = value


def main(argv):
    if len(argv) < 3 or argv[1] not in BASE:
        print(__doc__, file=sys.stderr)
        return 2
    obj = json.loads(json.dumps(BASE[argv[1]]))
    obj["metadata"]["name"] = argv[2]
    for arg in argv[3:]:
        if arg.endswith("-") and "=" not in arg:
            set_path(obj, arg[:-1], None, delete=True)
            continue
        path, _, raw = arg.partition("=")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        set_path(obj, path, value)
    json.dump(obj, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
