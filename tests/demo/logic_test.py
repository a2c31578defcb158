#!/usr/bin/env python3
"""Pure parts of the demo's data plane (label unit): the load generator's key
hash and ranges, its RESP reply reading, redis-benchmark's round parsing and
the summary's before/during-moves split."""
import os
import socket
import sys
import unittest

SRC = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "hack", "loadgen"))
sys.path.insert(0, os.path.join(SRC, "hack", "demo"))
import dataplane  # noqa: E402
import loadgen  # noqa: E402


class LoadgenTest(unittest.TestCase):
    def test_key_hash_is_fnv1a64_high32(self):
        # FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c; of "" the offset basis.
        self.assertEqual(loadgen.key_hash(b"a"), 0xAF63DC4C)
        self.assertEqual(loadgen.key_hash(b""), 0xCBF29CE4)

    def test_range_of_equal_split(self):
        self.assertEqual(loadgen.range_of(0, 32), 0)
        self.assertEqual(loadgen.range_of(2 ** 27 - 1, 32), 0)
        self.assertEqual(loadgen.range_of(2 ** 27, 32), 1)
        self.assertEqual(loadgen.range_of(2 ** 32 - 1, 32), 31)
        self.assertEqual(loadgen.range_of(2 ** 32 // 3, 3), 1)

    def test_key_pools_hold_their_ranges_keys(self):
        pools = loadgen.key_pools(8, 5)
        for r, keys in enumerate(pools):
            self.assertEqual(len(keys), 5)
            for k in keys:
                self.assertEqual(loadgen.range_of(loadgen.key_hash(k), 8), r)

    def test_zipf_weights(self):
        w = loadgen.zipf(32, 0.7, 7)
        self.assertAlmostEqual(sum(w), 1.0)
        self.assertGreater(max(w), 5 * min(w))

    def test_replies_and_errors(self):
        a, b = socket.socketpair()
        try:
            c = loadgen.Conn.__new__(loadgen.Conn)
            c.sock, c.buf, c.pos = a, b"", 0
            b.sendall(b"+OK\r\n$3\r\nabc\r\n$-1\r\n-MOVED 3 1.2.3.4:5\r\n*2\r\n:1\r\n-ERR x\r\n")
            self.assertEqual(c.run(b"", 0), [])
            self.assertIsNone(c.reply())
            self.assertIsNone(c.reply())
            self.assertIsNone(c.reply())
            self.assertEqual(c.reply(), b"MOVED 3 1.2.3.4:5")
            self.assertEqual(c.reply(), b"ERR x")
        finally:
            a.close()
            b.close()

    def test_bad_flags_name_the_flag(self):
        with self.assertRaises(SystemExit):
            loadgen.parse_args(["--target", "nohostport"])
        with self.assertRaises(SystemExit):
            loadgen.parse_args(["--target", "127.0.0.1:1", "--write-fraction", "2"])


class BenchParseTest(unittest.TestCase):
    def bench(self):
        return dataplane.Bench("127.0.0.1", 1, 1000, 2, 1.0, os.devnull)

    def test_a_good_round(self):
        out = ('"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",'
               '"p99_latency_ms","max_latency_ms"\n'
               '"SET","801.28","2.473","0.088","0.183","14.519","39.967","67.967"\n'
               '"GET","1571.09","1.259","0.048","0.135","7.983","18.623","25.679"\n')
        r = self.bench().parse(10.0, 12.0, 0, out, "WARNING: Could not fetch server CONFIG\n")
        self.assertIsNone(r["error"])
        self.assertEqual(r["ops"], 2000)
        self.assertAlmostEqual(r["rps"], 1000.0)
        self.assertAlmostEqual(r["p99"], 39.967)

    def test_a_round_ended_by_an_error(self):
        out = '"test","rps"\n'
        err = "WARNING: Could not fetch server CONFIG\nError from server: ERR shardcast: shard down\n"
        r = self.bench().parse(10.0, 10.5, 1, out, err)
        self.assertEqual(r["error"], "Error from server: ERR shardcast: shard down")
        self.assertEqual(r["ops"], 0)


class ClassifyTest(unittest.TestCase):
    def test_before_during_after(self):
        import run
        rounds = [{"start": 0, "end": 2}, {"start": 3, "end": 5}, {"start": 9, "end": 11},
                  {"start": 20, "end": 22}]
        c = run.classify(rounds, [[4, 10]])
        self.assertEqual(c["before moves"], rounds[:1])
        self.assertEqual(c["during moves"], rounds[1:3])
        self.assertEqual(c["between/after moves"], rounds[3:])
        self.assertEqual(run.classify(rounds, [])["before moves"], rounds)


class CalibrationTest(unittest.TestCase):
    def test_reused_calibration_and_its_errors(self):
        import json
        import tempfile

        import run
        with tempfile.TemporaryDirectory() as d:
            good = os.path.join(d, "good.json")
            with open(good, "w") as f:
                json.dump({"dataPlane": {"calibration": {"idleMillis": 62.5, "opsPerMilli": 29.3,
                                                         "rate": 3999}}}, f)
            cal = run.read_calibration(good)
            self.assertEqual((cal["idleMillis"], cal["opsPerMilli"], cal["reusedFrom"]), (62.5, 29.3, good))
            for name, body in [("none.json", {"arms": {}}),
                               ("zero.json", {"dataPlane": {"calibration": {"idleMillis": 1, "opsPerMilli": 0}}}),
                               ("text.json", "not json")]:
                p = os.path.join(d, name)
                with open(p, "w") as f:
                    f.write(body if isinstance(body, str) else json.dumps(body))
                with self.assertRaises(SystemExit) as e:
                    run.read_calibration(p)
                self.assertIn(p, str(e.exception))
                self.assertIn("opsPerMilli", str(e.exception))


class CopiedTest(unittest.TestCase):
    METRICS = """# HELP shardcast_agent_bytes_copied_total MEMORY USAGE of the keys moved or copied, by kind.
# TYPE shardcast_agent_bytes_copied_total counter
shardcast_agent_bytes_copied_total{kind="move"} 2048
shardcast_agent_bytes_copied_total{kind="echo-fill"} 1.5e3
shardcast_agent_keys_copied_total{kind="move"} 20
shardcast_agent_copy_batches_total{kind="move"} 3
shardcast_agent_keys_copied_total{kind="abort"} nonsense
"""

    def test_parse_reads_the_copy_counters_only(self):
        got = dataplane.parse_copied(self.METRICS)
        self.assertEqual(got, {("bytes", "move"): 2048.0, ("bytes", "echo-fill"): 1500.0,
                               ("keys", "move"): 20.0})
        self.assertEqual(dataplane.parse_copied(""), {})

    def test_tally_keeps_gone_pods_and_banks_restarts(self):
        t = dataplane.CopiedTally()
        t.update("kv-0", {("bytes", "move"): 100.0, ("keys", "move"): 1.0})
        t.update("kv-1", {("bytes", "move"): 50.0})
        t.update("kv-0", {("bytes", "move"): 300.0, ("keys", "move"): 3.0})  # counts on
        # kv-1 is deleted (scale-in): it is not scraped again and keeps its 50.
        self.assertEqual(t.totals(), {"bytes": {"move": 350.0}, "keys": {"move": 3.0}})
        # kv-0's agent restarted: its counters start again from 0.
        t.update("kv-0", {("bytes", "move"): 10.0, ("bytes", "echo-fill"): 7.0})
        self.assertEqual(t.totals(), {"bytes": {"move": 360.0, "echo-fill": 7.0}, "keys": {"move": 3.0}})


if __name__ == "__main__":
    unittest.main(verbosity=1)
