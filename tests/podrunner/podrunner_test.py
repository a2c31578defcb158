#!/usr/bin/env python3
"""The pod runner (hack/podrunner, a stand-in for the kubelet in tests) on the
real local control plane.

Creates a ShardSet (2 active + 1 warm pod, redis-shaped: routing port 6390,
hooks on 8091, both not the defaults so that reading them from the spec is
tested), runs the operator (which creates the pods; KWOK gives them loopback
IPs) and the pod runner, then checks:
  1. every pod's redis-server answers PING on <pod IP>:6390 and its agent's
     /healthz answers 200 on <pod IP>:8091;
  2. keys written to one pod survive a kill -9 of its redis-server (restarted
     by the runner with its appendonly data); a killed agent is restarted;
  3. deleting a pod stops its redis-server and agent; the ShardSet has
     volumeClaimTemplates (claims pre-bound to hostPath PersistentVolumes the
     test creates), so the operator creates the pod again under its name and
     the keys written before are read back from its data directory (the
     runner's stand-in for the PVC);
  4. under redis-benchmark against one pod, metrics.k8s.io PodMetrics reports
     that pod's CPU at least 30m and over twice an idle pod's.
Uses the control plane named by SHARDCAST_TEST_KUBECONFIG (hack/test.sh), or
starts a private one. Every wait is a condition with a deadline.
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
import urllib.request

SRC = os.environ.get("SHARDCAST_SOURCE_DIR") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "hack", "replay"))
import kube  # noqa: E402

REDIS_PORT, HOOK_PORT = 6390, 8091
T0 = time.monotonic()


def log(msg):
    print(f"[podrunner-test {time.monotonic() - T0:6.1f}s] {msg}", flush=True)


class Failure(Exception):
    pass


def wait_for(what, pred, timeout, period=0.25):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = pred()
            if v:
                log(f"ok: {what}")
                return v
        except Exception as e:  # noqa: BLE001 - a condition not met yet
            last = e
        time.sleep(period)
    raise Failure(f"timed out after {timeout}s waiting for: {what}" + (f" (last error: {last})" if last else ""))


# ---- a tiny RESP client (no Python redis module needed) -----------------------

def redis_cmd(host, port, *args, timeout=3.0):
    with socket.create_connection((host, port), timeout=timeout) as s:
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        s.sendall(out)
        return _reply(s.makefile("rb"))


def _reply(f):
    line = f.readline()
    if not line:
        raise ConnectionError("connection closed")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError("redis error: " + rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2].decode()
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_reply(f) for _ in range(n)]
    raise RuntimeError(f"bad RESP line {line!r}")


def redis_pid(ip):
    info = redis_cmd(ip, REDIS_PORT, "INFO", "server")
    return int(next(x for x in info.split("\r\n") if x.startswith("process_id:")).split(":")[1])


def healthz(ip):
    with urllib.request.urlopen(f"http://{ip}:{HOOK_PORT}/healthz", timeout=3) as r:
        return r.status == 200


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def kubectl(kc, *args, stdin=None):
    r = subprocess.run(["kubectl", "--kubeconfig", kc, *args], input=stdin, capture_output=True,
                       text=True, timeout=120)
    if r.returncode != 0:
        raise Failure(f"kubectl {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def persistent_volumes(ns, work, count):
    """hostPath PersistentVolumes pre-bound (claimRef) to the claims the
    ShardSet's pods kv-0..kv-<count-1> will have, so the PV controller binds
    them and the scheduler places the pods. Cluster-scoped: named after the
    namespace and deleted by cleanup()."""
    return [{
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": f"{ns}-data-kv-{i}"},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                 "storageClassName": "", "persistentVolumeReclaimPolicy": "Retain",
                 "hostPath": {"path": os.path.join(work, "pv", f"kv-{i}")},
                 "claimRef": {"namespace": ns, "name": f"data-kv-{i}"}},
    } for i in range(count)]


def shardset(ns):
    return {
        "apiVersion": "shardcast.dev/v1alpha1", "kind": "ShardSet",
        "metadata": {"name": "kv", "namespace": ns},
        "spec": {
            "replicas": 2, "minReplicas": 2, "maxReplicas": 4, "warmPool": {"size": 1},
            "keySpace": {"ranges": 16},
            "capacity": {"metric": "CPU", "cpuMillis": 1000},
            "routing": {"configMapName": "kv-routing", "port": REDIS_PORT},
            "hooks": {"port": HOOK_PORT},
            "volumeClaimTemplates": [{
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "",
                         "resources": {"requests": {"storage": "1Gi"}}}}],
            "template": {"spec": {
                "nodeSelector": {"type": "kwok"},
                "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Equal", "value": "fake",
                                 "effect": "NoSchedule"}],
                "containers": [{"name": "redis", "image": "redis:7",
                                "ports": [{"name": "redis", "containerPort": REDIS_PORT}]},
                               {"name": "agent", "image": "shardcast/agent:0.1.0",
                                "ports": [{"name": "hooks", "containerPort": HOOK_PORT}]}]}},
        },
    }


class Test:
    def __init__(self, args, kc, work):
        self.a, self.kc, self.work = args, kc, work
        self.client = kube.Client(kc)
        self.ns = f"podrunner-{os.getpid()}"
        self.data = os.path.join(work, "data")
        self.procs = {}
        self.pvs = persistent_volumes(self.ns, work, 5)

    def start(self, name, argv):
        logf = open(os.path.join(self.work, name + ".log"), "w")
        self.procs[name] = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        logf.close()

    def stop(self, name, timeout=30):
        p = self.procs.pop(name, None)
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()

    def state(self):
        with open(os.path.join(self.data, self.ns, "podrunner-state.json")) as f:
            return json.load(f)

    def pods(self):
        items = self.client.get(f"/api/v1/namespaces/{self.ns}/pods"
                                "?labelSelector=shardcast.dev%2Fshardset%3Dkv")["items"]
        return {p["metadata"]["name"]: p["status"].get("podIP") for p in items
                if not p["metadata"].get("deletionTimestamp")}

    def pod_cpu(self, pod):
        m = self.client.get(f"/apis/metrics.k8s.io/v1beta1/namespaces/{self.ns}/pods/{pod}")
        return sum(kube.parse_cpu_millis(c["usage"]["cpu"]) for c in m["containers"])

    def setup(self):
        kubectl(self.kc, "apply", "--server-side", "-f", os.path.join(SRC, "crds"))
        kubectl(self.kc, "wait", "--for=condition=Established", "crd/shardsets.shardcast.dev",
                "--timeout=60s")
        kubectl(self.kc, "create", "namespace", self.ns)
        for pv in self.pvs:
            kubectl(self.kc, "apply", "-f", "-", stdin=json.dumps(pv))
        kubectl(self.kc, "apply", "-f", "-", stdin=json.dumps(shardset(self.ns)))
        self.start("operator", [self.a.operator, "run", "--kubeconfig", self.kc, "--namespace", self.ns,
                                "--metrics-bind-address", "", "--health-probe-bind-address", "",
                                "--forecasting=false"])
        self.start("podrunner", [sys.executable, os.path.join(SRC, "hack/podrunner/podrunner.py"),
                                 "--kubeconfig", self.kc, "--namespace", self.ns, "--shardset", "kv",
                                 "--agent", self.a.agent, "--data-dir", self.data,
                                 "--interval", "0.5", "--usage-interval", "2"])

    def serving(self):
        pods = self.pods()
        if len(pods) != 3 or not all(pods.values()):
            return None
        for name, ip in pods.items():
            if redis_cmd(ip, REDIS_PORT, "PING") != "PONG" or not healthz(ip):
                return None
        return pods

    def run(self):
        self.setup()
        pods = wait_for("3 pods, each with redis PING and agent /healthz on its pod IP",
                        self.serving, 120)
        log(f"pods: {pods}")
        for p in self.procs.values():
            if p.poll() is not None:
                raise Failure(f"a helper process exited early with {p.returncode}")
        names = sorted(pods)
        a, b, c = names[0], names[1], names[2]

        # 2. Crash and restart with the data (appendonly in the pod's own dir).
        ip = pods[a]
        for i in range(200):
            redis_cmd(ip, REDIS_PORT, "SET", f"key:{i}", f"value:{i}")
        old = redis_pid(ip)
        os.kill(old, signal.SIGKILL)
        log(f"{a}: killed redis-server {old}")
        wait_for(f"{a}: redis-server restarted (a new pid answers)", lambda: redis_pid(ip) != old, 30)
        lost = [i for i in range(200) if redis_cmd(ip, REDIS_PORT, "GET", f"key:{i}") != f"value:{i}"]
        if lost:
            raise Failure(f"{a}: {len(lost)} of 200 keys lost across the restart, e.g. key:{lost[0]}")
        if not os.path.isdir(os.path.join(self.data, self.ns, a, "appendonlydir")):
            raise Failure(f"{a}: no appendonlydir in its data directory")
        log(f"{a}: all 200 keys read back after the restart")
        agent = self.state()[a]["agent"]["pid"]
        os.kill(agent, signal.SIGKILL)
        wait_for(f"{a}: agent restarted and /healthz 200",
                 lambda: self.state()[a]["agent"]["pid"] not in (None, agent) and healthz(ip), 30)

        # 3. Deleting a pod stops its processes; the pod the operator creates
        # again under the same name (lowest free ordinal) finds its data.
        for i in range(50):
            redis_cmd(pods[b], REDIS_PORT, "SET", f"pvc:{i}", f"v{i}")
        st = self.state()[b]
        victims = [st["redis"]["pid"], st["agent"]["pid"]]
        old_uid = self.client.get(f"/api/v1/namespaces/{self.ns}/pods/{b}")["metadata"]["uid"]
        kubectl(self.kc, "-n", self.ns, "delete", "pod", b, "--wait=false")
        wait_for(f"{b}: deleted; its redis-server and agent {victims} stopped",
                 lambda: not any(alive(p) for p in victims), 60)

        # With its claims kept, the operator creates the pod again under its
        # name; the runner serves it from the same data directory.
        def back_with_data():
            ip_b = self.pods().get(b)
            pod = self.client.get(f"/api/v1/namespaces/{self.ns}/pods/{b}")
            if not ip_b or pod["metadata"]["uid"] == old_uid:
                return None
            if redis_pid(ip_b) in victims:
                return None
            got = [redis_cmd(ip_b, REDIS_PORT, "GET", f"pvc:{i}") for i in range(50)]
            missing = [i for i, v in enumerate(got) if v != f"v{i}"]
            if missing:  # wait_for retries; this is the error it reports if it lasts
                raise Failure(f"{b}: re-created, but {len(missing)} of 50 keys are missing, "
                              f"e.g. pvc:{missing[0]}")
            return ip_b

        wait_for(f"{b}: created again under its name, serving, and all 50 keys written before "
                 "the deletion read back", back_with_data, 120)
        log(f"{b}: a new pod (uid {old_uid} before) with a new redis-server answers")

        # 4. Real CPU reaches metrics-server.
        bench = subprocess.Popen(["redis-benchmark", "-h", ip, "-p", str(REDIS_PORT), "-l", "-q",
                                  "-c", "8", "-P", "16", "-t", "set,get"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            seen = {}

            def loaded_above_idle():
                seen[a], seen[c] = self.pod_cpu(a), self.pod_cpu(c)
                log(f"PodMetrics cpu: loaded {a} {seen[a]:.0f}m, idle {c} {seen[c]:.0f}m")
                return seen[a] >= 30 and seen[a] > 2 * seen[c]

            wait_for(f"PodMetrics: {a} under redis-benchmark at least 30m and over twice idle {c}",
                     loaded_above_idle, 90, period=2)
        finally:
            bench.terminate()
            bench.wait()
        ann = self.client.get(f"/api/v1/namespaces/{self.ns}/pods/{a}")["metadata"]["annotations"]
        log(f"{a}: per-container annotations {ann.get('kwok.x-k8s.io/usage-cpu')}, "
            f"{ann.get('kwok.x-k8s.io/usage-memory')}; the runner's last sample "
            f"{self.state()[a]['cpuMillis']:.0f}m")
        return seen

    def cleanup(self):
        self.stop("operator")
        pids = []
        try:
            pids = [s[k]["pid"] for s in self.state().values() for k in ("redis", "agent")]
        except (OSError, ValueError):
            pass
        self.stop("podrunner")
        left = [p for p in pids if p and alive(p)]
        subprocess.run(["kubectl", "--kubeconfig", self.kc, "delete", "namespace", self.ns, "--wait=false"],
                       capture_output=True, timeout=60)
        subprocess.run(["kubectl", "--kubeconfig", self.kc, "delete", "pv", "--wait=false",
                        "--ignore-not-found", *[pv["metadata"]["name"] for pv in self.pvs]],
                       capture_output=True, timeout=60)
        if left:
            raise Failure(f"processes left running after the pod runner stopped: {left}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--operator", required=True, help="the shardcast binary")
    ap.add_argument("--agent", required=True, help="the shardcast-agent binary")
    ap.add_argument("--out", default=None, help="work dir (logs, data); kept on failure")
    args = ap.parse_args()
    for tool in ("redis-server", "redis-benchmark", "kubectl"):
        if not shutil.which(tool):
            print(f"FAIL: {tool} not found (hack/install-deps.sh installs it)")
            return 1
    work = args.out or tempfile.mkdtemp(prefix="shardcast-podrunner-test-")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    kc = os.environ.get("SHARDCAST_TEST_KUBECONFIG")
    private = None
    if not kc:
        private = tempfile.mkdtemp(prefix="shardcast-podrunner-cp-")
        subprocess.run(["bash", os.path.join(SRC, "hack/controlplane.sh"), "start"], check=True,
                       env=dict(os.environ, SHARDCAST_CP_DIR=private))
        kc = os.path.join(private, "kubeconfig")
    t = Test(args, kc, work)
    ok = False
    try:
        t.run()
        ok = True
    except Failure as e:
        print(f"FAIL: {e}")
    finally:
        try:
            t.cleanup()
        except Failure as e:
            print(f"FAIL: {e}")
            ok = False
        if private:
            subprocess.run(["bash", os.path.join(SRC, "hack/controlplane.sh"), "stop"],
                           env=dict(os.environ, SHARDCAST_CP_DIR=private))
            shutil.rmtree(private, ignore_errors=True)
    if not ok:
        for name in ("podrunner", "operator"):
            path = os.path.join(work, name + ".log")
            if os.path.exists(path):
                with open(path) as f:
                    tail = f.read()[-3000:]
                print(f"--- last of {path}:\n{tail}")
        print(f"logs and data kept in {work}")
        return 1
    log("PASS")
    if not args.out:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
