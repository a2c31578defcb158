#!/usr/bin/env python3
"""The demo's data-plane pieces start and do what the demo relies on (label
dataplane; real processes on loopback, no Kubernetes).

Two redis-server shards on free ports, a shardcast-router with a routing file
that gives the lower half of the key space to shard A and the upper half to
shard B, then:
  1. the load generator (hack/loadgen/loadgen.py) through the router at a set
     rate: it reaches the rate within 25 %, sees no error, and every key it
     wrote sits on the shard the router's hash sends it to (its key hash and
     ranges agree with the router's);
  2. with Zipf weights the hottest range gets more operations than the
     coldest;
  3. the control file changes its rate while it runs;
  4. the demo's redis-benchmark rounds (hack/demo/dataplane.py Bench) through
     the router record throughput and p99, and a round against a port where
     nothing listens is recorded with its error instead of stopping the demo,
     and so is an error reply (a reserved key: redis-benchmark stops at it).
Every wait is a condition with a deadline.

Usage: pieces_test.py --router PATH
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

SRC = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "hack", "loadgen"))
sys.path.insert(0, os.path.join(SRC, "hack", "demo"))
import dataplane  # noqa: E402
import loadgen  # noqa: E402

ROUTER = None
LOADGEN = os.path.join(SRC, "hack", "loadgen", "loadgen.py")
RANGES = 8


def wait_for(what, pred, timeout, period=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(period)  # polling interval of a condition wait
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def scan_keys(port):
    keys, cursor = [], b"0"
    while True:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
            s.sendall(loadgen.encode(b"SCAN", cursor, b"COUNT", b"1000"))
            f = s.makefile("rb")
            f.readline()  # *2
            n = int(f.readline()[1:])
            cursor = f.read(n + 2)[:-2]
            count = int(f.readline()[1:])
            for _ in range(count):
                n = int(f.readline()[1:])
                keys.append(f.read(n + 2)[:-2])
        if cursor == b"0":
            return keys


class PiecesTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="demo-pieces-")
        self.procs = []
        self.shards = []
        for name in ("a", "b"):
            port = dataplane.free_port()
            self.procs.append(subprocess.Popen(
                ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
                 "--dir", self.tmp, "--dbfilename", f"{name}.rdb"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            self.shards.append(port)
        for port in self.shards:
            wait_for(f"redis on {port}", lambda p=port: dataplane.redis_ping("127.0.0.1", p), 20)
        half = 2 ** 31
        doc = {"schemaVersion": 1, "shardSet": "kv", "epoch": 1, "hash": "fnv1a64-high32", "ranges": [
            {"id": 0, "start": 0, "end": half - 1, "owner": "a", "endpoint": f"127.0.0.1:{self.shards[0]}",
             "state": "stable", "source": None, "target": None, "shadowFraction": 0, "echoes": []},
            {"id": 1, "start": half, "end": 2 ** 32 - 1, "owner": "b", "endpoint": f"127.0.0.1:{self.shards[1]}",
             "state": "stable", "source": None, "target": None, "shadowFraction": 0, "echoes": []}]}
        path = os.path.join(self.tmp, "routing.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        self.port, mport = dataplane.free_port(), dataplane.free_port()
        self.router_log = open(os.path.join(self.tmp, "router.log"), "w")
        self.procs.append(subprocess.Popen(
            [ROUTER, "--routing-file", path, "--listen", f"127.0.0.1:{self.port}",
             "--metrics-bind-address", f"127.0.0.1:{mport}", "--threads", "1"],
            stdout=self.router_log, stderr=subprocess.STDOUT))
        wait_for("the router ready", lambda: dataplane.http_ok(f"http://127.0.0.1:{mport}/readyz"), 20)

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.router_log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def loadgen(self, *args, timeout=60):
        out = subprocess.run([sys.executable, LOADGEN, "--target", f"127.0.0.1:{self.port}", "--ranges",
                              str(RANGES), "--keys-per-range", "50", *args],
                             capture_output=True, text=True, timeout=timeout)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout

    def test_rate_keys_and_zipf(self):
        stats = os.path.join(self.tmp, "stats.json")
        print(self.loadgen("--rate", "2000", "--duration", "4", "--write-fraction", "0.5", "--zipf", "1.0",
                           "--stats", stats).strip())
        with open(stats) as f:
            st = json.load(f)
        rate = st["sent"] / st["elapsed"]
        self.assertGreater(rate, 1500, st)
        self.assertLess(rate, 2500, st)
        self.assertEqual(st["errors"], 0, st)
        self.assertEqual(st["connErrors"], 0, st)
        per = st["perRange"]
        self.assertEqual(len(per), RANGES)
        self.assertGreater(max(per), 2 * min(per), per)  # Zipf 1.0 over 8 ranges: ~8x
        # Ranges 0..3 are the lower half (shard a), 4..7 the upper (shard b).
        a, b = scan_keys(self.shards[0]), scan_keys(self.shards[1])
        self.assertGreater(len(a), 0)
        self.assertGreater(len(b), 0)
        for k in a:
            self.assertLess(loadgen.range_of(loadgen.key_hash(k), RANGES), 4, k)
        for k in b:
            self.assertGreaterEqual(loadgen.range_of(loadgen.key_hash(k), RANGES), 4, k)

    def test_control_file_changes_the_rate(self):
        ctl, stats = os.path.join(self.tmp, "ctl.json"), os.path.join(self.tmp, "stats.json")
        with open(ctl, "w") as f:
            json.dump({"rate": 0}, f)
        p = subprocess.Popen([sys.executable, LOADGEN, "--target", f"127.0.0.1:{self.port}", "--ranges",
                              str(RANGES), "--keys-per-range", "50", "--control", ctl, "--stats", stats,
                              "--stats-every", "0.5"], stdout=subprocess.PIPE, text=True)
        try:
            def sent():
                try:
                    with open(stats) as f:
                        return json.load(f)["sent"]
                except (OSError, ValueError):
                    return None
            wait_for("the first stats", lambda: sent() is not None, 20)
            self.assertEqual(sent(), 0)
            with open(ctl + ".tmp", "w") as f:
                json.dump({"rate": 1000, "weights": [1] * RANGES, "writeFraction": 1.0}, f)
            os.replace(ctl + ".tmp", ctl)
            wait_for("operations after the rate was raised", lambda: (sent() or 0) >= 500, 30)
        finally:
            p.send_signal(signal.SIGTERM)
            out, _ = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 0)
        self.assertIn("errors 0", out)

    def test_bench_rounds_and_errors(self):
        b = dataplane.Bench("127.0.0.1", self.port, 300, 2, 0.1, os.path.join(self.tmp, "bench.log"))
        b.start()
        try:
            wait_for("two redis-benchmark rounds", lambda: len(b.rounds) >= 2, 60)
        finally:
            b.stop()
        r = b.rounds[0]
        self.assertIsNone(r["error"], r)
        self.assertEqual(r["ops"], 600)
        self.assertGreater(r["rps"], 0)
        self.assertGreater(r["p99"], 0)
        dead = dataplane.Bench("127.0.0.1", dataplane.free_port(), 300, 2, 0.1, os.path.join(self.tmp, "dead.log"),
                               round_timeout=5)
        dead.start()
        try:
            wait_for("a failed round", lambda: len(dead.rounds) >= 1, 30)
        finally:
            dead.stop()
        self.assertIsNotNone(dead.rounds[0]["error"])
        # Shard a gone: the router answers its keys with an error reply.
        self.procs[0].kill()
        self.procs[0].wait()
        down = dataplane.Bench("127.0.0.1", self.port, 300, 2, 0.1, os.path.join(self.tmp, "down.log"),
                               round_timeout=20)
        down.start()
        try:
            wait_for("a round ended by an error reply", lambda: len(down.rounds) >= 1, 40)
        finally:
            down.stop()
        self.assertIsNotNone(down.rounds[0]["error"])
        print(f"bench: {r['rps']:.0f} ops/s, p99 {r['p99']} ms; dead port: {dead.rounds[0]['error']}; "
              f"shard down: {down.rounds[0]['error']}")


def main():
    global ROUTER
    ap = argparse.ArgumentParser()
    ap.add_argument("--router", required=True)
    args, rest = ap.parse_known_args()
    ROUTER = args.router
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
