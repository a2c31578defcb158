#!/usr/bin/env python3
"""Pod runner: a stand-in for the kubelet in tests.

KWOK pods have no containers. For each pod of one ShardSet that has an IP,
this runs a real redis-server bound to the pod's IP (the local control plane
gives KWOK nodes loopback pod CIDRs 127.(64+i).0.0/16; every 127.0.0.0/8
address is local on Linux, so nothing has to be configured) and a
shardcast-agent beside it. Each pod's data lives in its own directory named
after the pod (standing in for its PVC: a pod re-created with the same name
finds its data again; redis uses appendonly). Crashed processes are
restarted; both are stopped when the pod goes away or its IP changes.

Not a kubelet: no containers, probes, resources or volumes; it does not
report the processes' CPU to metrics-server yet. Not wired into tests yet.

  podrunner.py --shardset kv [--namespace default] [--kubeconfig PATH]
               [--agent build/agent/shardcast-agent] [--data-dir DIR]
  podrunner.py --pods-file pods.json ...   (a `kubectl get pods -o json`
               document read instead of the API, for trying it without a
               control plane)
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time


def log(msg):
    print(time.strftime("[podrunner %H:%M:%S] ") + msg, flush=True)


def list_pods(args):
    """Pods of the ShardSet as {name: ip} (only running, not terminating, with an IP)."""
    if args.pods_file:
        with open(args.pods_file) as f:
            doc = json.load(f)
    else:
        cmd = ["kubectl", "get", "pods", "-n", args.namespace, "-l",
               "shardcast.dev/shardset=" + args.shardset, "-o", "json"]
        if args.kubeconfig:
            cmd[1:1] = ["--kubeconfig", args.kubeconfig]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise RuntimeError("kubectl: " + out.stderr.strip())
        doc = json.loads(out.stdout)
    pods = {}
    for p in doc.get("items", []):
        meta, status = p.get("metadata", {}), p.get("status", {})
        ip = status.get("podIP")
        if ip and not meta.get("deletionTimestamp") and status.get("phase") != "Failed":
            pods[meta["name"]] = ip
    return pods


class Proc:
    """One supervised child process, restarted when it exits."""

    def __init__(self, name, argv, logfile):
        self.name, self.argv, self.logfile = name, argv, logfile
        self.popen, self.restarts = None, 0

    def ensure(self):
        if self.popen is not None and self.popen.poll() is None:
            return
        if self.popen is not None:
            self.restarts += 1
            log(f"{self.name} exited with {self.popen.returncode}; restart {self.restarts}")
        with open(self.logfile, "a") as out:
            self.popen = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT,
                                          start_new_session=True)

    def stop(self):
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


class PodProcesses:
    """redis-server and shardcast-agent for one pod."""

    def __init__(self, args, pod, ip):
        self.ip = ip
        data = os.path.join(args.data_dir, args.namespace, pod)
        os.makedirs(data, exist_ok=True)
        redis = ["redis-server", "--bind", ip, "--port", str(args.redis_port), "--dir", data,
                 "--appendonly", "yes", "--save", "", "--protected-mode", "no"]
        agent = [args.agent, "--redis", f"{ip}:{args.redis_port}",
                 "--listen", f"{ip}:{args.hook_port}",
                 "--metrics-bind-address", f"{ip}:{args.metrics_port}"] + args.agent_arg
        self.procs = [Proc(pod + "/redis", redis, os.path.join(data, "redis.log")),
                      Proc(pod + "/agent", agent, os.path.join(data, "agent.log"))]

    def ensure(self):
        for p in self.procs:
            p.ensure()

    def stop(self):
        for p in reversed(self.procs):
            p.stop()


def main():
    ap = argparse.ArgumentParser(description="A stand-in for the kubelet in tests: real "
                                 "redis-server + shardcast-agent per KWOK pod.")
    ap.add_argument("--shardset", required=True)
    ap.add_argument("--namespace", default="default")
    ap.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG", ""))
    ap.add_argument("--pods-file", default="")
    ap.add_argument("--agent", default="build/agent/shardcast-agent")
    ap.add_argument("--agent-arg", action="append", default=[],
                    help="extra flag for every agent (repeat)")
    ap.add_argument("--data-dir", default="/tmp/shardcast-podrunner")
    ap.add_argument("--redis-port", type=int, default=6379, help="spec.routing.port")
    ap.add_argument("--hook-port", type=int, default=8081, help="spec.hooks.port")
    ap.add_argument("--metrics-port", type=int, default=9091)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--once", action="store_true", help="one round, then stop everything")
    args = ap.parse_args()
    if not os.access(args.agent, os.X_OK):
        sys.exit(f"--agent: {args.agent} is not an executable")

    running = {}  # pod name -> PodProcesses
    stopping = []

    def on_signal(*_):
        stopping.append(True)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stopping:
        try:
            pods = list_pods(args)
        except Exception as e:  # keep what runs; the API may be briefly away
            log(f"listing pods: {e}")
            pods = None
        if pods is not None:
            for name in list(running):
                if pods.get(name) != running[name].ip:
                    log(f"{name}: pod gone or IP changed; stopping its processes")
                    running.pop(name).stop()
            for name, ip in sorted(pods.items()):
                if name not in running:
                    log(f"{name}: starting redis-server and agent on {ip}")
                    running[name] = PodProcesses(args, name, ip)
        for pp in running.values():
            pp.ensure()
        if args.once:
            time.sleep(args.interval)
            break
        time.sleep(args.interval)
    for pp in running.values():
        pp.stop()
    log("stopped")


if __name__ == "__main__":
    main()
