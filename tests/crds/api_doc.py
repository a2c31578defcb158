#!/usr/bin/env python3
"""Generates the field reference tables of docs/api.md from crds/.

  api_doc.py <source dir>          rewrite the generated part of docs/api.md
  api_doc.py <source dir> --check  exit 1 when docs/api.md is out of date

The generated part lies between the markers below; the rest of api.md is
written by hand.
"""
import glob
import json
import os
import sys

import yaml

BEGIN = "<!-- BEGIN GENERATED FIELD REFERENCE (tests/crds/api_doc.py) -->"
END = "<!-- END GENERATED FIELD REFERENCE -->"


def type_of(s):
    t = s.get("type", "")
    if t == "array":
        item = s.get("items", {})
        return f"[]{type_of(item)}"
    if s.get("x-kubernetes-preserve-unknown-fields") and t == "object":
        return "object (free-form)"
    return t or "any"


def constraints(s):
    out = []
    if "enum" in s:
        out.append("one of " + ", ".join(f"`{v}`" for v in s["enum"]))
    if "minimum" in s and "maximum" in s:
        out.append(f"{s['minimum']}..{s['maximum']}")
    elif "minimum" in s:
        out.append(f">= {s['minimum']}")
    elif "maximum" in s:
        out.append(f"<= {s['maximum']}")
    if "minItems" in s:
        out.append(f"at least {s['minItems']} items")
    if "maxItems" in s:
        out.append(f"at most {s['maxItems']} items")
    if s.get("x-kubernetes-list-type") in ("set", "map"):
        keys = s.get("x-kubernetes-list-map-keys")
        out.append("unique " + (", ".join(f"`{k}`" for k in keys) if keys else "items"))
    if "maxLength" in s and s.get("type") == "string":
        out.append(f"at most {s['maxLength']} characters")
    if "format" in s and s["format"] in ("date-time",):
        out.append("RFC 3339 time")
    for r in s.get("x-kubernetes-validations", []) or []:
        if r["rule"] == "self == oldSelf":
            out.append("immutable")
        else:
            out.append("rule: " + " ".join(r["message"].split()))
    return "; ".join(out)


def rows(schema, path, required=()):
    for name, sub in (schema.get("properties") or {}).items():
        p = f"{path}.{name}" if path else name
        default = f"`{json.dumps(sub['default'])}`" if "default" in sub else ""
        req = "yes" if name in required else ""
        desc = " ".join((sub.get("description") or "").split()).replace("|", "\\|")
        desc = desc.replace("<", "&lt;").replace(">", "&gt;")
        yield f"| `{p}` | {type_of(sub)} | {default} | {req} | {constraints(sub).replace('|', chr(92) + '|')} | {desc} |"
        child = sub
        suffix = ""
        if sub.get("type") == "array" and isinstance(sub.get("items"), dict):
            child = sub["items"]
            suffix = "[]"
        if child.get("properties") and not (p.endswith("conditions")):
            yield from rows(child, p + suffix, child.get("required", ()))


def generate(src):
    out = [BEGIN, ""]
    crds = {}
    for f in sorted(glob.glob(os.path.join(src, "crds", "*.yaml"))):
        with open(f) as fh:
            crd = yaml.safe_load(fh)
        crds[crd["spec"]["names"]["kind"]] = crd
    for kind in ("ShardSet", "MigrationPolicy"):
        crd = crds[kind]
        v = crd["spec"]["versions"][0]
        schema = v["schema"]["openAPIV3Schema"]
        for r in schema.get("x-kubernetes-validations", []) or []:
            msg = " ".join(r["message"].split()).replace("<", "&lt;").replace(">", "&gt;")
            out.append(f"- Rule on the {kind} object: {msg}")
        if schema.get("x-kubernetes-validations"):
            out.append("")
        for part in ("spec", "status"):
            sub = schema["properties"][part]
            out.append(f"### {kind} `{part}`")
            out.append("")
            for r in sub.get("x-kubernetes-validations", []) or []:
                out.append(f"- Rule on `{part}`: {' '.join(r['message'].split())}")
            if sub.get("x-kubernetes-validations"):
                out.append("")
            out.append("| Field | Type | Default | Required | Validation | Description |")
            out.append("|---|---|---|---|---|---|")
            out.extend(rows(sub, part, sub.get("required", ())))
            out.append("")
    out.append(END)
    return "\n".join(out)


def main(argv):
    src = argv[1]
    path = os.path.join(src, "docs", "api.md")
    with open(path) as fh:
        doc = fh.read()
    if BEGIN not in doc or END not in doc:
        print(f"{path}: generation markers missing", file=sys.stderr)
        return 1
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = head + generate(src) + tail
    if len(argv) > 2 and argv[2] == "--check":
        if new != doc:
            print("docs/api.md is out of date with crds/: run hack/sync-crds.sh", file=sys.stderr)
            return 1
        print("docs/api.md is up to date")
        return 0
    with open(path, "w") as fh:
        fh.write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
