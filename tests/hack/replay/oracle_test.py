#!/usr/bin/env python3
"""Unit tests of the planner oracle (hack/replay/oracle.py) and the load
mapping it shares with the replay driver (hack/replay/loads.py). No cluster.

  python3 tests/hack/replay/oracle_test.py --binary build/operator/cmd/shardcast

The tests that run `shardcast plan` need --binary (or SHARDCAST_BINARY);
without an executable binary the script exits 77 (ctest: skipped) after the
tests that need none.
"""
import copy
import io
import json
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stderr

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "hack", "replay"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
import cpu_model  # noqa: E402
import loads  # noqa: E402
import measures  # noqa: E402
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


def small_results(owners=None):
    """One measured hour from 02:00, no warm-up: forecast steps at :00, :20, :40."""
    owners = owners or ["kv-0"] * 16 + ["kv-1"] * 8 + ["kv-2"] * 8
    return results(owners, T0 + 2 * 3600, T0 + 3 * 3600, T0 + 2 * 3600)


def demo_policy(**limits):
    """The demo MigrationPolicy with these spec.limits changed."""
    pol = oracle._load_yaml(oracle.POLICY)
    pol["spec"]["limits"].update(limits)
    return pol


def scripted(sim, plans):
    """Makes `sim` take its plans from `plans` (trace time -> actions) instead
    of `shardcast plan`; returns the list of the times it was asked."""
    asked = []

    def plan(t):
        asked.append(t)
        sim.plan_calls += 1
        return copy.deepcopy(plans.get(t, []))
    sim.plan = plan
    return asked


def new_tally():
    return {"promotions": [], "demotions": [], "moved": 0, "actions": {}}


def run_queue(sim, t, actions, until):
    """Hands `actions` to the simulation at t, then advances minute by minute to `until`."""
    tally = new_tally()
    sim.execute(t, actions, tally)
    for m in range(t + 60, until + 1, 60):
        sim.advance(m, tally)
    return tally


def most_in_flight(log, types=oracle.COPIES_DATA):
    """The most actions of `types` unfinished at one time, from an action log."""
    edges = sorted([(e["started"], 1) for e in log if e["type"] in types]
                   + [(e["finished"], -1) for e in log if e["type"] in types])
    n = most = 0
    for _, d in edges:  # a finish sorts before a start at the same time
        n += d
        most = max(most, n)
    return most


def earlier_model(sim):
    """The oracle's loop before actions took time (its code then, on the same
    Simulation): one plan per forecast step, its actions applied at once."""
    tally = new_tally()
    measured = oracle.MinuteMeasures(sim)
    for m in range(sim.TW, sim.T1, 60):
        _, pl = sim.loads_at(m)
        sim._track_low_load(m, pl)
        if (m - sim.TW) % sim.step == 0:
            acts = sim.plan(m)
            if acts:
                sim.apply(m, acts, tally)
                _, pl = sim.loads_at(m)
        measured.add(m, pl)
    return {**measured.summary(), "rangesMoved": tally["moved"], "promotions": tally["promotions"],
            "scaleIns": len([d for d in tally["demotions"] if sim.T0 <= d["t"] <= sim.T1]),
            "actions": tally["actions"], "planCalls": sim.plan_calls, "finalRanges": len(sim.ranges)}


def same_measures(test, got, want):
    for k, v in want.items():
        test.assertEqual(got[k], v, k)


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


class NabTraceTest(unittest.TestCase):
    """The NAB loader's default live window (traces.nab)."""

    def write(self, days, step=300):
        d = tempfile.mkdtemp()
        path = os.path.join(d, "s.csv")
        with open(path, "w") as f:
            f.write("timestamp,value\n")
            for i in range(int(days * 86400 // step)):
                f.write(f"{traces.fmt_time(T0 + i * step).replace('T', ' ').rstrip('Z')},{10 + i % 7}\n")
        return path

    def test_short_series_gets_its_last_whole_day(self):
        tr = traces.load("nab:" + self.write(16))
        self.assertEqual(tr.live_start % 86400, 5 * 3600)
        self.assertLessEqual(tr.live_start + 86400, T0 + 16 * 86400)
        self.assertGreaterEqual(tr.live_start - T0, 13 * 86400)

    def test_too_short_series_names_what_it_needs(self):
        with self.assertRaisesRegex(traces.TraceError, r"spans 2\.0 days; it needs 3"):
            traces.load("nab:" + self.write(2))

    def test_long_series_keeps_the_weekday_five_weeks_in(self):
        tr = traces.load("nab:" + self.write(60, step=1800))
        self.assertGreaterEqual(tr.live_start - T0, 35 * 86400)
        self.assertIn((tr.live_start // 86400 + 3) % 7, (2, 3, 4))


class CpuModelTest(unittest.TestCase):
    """The data plane's pod CPU model: fitted on an arm's ticks, used by the oracle."""

    def data_plane_results(self, tr, a, b, c):
        """Ticks of 3..6 active pods whose summed CPU is a x trace + b x active + c."""
        res = small_results()
        res["dataPlane"] = {"traceScale": 1.0}
        ticks = []
        for i, t in enumerate(range(T0, T0 + 10 * 3600, 600)):
            n = 3 + i % 4
            active = [f"kv-{k}" for k in range(n)]
            total = a * tr.total(t) + b * n + c
            ticks.append({"t": t, "active": active, "warm": ["kv-9"],
                          "loads": {**{p: total / n for p in active}, "kv-9": 0.0}})
        res["arms"]["predictive"]["ticks"] = ticks
        return res

    def test_fit_recovers_the_model(self):
        tr = ramp_trace()
        got = cpu_model.fit(self.data_plane_results(tr, 0.8, 20.0, 30.0), tr)["predictive"]
        self.assertAlmostEqual(got["a"], 0.8, places=6)
        self.assertAlmostEqual(got["b"], 20.0, places=4)
        self.assertAlmostEqual(got["c"], 30.0, places=3)
        self.assertAlmostEqual(got["r2"], 1.0, places=6)

    def test_oracle_pods_cost_what_the_model_says(self):
        tr = ramp_trace()
        res = small_results()
        plain = oracle.Simulation(res, tr, "/nonexistent")
        modeled = oracle.Simulation(res, tr, "/nonexistent", cpu_model={"a": 0.5, "b": 20, "c": 30})
        t = T0 + 2 * 3600
        r0, p0 = plain.loads_at(t)
        r1, p1 = modeled.loads_at(t)
        for k in r0:
            self.assertAlmostEqual(r1[k], 0.5 * r0[k])
        for p in plain.active:
            self.assertAlmostEqual(p1[p], max(0.5 * (p0[p]), loads.IDLE_LOAD) + 20 + 30 / 3)
        for p in plain.warm:
            self.assertEqual(p1[p], loads.IDLE_LOAD)  # warm pods serve nothing

    def test_bad_models_are_one_line_errors(self):
        tr = ramp_trace()
        with self.assertRaisesRegex(oracle.OracleError, "a must be > 0"):
            oracle.Simulation(small_results(), tr, "/nonexistent", cpu_model={"a": 0, "b": 1, "c": 0})
        with self.assertRaisesRegex(oracle.OracleError, "is not 'fit' or three numbers"):
            oracle.parse_cpu_model("1,2", small_results(), tr, "predictive")
        with self.assertRaisesRegex(oracle.OracleError, "not of the real data plane"):
            oracle.parse_cpu_model("fit", small_results(), tr, "predictive")
        self.assertEqual(oracle.parse_cpu_model("1,2.5,0", small_results(), tr, "predictive"),
                         {"a": 1.0, "b": 2.5, "c": 0.0})
        res = self.data_plane_results(tr, 1.0, 10.0, 0.0)
        for tk in res["arms"]["predictive"]["ticks"]:
            tk["active"] = ["kv-0", "kv-1", "kv-2"]  # never changes: b and c cannot be told apart
        with self.assertRaisesRegex(oracle.OracleError, "singular"):
            oracle.parse_cpu_model("fit", res, tr, "predictive")


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
        self.assertEqual(set(h["podLastAction"]), {"kv-3"})  # not Move's or AddEcho's pods
        with self.assertRaisesRegex(oracle.OracleError, "not owned by kv-1"):
            s.apply(t, [{"type": "Move", "range": 0, "from": "kv-1", "to": "kv-2"}], tally)


class DurationsTest(unittest.TestCase):
    def test_defaults_are_the_runs_medians_else_the_policys_lead_times(self):
        tr = ramp_trace()
        res = small_results()
        s = oracle.Simulation(res, tr, "/nonexistent")
        self.assertEqual((s.durations["podStartupSeconds"], s.durations["moveSeconds"]), (300, 60))  # 5m, 1m
        self.assertIn("leadTime.promotion", s.durations["podStartupFrom"])
        self.assertIn("leadTime.perRange", s.durations["moveFrom"])

        def act(typ, start, end, phase="Completed"):
            return {"type": typ, "phase": phase, "startedAt": traces.fmt_time(T0 + start),
                    "finishedAt": traces.fmt_time(T0 + end)}
        res["arms"]["predictive"]["actions"] = [act("Promote", 0, 240), act("Promote", 0, 600),
                                                act("Move", 0, 150), act("Move", 100, 200),
                                                act("Move", 0, 9000, phase="Failed"), {"type": "Move"}]
        res["arms"]["reactive"] = dict(res["arms"]["predictive"], actions=[act("Promote", 0, 360)])
        s = oracle.Simulation(res, tr, "/nonexistent")
        self.assertEqual((s.durations["podStartupSeconds"], s.durations["moveSeconds"]), (360, 125))
        self.assertEqual(s.durations["podStartupFrom"], "results.json: median of 3 completed Promote actions")
        self.assertEqual(s.durations["moveFrom"], "results.json: median of 2 completed Move actions")
        s = oracle.Simulation(res, tr, "/nonexistent", pod_startup=90, move_seconds=0)
        self.assertEqual((s.durations["podStartupSeconds"], s.durations["podStartupFrom"]),
                         (90, "--pod-startup-seconds"))
        self.assertEqual((s.durations["moveSeconds"], s.durations["moveFrom"]), (0, "--move-seconds"))
        s = oracle.Simulation(res, tr, "/nonexistent", instant=True)
        self.assertTrue(s.durations["instant"])
        with self.assertRaisesRegex(oracle.OracleError, "--move-seconds: must be >= 0"):
            oracle.Simulation(res, tr, "/nonexistent", move_seconds=-1)

    def test_policy_durations(self):
        self.assertEqual([oracle.parse_duration(d, "f") for d in ("30s", "5m", "1h30m", "0s")], [30, 300, 5400, 0])
        with self.assertRaisesRegex(oracle.OracleError, "^f: '5 min' is not a duration"):
            oracle.parse_duration("5 min", "f")

    def test_summary_line_names_the_durations_and_their_source(self):
        o = {"arm": "predictive", "simulatedFrom": T0, "planCalls": 3, "planSeconds": 0.1, "promotions": [],
             "scaleIns": 0, "finalRanges": 32, "blocked": 0, "actions": {}, "plansDeferred": 2,
             "durations": {"instant": False, "podStartupSeconds": 240.0, "podStartupFrom": "results.json: x",
                           "moveSeconds": 90.0, "moveFrom": "--move-seconds"}}
        line = measures.oracle_line(o)
        self.assertIn("pod start-up 240s (results.json: x), move 90s (--move-seconds); 2 forecast steps", line)
        del o["durations"]  # a record of the earlier oracle
        self.assertIn("actions applied at once", measures.oracle_line(o))

    def test_cli_refuses_instant_with_durations(self):
        err = io.StringIO()
        with redirect_stderr(err):
            rc = oracle.main(["--results", "/nonexistent", "--binary", "x", "--instant", "--move-seconds", "60"])
        self.assertEqual(rc, 2)
        self.assertIn("--instant takes no", err.getvalue())


class TimedExecutionTest(unittest.TestCase):
    """Scripted plans in place of `shardcast plan`: no binary needed."""

    def sim(self, policy=None, **kw):
        return oracle.Simulation(small_results(), ramp_trace(), "/nonexistent", policy=policy, **kw)

    def test_promoted_pod_is_active_only_after_the_startup(self):
        s = self.sim(pod_startup=600, move_seconds=180)
        t = s.T0
        scripted(s, {t: [{"type": "Promote", "pod": "kv-3"},
                         {"type": "Move", "range": 0, "from": "kv-0", "to": "kv-3"}]})
        out = s.run()
        self.assertEqual(out["pods"], [(t, 3), (t + 600, 4), (s.T1, 4)])
        self.assertEqual(out["promotions"], [{"t": t + 600, "pod": "kv-3"}])
        self.assertEqual(out["activePodMinutes"], 3 * 10 + 4 * 50)
        self.assertEqual(out["warmPodMinutes"], 10 + 60 + 50)  # kv-3 until active, kv-4, kv-5 from the refill
        log = {e["type"]: (e["planned"], e["started"], e["finished"]) for e in out["actionLog"]}
        self.assertEqual(log["Promote"], (t, t, t + 600))
        self.assertEqual(log["Move"], (t, t + 600, t + 780))  # onto kv-3 once it is active
        self.assertEqual(s.ranges[0]["owner"], "kv-3")

    def test_new_warm_pod_is_ready_a_startup_after_the_refill(self):
        s = self.sim(pod_startup=600)
        t = s.T0
        run_queue(s, t, [{"type": "Promote", "pod": "kv-3"}], t + 600)
        self.assertEqual((s.active[-1], s.warm), ("kv-3", ["kv-4", "kv-5"]))
        pods = {p["name"]: p for p in s.state_doc(t + 1140)["pods"]}
        self.assertEqual((pods["kv-4"]["ready"], pods["kv-5"]["ready"]), (True, False))
        self.assertTrue(s.ready("kv-5", t + 1200))

    def test_move_changes_owner_only_after_the_move_duration(self):
        s = self.sim(move_seconds=300)
        t = s.T0
        tally = run_queue(s, t, [{"type": "Move", "range": 0, "from": "kv-0", "to": "kv-1"}], t + 240)
        self.assertEqual(s.ranges[0]["owner"], "kv-0")
        self.assertEqual(tally["moved"], 0)
        h = s.history_input(t + 240)
        self.assertEqual((h["inFlightMigrations"], h["moves"], h["rangeLastAction"]), (1, [t], {"0": t}))
        s.advance(t + 300, tally)
        self.assertEqual(s.ranges[0]["owner"], "kv-1")
        self.assertEqual(tally["moved"], 1)
        h = s.history_input(t + 300)
        self.assertEqual((h["inFlightMigrations"], h["moves"], h["rangeLastAction"]), (0, [t], {"0": t + 300}))

    def test_effects_wait_for_the_next_trace_minute(self):
        s = self.sim(move_seconds=90)
        t = s.T0
        run_queue(s, t, [{"type": "Move", "range": 0, "from": "kv-0", "to": "kv-1"}], t + 60)
        self.assertEqual(s.ranges[0]["owner"], "kv-0")
        s.advance(t + 120, new_tally())
        self.assertEqual(s.ranges[0]["owner"], "kv-1")

    def test_no_more_than_max_concurrent_migrations_in_flight(self):
        s = self.sim(policy=demo_policy(maxConcurrentMigrations=2), move_seconds=300)
        t = s.T0
        moves = [{"type": "Move", "range": i, "from": "kv-0", "to": "kv-1"} for i in range(4)]
        moves.append({"type": "AddEcho", "range": 20, "pod": "kv-2"})
        run_queue(s, t, moves, t + 60)
        self.assertEqual(s.history_input(t + 60)["inFlightMigrations"], 2)
        run_queue(s, t + 60, [], t + 3600)
        self.assertEqual([e["started"] - t for e in s.action_log], [0, 0, 300, 300, 600])
        self.assertEqual(most_in_flight(s.action_log), 2)
        self.assertEqual([s.ranges[i]["owner"] for i in range(4)], ["kv-1"] * 4)

    def test_max_moves_per_hour_holds_the_next_move_back(self):
        s = self.sim(policy=demo_policy(maxMovesPerHour=3), move_seconds=60)
        t = s.T0
        moves = [{"type": "Move", "range": i, "from": "kv-0", "to": "kv-1"} for i in range(4)]
        run_queue(s, t, moves, t + 3660)
        self.assertEqual([e["started"] - t for e in s.action_log], [0, 0, 0, 3600])

    def test_structural_actions_and_shared_ranges_wait_for_earlier_actions(self):
        s = self.sim(pod_startup=600, move_seconds=300)
        t = s.T0
        run_queue(s, t, [{"type": "Move", "range": 0, "from": "kv-0", "to": "kv-1"},
                         {"type": "AddEcho", "range": 1, "pod": "kv-2"},
                         {"type": "Split", "range": 1, "newRange": 32, "splitAt": s.ranges[1]["start"] + 5},
                         {"type": "Promote", "pod": "kv-3"},
                         {"type": "Move", "range": 2, "from": "kv-0", "to": "kv-3"}], t + 3600)
        starts = [(e["type"], e["started"] - t, e["finished"] - t) for e in s.action_log]
        self.assertEqual(starts, [("Move", 0, 300), ("AddEcho", 0, 300), ("Split", 300, 300),
                                  ("Promote", 300, 900), ("Move", 900, 1200)])
        self.assertEqual(s.ranges[32]["echoes"], ["kv-2"])  # the split's upper half keeps the echo

    def test_plan_waits_until_no_action_is_unfinished(self):
        s = self.sim(pod_startup=1800)
        t = s.T0
        asked = scripted(s, {t: [{"type": "Promote", "pod": "kv-3"}]})
        out = s.run()
        self.assertEqual(asked, [t, t + 1800, t + 2400])  # not at the :20 step: kv-3 was starting
        self.assertEqual((out["plansDeferred"], out["planCalls"], out["unfinishedActions"]), (1, 3, 0))

    def test_instant_equals_the_earlier_model(self):
        # 3 moves within the hour, over maxMovesPerHour: the earlier model
        # applied every plan at once, whatever the executor's limits.
        policy = demo_policy(maxMovesPerHour=2)
        plans = {}
        t = T0 + 2 * 3600
        s = self.sim(policy=policy, instant=True)
        mid = s.ranges[1]["start"] + 100
        plans[t] = [{"type": "Promote", "pod": "kv-3"}, {"type": "Move", "range": 0, "from": "kv-0", "to": "kv-3"},
                    {"type": "Split", "range": 1, "newRange": 32, "splitAt": mid},
                    {"type": "AddEcho", "range": 16, "pod": "kv-2"}]
        plans[t + 1200] = [{"type": "Move", "range": 0, "from": "kv-3", "to": "kv-1"},
                           {"type": "RemoveEcho", "range": 16, "pod": "kv-2"}]
        plans[t + 2400] = [{"type": "ScaleIn", "pod": "kv-3"}, {"type": "Merge", "range": 1, "absorbedRange": 32}]
        scripted(s, plans)
        got = s.run()
        ref = self.sim(policy=policy)
        scripted(ref, plans)
        want = earlier_model(ref)
        same_measures(self, got, want)
        self.assertEqual((s.active, s.warm, s.ranges), (ref.active, ref.warm, ref.ranges))
        self.assertEqual(s.history_input(s.T1), ref.history_input(s.T1))
        self.assertEqual(got["actionLog"][0], {"type": "Promote", "range": None, "pod": "kv-3", "planned": t,
                                               "started": t, "finished": t})


@unittest.skipUnless(BINARY and os.access(BINARY, os.X_OK), "needs --binary (the shardcast binary)")
class PlannerOracleTest(unittest.TestCase):
    def test_true_future_promotes_before_the_surge_and_never_overloads(self):
        tr = ramp_trace()
        res = results(balanced_owners(tr), T0 + 2 * 3600, T0 + 14 * 3600, T0 + 3600)
        out = oracle.simulate(res, tr, BINARY, instant=True)
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

    def test_instant_equals_the_earlier_model_on_the_ramp(self):
        tr = ramp_trace()
        res = results(balanced_owners(tr), T0 + 2 * 3600, T0 + 14 * 3600, T0 + 3600)
        with tempfile.TemporaryDirectory() as d:
            want = earlier_model(oracle.Simulation(res, tr, BINARY, workdir=d))
        got = oracle.simulate(res, tr, BINARY, instant=True)
        same_measures(self, got, {k: v for k, v in want.items() if k != "promotions"})
        self.assertEqual([(p["t"], p["pod"]) for p in got["promotions"]],
                         [(p["t"], p["pod"]) for p in want["promotions"]])

    def test_timed_promotions_wait_for_the_startup_and_moves_for_their_limit(self):
        tr = ramp_trace()
        res = results(balanced_owners(tr), T0 + 2 * 3600, T0 + 14 * 3600, T0 + 3600)
        policy = demo_policy(maxConcurrentMigrations=2)
        out = oracle.simulate(res, tr, BINARY, policy=policy, pod_startup=600, move_seconds=240)
        self.assertEqual(out["durations"]["podStartupFrom"], "--pod-startup-seconds")
        promotes = [e for e in out["actionLog"] if e["type"] == "Promote"]
        self.assertGreaterEqual(len(promotes), 2)
        for e in promotes:
            self.assertEqual(e["finished"] - e["started"], 600)
        # a promotion counts from the end of its pod's start-up, 10 minutes or more after its plan
        self.assertEqual([p["t"] for p in out["promotions"]],
                         [e["finished"] for e in promotes if res["start"] <= e["finished"] <= res["end"]])
        self.assertTrue(all(e["finished"] - e["planned"] >= 600 for e in promotes))
        moves = [e for e in out["actionLog"] if e["type"] == "Move"]
        self.assertGreater(len(moves), 2)
        self.assertTrue(all(e["finished"] - e["started"] == 240 for e in moves))
        self.assertEqual(most_in_flight(out["actionLog"]), 2)
        self.assertLessEqual(out["planCalls"], (14 - 1) * 3)

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
