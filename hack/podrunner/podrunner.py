#!/usr/bin/env python3
"""Pod runner: a stand-in for the kubelet in tests (docs/podrunner.md).

KWOK pods have no containers. For each pod of one ShardSet that has an IP,
this runs a real redis-server bound to the pod's IP on the ShardSet's routing
port (spec.routing.port) and a shardcast-agent beside it (hooks on
spec.hooks.port, default 8081, on the pod IP). The local control plane gives
KWOK nodes loopback pod CIDRs 127.(64+i).0.0/16, and every 127.0.0.0/8
address is local on Linux, so nothing has to be configured.

- Each pod's data lives in its own directory <data-dir>/<namespace>/<pod>
  (standing in for its PVC: a pod re-created with the same name finds its
  data again; redis uses appendonly).
- A process that exits is restarted (with a back-off when it keeps dying).
- Both are stopped when the pod is deleted (deletionTimestamp set, or gone),
  fails, or its IP or ports change, or it is a new pod under the same name
  (another metadata.uid: deleted and created again between two polls).
- Every --usage-interval seconds the CPU the pod's processes really used
  (utime+stime+cutime+cstime of /proc/<pid>/stat, in millicores over the
  interval) and their resident memory are written to the pod's annotations
  kwok.x-k8s.io/usage-cpu / usage-memory, which KWOK reports to
  metrics-server (hack/controlplane.sh's ClusterResourceUsage). KWOK gives
  each container the annotation's whole value, so the runner writes the
  pod's usage divided by its number of containers: PodMetrics' sum over the
  containers is then the processes' real usage.

It polls the API (one pod list and one ShardSet get per --interval, default
1 s) rather than watching. Not a kubelet: no containers, images, probes,
resource limits, volumes or pod status; readiness stays KWOK's.

  podrunner.py --shardset kv [--namespace default] [--kubeconfig PATH]
               [--agent build/agent/shardcast-agent] [--data-dir DIR]
  podrunner.py --pods-file pods.json --shardset kv ...   (a `kubectl get pods
               -o json` document read instead of the API; no usage reports)
"""
import argparse
import ctypes
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "replay"))
from procs import redis_ping, stop_process  # noqa: E402

CPU_ANNOTATION = "kwok.x-k8s.io/usage-cpu"
MEMORY_ANNOTATION = "kwok.x-k8s.io/usage-memory"
DEFAULT_ROUTING_PORT = 8080  # the CRD's defaults
DEFAULT_HOOK_PORT = 8081
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def log(msg):
    print(time.strftime("[podrunner %H:%M:%S] ") + msg, flush=True)


# ---- pure logic ------------------------------------------------------------

def pods_to_run(doc):
    """{name: (ip, uid)} of the pods in a pod list that should have processes.

    A pod runs when it has an IP, is not being deleted and has not ended
    (phase Failed or Succeeded). The uid tells a pod created again under the
    same name from the one it replaces ("" when the list has none)."""
    pods = {}
    for p in doc.get("items", []):
        meta, status = p.get("metadata", {}), p.get("status", {})
        ip = status.get("podIP")
        if not ip or meta.get("deletionTimestamp"):
            continue
        if status.get("phase") in ("Failed", "Succeeded"):
            continue
        pods[meta["name"]] = (ip, meta.get("uid", ""))
    return pods


def container_counts(doc):
    """{pod name: number of containers in its spec} (at least 1)."""
    return {p["metadata"]["name"]: max(1, len(p.get("spec", {}).get("containers", [])))
            for p in doc.get("items", [])}


def shardset_ports(shardset, routing_flag=None, hook_flag=None):
    """(redis port, hook port): the flags when given, else spec.routing.port and
    spec.hooks.port of the ShardSet (None when not known), else the CRD's
    defaults."""
    spec = (shardset or {}).get("spec", {})
    routing = routing_flag or spec.get("routing", {}).get("port") or DEFAULT_ROUTING_PORT
    hooks = hook_flag or (spec.get("hooks") or {}).get("port") or DEFAULT_HOOK_PORT
    return int(routing), int(hooks)


def cpu_millis(prev_ticks, now_ticks, seconds):
    """Millicores used between two samples of per-pid CPU ticks.

    prev_ticks/now_ticks: {pid: ticks}. A pid not in prev_ticks is a process
    started since the last sample (the runner only measures processes it
    started), so all its ticks count."""
    if seconds <= 0:
        return 0.0
    used = 0
    for pid, ticks in now_ticks.items():
        used += max(0, ticks - prev_ticks.get(pid, 0))
    return used / CLK_TCK / seconds * 1000.0


def cpu_quantity(millis, containers=1):
    """The usage-cpu annotation for a pod using `millis` in all: KWOK gives
    every container of the pod the annotation's whole value (metrics-server's
    pod total is the sum), so it is divided by the number of containers. At
    least 1m (KWOK's default without the annotation; a counter that never
    moves is not a useful sample)."""
    return f"{max(1, int(round(millis / containers)))}m"


def memory_quantity(rss_bytes, containers=1):
    """The usage-memory annotation (per container, as for CPU), at least 1Ki."""
    return f"{max(1, int(rss_bytes) // containers // 1024)}Ki"


def parse_stat(text):
    """(cpu ticks incl. waited-for children, rss pages) from /proc/<pid>/stat."""
    rest = text[text.rindex(")") + 2:].split()  # fields from 3 (state) on
    utime, stime, cutime, cstime = (int(x) for x in rest[11:15])
    return utime + stime + cutime + cstime, int(rest[21])


def redis_answers(ip, port, timeout=0.3):
    """True when redis-server on ip:port answers PING with PONG (not LOADING)."""
    return redis_ping(ip, port, timeout)


# ---- processes ---------------------------------------------------------------

def _die_with_parent():
    # PR_SET_PDEATHSIG: the children go when the runner is killed (-9 too).
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)


class Proc:
    """One supervised child process, restarted when it exits."""

    def __init__(self, name, argv, logfile):
        self.name, self.argv, self.logfile = name, argv, logfile
        self.popen, self.restarts = None, 0
        self.started, self.backoff, self.not_before = 0.0, 0.0, 0.0

    def pid(self):
        return self.popen.pid if self.popen is not None and self.popen.poll() is None else None

    def ensure(self, now):
        if self.pid() is not None:
            return
        if self.popen is not None:  # it exited
            if self.not_before == 0.0:  # first noticed now
                # Died within 10 s of its start: back off 1, 2, 4 .. 10 s.
                lived = now - self.started
                self.backoff = 0.0 if lived > 10 else min(10.0, max(1.0, self.backoff * 2))
                self.not_before = now + self.backoff
                log(f"{self.name} exited with {self.popen.returncode} after {lived:.1f}s; "
                    f"restarting in {self.backoff:.0f}s")
            if now < self.not_before:
                return
            self.restarts += 1
            log(f"{self.name}: restart {self.restarts}")
        self.not_before = 0.0
        with open(self.logfile, "a") as out:
            self.popen = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True,
                                          preexec_fn=_die_with_parent)
        self.started = now

    def stop(self):
        if self.pid() is None:
            return
        stop_process(self.popen, 5)


class PodProcesses:
    """redis-server and shardcast-agent for one pod, and their CPU samples."""

    def __init__(self, args, pod, ip, uid, redis_port, hook_port):
        self.key = (ip, uid, redis_port, hook_port)
        self.ip, self.redis_port, self.hook_port = ip, redis_port, hook_port
        self.data = os.path.join(args.data_dir, args.namespace, pod)
        os.makedirs(self.data, exist_ok=True)
        redis = ["redis-server", "--bind", ip, "--port", str(redis_port), "--dir", self.data,
                 "--appendonly", "yes", "--save", "", "--protected-mode", "no",
                 "--daemonize", "no"]
        agent = [args.agent, "--redis", f"{ip}:{redis_port}", "--listen", f"{ip}:{hook_port}",
                 "--metrics-bind-address", f"{ip}:{args.metrics_port}"] + args.agent_arg
        self.procs = [Proc(pod + "/redis", redis, os.path.join(self.data, "redis.log")),
                      Proc(pod + "/agent", agent, os.path.join(self.data, "agent.log"))]
        self.ticks, self.sampled = {}, None  # last CPU sample: {pid: ticks}, time
        self.cpu, self.rss, self.reported = None, None, None
        self.containers = 1  # in the pod's spec

    def ensure(self, now):
        """Starts what is not running. The agent (re)starts only once redis
        answers PING, so that it can resume its jobs from redis (it reads
        them once, at start)."""
        redis, agent = self.procs
        redis.ensure(now)
        if agent.pid() is None and redis_answers(self.ip, self.redis_port):
            agent.ensure(now)

    def stop(self):
        for p in reversed(self.procs):
            p.stop()

    def sample(self, now):
        """Updates self.cpu (millicores since the last sample) and self.rss."""
        ticks, rss = {}, 0
        for p in self.procs:
            pid = p.pid()
            if pid is None:
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    t, pages = parse_stat(f.read())
            except (OSError, ValueError, IndexError):
                continue
            ticks[pid] = t
            rss += pages * PAGE_SIZE
        if self.sampled is not None:
            self.cpu = cpu_millis(self.ticks, ticks, now - self.sampled)
        self.ticks, self.sampled, self.rss = ticks, now, rss

    def state(self):
        return {"ip": self.ip, "redisPort": self.redis_port, "hookPort": self.hook_port,
                "dataDir": self.data, "cpuMillis": self.cpu, "rssBytes": self.rss,
                **{p.name.rsplit("/", 1)[1]: {"pid": p.pid(), "restarts": p.restarts}
                   for p in self.procs}}


# ---- the API -----------------------------------------------------------------

class Source:
    """The pods and the ShardSet, from the API or from --pods-file."""

    def __init__(self, args):
        self.args, self.client = args, None
        if not args.pods_file:
            import kube  # hack/replay/kube.py: HTTPS with the standard library
            self.client = kube.Client(args.kubeconfig)
        ns = args.namespace
        self.pods_path = (f"/api/v1/namespaces/{ns}/pods"
                          f"?labelSelector=shardcast.dev%2Fshardset%3D{args.shardset}")
        self.set_path = f"/apis/shardcast.dev/v1alpha1/namespaces/{ns}/shardsets/{args.shardset}"

    def pods(self):
        if self.client is None:
            with open(self.args.pods_file) as f:
                return json.load(f)
        return self.client.get(self.pods_path)

    def shardset(self):
        """The ShardSet object, or None when it does not exist (or no API)."""
        if self.client is None:
            return None
        try:
            return self.client.get(self.set_path)
        except Exception as e:  # noqa: BLE001 - kube.ApiError or a connection error
            if getattr(e, "status", None) == 404:
                return None
            raise

    def report_usage(self, pod, cpu, memory):
        path = f"/api/v1/namespaces/{self.args.namespace}/pods/{pod}"
        self.client.merge_patch(path, {"metadata": {"annotations": {
            CPU_ANNOTATION: cpu, MEMORY_ANNOTATION: memory}}})


# ---- the loop ------------------------------------------------------------------

class Runner:
    def __init__(self, args):
        self.args, self.source = args, Source(args)
        self.running = {}  # pod name -> PodProcesses
        self.ports = None
        self.next_usage = 0.0
        self.last_state = None

    def desired(self):
        """{pod: (ip, uid, redis port, hook port)} or None when the API did not answer."""
        a = self.args
        try:
            ss = self.source.shardset()
            if ss is None and self.source.client is not None and not (a.redis_port and a.hook_port):
                if self.ports != ():
                    log(f"ShardSet {a.namespace}/{a.shardset} not found; serving no pod until it exists")
                    self.ports = ()
                return {}
            ports = shardset_ports(ss, a.redis_port, a.hook_port)
            if ports != self.ports:
                log(f"redis port {ports[0]}, hook port {ports[1]}")
                self.ports = ports
            doc = self.source.pods()
            for name, n in container_counts(doc).items():
                if name in self.running:
                    self.running[name].containers = n
            return {n: ip_uid + ports for n, ip_uid in pods_to_run(doc).items()}
        except Exception as e:  # noqa: BLE001 - keep what runs; the API may be briefly away
            log(f"reading pods of ShardSet {a.namespace}/{a.shardset}: {e}")
            return None

    def reconcile(self, now):
        want = self.desired()
        if want is not None:
            for name in list(self.running):
                if want.get(name) != self.running[name].key:
                    why = "gone" if name not in want else f"now {want[name]}"
                    log(f"{name}: pod {why}; stopping its redis-server and agent")
                    self.running.pop(name).stop()
            for name, (ip, uid, redis_port, hook_port) in sorted(want.items()):
                if name not in self.running:
                    log(f"{name}: starting redis-server on {ip}:{redis_port}, "
                        f"agent hooks on {ip}:{hook_port}")
                    self.running[name] = PodProcesses(self.args, name, ip, uid, redis_port, hook_port)
        for pp in self.running.values():
            pp.ensure(now)

    def report_usage(self, now):
        if now < self.next_usage:
            return
        self.next_usage = now + self.args.usage_interval
        for name, pp in self.running.items():
            pp.sample(now)
            if pp.cpu is None or self.source.client is None:
                continue
            value = (cpu_quantity(pp.cpu, pp.containers), memory_quantity(pp.rss, pp.containers))
            if value == pp.reported:
                continue
            try:
                self.source.report_usage(name, *value)
                pp.reported = value
            except Exception as e:  # noqa: BLE001 - a pod deleted meanwhile, the API away
                log(f"{name}: reporting usage {value}: {e}")

    def write_state(self):
        """<data-dir>/<namespace>/podrunner-state.json: pids, restarts, usage."""
        state = {n: pp.state() for n, pp in sorted(self.running.items())}
        if state == self.last_state:
            return
        path = os.path.join(self.args.data_dir, self.args.namespace, "podrunner-state.json")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".tmp", "w") as f:
            json.dump(state, f, indent=1, sort_keys=True)
        os.replace(path + ".tmp", path)
        self.last_state = state

    def stop(self):
        for pp in self.running.values():
            pp.stop()
        self.running.clear()
        self.write_state()


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description="A stand-in for the kubelet in tests: real "
                                 "redis-server + shardcast-agent per KWOK pod of a ShardSet.")
    ap.add_argument("--shardset", required=True)
    ap.add_argument("--namespace", default="default")
    ap.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG", ""))
    ap.add_argument("--pods-file", default="")
    ap.add_argument("--agent", default="build/agent/shardcast-agent")
    ap.add_argument("--agent-arg", action="append", default=[],
                    help="extra flag for every agent (repeat)")
    ap.add_argument("--data-dir", default="/tmp/shardcast-podrunner")
    ap.add_argument("--redis-port", type=int, default=None,
                    help="default: the ShardSet's spec.routing.port")
    ap.add_argument("--hook-port", type=int, default=None,
                    help="default: the ShardSet's spec.hooks.port (8081)")
    ap.add_argument("--metrics-port", type=int, default=9091, help="the agent's /metrics")
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between polls (<= 1)")
    ap.add_argument("--usage-interval", type=float, default=3.0,
                    help="seconds between CPU/memory reports")
    ap.add_argument("--once", action="store_true", help="one round, then stop everything")
    args = ap.parse_args(argv)
    if not os.access(args.agent, os.X_OK):
        ap.error(f"--agent: {args.agent} is not an executable")
    if not args.pods_file and not args.kubeconfig:
        ap.error("--kubeconfig (or KUBECONFIG) is required without --pods-file")
    if not 0 < args.interval <= 1:
        ap.error("--interval: must be in (0, 1] seconds")
    if args.usage_interval < 1:
        ap.error("--usage-interval: must be at least 1 second")
    return args


def main():
    args = parse_args()
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    runner = Runner(args)
    log(f"serving the pods of ShardSet {args.namespace}/{args.shardset} "
        f"(data in {os.path.join(args.data_dir, args.namespace)})")
    while not stopping:
        start = time.monotonic()
        runner.reconcile(start)
        runner.report_usage(time.monotonic())
        runner.write_state()
        while not stopping and time.monotonic() - start < args.interval:
            time.sleep(0.05)
        if args.once:
            break
    runner.stop()
    log("stopped")


if __name__ == "__main__":
    main()
