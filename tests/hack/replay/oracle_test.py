#!/usr/bin/env python3
"""Unit tests of the planner oracle (hack/replay/oracle.py) and the load
mapping it shares with the replay driver (hack/replay/loads.py). No cluster.

  python3 tests/hack/replay/oracle_test.py --binary build/operator/cmd/shardcast

The tests that run `shardcast plan` need --binary (or SHARDCAST_BINARY);
without an executable binary the script exits 77 (ctest: skipped) after the
tests that need none.
"""
import io
import json
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stderr

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "hack", "replay"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
import loads  # noqa: E402
import oracle  # noqa: E402
import traces  # noqa: E402
from testlib import take_arg  # noqa: E402

BINARY = take_arg("--binary", "SHARDCAST_BINARY", __name__ == "__main__")
N = 32
SPAN = 2 ** 32
T0 = traces.parse_time("2026-11-13T00:00:00Z", "t0")
CAP = 1000.0


def equal_ranges(owners):
    n = len(owners)
    return [{"id": i, "start": SPAN * i // n, "end": SPAN * (i + 1) // n - 1, "owner": o, "echoes": []}
            for i, o in enumerate(owners)]


def ramp_trace():
    """Total load 1500m for 4 hours, a 1-hour ramp to 3600m (more than 3 pods
    hold at 80%), 3 hours there, a 1-hour ramp back, then 1500m."""
    vals = []
    for i in range(16 * 60):
        h = i / 60.0
        if h < 4:
            v = 1500
        elif h < 5:
            v = 1500 + 2100 * (h - 4)
        elif h < 8:
            v = 3600
        elif h < 9:
            v = 3600 - 2100 * (h - 8)
        else:
            v = 1500
        vals.append(float(v))
    tr = traces.Trace("test-ramp", T0, vals, T0 + 3600, 10, [], "test ramp")
    tr.set_ranges(N, 0.7, 7)
    return tr


def results(owners, start, end, warmup):
    arm = {k: [] for k in oracle.ARM_FIELDS}
    arm["initialOwners"] = owners
    return {"trace": "test-ramp", "description": "test ramp", "start": start, "end": end, "warmupStart": warmup,
            "forecastStep": 20, "horizon": 60, "timeScale": 120.0, "capacity": CAP, "maxUtilization": 0.8,
            "ranges": N, "minReplicas": 3, "maxReplicas": 8, "arms": {"predictive": arm}}


def balanced_owners(tr):
    """Contiguous-free LPT assignment of the Zipf ranges to kv-0..kv-2."""
    w = tr.weights
    owners, tot = [None] * N, {"kv-0": 0.0, "kv-1": 0.0, "kv-2": 0.0}
    for i in sorted(range(N), key=lambda i: -w[i]):
        p = min(tot, key=lambda k: (tot[k], k))
        owners[i] = p
        tot[p] += w[i]
    return owners


class LoadsTest(unittest.TestCase):
    def test_split_and_merged_ranges_carry_their_key_span(self):
        rl = [float(i + 1) for i in range(N)]
        whole = loads.doc_range_loads(rl, equal_ranges(["a"] * N))
        self.assertEqual([whole[i] for i in range(N)], rl)
        # range 3 split in half, ranges 4 and 5 merged
        r = equal_ranges(["a"] * N)
        mid = (r[3]["start"] + r[3]["end"] + 1) // 2
        r.append({"id": 40, "start": mid, "end": r[3]["end"], "owner": "b"})
        r[3]["end"] = mid - 1
        r[4]["end"] = r[5]["end"]
        del r[5]
        got = loads.doc_range_loads(rl, r)
        self.assertAlmostEqual(got[3], rl[3] / 2)
        self.assertAlmostEqual(got[40], rl[3] / 2)
        self.assertAlmostEqual(got[4], rl[4] + rl[5])
        self.assertAlmostEqual(sum(got.values()), sum(rl))

    def test_reads_split_over_echoes_and_idle_floor(self):
        r = equal_ranges(["a"] * N)
        r[0]["echoes"] = [{"pod": "b"}]
        rl = [0.0] * N
        rl[0] = 100.0
        got = loads.pod_loads(rl, r, ["a", "b", "c"])
        self.assertAlmostEqual(got["a"], 20 + 40)   # writes + half the reads
        self.assertAlmostEqual(got["b"], 40)
        self.assertEqual(got["c"], loads.IDLE_LOAD)

    def test_served_requests_per_range_exclude_shadow_copies(self):
        r = equal_ranges(["a"] * N)
        r[0]["echoes"] = [{"pod": "b"}]
        r[1].update({"state": "shadow", "target": "c", "shadowFraction": 0.5})
        rl = [0.0] * N
        rl[0], rl[1] = 100.0, 10.0
        served = {}
        got = loads.pod_loads(rl, r, ["a", "b", "c"], served=served)
        self.assertAlmostEqual(served["a"][0], 60)
        self.assertAlmostEqual(served["b"][0], 40)
        self.assertAlmostEqual(served["a"][1], 10)
        self.assertNotIn("c", served)               # shadow copies are not the range's requests
        self.assertAlmostEqual(got["c"], max(loads.IDLE_LOAD, 4.0))


class InputTest(unittest.TestCase):
    def test_missing_fields_are_one_line_errors(self):
        tr = ramp_trace()
        res = results(balanced_owners(tr), T0 + 3600, T0 + 6 * 3600, T0 + 3600)
        del res["horizon"]
        with self.assertRaisesRegex(oracle.OracleError, r"^results.json: missing field horizon$"):
            oracle.Simulation(res, tr, "/nonexistent")
        res = results(balanced_owners(tr), T0 + 3600, T0 + 6 * 3600, T0 + 3600)
        del res["arms"]["predictive"]["initialOwners"]
        with self.assertRaisesRegex(oracle.OracleError, "initialOwners: missing"):
            oracle.Simulation(res, tr, "/nonexistent")

    def test_cli_reports_bad_results_in_one_line(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "results.json")
            with open(p, "w") as f:
                json.dump({"start": 1}, f)
            err = io.StringIO()
            with redirect_stderr(err):
                rc = oracle.main(["--results", p, "--binary", "/nonexistent"])
            self.assertEqual(rc, 2)
            self.assertEqual(len(err.getvalue().strip().splitlines()), 1)
            self.assertIn("missing fields", err.getvalue())

    def test_apply_split_merge_echo_and_warm_refill(self):
        tr = ramp_trace()
        res = results(["kv-0"] * 16 + ["kv-1"] * 8 + ["kv-2"] * 8, T0 + 3600, T0 + 6 * 3600, T0 + 3600)
        s = oracle.Simulation(res, tr, "/nonexistent")
        self.assertEqual((s.active, s.warm), (["kv-0", "kv-1", "kv-2"], ["kv-3", "kv-4"]))
        tally = {"promotions": [], "demotions": [], "moved": 0, "actions": {}}
        t = T0 + 2 * 3600
        mid = s.ranges[0]["start"] + (s.ranges[0]["end"] - s.ranges[0]["start"] + 1) // 2
        s.apply(t, [{"type": "Split", "range": 0, "newRange": 32, "splitAt": mid},
                    {"type": "Promote", "pod": "kv-3"},
                    {"type": "Move", "range": 32, "from": "kv-0", "to": "kv-3"},
                    {"type": "Merge", "range": 1, "absorbedRange": 2},
                    {"type": "AddEcho", "range": 1, "pod": "kv-2"}], tally)
        self.assertEqual(s.ranges[32]["owner"], "kv-3")
        self.assertEqual((s.ranges[0]["end"] + 1, s.ranges[32]["start"]), (mid, mid))
        self.assertNotIn(2, s.ranges)
        self.assertEqual(s.ranges[1]["echoes"], ["kv-2"])
        self.assertEqual(s.warm, ["kv-4", "kv-5"])  # refilled with the lowest free ordinal
        self.assertEqual((tally["moved"], [p["pod"] for p in tally["promotions"]]), (1, ["kv-3"]))
        h = s.history_input(t + 60)
        self.assertEqual(h["moves"], [t, t])  # the Move and the AddEcho copy data
        self.assertEqual(set(h["rangeLastAction"]), {"0", "1", "2", "32"})
        self.assertEqual(set(h["podLastAction"]), {"kv-3", "kv-2"})  # not Move's pods
        with self.assertRaisesRegex(oracle.OracleError, "not owned by kv-1"):
            s.apply(t, [{"type": "Move", "range": 0, "from": "kv-1", "to": "kv-2"}], tally)


@unittest.skipUnless(BINARY and os.access(BINARY, os.X_OK), "needs --binary (the shardcast binary)")
class PlannerOracleTest(unittest.TestCase):
    def test_true_future_promotes_before_the_surge_and_never_overloads(self):
        tr = ramp_trace()
        res = results(balanced_owners(tr), T0 + 2 * 3600, T0 + 14 * 3600, T0 + 3600)
        out = oracle.simulate(res, tr, BINARY)
        self.assertEqual(out["overTrueMinutes"], 0)
        self.assertEqual(out["activePodMinutes"] // 60 >= 12 * 3, True)
        self.assertEqual(out["warmPodMinutes"], 12 * 60 * 2)
        self.assertGreaterEqual(len(out["promotions"]), 2)
        # 3 pods hold 2400m at 80%: the total passes it 4h26m in; the oracle
        # promotes ahead of that.
        crossing = next(T0 + 60 * i for i, v in enumerate(tr.values) if v > 2400)
        self.assertLess(out["promotions"][0]["t"], crossing)
        self.assertGreater(out["rangesMoved"], 0)
        self.assertGreaterEqual(out["scaleIns"], 1)  # the load falls back to 1500m
        self.assertEqual(out["planCalls"], (14 - 1) * 3)

    def test_plan_failure_is_one_line(self):
        tr = ramp_trace()
        res = results(balanced_owners(tr), T0 + 2 * 3600, T0 + 3 * 3600, T0 + 2 * 3600)
        res["maxUtilization"] = 0.5  # below targetUtilization 0.6: the planner refuses the policy
        with self.assertRaises(oracle.OracleError) as e:
            oracle.simulate(res, tr, BINARY)
        self.assertRegex(str(e.exception), r"^shardcast plan at 2026-11-13T02:00:00Z failed: ")
        self.assertNotIn("\n", str(e.exception))


if __name__ == "__main__":
    r = unittest.main(exit=False).result
    if not r.wasSuccessful():
        sys.exit(1)
    sys.exit(0 if BINARY and os.access(BINARY, os.X_OK) else 77)
