#!/usr/bin/env python3
"""Shardcast's load generator: RESP GET/SET at a set rate, over key ranges.

It speaks RESP itself (pre-encoded commands, pipelined batches on plain
sockets; no client library), so one process reaches tens of thousands of
operations per second; --workers processes share the rate.

Keys are spread over the ShardSet's initial key ranges, the equal split of
the 32-bit key space into --ranges parts (range i covers [i*2^32/n,
(i+1)*2^32/n)), by the routing document's key hash (the high 32 bits of
64-bit FNV-1a of the key, docs/routing.md). Each range has a pool of
--keys-per-range keys found by hashing `<prefix><n>` for n = 0, 1, ...; an
operation picks a range by its weight, then a key of that range at random.
--write-fraction of the operations are SET (a fixed-size value), the rest GET.

The rate and the weights come from the flags or, with --control FILE, from a
JSON file re-read when it changes: {"rate": ops/s, "weights": [..],
"writeFraction": 0.2}. A worker that falls behind by more than a second
drops the backlog (counted as `dropped`). With --stats FILE, a JSON summary is
written every --stats-every seconds (sent, errors, dropped, connection errors,
per-range operations, achieved rate). --max ignores the rate and sends as
fast as it can (to measure this machine's ceiling).

  loadgen.py --target 127.0.0.1:6380 [--target ...] --rate 5000 --duration 10
  loadgen.py --target 127.0.0.1:6380 --max --duration 5
  loadgen.py --target ... --control ctl.json --stats stats.json   (the demo)

Exit status 0; a summary line on stdout at the end.
"""
import argparse
import bisect
import json
import multiprocessing as mp
import os
import random
import signal
import socket
import sys
import time

SPAN = 2 ** 32


def key_hash(key):
    """The routing document's key hash: high 32 bits of 64-bit FNV-1a."""
    h = 14695981039346656037
    for c in key:
        h ^= c
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h >> 32


def range_of(h, n):
    """Index of the equal-split range (of n) that holds hash h."""
    bounds = [i * SPAN // n for i in range(1, n)]
    return bisect.bisect_right(bounds, h)


def key_pools(n, per_range, prefix="lg:"):
    """{range index: [keys as bytes]}: per_range keys whose hash falls in each
    of the n equal-split ranges."""
    bounds = [i * SPAN // n for i in range(1, n)]
    pools = [[] for _ in range(n)]
    missing = n
    i = 0
    limit = per_range * n * 50 + 10000
    while missing and i < limit:
        k = f"{prefix}{i}".encode()
        r = bisect.bisect_right(bounds, key_hash(k))
        if len(pools[r]) < per_range:
            pools[r].append(k)
            if len(pools[r]) == per_range:
                missing -= 1
        i += 1
    if missing:
        raise RuntimeError(f"could not find {per_range} keys for every one of {n} ranges")
    return pools


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    """One RESP connection: send a batch, read as many replies."""

    def __init__(self, host, port, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.pos = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("connection closed by the server")
        self.buf = self.buf[self.pos:] + data
        self.pos = 0

    def _line(self):
        while True:
            end = self.buf.find(b"\r\n", self.pos)
            if end >= 0:
                line = self.buf[self.pos:end]
                self.pos = end + 2
                return line
            self._fill()

    def _skip(self, n):
        while len(self.buf) - self.pos < n:
            self._fill()
        self.pos += n

    def reply(self):
        """Reads one reply; returns None, or the error line (bytes) for an error."""
        line = self._line()
        kind = line[:1]
        if kind == b"-":
            return line[1:]
        if kind == b"$":
            n = int(line[1:])
            if n >= 0:
                self._skip(n + 2)
            return None
        if kind == b"*":
            n = int(line[1:])
            err = None
            for _ in range(max(0, n)):
                e = self.reply()
                err = err or e
            return err
        if kind in (b"+", b":"):
            return None
        raise ConnectionError(f"bad reply line {line[:40]!r}")

    def run(self, batch, n):
        """Sends the encoded batch of n commands; returns the error lines."""
        self.sock.sendall(batch)
        errors = []
        for _ in range(n):
            e = self.reply()
            if e is not None:
                errors.append(e)
        return errors


# ---- shared counters (one slot per worker) ------------------------------------

class Shared:
    """Counters the workers add to and the parent reads (multiprocessing arrays)."""

    def __init__(self, workers, nranges):
        self.workers, self.nranges = workers, nranges
        # per worker: sent, errors, dropped, conn_errors
        self.totals = mp.Array("d", workers * 4, lock=False)
        self.ranges = mp.Array("d", workers * nranges, lock=False)
        self.queue = mp.Queue()  # (worker, error line) samples, at most one per second per worker

    def snapshot(self):
        t = [0.0] * 4
        for w in range(self.workers):
            for i in range(4):
                t[i] += self.totals[w * 4 + i]
        per = [0.0] * self.nranges
        for w in range(self.workers):
            for r in range(self.nranges):
                per[r] += self.ranges[w * self.nranges + r]
        return {"sent": t[0], "errors": t[1], "dropped": t[2], "connErrors": t[3], "perRange": per}


def read_control(path, state):
    """Re-reads the control file when it changed; returns the new state."""
    try:
        st = os.stat(path)
    except OSError:
        return state
    if state.get("_mtime") == st.st_mtime_ns:
        return state
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return state  # being written; next time
    new = dict(state)
    new["_mtime"] = st.st_mtime_ns
    if "rate" in doc:
        new["rate"] = max(0.0, float(doc["rate"]))
    if doc.get("weights"):
        new["weights"] = [max(0.0, float(x)) for x in doc["weights"]]
    if "writeFraction" in doc:
        new["write"] = min(1.0, max(0.0, float(doc["writeFraction"])))
    return new


def worker(idx, args, shared, stop):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    rnd = random.Random(args.seed * 1000 + idx)
    pools = key_pools(args.ranges, args.keys_per_range, args.prefix)
    value = b"v" * args.value_size
    gets = [[encode(b"GET", k) for k in p] for p in pools]
    sets = [[encode(b"SET", k, value) for k in p] for p in pools]
    targets = args.target[idx % len(args.target):] + args.target[:idx % len(args.target)]
    state = {"rate": args.rate / args.workers, "weights": [1.0] * args.ranges, "write": args.write_fraction}
    if args.zipf:
        state["weights"] = zipf(args.ranges, args.zipf, args.seed)
    conn, conn_i = None, 0
    credit, last = 0.0, time.monotonic()
    next_ctl, last_sample = 0.0, 0.0
    base_t, base_r = idx * 4, idx * args.ranges
    ids = list(range(args.ranges))
    while not stop.is_set():
        now = time.monotonic()
        if args.control and now >= next_ctl:
            next_ctl = now + 0.25
            ctl = read_control(args.control, {**state, "rate": state["rate"] * args.workers})
            ctl["rate"] /= args.workers
            state = ctl
        if args.max:
            n = args.batch
        else:
            credit += state["rate"] * (now - last)
            last = now
            if credit > state["rate"] + args.batch:  # over a second behind: drop the backlog
                drop = credit - state["rate"]
                shared.totals[base_t + 2] += int(drop)
                credit -= int(drop)
            n = min(int(credit), args.batch)
            if n <= 0:
                time.sleep(0.002)  # pacing: wait for the next operation's slot
                continue
        if conn is None:
            host, port = targets[conn_i % len(targets)]
            conn_i += 1
            try:
                conn = Conn(host, port, args.timeout)
            except OSError:
                shared.totals[base_t + 3] += 1
                time.sleep(0.2)  # back off before reconnecting
                last = time.monotonic()
                continue
        cw = state["weights"]
        total = sum(cw)
        if total <= 0:
            cw = [1.0] * args.ranges
        rs = rnd.choices(ids, weights=cw, k=n)
        wf = state["write"]
        parts = []
        for r in rs:
            p = sets[r] if rnd.random() < wf else gets[r]
            parts.append(p[rnd.randrange(len(p))])
        try:
            errors = conn.run(b"".join(parts), n)
        except (OSError, ConnectionError, ValueError) as e:
            shared.totals[base_t + 3] += 1
            shared.totals[base_t + 1] += n
            conn.close()
            conn = None
            if now - last_sample > 1.0:
                last_sample = now
                shared.queue.put((idx, f"connection: {e}"))
            if not args.max:
                credit -= n
            continue
        if not args.max:
            credit -= n
        shared.totals[base_t] += n
        for r in rs:
            shared.ranges[base_r + r] += 1
        if errors:
            shared.totals[base_t + 1] += len(errors)
            if now - last_sample > 1.0:
                last_sample = now
                shared.queue.put((idx, errors[0].decode(errors="replace")[:200]))
    if conn is not None:
        conn.close()


def zipf(n, s, seed):
    """Zipf weights over n ranges in a seeded order (hack/replay/traces.py's)."""
    w = [1.0 / (k + 1) ** s for k in range(n)]
    order = list(range(n))
    random.Random(seed).shuffle(order)
    out = [0.0] * n
    for k, r in enumerate(order):
        out[r] = w[k]
    tot = sum(out)
    return [x / tot for x in out]


def parse_target(s):
    host, _, port = s.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"--target: '{s}' is not HOST:PORT")
    return host, int(port)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", type=parse_target, action="append", required=True,
                    help="HOST:PORT of a router or redis (repeat: workers spread over them)")
    ap.add_argument("--rate", type=float, default=1000.0, help="operations/s in all (default 1000)")
    ap.add_argument("--max", action="store_true", help="as fast as possible (measures the ceiling)")
    ap.add_argument("--duration", type=float, default=0, help="seconds (0 = until SIGTERM/SIGINT)")
    ap.add_argument("--workers", type=int, default=1, help="processes sharing the rate (default 1)")
    ap.add_argument("--ranges", type=int, default=32, help="equal-split key ranges (default 32)")
    ap.add_argument("--keys-per-range", type=int, default=200)
    ap.add_argument("--prefix", default="lg:", help="key prefix (default lg:)")
    ap.add_argument("--zipf", type=float, default=0.0, help="Zipf exponent of range weights (0 = uniform)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--write-fraction", type=float, default=0.2)
    ap.add_argument("--value-size", type=int, default=32)
    ap.add_argument("--batch", type=int, default=200, help="commands per pipelined batch at most")
    ap.add_argument("--timeout", type=float, default=5.0, help="socket timeout, seconds")
    ap.add_argument("--control", help="JSON file with rate/weights/writeFraction, re-read on change")
    ap.add_argument("--stats", help="JSON file written every --stats-every seconds")
    ap.add_argument("--stats-every", type=float, default=1.0)
    args = ap.parse_args(argv)
    for name in ("rate", "write_fraction", "zipf", "duration"):
        if getattr(args, name) < 0:
            ap.error(f"--{name.replace('_', '-')}: must be >= 0")
    for name in ("workers", "ranges", "keys_per_range", "batch", "value_size"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')}: must be >= 1")
    if args.write_fraction > 1:
        ap.error("--write-fraction: must be in [0, 1]")
    return args


def main(argv=None):
    args = parse_args(argv)
    shared = Shared(args.workers, args.ranges)
    stop = mp.Event()
    procs = [mp.Process(target=worker, args=(i, args, shared, stop), daemon=True) for i in range(args.workers)]
    for p in procs:
        p.start()
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    t0 = time.monotonic()
    prev, prev_t = shared.snapshot(), t0
    samples = []
    window = []  # (t, sent) for the achieved rate
    while not stopping:
        time.sleep(min(args.stats_every, 0.2))  # stats cadence
        now = time.monotonic()
        if args.duration and now - t0 >= args.duration:
            break
        if any(not p.is_alive() for p in procs):
            print("loadgen: a worker died", file=sys.stderr)
            break
        while not shared.queue.empty():
            samples = (samples + [shared.queue.get_nowait()[1]])[-5:]
        if now - prev_t >= args.stats_every:
            snap = shared.snapshot()
            window.append((now, snap["sent"]))
            window = [w for w in window if now - w[0] <= 3.0]
            rate = ((window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0])
                    if len(window) > 1 else (snap["sent"] - prev["sent"]) / (now - prev_t))
            prev, prev_t = snap, now
            if args.stats:
                write_stats(args.stats, snap, rate, now - t0, samples)
    elapsed = time.monotonic() - t0
    stop.set()
    for p in procs:
        p.join(timeout=5)
        if p.is_alive():
            p.kill()
    snap = shared.snapshot()
    if args.stats:
        write_stats(args.stats, snap, snap["sent"] / max(elapsed, 1e-9), elapsed, samples)
    print(f"loadgen: {snap['sent']:.0f} operations in {elapsed:.1f}s = {snap['sent'] / max(elapsed, 1e-9):.0f}/s, "
          f"errors {snap['errors']:.0f}, dropped {snap['dropped']:.0f}, connection errors "
          f"{snap['connErrors']:.0f}" + (f"; last error: {samples[-1]}" if samples else ""), flush=True)
    return 0


def write_stats(path, snap, rate, elapsed, samples):
    doc = dict(snap, rate=rate, elapsed=elapsed, lastErrors=samples, time=time.time())
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
