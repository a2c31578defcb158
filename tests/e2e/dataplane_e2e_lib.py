"""The pieces of the data-plane end-to-end test (dataplane_e2e_test.py): the
cluster through kubectl, the manifests, the processes it starts, and its two
load clients beside the checker (redis-benchmark, a hot-range reader)."""
import datetime
import json
import os
import random
import signal
import subprocess
import threading
import time

import redis

from testlib import key_hash, wait_for

RANGES = 32
SET = "kv"
CM = "kv-routing"
ROUTER_LABEL = {"app.kubernetes.io/name": "kv-router"}
ROUTER_PORT, ROUTER_METRICS_PORT = 6379, 9090
CAPACITY_MILLIS = 1000
TERMINAL = ("Completed", "Reverted", "Failed")
VERIFICATION_SECONDS = 8


def log(msg):
    print(time.strftime("[e2e-dp %H:%M:%S] ") + msg, flush=True)


class Failure(Exception):
    pass


def rfc3339(t):
    return datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def cpu_millis(q):
    """A Kubernetes CPU quantity ("63m", "63123456n", "1") in millicores."""
    for suffix, scale in (("n", 1e-6), ("u", 1e-3), ("m", 1.0)):
        if q.endswith(suffix):
            return float(q[:-1]) * scale
    return float(q) * 1000.0


class Cluster:
    def __init__(self, kc, ns):
        self.kc, self.ns = kc, ns

    def kubectl(self, *args, stdin=None, check=True):
        r = subprocess.run(["kubectl", "--kubeconfig", self.kc, *args], input=stdin,
                           capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise Failure("kubectl %s: %s" % (" ".join(args), r.stderr.strip()))
        return r.stdout

    def get(self, kind, name=None):
        args = ["-n", self.ns, "get", kind] + ([name] if name else []) + ["-o", "json"]
        out = self.kubectl(*args, check=False)
        try:
            return json.loads(out) if out.strip() else None
        except ValueError:
            return None

    def apply(self, obj):
        self.kubectl("-n", self.ns, "apply", "-f", "-", stdin=json.dumps(obj))

    def patch(self, kind, name, body):
        self.kubectl("-n", self.ns, "patch", kind, name, "--type", "merge", "-p", json.dumps(body))

    def routing(self):
        cm = self.get("configmap", CM)
        if not cm or "routing.json" not in cm.get("data", {}):
            return None
        try:
            return json.loads(cm["data"]["routing.json"])
        except ValueError:
            return None

    def actions(self):
        mp = self.get("migrationpolicy", SET) or {}
        st = mp.get("status", {})
        return st.get("actions", []) + st.get("history", [])

    def set_status(self):
        return (self.get("shardset", SET) or {}).get("status", {})

    def pod_cpu(self):
        """{pod: millicores} from metrics.k8s.io."""
        out = {}
        for item in (self.get("podmetrics") or {}).get("items", []):
            out[item["metadata"]["name"]] = sum(cpu_millis(c["usage"]["cpu"])
                                                for c in item.get("containers", []))
        return out


def kwok_pod_spec(container):
    return {
        "nodeSelector": {"type": "kwok"},
        "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Equal", "value": "fake",
                         "effect": "NoSchedule"}],
        "containers": [container],
    }


def shardset_manifest():
    return {
        "apiVersion": "shardcast.dev/v1alpha1", "kind": "ShardSet",
        "metadata": {"name": SET, "labels": {"shardcast.dev/policy": SET}},
        "spec": {
            "replicas": 3, "minReplicas": 1, "maxReplicas": 5, "warmPool": {"size": 1},
            "keySpace": {"ranges": RANGES},
            # Real CPU (the pod runner's samples) of a shard stays well under
            # maxUtilization of this: only the declared events make a pod hot.
            "capacity": {"metric": "CPU", "cpuMillis": CAPACITY_MILLIS},
            "routing": {"configMapName": CM, "port": 6379},
            "hooks": {"port": 8081, "timeoutSeconds": 10},
            "routers": {"selector": {"matchLabels": ROUTER_LABEL},
                        "metricsPort": ROUTER_METRICS_PORT},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": SET}},
                "spec": kwok_pod_spec({"name": "redis", "image": "redis:7.0",
                                       "ports": [{"name": "redis", "containerPort": 6379}]}),
            },
        },
    }


def router_pod_manifest(i):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "kv-router-%d" % i, "labels": dict(ROUTER_LABEL)},
            "spec": kwok_pod_spec({"name": "router", "image": "shardcast-router",
                                   "ports": [{"name": "redis", "containerPort": ROUTER_PORT},
                                             {"name": "metrics",
                                              "containerPort": ROUTER_METRICS_PORT}]})}


def policy_manifest():
    # Auto. Nothing is hot from real load (see capacity above) and scale-in is
    # off (scaleInUtilization 0), so until the events of step 5 every move
    # comes from the ShardSet's ownership requests (scale-in, shedding).
    return {
        "apiVersion": "shardcast.dev/v1alpha1", "kind": "MigrationPolicy",
        "metadata": {"name": SET},
        "spec": {
            "shardSetSelector": {"matchLabels": {"shardcast.dev/policy": SET}},
            "mode": "Auto",
            "thresholds": {"scaleInUtilization": 0},
            # cooldown: both halves of a split stay put (not moved off their
            # hot pod) until the test has declared them cold.
            "limits": {"maxConcurrentMigrations": 2, "maxMovesPerHour": 500, "cooldown": "20s"},
            # echoSyncCost 0: step 5 checks an echo's data path (fill, reads,
            # removal), not whether the planner finds a pod with room for
            # its sync on pods the launch has made hot (EchoSync.* in the
            # planner's unit tests cover the cost).
            "migration": {"verification": {"window": "%ds" % VERIFICATION_SECONDS},
                          "shadow": {"enabled": False}, "echoSyncCost": 0},
        },
    }


class Procs:
    """The processes this test starts, each with a log file under out/."""

    def __init__(self, out):
        self.out, self.procs = out, {}

    def start(self, name, argv, env=None):
        f = open(os.path.join(self.out, name + ".log"), "ab")
        p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, env=env,
                             start_new_session=True)
        self.procs[name] = p
        return p

    def kill(self, name, sig=signal.SIGKILL):
        p = self.procs.get(name)
        if p and p.poll() is None:
            os.killpg(p.pid, sig)
            p.wait(timeout=30)

    def stop_all(self):
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM)


class Benchmark:
    """redis-benchmark (SET and GET rounds) through a router as an independent
    client, started again when it exits (it stops at its first error reply,
    e.g. while a killed shard comes back)."""

    def __init__(self, procs, host, port):
        self.procs = procs
        self.argv = ["redis-benchmark", "-h", host, "-p", str(port), "-c", "8", "-n", "20000",
                     "-r", "100000", "-t", "set,get", "-q", "-l"]
        self.stop_event = threading.Event()
        self.restarts = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def run(self):
        while not self.stop_event.is_set():
            p = self.procs.start("redis-benchmark", self.argv)
            while p.poll() is None and not self.stop_event.is_set():
                time.sleep(0.2)
            if not self.stop_event.is_set():
                self.restarts += 1
                time.sleep(0.5)

    def stop(self):
        self.stop_event.set()
        self.thread.join(timeout=10)
        self.procs.kill("redis-benchmark", signal.SIGTERM)


def keys_in_range(prefix, start, end, n):
    """The first `n` keys "<prefix>:<i>" whose hash falls in [start, end]."""
    keys, i = [], 0
    while len(keys) < n:
        k = "%s:%d" % (prefix, i)
        if start <= key_hash(k) <= end:
            keys.append(k)
        i += 1
    return keys


class RangeProber:
    """While a move's target shard is stopped, readers on many connections
    through every router ask for keys of the moving range: each request
    waits for the router's backend timeout and comes back as an error, so
    the range's error counters rise whatever the other clients happen to
    send to it (redis-benchmark stops at its first error reply, and the
    checker's few writers rarely hit one range). Started after the stop and
    stopped before the shard continues, so it adds no successful requests."""

    def __init__(self, hosts, port, start, end, per_router=16):
        self.keys = keys_in_range("probe", start, end, 16)
        self.targets = [(h, port) for h in hosts for _ in range(per_router)]
        self.stop_event = threading.Event()
        self.errors = self.replies = 0
        self.lock = threading.Lock()
        self.threads = []

    def start(self):
        for i, (host, port) in enumerate(self.targets):
            th = threading.Thread(target=self.run, args=(host, port, i), daemon=True)
            th.start()
            self.threads.append(th)
        return self

    def run(self, host, port, i):
        conn = redis.Redis(host=host, port=port, socket_timeout=5)
        n = i
        while not self.stop_event.is_set():
            n += 1
            try:
                conn.get(self.keys[n % len(self.keys)])
                with self.lock:
                    self.replies += 1
            except (redis.RedisError, OSError):
                with self.lock:
                    self.errors += 1
                conn = redis.Redis(host=host, port=port, socket_timeout=5)

    def stop(self):
        self.stop_event.set()
        deadline = time.monotonic() + 10
        for th in self.threads:
            th.join(timeout=max(0.1, deadline - time.monotonic()))
        with self.lock:
            return self.errors, self.replies


class HotReader:
    """Writes `n` keys of one hash range once, then reads them in pipelines
    as fast as it can through a router, on a connection that never writes
    (so the router may serve its reads from the range's echoes)."""

    def __init__(self, host, port, start, end, n=200):
        self.host, self.port = host, port
        self.keys = keys_in_range("hot", start, end, n)
        self.stop_event = threading.Event()
        self.rng = random.Random(len(self.keys))
        self.reads = self.errors = 0
        self.thread = None

    def value(self, key):
        return "v-" + key

    def start(self):
        w = redis.Redis(host=self.host, port=self.port, socket_timeout=5)
        for k in self.keys:
            wait_for("hot key %s written" % k, lambda: self.set_once(w, k), 30, every=0.2)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def set_once(self, conn, k):
        try:
            return conn.set(k, self.value(k))
        except (redis.RedisError, OSError):
            return False

    def run(self):
        conn = redis.Redis(host=self.host, port=self.port, socket_timeout=5)
        while not self.stop_event.is_set():
            try:
                p = conn.pipeline(transaction=False)
                for k in self.keys[:50]:
                    p.get(k)
                p.execute()
                self.reads += 50
                self.rng.shuffle(self.keys)
            except (redis.RedisError, OSError):
                self.errors += 1
                time.sleep(0.1)
                conn = redis.Redis(host=self.host, port=self.port, socket_timeout=5)

    def stop(self):
        self.stop_event.set()
        if self.thread:
            self.thread.join(timeout=15)
