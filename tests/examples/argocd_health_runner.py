#!/usr/bin/env python3
"""Runs an Argo CD Lua health check against its fixtures, like Argo CD's own
resource-customization tests: for every entry of health_test.yaml, loads
inputPath as `obj`, runs health.lua and compares the returned status and
message with healthStatus.

Usage: argocd_health_runner.py <dir with health.lua and health_test.yaml> [lua]
Exits 0 when every case passes, 1 otherwise (printing each mismatch).
"""
import json
import os
import subprocess
import sys

import yaml


def lua_literal(value):
    """Converts parsed YAML into a Lua table constructor."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        # JSON string escapes are valid Lua escapes except \uXXXX; keep ASCII
        # and pass non-ASCII through as UTF-8 bytes.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "{" + ", ".join(lua_literal(v) for v in value) + "}"
    if isinstance(value, dict):
        items = []
        for k, v in value.items():
            if v is None:
                continue
            items.append("[" + json.dumps(str(k), ensure_ascii=False) + "] = " + lua_literal(v))
        return "{" + ", ".join(items) + "}"
    raise TypeError(f"unsupported YAML value {value!r}")


DRIVER = """
obj = {obj}
local chunk, err = loadfile({script})
if chunk == nil then error(err) end
local hs = chunk()
if type(hs) ~= "table" then error("health.lua did not return a table") end
io.write(tostring(hs.status), "\\0", tostring(hs.message or ""))
"""


def run_case(lua, script, obj):
    src = DRIVER.format(obj=lua_literal(obj), script=json.dumps(script))
    proc = subprocess.run([lua, "-"], input=src.encode(), capture_output=True, timeout=30)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.decode(errors="replace").strip())
    status, _, message = proc.stdout.decode().partition("\0")
    return status, message


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    base = argv[1]
    lua = argv[2] if len(argv) > 2 else "lua5.4"
    script = os.path.join(base, "health.lua")
    with open(os.path.join(base, "health_test.yaml")) as f:
        spec = yaml.safe_load(f)
    tests = (spec or {}).get("tests") or []
    if not tests:
        print("no tests in health_test.yaml", file=sys.stderr)
        return 1
    failures = 0
    for t in tests:
        path = t["inputPath"]
        want = t["healthStatus"]
        with open(os.path.join(base, path)) as f:
            obj = yaml.safe_load(f)
        try:
            status, message = run_case(lua, script, obj)
        except Exception as e:  # report and continue with the other cases
            print(f"FAIL {path}: {e}")
            failures += 1
            continue
        ok = status == want.get("status") and ("message" not in want or message == want["message"])
        print(f"{'ok  ' if ok else 'FAIL'} {path}: got {status} {message!r}"
              + ("" if ok else f", want {want.get('status')} {want.get('message')!r}"))
        failures += 0 if ok else 1
    print(f"{len(tests) - failures}/{len(tests)} health checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
