#!/usr/bin/env python3
"""Consistency checker: a Redis client that records every acknowledged write.

Each worker thread owns a disjoint set of keys and writes sequence-numbered
values to them (`SET key "<worker>:<seq>"`) through one endpoint (a
shardcast-router, or any Redis). It records, per key:
  - the highest acknowledged sequence number (an OK reply);
  - writes that failed or timed out (ambiguous: they may or may not have
    been applied, so a later read may show them);
and reads its own keys between writes. A read that returns a sequence number
lower than the key's highest acknowledged one is a *stale read* (the client
saw its own write go backwards). After the run, `verify` reads every key
again: a key whose value is older than its highest acknowledged write (or
missing) is a *lost write*.

  checker.py run --endpoint HOST:PORT --keys N --workers W --seconds S --out F
      (or until the file named by --stop-file exists)
  checker.py verify --endpoint HOST:PORT --state F

Importable: Checker(endpoint, keys, workers).start() / stop() / verify().
The summary line is machine-readable JSON after "checker: ".
"""
import argparse
import json
import os
import sys
import threading
import time

import redis


def parse_endpoint(endpoint):
    host, _, port = endpoint.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError("--endpoint: want HOST:PORT, got %r" % endpoint)
    return host, int(port)


def parse_value(value):
    """(worker, seq) of a value the checker wrote, or None."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    worker, sep, seq = value.partition(":")
    if not sep or not seq.isdigit() or not worker.isdigit():
        return None
    return int(worker), int(seq)


class KeyState:
    __slots__ = ("acked", "attempted", "ambiguous")

    def __init__(self):
        self.acked = 0       # highest acknowledged seq (0 = none)
        self.attempted = 0   # highest seq sent
        self.ambiguous = 0   # writes that failed/timed out


class Checker:
    def __init__(self, endpoint, keys=1000, workers=4, prefix="chk", timeout=5.0,
                 read_every=2):
        self.host, self.port = parse_endpoint(endpoint)
        self.prefix = prefix
        self.keys = ["%s:%d" % (prefix, i) for i in range(keys)]
        self.workers = max(1, workers)
        self.timeout = timeout
        self.read_every = max(1, read_every)
        self.state = {k: KeyState() for k in self.keys}
        self.stop_event = threading.Event()
        self.threads = []
        self.lock = threading.Lock()
        self.stats = {"acked": 0, "errors": 0, "reads": 0, "staleReads": 0,
                      "maxWriteSeconds": 0.0, "writeLatencies": []}
        self.stale_examples = []
        self.error_examples = []

    def client(self):
        return redis.Redis(host=self.host, port=self.port, socket_timeout=self.timeout,
                           socket_connect_timeout=self.timeout)

    def owned(self, w):
        return self.keys[w::self.workers]

    def worker(self, w):
        keys = self.owned(w)
        conn = self.client()
        seq = 0
        i = 0
        lat = []
        while not self.stop_event.is_set() and keys:
            key = keys[i % len(keys)]
            i += 1
            st = self.state[key]
            seq += 1
            st.attempted = seq
            t0 = time.monotonic()
            try:
                ok = conn.set(key, "%d:%d" % (w, seq))
                dt = time.monotonic() - t0
                lat.append(dt)
                if ok is True:
                    st.acked = seq
                    with self.lock:
                        self.stats["acked"] += 1
                        self.stats["maxWriteSeconds"] = max(self.stats["maxWriteSeconds"], dt)
                else:
                    st.ambiguous += 1
                    self.note_error(key, "SET answered %r" % (ok,))
            except (redis.RedisError, OSError) as e:
                st.ambiguous += 1
                self.note_error(key, repr(e))
                conn = self.client()
                continue
            if i % self.read_every == 0:
                self.read_check(conn, key, st)
        with self.lock:
            self.stats["writeLatencies"].extend(lat)

    def read_check(self, conn, key, st):
        acked = st.acked
        try:
            got = parse_value(conn.get(key))
        except (redis.RedisError, OSError) as e:
            self.note_error(key, "GET: " + repr(e))
            return
        with self.lock:
            self.stats["reads"] += 1
            seq = got[1] if got else 0
            if seq < acked:
                self.stats["staleReads"] += 1
                if len(self.stale_examples) < 10:
                    self.stale_examples.append({"key": key, "read": seq, "acked": acked})

    def note_error(self, key, what):
        with self.lock:
            self.stats["errors"] += 1
            if len(self.error_examples) < 10:
                self.error_examples.append({"key": key, "error": what})

    def start(self):
        for w in range(self.workers):
            t = threading.Thread(target=self.worker, args=(w,), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=self.timeout * 3)
        return self

    def snapshot(self):
        """The acknowledged state, for verify in another process."""
        return {"endpoint": "%s:%d" % (self.host, self.port), "prefix": self.prefix,
                "workers": self.workers,
                "keys": {k: [s.acked, s.attempted, s.ambiguous] for k, s in self.state.items()},
                "stats": self.summary_stats()}

    def summary_stats(self):
        with self.lock:
            lat = sorted(self.stats["writeLatencies"])
            out = {k: v for k, v in self.stats.items() if k != "writeLatencies"}
        out["writeP99Seconds"] = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else 0.0
        out["staleExamples"] = list(self.stale_examples)
        out["errorExamples"] = list(self.error_examples)
        return out

    def verify(self, retries=20, pause=0.5):
        return verify_state(self.client(), {k: s.acked for k, s in self.state.items()},
                            {k: s.attempted for k, s in self.state.items()}, retries, pause)


def verify_state(conn, acked, attempted, retries=20, pause=0.5):
    """Reads every key; returns {"checked", "lost", "lostExamples", "unreadable"}.

    A read error is retried (the router may be restarting) up to `retries`
    times; a key still unreadable then counts as lost."""
    lost, examples, unreadable = 0, [], 0
    for key, want in acked.items():
        got = None
        for attempt in range(retries):
            try:
                got = parse_value(conn.get(key))
                break
            except (redis.RedisError, OSError):
                if attempt == retries - 1:
                    unreadable += 1
                    got = None
                else:
                    time.sleep(pause)
                    conn = redis.Redis(host=conn.connection_pool.connection_kwargs["host"],
                                       port=conn.connection_pool.connection_kwargs["port"],
                                       socket_timeout=5, socket_connect_timeout=5)
        if want == 0:
            continue
        seq = got[1] if got else 0
        # A value above the acknowledged one is a write that failed at the
        # client but reached the shard (allowed); below it is a lost write.
        if seq < want or seq > attempted.get(key, seq):
            lost += 1
            if len(examples) < 10:
                examples.append({"key": key, "read": seq, "acked": want})
    return {"checked": len(acked), "lost": lost, "lostExamples": examples,
            "unreadable": unreadable}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--endpoint", required=True)
    r.add_argument("--keys", type=int, default=1000)
    r.add_argument("--workers", type=int, default=4)
    r.add_argument("--seconds", type=float, default=0, help="0: until --stop-file exists")
    r.add_argument("--stop-file")
    r.add_argument("--prefix", default="chk")
    r.add_argument("--out", required=True)
    v = sub.add_parser("verify")
    v.add_argument("--endpoint", required=True)
    v.add_argument("--state", required=True)
    args = ap.parse_args(argv)
    if args.cmd == "run":
        if args.seconds <= 0 and not args.stop_file:
            ap.error("run: give --seconds or --stop-file")
        c = Checker(args.endpoint, args.keys, args.workers, args.prefix).start()
        deadline = time.monotonic() + args.seconds if args.seconds > 0 else None
        while True:
            if deadline is not None and time.monotonic() >= deadline:
                break
            if args.stop_file and os.path.exists(args.stop_file):
                break
            time.sleep(0.2)
        c.stop()
        with open(args.out, "w") as f:
            json.dump(c.snapshot(), f)
        print("checker: " + json.dumps(c.summary_stats()), flush=True)
        return 0
    with open(args.state) as f:
        st = json.load(f)
    host, port = parse_endpoint(args.endpoint)
    conn = redis.Redis(host=host, port=port, socket_timeout=5, socket_connect_timeout=5)
    res = verify_state(conn, {k: v[0] for k, v in st["keys"].items()},
                       {k: v[1] for k, v in st["keys"].items()})
    print("checker verify: " + json.dumps(res), flush=True)
    return 0 if res["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
