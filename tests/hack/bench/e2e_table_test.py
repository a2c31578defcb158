#!/usr/bin/env python3
"""Unit tests of bench/e2e/table.py and bench/e2e/moves.py on synthetic
results (no cluster, no trace replay).

  python3 tests/hack/bench/e2e_table_test.py
"""
import io
import json
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stdout

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
sys.path.insert(0, os.path.join(ROOT, "bench", "e2e"))
import moves  # noqa: E402
import table  # noqa: E402

T0 = 1_700_000_000


def arm(overload, over_max, pod_min, moved, promotions, scale_ins, plans=(), samples=()):
    return {"summary": {"overloadSamples": overload, "observedSamples": 100, "overTrueMinutes": over_max,
                        "activePodMinutes": pod_min, "rangesMoved": moved,
                        "promotions": [{"t": T0, "pod": "kv-3"}] * promotions, "scaleIns": scale_ins,
                        "flaps": 0},
            "raw": {"observed": [{"t": t} for t in samples], "forecasts": [{"t": T0 + 50, "pods": {}}],
                    "actions": [{"id": f"plan-ab-{t}-kv-0", "type": "Move"} for t in plans],
                    "ticks": [], "routing": []}}


def results(pred, react, oracle_pod_min=1000, oracle_moved=10, oracle_churn=2, trace="generated"):
    return {"traceSpec": trace, "trace": trace, "start": T0, "end": T0 + 86400, "timeScale": 120,
            "arms": {"predictive": pred["raw"], "reactive": react["raw"]},
            "summary": {"arms": {"predictive": pred["summary"], "reactive": react["summary"]},
                        "oraclePlanner": {"overTrueMinutes": 0, "activePodMinutes": oracle_pod_min,
                                          "rangesMoved": oracle_moved, "promotions": [{}] * oracle_churn,
                                          "scaleIns": 0}}}


class TableTest(unittest.TestCase):
    def run_table(self, *res):
        dirs = []
        for r in res:
            d = tempfile.mkdtemp()
            with open(os.path.join(d, "results.json"), "w") as f:
                json.dump(r, f)
            dirs.append(d)
        out = io.StringIO()
        with redirect_stdout(out):
            rc = table.main(["table.py", *dirs])
        self.assertEqual(rc, 0)
        return out.getvalue()

    def test_sums_over_rounds_with_spread_and_targets(self):
        r1 = results(arm(1, 5, 1100, 11, 2, 0), arm(10, 50, 1000, 20, 2, 0))
        r2 = results(arm(0, 0, 1200, 13, 2, 0), arm(10, 50, 1000, 20, 2, 0))
        out = self.run_table(r1, r2)
        self.assertIn("2 round(s)", out)
        self.assertIn("| predictive | 1 (0..1) | 200 (100..100) | 5 (0..5) | 2300 (1100..1200) | 24 (11..13)", out)
        self.assertIn("| overload samples vs reactive | 5% (1 / 20) | <= 10% | met |", out)
        self.assertIn("| over-max excess vs reactive's | 5% (5 / 100) | <= 10% | met |", out)
        self.assertIn("| active pod-min vs oracle | 1.15x (2300 / 2000) | <= 1.15x | met |", out)
        self.assertIn("| ranges moved vs oracle | 1.20x (24 / 20) | <= 1.2x | met |", out)
        self.assertIn("| promotions + scale-ins vs oracle | 1.00x (4 / 4) | <= 1.5x | met |", out)

    def test_misses_and_a_zero_baseline(self):
        out = self.run_table(results(arm(3, 0, 1300, 30, 7, 0), arm(0, 0, 1000, 20, 2, 0)))
        self.assertIn("| overload samples vs reactive | 3 vs 0 | <= 10% | missed (baseline 0) |", out)
        self.assertIn("| over-max excess vs reactive's | 0 vs 0 | <= 10% | met (baseline 0) |", out)
        self.assertIn("1.30x (1300 / 1000) | <= 1.15x | missed", out)
        self.assertIn("3.50x (7 / 2) | <= 1.5x | missed", out)

    def test_decision_latency_from_the_newest_sample_before_the_publication(self):
        # Forecast published at T0+50; samples at T0+10 and T0+40 (and one
        # after the publication, which does not count); plan at T0+100.
        pred = arm(0, 0, 1000, 10, 2, 0, plans=[T0 + 100], samples=[T0 + 10, T0 + 40, T0 + 90])
        r = results(pred, arm(1, 1, 1000, 10, 2, 0))
        self.assertEqual(table.decision_latencies(r, "predictive"), [60])
        self.assertEqual(table.decision_latencies(r, "reactive"), [])
        self.assertIn("predictive: median 1.0 trace min (0.5 s real)", self.run_table(r))

    def test_forecast_spikes_rise_for_one_publication_and_fall_back(self):
        def pub(t, **p90):
            return {"t": T0 + t, "pods": {pod: {"p90": v} for pod, v in p90.items()}}

        pred = arm(0, 0, 1000, 10, 2, 0)
        pred["raw"]["forecasts"] = [pub(0, **{"kv-0": 100, "kv-1": 100}), pub(1, **{"kv-0": 130, "kv-1": 130}),
                                    pub(2, **{"kv-0": 100, "kv-1": 120}), pub(3, **{"kv-0": 124}),
                                    pub(4, **{"kv-0": 100})]
        r = results(pred, arm(1, 1, 1000, 10, 2, 0))
        # kv-0 at 1 (130, back to 100); not kv-1 (120 is within 20% of 130),
        # not kv-0 at 3 (124 < 125).
        self.assertEqual(table.forecast_spikes(r, "predictive"), [(T0 + 1, "kv-0", 100, 130, 100)])
        self.assertIn("forecast spikes (predictive, p90 up >= 25% for one publication): 1 (1..1)",
                      self.run_table(r))

    def test_missing_results_names_the_file(self):
        d = tempfile.mkdtemp()
        with self.assertRaisesRegex(SystemExit, r"results\.json: no such file"):
            table.load([d])
        os.makedirs(os.path.join(d, "predictive"))
        with open(os.path.join(d, "predictive", "results.json"), "w") as f:
            f.write("{")
        with self.assertRaisesRegex(SystemExit, r"predictive/results\.json: JSONDecodeError"):
            table.load([d])

    def test_one_arm_runs_of_the_data_plane_are_merged_with_their_bytes(self):
        both = results(arm(0, 0, 1100, 12, 2, 0), arm(4, 40, 1000, 20, 2, 0))
        d = tempfile.mkdtemp()
        for name, copied in (("predictive", 3 * 1048576), ("reactive", 1048576)):
            one = json.loads(json.dumps(both))
            other = "reactive" if name == "predictive" else "predictive"
            del one["arms"][other], one["summary"]["arms"][other]
            if name == "reactive":
                del one["summary"]["oraclePlanner"]
            one["dataPlane"] = {"copied": {"bytes": {"move": copied}, "keys": {"move": 10}}}
            os.makedirs(os.path.join(d, name))
            with open(os.path.join(d, name, "results.json"), "w") as f:
                json.dump(one, f)
        out = io.StringIO()
        with redirect_stdout(out):
            self.assertEqual(table.main(["table.py", d]), 0)
        out = out.getvalue()
        self.assertIn("| overload samples vs reactive | 0% (0 / 4) | <= 10% | met |", out)
        self.assertIn("| ranges moved vs oracle | 1.20x (12 / 10) | <= 1.2x | met |", out)
        self.assertIn("| bytes moved (agents) | predictive move 3.00 MiB; reactive move 1.00 MiB |", out)


class MovesTest(unittest.TestCase):
    def test_reasons_come_from_the_operator_log(self):
        d = tempfile.mkdtemp()
        log = os.path.join(d, "operator-predictive.log")
        with open(log, "w") as f:
            f.write("2026-12-02T20:00:00.000 info migrationpolicy ns/kv: action plan-ab-1-kv-0 (Move): "
                    "kv-0 predicted 95% > 80%\n")
            f.write("2026-12-02T20:00:00.000 info something else\n")
        self.assertEqual(moves.reasons_from_log(log), {"plan-ab-1-kv-0": "kv-0 predicted 95% > 80%"})
        self.assertEqual(moves.reasons_from_log(os.path.join(d, "none.log")), {})

    def test_count_at_a_step_series(self):
        steps = [[10, 3], [20, 4], [30, 3]]
        self.assertIsNone(moves.count_at(steps, 5))
        self.assertEqual(moves.count_at(steps, 25), 4)
        self.assertEqual(moves.count_at(steps, 99), 3)


if __name__ == "__main__":
    unittest.main()
