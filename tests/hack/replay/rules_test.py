#!/usr/bin/env python3
"""The rules hack/replay/oracle.py copies from the C++ controllers, proven
equal on generated cases. `shardcast plan` takes the history as input and
knows nothing of the warm pool, so the oracle cannot ask it for these; the
probe (rules_probe.cc) runs the C++ code instead:

  history    Simulation.apply's records and Simulation.history_input against
             ActionsFromPlan + HistoryFrom (controllers/migrationpolicy) on
             the same plan actions, completed at once;
  warm pool  Simulation._refill_warm against the ShardSet controller's rounds
             (ComputeDesired, controllers/shardset) until it has nothing to do.

  python3 tests/hack/replay/rules_test.py --probe build/tests/hack/replay_rules_probe

Without an executable probe the script exits 77 (ctest: skipped).
"""
import copy
import json
import os
import random
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "hack", "replay"))
import oracle  # noqa: E402
import oracle_test  # noqa: E402
from testlib import take_arg  # noqa: E402

PROBE = take_arg("--probe", "SHARDCAST_RULES_PROBE", __name__ == "__main__")
CASES = 300
HISTORY_LIMIT = 100  # controllers/migrationpolicy/reconciler.cc kHistoryLimit: status.history keeps the newest 100


def probe(doc):
    r = subprocess.run([PROBE], input=json.dumps(doc), capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"probe failed: {r.stderr.strip()}")
    return json.loads(r.stdout)


def new_simulation():
    tr = oracle_test.ramp_trace()
    owners = ["kv-0"] * 16 + ["kv-1"] * 8 + ["kv-2"] * 8
    res = oracle_test.results(owners, oracle_test.T0 + 3600, oracle_test.T0 + 6 * 3600, oracle_test.T0 + 3600)
    return oracle.Simulation(res, tr, "/nonexistent")


def random_action(rng, s):
    """One action `shardcast plan -o json` could give for the simulation's state."""
    ranges = s.range_list()
    kinds = ["Move", "Move", "Move", "AddEcho", "Split", "Promote"]
    if len(s.active) > 1:
        kinds.append("Demote")
    if any(r["echoes"] for r in ranges):
        kinds.append("RemoveEcho")
    idle = [p for p in s.active if not any(r["owner"] == p for r in ranges)]
    if idle and len(s.active) > 1:
        kinds.append("ScaleIn")
    merge = [(a, b) for a, b in zip(ranges, ranges[1:]) if a["owner"] == b["owner"]]
    if merge:
        kinds.append("Merge")
    kind = rng.choice(kinds)
    r = rng.choice(ranges)
    if kind == "Move" and len(s.active) > 1:
        to = rng.choice([p for p in s.active if p != r["owner"]])
        return {"type": "Move", "range": r["id"], "from": r["owner"], "to": to}
    if kind == "AddEcho":
        pods = [p for p in s.active if p != r["owner"] and p not in r["echoes"]]
        if pods:
            return {"type": "AddEcho", "range": r["id"], "pod": rng.choice(pods)}
    if kind == "RemoveEcho":
        r = rng.choice([x for x in ranges if x["echoes"]])
        return {"type": "RemoveEcho", "range": r["id"], "pod": rng.choice(r["echoes"])}
    if kind == "Split" and r["end"] > r["start"]:
        return {"type": "Split", "range": r["id"], "newRange": max(s.ranges) + 1,
                "splitAt": r["start"] + (r["end"] - r["start"]) // 2 + 1}
    if kind == "Promote" and s.warm:
        return {"type": "Promote", "pod": rng.choice(s.warm)}
    if kind == "Demote":
        pod = rng.choice(s.active)
        if not any(x["owner"] == pod or pod in x["echoes"] for x in ranges):
            return {"type": "Demote", "pod": pod}
    if kind == "ScaleIn":
        return {"type": "ScaleIn", "pod": rng.choice(idle)}
    if kind == "Merge":
        a, b = rng.choice(merge)
        return {"type": "Merge", "range": a["id"], "absorbedRange": b["id"]}
    return None


@unittest.skipUnless(PROBE and os.access(PROBE, os.X_OK), "needs --probe (replay_rules_probe)")
class RulesTest(unittest.TestCase):
    def test_history_equals_the_migrationpolicy_controllers(self):
        rng = random.Random(11)
        cases, want = [], []
        for _ in range(CASES):
            s = new_simulation()
            tally = {"promotions": [], "demotions": [], "moved": 0, "actions": {}}
            t = oracle_test.T0 + 3600
            records = []
            for _ in range(rng.randint(1, 160)):
                t += rng.choice([0, 60, 300, 1200])
                a = random_action(rng, s)
                if a is None:
                    continue
                s.apply(t, [a], tally)
                records.append({"t": t, "action": a})
            now = t + rng.choice([0, 30, 299, 300, 1800, 3599, 3600, 7200])
            cases.append({"now": now, "records": records[-HISTORY_LIMIT:]})
            h = s.history_input(now)
            del h["lowLoadSince"]  # kept by the reconciler's round, not by HistoryFrom
            want.append(h)
        got = probe({"history": cases})["history"]
        self.assertEqual(len(got), len(want))
        for i, (g, w) in enumerate(zip(got, want)):
            self.assertEqual(g, w, f"case {i}: {json.dumps(cases[i])[:400]}")

    def test_warm_refill_equals_the_shardset_controllers(self):
        rng = random.Random(5)
        cases, want = [], []
        for _ in range(CASES):
            s = new_simulation()
            ordinals = rng.sample(range(12), rng.randint(1, 10))
            n_active = rng.randint(1, len(ordinals))
            s.active = [f"kv-{k}" for k in ordinals[:n_active]]
            s.warm = [f"kv-{k}" for k in ordinals[n_active:]]
            s.pool = rng.randint(0, 4)
            echoes = [p for p in s.warm if rng.random() < 0.3]
            for r in s.ranges.values():
                r["echoes"] = []
            s.ranges[0]["echoes"] = list(echoes)
            cases.append({"set": "kv", "pool": s.pool, "active": list(s.active), "warm": list(s.warm),
                          "echoes": echoes})
            w = copy.copy(s)
            w.warm = list(s.warm)
            w._refill_warm()
            want.append(sorted(w.warm))
        got = probe({"warm": cases})["warm"]
        for i, (g, w) in enumerate(zip(got, want)):
            self.assertEqual(sorted(g), w, f"case {i}: {json.dumps(cases[i])}")


if __name__ == "__main__":
    r = unittest.main(exit=False).result
    if not r.wasSuccessful():
        sys.exit(1)
    sys.exit(0 if PROBE and os.access(PROBE, os.X_OK) else 77)
