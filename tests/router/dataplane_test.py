#!/usr/bin/env python3
"""Data-plane tests of shardcast-router against real redis-server processes.

Each test starts redis-server shards on free loopback ports in a temp dir,
writes a routing document, starts the router, and drives it with redis-cli,
redis-benchmark and the Python redis package. Moves are made by hand the way
docs/dataplane-protocol.md says: markers, then MIGRATE key by key, then
cutover markers, then a routing document with a newer epoch.

Usage: dataplane_test.py --router PATH [unittest args]
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
import threading
import time
import unittest

import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from testlib import free_port, key_hash  # noqa: E402

ROUTER = None
RANGES = 8


def range_of(key, n=RANGES):
    h = key_hash(key)
    for i in range(n):
        if ((i << 32) // n) <= h <= (((i + 1) << 32) // n) - 1:
            return i
    raise AssertionError(key)


def keys_in_range(r, count, prefix="k"):
    out, i = [], 0
    while len(out) < count:
        k = "%s:%d" % (prefix, i)
        if range_of(k) == r:
            out.append(k)
        i += 1
    return out


def wait_for(cond, what, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


class Cluster:
    """N redis shards and one router with a routing file."""

    def __init__(self, shards=3, owners=None, router_args=()):
        self.dir = tempfile.mkdtemp(prefix="shardcast-dataplane-")
        self.procs = []
        self.ports = [free_port() for _ in range(shards)]
        for p in self.ports:
            self.procs.append(subprocess.Popen(
                ["redis-server", "--port", str(p), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", self.dir, "--logfile",
                 os.path.join(self.dir, "redis-%d.log" % p)]))
        self.shard = [redis.Redis(port=p, decode_responses=True) for p in self.ports]
        for s in self.shard:
            wait_for(lambda s=s: self._ping(s), "redis-server")
        self.owners = owners or [i % 2 for i in range(RANGES)]
        self.shadows = {}  # range -> (target shard, fraction)
        self.echoes = {}  # range -> [echo shard, ...]
        self.epoch = 0
        self.path = os.path.join(self.dir, "routing.json")
        self.publish()
        self.port = free_port()
        self.metrics_port = free_port()
        self.log = open(os.path.join(self.dir, "router.log"), "w")
        self.router = subprocess.Popen(
            [ROUTER, "--listen", "127.0.0.1:%d" % self.port, "--routing-file", self.path,
             "--metrics-bind-address", "127.0.0.1:%d" % self.metrics_port, "--threads", "2",
             "--request-timeout-ms", "3000"] + list(router_args), stdout=self.log,
            stderr=subprocess.STDOUT)
        self.procs.append(self.router)
        self.client = redis.Redis(port=self.port, decode_responses=True)
        wait_for(lambda: self._ping(self.client), "router")

    @staticmethod
    def _ping(c):
        try:
            return c.ping()
        except redis.exceptions.ConnectionError:
            return False

    def endpoint(self, shard):
        return "127.0.0.1:%d" % self.ports[shard]

    def publish(self):
        """Writes the routing document with epoch+1 (atomic rename)."""
        self.epoch += 1
        n = len(self.owners)
        ranges = []
        for i, o in enumerate(self.owners):
            ranges.append({"id": i, "start": (i << 32) // n, "end": ((i + 1) << 32) // n - 1,
                           "owner": "kv-%d" % o, "endpoint": self.endpoint(o),
                           "state": "stable", "source": None, "target": None,
                           "shadowFraction": 0,
                           "echoes": [{"pod": "kv-%d" % e, "endpoint": self.endpoint(e)}
                                      for e in self.echoes.get(i, [])]})
            if i in self.shadows:
                t, frac = self.shadows[i]
                ranges[-1].update(state="shadow", source="kv-%d" % o, target="kv-%d" % t,
                                  targetEndpoint=self.endpoint(t), shadowFraction=frac)
        doc = {"schemaVersion": 1, "shardSet": "kv", "epoch": self.epoch,
               "hash": "fnv1a64-high32", "ranges": ranges}
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.rename(tmp, self.path)

    def router_epoch(self):
        info = self.client.execute_command("INFO")
        return int(info["routing_epoch"]) if isinstance(info, dict) else -1

    def marker(self, shard, r, value):
        key = "__shardcast:range:%d" % r
        if value is None:
            self.shard[shard].delete(key)
        else:
            self.shard[shard].set(key, value)

    def range_keys(self, shard, r):
        return [k for k in self.shard[shard].scan_iter(count=1000)
                if not k.startswith("__shardcast:") and range_of(k) == r]

    def migrate(self, src, dst, key):
        return self.shard[src].execute_command(
            "MIGRATE", "127.0.0.1", self.ports[dst], "", 0, 5000, "KEYS", key)

    def move_range(self, r, src, dst, between=None):
        """The protocol's prepare, copy (key by key) and cutover, by hand."""
        self.marker(dst, r, "importing %d %s" % (self.epoch, self.endpoint(src)))
        self.marker(src, r, "migrating %d %s" % (self.epoch, self.endpoint(dst)))
        for _ in range(100):
            keys = self.range_keys(src, r)
            if not keys:
                break
            for k in keys:
                self.migrate(src, dst, k)
                if between:
                    between()
        self.marker(dst, r, None)
        self.marker(src, r, "gone %d %s" % (self.epoch + 1, self.endpoint(dst)))

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        self.log.close()
        if os.environ.get("SHARDCAST_KEEP_TMP"):
            print("kept", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


class DataplaneTest(unittest.TestCase):
    def setUp(self):
        self.c = Cluster()

    def tearDown(self):
        self.c.close()

    def test_commands_through_the_router(self):
        c = self.c.client
        self.assertTrue(c.set("foo", "bar"))
        self.assertEqual(c.get("foo"), "bar")
        self.assertTrue(c.mset({"a": "1", "b": "2", "c": "3"}))
        self.assertEqual(c.mget(["a", "b", "nope", "c"]), ["1", "2", None, "3"])
        self.assertEqual(c.exists("a", "b", "nope"), 2)
        self.assertEqual(c.delete("a", "b", "nope"), 2)
        self.assertEqual(c.hset("h", mapping={"x": "1", "y": "2"}), 2)
        self.assertEqual(c.hgetall("h"), {"x": "1", "y": "2"})
        self.assertEqual(c.rpush("l", "1", "2", "3"), 3)
        self.assertEqual(c.lrange("l", 0, -1), ["1", "2", "3"])
        self.assertEqual(c.sadd("s", "m1", "m2"), 2)
        self.assertEqual(c.smembers("s"), {"m1", "m2"})
        self.assertEqual(c.zadd("z", {"a": 1, "b": 2}), 2)
        self.assertEqual(c.zrange("z", 0, -1, withscores=True), [("a", 1.0), ("b", 2.0)])
        self.assertEqual(c.incr("n"), 1)
        # Keys really live on the shard that owns their range.
        owner = self.c.owners[range_of("foo")]
        self.assertEqual(self.c.shard[owner].get("foo"), "bar")
        for cmd, err in [(("KEYS", "*"), "KEYS is not supported"),
                         (("SUBSCRIBE", "ch"), "Pub/Sub"),
                         (("MULTI",), "transactions"),
                         (("EVAL", "return 1", "0"), "scripts"),
                         (("GET", "__shardcast:range:1"), "reserved"),
                         (("SELECT", "1"), "only database 0")]:
            with self.assertRaises(redis.exceptions.ResponseError) as e:
                c.execute_command(*cmd)
            self.assertIn(err, str(e.exception))
        out = subprocess.run(["redis-cli", "-p", str(self.c.port), "GET", "foo"],
                             capture_output=True, text=True, timeout=10)
        self.assertEqual(out.stdout.strip(), "bar")
        # RESP3 after HELLO 3 (redis-py 4.3 speaks RESP2 only: a raw socket).
        s = socket.create_connection(("127.0.0.1", self.c.port), timeout=5)
        s.sendall(b"HELLO 3\r\nGET nope\r\nGET foo\r\n")
        data = b""
        while not data.endswith(b"$3\r\nbar\r\n"):
            chunk = s.recv(4096)
            self.assertTrue(chunk, data)
            data += chunk
        self.assertTrue(data.startswith(b"%7\r\n"), data)
        self.assertIn(b"$5\r\nproto\r\n:3\r\n", data)
        self.assertIn(b"\r\n_\r\n$3\r\nbar\r\n", data)  # RESP3 null, then the value
        s.close()

    def metrics(self):
        import urllib.request
        url = "http://127.0.0.1:%d/metrics" % self.c.metrics_port
        return urllib.request.urlopen(url, timeout=5).read().decode()

    def shadow_count(self, r, result):
        needle = 'shardcast_router_shadow_comparisons_total{range="%d",result="%s"} ' % (r, result)
        for line in self.metrics().splitlines():
            if line.startswith(needle):
                return float(line.split()[-1])
        return 0.0

    def test_shadow_reads_are_mirrored_and_compared(self):
        r = 6
        k = keys_in_range(r, 1)[0]
        self.c.client.set(k, "v")
        self.c.shadows[r] = (2, 1.0)
        self.c.publish()
        wait_for(lambda: self.c.router_epoch() == 2, "router to apply epoch 2")
        for _ in range(10):
            self.assertEqual(self.c.client.get(k), "v")  # the owner's answer
        wait_for(lambda: self.shadow_count(r, "mismatch") == 10, "10 mismatches")
        self.c.shard[2].set(k, "v")  # the target now holds the same value
        for _ in range(5):
            self.assertEqual(self.c.client.get(k), "v")
        wait_for(lambda: self.shadow_count(r, "match") == 5, "5 matches")
        self.assertIn('shardcast_router_shadow_latency_seconds_count{range="%d",side="target"} 15'
                      % r, self.metrics())

    def test_garbage_gets_an_error_and_a_closed_connection(self):
        s = socket.create_connection(("127.0.0.1", self.c.port), timeout=5)
        s.sendall(b"*1\r\n:nonsense\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        self.assertTrue(data.startswith(b"-ERR Protocol error"), data)
        s.close()
        self.assertTrue(self.c.client.ping())  # the router lives on

    def test_write_to_a_range_given_away_is_retried_on_the_new_owner(self):
        r = 3
        src = self.c.owners[r]
        dst = 2
        keys = keys_in_range(r, 20)
        for k in keys:
            self.c.client.set(k, "v1")
        self.c.move_range(r, src, dst)
        # The routing file still says src owns r (epoch 1); src answers MOVED.
        self.assertEqual(self.c.epoch, 1)
        for k in keys:
            self.assertTrue(self.c.client.set(k, "v2"))
            self.assertEqual(self.c.client.get(k), "v2")
        self.assertEqual(self.c.range_keys(src, r), [])
        self.assertEqual(sorted(self.c.range_keys(dst, r)), sorted(keys))
        for k in keys_in_range(r, 5, prefix="new"):
            self.assertTrue(self.c.client.set(k, "n"))
            self.assertIsNone(self.c.shard[src].get(k))
            self.assertEqual(self.c.shard[dst].get(k), "n")

    def test_keys_moved_mid_migrate_are_never_lost_or_doubled(self):
        r = 5
        src = self.c.owners[r]
        dst = 2
        keys = keys_in_range(r, 40)
        acked = {k: 0 for k in keys}
        for k in keys[:30]:  # 10 keys are created during the move
            self.c.client.incr(k)
            acked[k] += 1
        stop = threading.Event()
        errors = []

        def writer():
            c = redis.Redis(port=self.c.port, decode_responses=True)
            i = 0
            while not stop.is_set():
                k = keys[i % len(keys)]
                i += 1
                try:
                    v = c.incr(k)
                    acked[k] += 1
                    if v != acked[k]:
                        errors.append("%s: INCR returned %d, %d acknowledged" % (k, v, acked[k]))
                        return
                    got = int(c.get(k))
                    if got != acked[k]:
                        errors.append("%s: GET %d after %d acknowledged" % (k, got, acked[k]))
                        return
                except redis.exceptions.ResponseError as e:
                    errors.append("%s: %s" % (k, e))
                    return

        t = threading.Thread(target=writer)
        t.start()
        wait_for(lambda: sum(acked.values()) > 100, "writes before the move")
        moved = []

        def between():
            moved.append(1)
            time.sleep(0.002)  # interleave with the writer

        self.c.move_range(r, src, dst, between)
        self.c.owners[r] = dst
        self.c.publish()
        wait_for(lambda: self.c.router_epoch() == 2, "router to apply epoch 2")
        n = sum(acked.values())
        wait_for(lambda: sum(acked.values()) > n + 50, "writes after the cutover")
        stop.set()
        t.join(timeout=30)
        self.assertEqual(errors, [])
        self.assertGreater(len(moved), 20)
        for k in keys:
            on_src = self.c.shard[src].get(k)
            on_dst = self.c.shard[dst].get(k)
            self.assertIsNone(on_src, k)  # never doubled
            self.assertEqual(int(on_dst), acked[k], k)  # never lost

    def test_pipelined_writes_to_a_range_given_away_are_retried_on_the_new_owner(self):
        r = 3
        src = self.c.owners[r]
        dst = 2
        moving = keys_in_range(r, 20)
        staying = keys_in_range(5, 20)  # another range of the same source shard
        self.assertEqual(self.c.owners[5], src)
        self.c.move_range(r, src, dst)
        self.assertEqual(self.c.epoch, 1)  # the router still routes r to src
        # One pipeline: the router batches these per shard, so the source
        # sees commands of the range it gave away beside ones it still owns.
        p = self.c.client.pipeline(transaction=False)
        for a, b in zip(moving, staying):
            p.set(a, "v-" + a)
            p.set(b, "v-" + b)
            p.get(a)
        out = p.execute()
        self.assertEqual(out, [x for a in moving for x in (True, True, "v-" + a)])
        self.assertEqual(self.c.range_keys(src, r), [])
        self.assertEqual(sorted(self.c.range_keys(dst, r)), sorted(moving))
        self.assertEqual(sorted(self.c.range_keys(src, 5)), sorted(staying))

    def test_pipelined_keys_moved_mid_migrate_are_never_lost_or_doubled(self):
        r = 5
        src = self.c.owners[r]
        dst = 2
        keys = keys_in_range(r, 24) + keys_in_range(7, 8, prefix="o")
        acked = {k: 0 for k in keys}
        stop = threading.Event()
        errors = []

        def writer(offset):
            c = redis.Redis(port=self.c.port, decode_responses=True)
            i = offset
            while not stop.is_set():
                batch = [keys[(i + j) % len(keys)] for j in range(16)]
                i += 16
                p = c.pipeline(transaction=False)
                for k in batch:
                    p.incr(k)
                try:
                    out = p.execute()
                except redis.exceptions.ResponseError as e:
                    errors.append(str(e))
                    return
                for k, v in zip(batch, out):
                    acked[k] += 1
                    if v != acked[k]:
                        errors.append("%s: INCR returned %s, %d acknowledged" % (k, v, acked[k]))
                        return

        # One writer: INCR results are checked against its own count.
        t = threading.Thread(target=writer, args=(0,))
        t.start()
        wait_for(lambda: sum(acked.values()) > 200, "writes before the move")
        moved = []

        def between():
            moved.append(1)
            time.sleep(0.002)

        self.c.move_range(r, src, dst, between)
        self.c.owners[r] = dst
        self.c.publish()
        wait_for(lambda: self.c.router_epoch() == 2, "router to apply epoch 2")
        n = sum(acked.values())
        wait_for(lambda: sum(acked.values()) > n + 200, "writes after the cutover")
        stop.set()
        t.join(timeout=30)
        self.assertEqual(errors, [])
        self.assertGreater(len(moved), 20)
        for k in keys:
            owner = self.c.owners[range_of(k)]
            other = src if owner == dst else dst
            self.assertIsNone(self.c.shard[other].get(k), k)  # never doubled
            self.assertEqual(int(self.c.shard[owner].get(k)), acked[k], k)  # never lost

    def test_routing_change_under_redis_benchmark_load(self):
        r = 1
        src = self.c.owners[r]
        dst = 2
        bench = subprocess.Popen(
            ["redis-benchmark", "-p", str(self.c.port), "-c", "20", "-n", "300000", "-r",
             "5000", "-t", "set,get", "-P", "4", "-q"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: self.c.shard[src].dbsize() > 500, "benchmark load")
        self.c.move_range(r, src, dst)
        self.c.owners[r] = dst
        self.c.publish()
        wait_for(lambda: self.c.router_epoch() == 2, "router to apply epoch 2")
        self.assertIsNone(bench.poll(), "the move must happen under load")
        # Then move it back while the load goes on.
        self.c.move_range(r, dst, src)
        self.c.marker(src, r, None)
        self.c.owners[r] = src
        self.c.publish()
        out, err = bench.communicate(timeout=110)
        self.assertEqual(bench.returncode, 0, err)
        self.assertNotIn("Error from server", out + err)
        self.assertIn("requests per second", out)
        self.assertEqual(self.c.router_epoch(), 3)
        metrics = subprocess.run(
            ["python3", "-c", "import urllib.request,sys;sys.stdout.write(urllib.request."
             "urlopen('http://127.0.0.1:%d/metrics').read().decode())" % self.c.metrics_port],
            capture_output=True, text=True, timeout=10).stdout
        self.assertIn('shardcast_router_range_requests_total{range="1",kind="write"}', metrics)
        self.assertIn("shardcast_router_range_latency_seconds_bucket", metrics)


class LoadFactorsTest(unittest.TestCase):
    """Reads of a range with one echo follow the published load factors
    (--loads-file): counted in each shard's INFO commandstats."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="shardcast-loads-")
        self.loads = os.path.join(self.dir, "loads.json")
        self.c = Cluster(shards=2, router_args=["--loads-file", self.loads])

    def tearDown(self):
        self.c.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def write_loads(self, text):
        tmp = self.loads + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, self.loads)

    def evalsha_calls(self, shard):
        stats = self.c.shard[shard].info("commandstats")
        return stats.get("cmdstat_evalsha", {}).get("calls", 0)

    def reads(self, key, n):
        """n GETs through the router; returns (owner calls, echo calls)."""
        for s in self.c.shard:
            s.config_resetstat()
        for _ in range(n):
            self.assertEqual(self.c.client.get(key), "v")
        return self.evalsha_calls(0), self.evalsha_calls(1)

    def router_log(self):
        with open(os.path.join(self.c.dir, "router.log")) as f:
            return f.read()

    def test_reads_shift_toward_the_pod_with_the_lower_factor(self):
        r = 3
        self.c.owners = [0] * RANGES  # kv-0 owns every range; kv-1 echoes range 3
        self.c.echoes[r] = [1]
        self.c.publish()
        wait_for(lambda: self.c.router_epoch() == 2, "router to apply epoch 2")
        key = keys_in_range(r, 1)[0]
        self.c.shard[0].set(key, "v")
        self.c.shard[1].set(key, "v")
        self.c.marker(1, r, "echo 2 %s" % self.c.endpoint(0))
        # No loads file: every pod counts 1, ties go to the owner.
        owner, echo = self.reads(key, 200)
        self.assertEqual((owner, echo), (200, 0))
        # Owner 4, echo 0.25: reads go to the echo.
        self.write_loads('{"generatedAt": "2026-12-02T10:00:00Z", '
                         '"pods": {"kv-0": 4.0, "kv-1": 0.25}}')
        wait_for(lambda: self.reads(key, 5)[1] > 0, "reads to reach the echo")
        owner, echo = self.reads(key, 200)
        self.assertGreaterEqual(echo, 190, (owner, echo))
        self.assertEqual(owner + echo, 200)
        # An invalid document is logged with its field; the last good factors stay.
        self.write_loads('{"pods": {"kv-0": "busy"}}')
        wait_for(lambda: 'pods["kv-0"]: must be a number' in self.router_log(),
                 "the rejection in the router's log")
        owner, echo = self.reads(key, 100)
        self.assertGreaterEqual(echo, 95, (owner, echo))
        # Reversed factors: reads go back to the owner.
        self.write_loads('{"pods": {"kv-0": 0.25, "kv-1": 4.0}}')
        wait_for(lambda: self.reads(key, 5)[0] == 5, "reads to return to the owner")
        owner, echo = self.reads(key, 200)
        self.assertGreaterEqual(owner, 190, (owner, echo))


def shard_script():
    """The ```lua block of docs/dataplane-protocol.md (the router's canonical copy)."""
    doc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                       "dataplane-protocol.md")
    with open(doc) as f:
        text = f.read()
    start = text.index("```lua\n") + len("```lua\n")
    return text[start:text.index("```", start)]


class ScriptTest(unittest.TestCase):
    """The shard script called directly, the way the router batches commands."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="shardcast-script-")
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--logfile",
             os.path.join(self.dir, "redis.log")])
        self.r = redis.Redis(port=self.port, decode_responses=True)
        wait_for(lambda: Cluster._ping(self.r), "redis-server")
        self.sha = self.r.script_load(shard_script())

    def tearDown(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def batch(self, commands):
        """commands: (range id, flags, [name, key, args...]); one reply (or exception) each."""
        ranges = []
        for rid, _, _ in commands:
            if rid not in ranges:
                ranges.append(rid)
        keys = ["__shardcast:range:%d" % r for r in ranges] + \
            ["__shardcast:wlog:%d" % r for r in ranges]
        argv = [len(ranges)]
        for rid, flags, cmd in commands:
            argv.append(len(cmd) * 65536 + (ranges.index(rid) + 1) * 8 + flags)
            argv += cmd
        out = self.r.execute_command("EVALSHA", self.sha, len(keys), *(keys + argv))
        self.assertEqual(len(out), len(commands))
        return out

    def test_unmarked_ranges_serve_every_command_in_order(self):
        self.r.hset("h", "f", "1")
        out = self.batch([(1, 2, ["SET", "a", "1"]), (2, 2, ["SET", "b", "2"]),
                          (1, 0, ["GET", "a"]), (2, 0, ["GET", "nope"]),
                          (3, 0, ["GET", "h"]),  # WRONGTYPE stays WRONGTYPE
                          (1, 2, ["INCR", "a"]), (1, 0, ["GET", "a"]),
                          (2, 2, ["DEL", "b"]), (2, 0, ["GET", "b"]),
                          (3, 0, ["HGET", "h", "f"]), (3, 2, ["SET", "h", "x"]),
                          (3, 0, ["GET", "h"]), (1, 0, ["LPOP", "a"])])
        self.assertEqual(out[:4], ["OK", "OK", "1", None])
        self.assertIsInstance(out[4], redis.exceptions.ResponseError)
        self.assertIn("WRONGTYPE", str(out[4]))
        self.assertEqual(out[5:12], [2, "2", 1, None, "1", "OK", "x"])
        self.assertIn("WRONGTYPE", str(out[12]))

    def test_each_command_gets_its_marker_answer(self):
        self.r.set("__shardcast:range:1", "gone 7 10.0.0.2:6379")
        self.r.set("__shardcast:range:2", "migrating 5 10.0.0.3:6379")
        self.r.set("__shardcast:range:3", "importing 5 10.0.0.4:6379")
        self.r.set("__shardcast:range:4", "echo 5 10.0.0.5:6379")
        self.r.set("__shardcast:range:5", "echo-stale 5 10.0.0.5:6379")
        for k in ("m-here", "i-here", "e-here"):
            self.r.set(k, "v")
        out = self.batch([(1, 0, ["GET", "x"]), (1, 2, ["SET", "x", "1"]),
                          (2, 0, ["GET", "m-here"]), (2, 2, ["SET", "m-absent", "1"]),
                          (3, 0, ["GET", "i-here"]), (3, 2, ["SET", "i-absent", "1"]),
                          (3, 3, ["SET", "i-absent", "2"]),  # an ASK retry
                          (4, 4, ["GET", "e-here"]), (4, 2, ["SET", "e-here", "w"]),
                          (5, 4, ["GET", "e-here"]), (6, 4, ["GET", "e-here"]),
                          (6, 0, ["GET", "e-here"])])
        text = [str(x) for x in out]
        self.assertEqual(text[0], "SHARDCAST MOVED 7 10.0.0.2:6379")
        self.assertEqual(text[1], "SHARDCAST MOVED 7 10.0.0.2:6379")
        self.assertEqual(out[2], "v")
        self.assertEqual(text[3], "SHARDCAST ASK 10.0.0.3:6379")
        self.assertEqual(out[4], "v")
        self.assertEqual(text[5], "SHARDCAST ASK 10.0.0.4:6379")
        self.assertEqual(out[6], "OK")
        self.assertEqual(out[7], "v")
        self.assertEqual(text[8], "SHARDCAST READONLY")
        self.assertEqual(text[9], "SHARDCAST NOTECHO")
        self.assertEqual(text[10], "SHARDCAST NOTECHO")  # no marker: not an echo
        self.assertEqual(out[11], "v")
        self.assertIsNone(self.r.get("x"))  # nothing written where the range is gone
        self.assertIsNone(self.r.get("m-absent"))
        self.assertEqual(self.r.get("i-absent"), "2")
        self.assertEqual(self.r.get("e-here"), "v")

    def test_presence_is_judged_at_each_commands_turn(self):
        self.r.set("__shardcast:range:2", "migrating 5 10.0.0.3:6379")
        self.r.set("k", "v")
        out = self.batch([(2, 0, ["GET", "k"]), (2, 2, ["DEL", "k"]), (2, 0, ["GET", "k"]),
                          (2, 2, ["SET", "k", "again"])])
        self.assertEqual(out[:2], ["v", 1])
        self.assertEqual(str(out[2]), "SHARDCAST ASK 10.0.0.3:6379")
        self.assertEqual(str(out[3]), "SHARDCAST ASK 10.0.0.3:6379")
        self.assertIsNone(self.r.get("k"))

    def test_served_writes_are_logged_where_the_range_has_a_write_log(self):
        self.r.xadd("__shardcast:wlog:1", {"k": "seed"})
        out = self.batch([(1, 2, ["SET", "a", "1"]), (1, 2, ["SET", "b", "2"]),
                          (2, 2, ["SET", "c", "3"]), (1, 0, ["GET", "a"]),
                          (1, 2, ["INCR", "a"]), (1, 2, ["INCR", "nan-" + "x" * 3]),
                          (1, 2, ["HSET", "a", "f", "v"])])  # fails: not logged
        self.assertEqual(out[:5], ["OK", "OK", "OK", "1", 2])
        self.assertIn("WRONGTYPE", str(out[6]))
        logged = [f["k"] for _, f in self.r.xrange("__shardcast:wlog:1")]
        self.assertEqual(logged, ["seed", "a", "b", "a", "nan-xxx"])
        self.assertFalse(self.r.exists("__shardcast:wlog:2"))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--router", required=True)
    args, rest = ap.parse_known_args()
    ROUTER = args.router
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
