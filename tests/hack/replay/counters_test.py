#!/usr/bin/env python3
"""Unit tests of the replay driver's range counters (hack/replay/run.py:
CounterServers and Runner.count_requests). No cluster, no sockets.

  python3 tests/hack/replay/counters_test.py
"""
import os
import random
import sys
import types
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "hack", "replay"))
import run  # noqa: E402


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def pod(name, ip):
    return {"metadata": {"name": name}, "status": {"podIP": ip, "phase": "Running"}}


class Driver:
    """Runner.count_requests on its own: an arm and the counter pages, with
    `ensure` a no-op (no endpoint is bound)."""

    def __init__(self, clock):
        self.counter_servers = run.CounterServers(9090, "/metrics", clock)
        self.counter_servers.ensure = lambda ip: None
        self.arm = types.SimpleNamespace(counters={}, rates={}, counter_t=None)

    def tick(self, t, served, pods):
        run.Runner.count_requests(self, self.arm, t, served, pods)


class CounterTest(unittest.TestCase):
    def test_counters_grow_between_ticks(self):
        clock = Clock()
        d = Driver(clock)
        d.tick(0.0, {"kv-0": {3: 50.0}}, [pod("kv-0", "127.0.0.2")])
        rate = 50.0 * run.RPS_PER_MILLI
        for t in (0.0, 30.0, 119.0):
            clock.t = t
            self.assertAlmostEqual(d.counter_servers.read("127.0.0.2")[3], rate * t)
        clock.t = 120.0
        d.tick(120.0, {"kv-0": {3: 100.0}}, [pod("kv-0", "127.0.0.2")])
        clock.t = 180.0
        self.assertAlmostEqual(d.counter_servers.read("127.0.0.2")[3], rate * 120 + 2 * rate * 60)
        self.assertEqual(d.counter_servers.read("127.0.0.9"), {})

    def test_scrapes_out_of_step_with_the_ticks_read_the_load(self):
        # One tick and one scrape per 120 trace seconds, with jitter: each
        # scrape's rate is the load, not 0x, 1x or 2x of it.
        rng = random.Random(7)
        clock = Clock()
        d = Driver(clock)
        pods = [pod("kv-0", "127.0.0.2"), pod("kv-1", "127.0.0.3")]
        served = {"kv-0": {0: 40.0, 1: 10.0}, "kv-1": {2: 25.0}}
        last = None
        rates = []
        ticks = [120.0 * k + rng.uniform(-3, 3) for k in range(201)]
        for k in range(200):
            clock.t = ticks[k]
            d.tick(clock.t, served, pods)
            clock.t = rng.uniform(ticks[k], ticks[k + 1])
            now = (clock.t, d.counter_servers.read("127.0.0.2"))
            if last is not None and now[0] > last[0]:
                rates.append((now[1][0] - last[1][0]) / (now[0] - last[0]))
            last = now
        self.assertGreater(len(rates), 150)
        for r in rates:
            self.assertAlmostEqual(r, 40.0 * run.RPS_PER_MILLI, delta=1e-6)

    def test_a_counter_never_reads_less_than_before(self):
        clock = Clock()
        d = Driver(clock)
        p = [pod("kv-0", "127.0.0.2")]
        d.tick(0.0, {"kv-0": {1: 10.0}}, p)
        clock.t = 150.0  # read after the next tick was due, before it came
        seen = d.counter_servers.read("127.0.0.2")[1]
        d.tick(120.0, {"kv-0": {1: 0.0}}, p)
        clock.t = 125.0
        self.assertGreaterEqual(d.counter_servers.read("127.0.0.2")[1], seen)
        self.assertGreaterEqual(d.arm.counters["kv-0"][1], seen)

    def test_another_pod_on_the_ip_starts_from_its_own_counters(self):
        clock = Clock()
        d = Driver(clock)
        d.tick(0.0, {"kv-0": {1: 10.0}}, [pod("kv-0", "127.0.0.2")])
        clock.t = 100.0
        self.assertGreater(d.counter_servers.read("127.0.0.2")[1], 0)
        d.tick(120.0, {"kv-5": {4: 10.0}}, [pod("kv-5", "127.0.0.2")])
        self.assertEqual(d.counter_servers.read("127.0.0.2"), {4: 0.0})
        self.assertNotIn("kv-0", d.arm.counters)
        self.assertNotIn("kv-0", d.arm.rates)


if __name__ == "__main__":
    unittest.main()
