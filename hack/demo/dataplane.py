"""The demo's real data plane (docs/demo.md): the processes hack/demo/run.py
starts beside the operator, and what it reads from them.

- the pod runner (hack/podrunner/podrunner.py, a stand-in for the kubelet):
  redis-server + shardcast-agent per pod of the ShardSet, real CPU reported
  as the pods' usage; its state file gives each pod's last CPU sample;
- two shardcast-router processes on loopback ports, each following the
  routing ConfigMap (--configmap);
- the load generator (hack/loadgen/loadgen.py) through both routers, steered
  by a control file;
- redis-benchmark through the first router, in short rounds (Bench), as an
  independent client: each round's throughput, p99 and error;
- the agents' copy counters (/metrics on each pod IP): bytes and keys moved
  and copied, summed over the run by CopiedTally.

Every process is started in its own session and stopped (SIGTERM, then
SIGKILL) by stop_all(); a router or the load generator that exits is started
again (counted).
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.append(os.path.join(ROOT, "hack", "replay"))  # after hack/demo: both have a run.py
from procs import free_port, redis_ping  # noqa: E402,F401 (dataplane.free_port, dataplane.redis_ping)


def log(msg):
    print(f"[demo {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def http_ok(url, timeout=1.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


class Child:
    """A supervised child process with its log file."""

    def __init__(self, name, argv, log_path, env=None):
        self.name, self.argv, self.log_path, self.env = name, argv, log_path, env
        self.proc, self.restarts = None, 0

    def start(self):
        with open(self.log_path, "a") as out:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True, env=self.env)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def ensure(self):
        """Starts it again when it exited; returns True when it did."""
        if self.proc is not None and not self.alive():
            self.restarts += 1
            log(f"{self.name} exited with {self.proc.returncode}; starting it again "
                f"(restart {self.restarts}, log {self.log_path})")
            self.start()
            return True
        return False

    def stop(self, timeout=10):
        if not self.alive():
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except OSError:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                self.proc.kill()
            self.proc.wait()


class Bench(threading.Thread):
    """redis-benchmark through a router in rounds of SET and GET (-n each,
    -c clients), one after the other, a pause between rounds. redis-benchmark
    exits at the first error reply; such a round is recorded with its error.
    redis-benchmark keeps retrying a refused connection, so a round first
    checks that the router accepts one, and is ended after round_timeout."""

    CSV = re.compile(r'^"(SET|GET)","([\d.]+)","([\d.]+)","([\d.]+)","([\d.]+)","([\d.]+)","([\d.]+)","([\d.]+)"')

    def __init__(self, host, port, requests, clients, pause, log_path, round_timeout=30.0):
        super().__init__(name="redis-benchmark", daemon=True)
        self.round_timeout = round_timeout
        self.host, self.port = host, port
        self.requests, self.clients, self.pause = requests, clients, pause
        self.log_path = log_path
        self.rounds = []  # {start, end, ops, rps, p99, p50, error}
        self.stopping = threading.Event()
        self.proc = None

    def run(self):
        argv = ["redis-benchmark", "-h", self.host, "-p", str(self.port), "-c", str(self.clients),
                "-n", str(self.requests), "-r", "100000", "-t", "set,get", "--csv"]
        with open(self.log_path, "a") as logf:
            while not self.stopping.is_set():
                start = time.time()
                try:
                    socket.create_connection((self.host, self.port), timeout=2).close()
                except OSError as e:
                    self.rounds.append({"start": start, "end": time.time(), "ops": 0, "rps": 0.0, "p99": None,
                                        "p50": None, "error": f"connecting to {self.host}:{self.port}: {e}"})
                    self.stopping.wait(self.pause)
                    continue
                try:
                    self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                 text=True, start_new_session=True)
                    out, err = self.proc.communicate(timeout=self.round_timeout)
                    rc = self.proc.returncode
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    out, err = self.proc.communicate()
                    rc, err = -1, (err or "") + f"\nround timed out after {self.round_timeout:g}s"
                end = time.time()
                if self.stopping.is_set() and rc != 0:
                    break  # stopped by us mid-round
                logf.write(f"--- round at {time.strftime('%H:%M:%S', time.localtime(start))} rc={rc}\n{out}{err}")
                logf.flush()
                self.rounds.append(self.parse(start, end, rc, out, err))
                self.stopping.wait(self.pause)

    def parse(self, start, end, rc, out, err):
        tests = {}
        for line in out.splitlines():
            m = self.CSV.match(line.strip())
            if m:
                tests[m.group(1)] = {"rps": float(m.group(2)), "p50": float(m.group(5)), "p99": float(m.group(7))}
        error = None
        if rc != 0 or len(tests) < 2:
            lines = [x for x in (err or "").splitlines() if x.strip() and not x.startswith("WARNING")]
            error = (lines[-1] if lines else f"exit status {rc}")[:200]
        done = sum(1 for _ in tests) * self.requests
        return {"start": start, "end": end, "ops": done, "rps": done / max(end - start, 1e-6) if done else 0.0,
                "p99": max((v["p99"] for v in tests.values()), default=None),
                "p50": max((v["p50"] for v in tests.values()), default=None), "error": error}

    def stop(self):
        self.stopping.set()
        p = self.proc
        if p is not None and p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except OSError:
                pass
        self.join(timeout=10)


COPIED_METRICS = {"shardcast_agent_bytes_copied_total": "bytes", "shardcast_agent_keys_copied_total": "keys"}
COPIED_LINE = re.compile(r'^(shardcast_agent_(?:bytes|keys)_copied_total)\{kind="([^"]*)"\}\s+(\S+)\s*$')


def parse_copied(text):
    """{("bytes"|"keys", kind): value} from an agent's /metrics text: what
    its copy jobs moved (kind move, abort) or copied (echo-fill, and
    echo-refresh: what an echo's follower restored from the write log)."""
    out = {}
    for line in text.splitlines():
        m = COPIED_LINE.match(line.strip())
        if not m:
            continue
        try:
            v = float(m.group(3))
        except ValueError:
            continue
        out[(COPIED_METRICS[m.group(1)], m.group(2))] = v
    return out


class CopiedTally:
    """Sums the agents' copy counters over the run. Each pod's agent counts
    from its own start; a pod deleted after a scale-in keeps its last seen
    value, and a counter that goes down (the agent restarted) adds what it
    had counted before."""

    def __init__(self):
        self.done = {}  # (measure, kind) -> counted by agents since restarted
        self.last = {}  # pod -> {(measure, kind): value}

    def update(self, pod, values):
        prev = self.last.get(pod, {})
        if any(values.get(k, 0.0) < v for k, v in prev.items()):  # restarted: bank the old counts
            for k, v in prev.items():
                self.done[k] = self.done.get(k, 0.0) + v
        self.last[pod] = dict(values)

    def totals(self):
        """{"bytes": {kind: n}, "keys": {kind: n}}"""
        out = {"bytes": {}, "keys": {}}
        for src in [self.done] + list(self.last.values()):
            for (measure, kind), v in src.items():
                out[measure][kind] = out[measure].get(kind, 0.0) + v
        return out


def scrape_copied(ip, port, timeout=0.5):
    """parse_copied of the agent's /metrics on ip:port, None when it does not answer."""
    try:
        with urllib.request.urlopen(f"http://{ip}:{port}/metrics", timeout=timeout) as r:
            return parse_copied(r.read().decode("utf-8", "replace"))
    except (OSError, ValueError):
        return None


class DataPlane:
    """The pod runner, the routers, the load generator and the benchmark."""

    def __init__(self, a, kubeconfig, namespace, shardset, configmap, workdir):
        self.a, self.kc, self.ns, self.set = a, kubeconfig, namespace, shardset
        self.configmap, self.workdir = configmap, workdir
        self.data_dir = os.path.join(workdir, "data")
        self.control = os.path.join(workdir, "loadgen-control.json")
        self.stats_path = os.path.join(workdir, "loadgen-stats.json")
        self.children = []
        self.routers = []  # (child, client port, metrics port)
        self.loadgen = None
        self.bench = None
        self.podrunner = None

    # ---- start -------------------------------------------------------------
    def start_podrunner(self):
        py = self.a.python
        self.podrunner = Child("pod runner", [py, os.path.join(ROOT, "hack/podrunner/podrunner.py"),
                                              "--kubeconfig", self.kc, "--namespace", self.ns,
                                              "--shardset", self.set, "--agent", self.a.agent,
                                              "--data-dir", self.data_dir, "--usage-interval", "2"],
                               os.path.join(self.workdir, "podrunner.log"))
        self.podrunner.start()
        self.children.append(self.podrunner)

    def start_routers(self, n=2):
        for i in range(n):
            port, mport = free_port(), free_port()
            c = Child(f"router {i}", [self.a.router, "--configmap", f"{self.ns}/{self.configmap}",
                                      "--kubeconfig", self.kc, "--listen", f"127.0.0.1:{port}",
                                      "--metrics-bind-address", f"127.0.0.1:{mport}", "--threads", "1"],
                      os.path.join(self.workdir, f"router-{i}.log"))
            c.start()
            self.children.append(c)
            self.routers.append((c, port, mport))

    def routers_ready(self):
        return all(http_ok(f"http://127.0.0.1:{m}/readyz") for _, _, m in self.routers)

    def start_loadgen(self, weights, write_fraction):
        self.set_rate(0.0, weights, write_fraction)
        argv = [self.a.python, os.path.join(ROOT, "hack/loadgen/loadgen.py"), "--control", self.control,
                "--stats", self.stats_path, "--workers", str(self.a.loadgen_workers),
                "--ranges", str(len(weights)), "--rate", "0"]
        for _, port, _ in self.routers:
            argv += ["--target", f"127.0.0.1:{port}"]
        self.loadgen = Child("load generator", argv, os.path.join(self.workdir, "loadgen.log"))
        self.loadgen.start()
        self.children.append(self.loadgen)

    def start_bench(self):
        _, port, _ = self.routers[0]
        self.bench = Bench("127.0.0.1", port, self.a.bench_requests, self.a.bench_clients, self.a.bench_pause,
                           os.path.join(self.workdir, "redis-benchmark.log"))
        self.bench.start()

    # ---- steer and read ----------------------------------------------------
    def set_rate(self, rate, weights, write_fraction):
        tmp = self.control + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"rate": rate, "weights": weights, "writeFraction": write_fraction}, f)
        os.replace(tmp, self.control)

    def loadgen_stats(self):
        try:
            with open(self.stats_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def pod_cpu(self):
        """{pod: millicores} of the pod runner's last samples (None: not yet)."""
        path = os.path.join(self.data_dir, self.ns, "podrunner-state.json")
        try:
            with open(path) as f:
                st = json.load(f)
        except (OSError, ValueError):
            return {}
        return {n: s.get("cpuMillis") for n, s in st.items()}

    def supervise(self):
        """Starts a router or the load generator again when it exited."""
        for c in self.children:
            if c is not self.podrunner:
                c.ensure()
        if self.podrunner is not None and not self.podrunner.alive():
            raise RuntimeError(f"the pod runner exited ({self.podrunner.proc.returncode}); see "
                               f"{self.podrunner.log_path}")

    def restarts(self):
        return {c.name: c.restarts for c in self.children if c.restarts}

    def stop_all(self):
        if self.bench is not None:
            self.bench.stop()
        for c in reversed(self.children):  # load generator, routers, then the pod runner
            try:
                c.stop()
            except Exception as e:  # noqa: BLE001 - best effort on the way out
                log(f"stopping {c.name}: {e}")
