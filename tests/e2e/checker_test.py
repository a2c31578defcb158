#!/usr/bin/env python3
"""The consistency checker (tests/support/checker.py) against a real redis-server.

Shows that the checker passes a clean run and that it catches what it must:
a deleted key and a key rolled back to an older value are lost writes, and a
read below the acknowledged sequence is a stale read.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import checker  # noqa: E402
from testlib import free_port, wait_for  # noqa: E402


class CheckerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="shardcast-checker-")
        cls.port = free_port()
        cls.proc = subprocess.Popen(
            ["redis-server", "--port", str(cls.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", cls.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cls.r = redis.Redis(port=cls.port)

        def up():
            try:
                return cls.r.ping()
            except redis.RedisError:
                return False
        wait_for("redis-server", up, 20, every=0.05)

    @classmethod
    def tearDownClass(cls):
        cls.proc.kill()
        cls.proc.wait()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def run_checker(self, prefix):
        c = checker.Checker("127.0.0.1:%d" % self.port, keys=200, workers=3, prefix=prefix).start()
        wait_for("3000 acknowledged writes", lambda: c.summary_stats()["acked"] >= 3000, 60, every=0.05)
        c.stop()
        return c

    def test_clean_run_has_no_lost_write(self):
        c = self.run_checker("clean")
        s = c.summary_stats()
        self.assertEqual(s["errors"], 0, s["errorExamples"])
        self.assertEqual(s["staleReads"], 0)
        self.assertGreater(s["reads"], 0)
        res = c.verify()
        self.assertEqual(res["lost"], 0, res)
        self.assertEqual(res["checked"], 200)

    def test_deleted_and_rolled_back_keys_are_lost_writes(self):
        c = self.run_checker("loss")
        self.r.delete("loss:0", "loss:1")
        acked = c.state["loss:2"].acked
        self.assertGreater(acked, 1)
        self.r.set("loss:2", "0:%d" % (acked - 1))  # an older value of the same worker
        res = c.verify()
        self.assertEqual(res["lost"], 3, res)
        self.assertEqual({e["key"] for e in res["lostExamples"]}, {"loss:0", "loss:1", "loss:2"})

    def test_read_below_the_acknowledged_write_is_stale(self):
        c = checker.Checker("127.0.0.1:%d" % self.port, keys=1, workers=1, prefix="stale")
        st = c.state["stale:0"]
        st.acked = 5
        self.r.set("stale:0", "0:4")
        c.read_check(c.client(), "stale:0", st)
        self.assertEqual(c.summary_stats()["staleReads"], 1)
        self.r.set("stale:0", "0:5")
        c.read_check(c.client(), "stale:0", st)
        self.assertEqual(c.summary_stats()["staleReads"], 1)

    def test_cli_run_and_verify(self):
        state = os.path.join(self.dir, "state.json")
        ep = "127.0.0.1:%d" % self.port
        tool = os.path.join(os.path.dirname(checker.__file__), "checker.py")
        out = subprocess.run([sys.executable, tool, "run", "--endpoint", ep, "--keys", "50",
                              "--workers", "2", "--seconds", "1", "--prefix", "cli", "--out", state],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("checker: ", out.stdout)
        ok = subprocess.run([sys.executable, tool, "verify", "--endpoint", ep, "--state", state],
                            capture_output=True, text=True, timeout=60)
        self.assertEqual(ok.returncode, 0, ok.stdout + ok.stderr)
        self.r.delete("cli:0")
        bad = subprocess.run([sys.executable, tool, "verify", "--endpoint", ep, "--state", state],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(bad.returncode, 1, bad.stdout)
        self.assertIn('"lost": 1', bad.stdout)


if __name__ == "__main__":
    unittest.main()
