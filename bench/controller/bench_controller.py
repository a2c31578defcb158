#!/usr/bin/env python3
"""ShardSet controller benchmark (issue 3).

Runs the real operator binary against the local control plane, creates N
ShardSets, and reports side by side:
  - time to converge from nothing vs after an operator restart
  - API writes per minute in steady state (target 0), from the operator's own
    shardcast_api_requests_total counter
  - operator RSS idle vs with every set converged
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "hack", "replay"))
from procs import free_port  # noqa: E402

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def kubectl(kubeconfig, *args, stdin=None):
    r = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, *args], input=stdin,
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def scrape(port, by_method=None):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    writes = 0.0
    reconciles = 0.0
    for line in text.splitlines():
        m = re.match(r'shardcast_api_requests_total\{(.*)\} ([0-9.e+]+)', line)
        if m and any(f'method="{w}"' in m.group(1) for w in WRITE_METHODS):
            writes += float(m.group(2))
            if by_method is not None:
                method = re.search(r'method="([A-Z]+)"', m.group(1)).group(1)
                by_method[method] = by_method.get(method, 0.0) + float(m.group(2))
        m = re.match(r'shardcast_reconcile_total\{(.*)\} ([0-9.e+]+)', line)
        if m and 'controller="shardset"' in m.group(1):
            reconciles += float(m.group(2))
    return writes, reconciles


def operator_writes(args):
    """Counts the objects the operator writes, by kind, via resourceVersions."""
    out = {}
    for kind in ("pods", "configmaps", "shardsets", "events"):
        items = json.loads(kubectl(args.kubeconfig, "-n", args.namespace, "get", kind, "-o", "json"))["items"]
        out[kind] = {i["metadata"]["name"]: i["metadata"].get("resourceVersion") for i in items}
    return out


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def start_operator(args, port, log):
    return subprocess.Popen([args.binary, "run", "--kubeconfig", args.kubeconfig,
                             "--namespace", args.namespace, "--metrics-bind-address",
                             f"127.0.0.1:{port}", "--health-probe-bind-address", "",
                             f"--forecasting={args.forecasting}", "--log-level", args.log_level],
                            stdout=log, stderr=subprocess.STDOUT)


def wait_metrics(port, deadline):
    while time.time() < deadline:
        try:
            return scrape(port)
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("operator metrics never came up")


def converged(args):
    sets = json.loads(kubectl(args.kubeconfig, "-n", args.namespace, "get", "shardsets", "-o", "json"))
    done = 0
    for s in sets["items"]:
        st = s.get("status", {})
        conds = {c.get("type"): c.get("status") for c in st.get("conditions", [])}
        # Ready alone is not the end: the controller may still be writing
        # (Progressing=True), and those writes belong to convergence, not to
        # the steady state measured afterwards.
        if (conds.get("Ready") == "True" and conds.get("Progressing") == "False"
                and st.get("activeReplicas") == args.replicas
                and st.get("warmReplicas") == args.warm
                and st.get("observedGeneration") == s["metadata"]["generation"]):
            done += 1
    return done


def manifest(args):
    docs = []
    for i in range(args.sets):
        docs.append({
            "apiVersion": "shardcast.dev/v1alpha1", "kind": "ShardSet",
            "metadata": {"name": f"set-{i}", "namespace": args.namespace},
            "spec": {
                "replicas": args.replicas, "minReplicas": 1, "maxReplicas": 20,
                "warmPool": {"size": args.warm},
                "keySpace": {"ranges": 64},
                "capacity": {"metric": "CPU", "cpuMillis": 1000},
                "routing": {"configMapName": f"set-{i}-routing"},
                "template": {"metadata": {"labels": {"app": "bench"}},
                             "spec": {"nodeSelector": {"type": "kwok"},
                                      "tolerations": [{"key": "kwok.x-k8s.io/node",
                                                       "operator": "Exists",
                                                       "effect": "NoSchedule"}],
                                      "containers": [{"name": "kv", "image": "fake"}]}},
            },
        })
    return "\n---\n".join(json.dumps(d) for d in docs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--namespace", default="bench")
    ap.add_argument("--sets", type=int, default=200)
    ap.add_argument("--replicas", type=int, default=8)
    ap.add_argument("--warm", type=int, default=2)
    ap.add_argument("--steady-seconds", type=int, default=60)
    ap.add_argument("--timeout", type=int, default=1800)
    ap.add_argument("--log-level", default="info",
                    help="operator log level; debug logs every API write (method, path, status)")
    ap.add_argument("--forecasting", default="true", help="false: ShardSet controller without forecasting")
    args = ap.parse_args()

    kubectl(args.kubeconfig, "apply", "--server-side", "-f", "crds/")
    kubectl(args.kubeconfig, "wait", "--for=condition=Established", "crd/shardsets.shardcast.dev",
            "--timeout=60s")
    kubectl(args.kubeconfig, "create", "namespace", args.namespace)
    port = free_port()
    log = open(f"{args.workdir}/operator.log", "w")
    op = start_operator(args, port, log)
    try:
        wait_metrics(port, time.time() + 60)
        idle_rss = rss_mb(op.pid)

        t0 = time.time()
        kubectl(args.kubeconfig, "apply", "-f", "-", stdin=manifest(args))
        last = -1
        while True:
            n = converged(args)
            if n != last:
                print(f"  [{time.time() - t0:6.1f}s] {n}/{args.sets} ShardSets converged", flush=True)
                last = n
            if n == args.sets:
                break
            if time.time() - t0 > args.timeout:
                raise RuntimeError(f"only {n}/{args.sets} converged within {args.timeout}s")
            time.sleep(2)  # progress display interval
        fresh_secs = time.time() - t0
        full_rss = rss_mb(op.pid)

        # Steady state: count the operator's writes over a window.
        m0, m1 = {}, {}
        w0, _ = scrape(port, m0)
        ops0 = operator_writes(args)
        time.sleep(args.steady_seconds)  # measurement window, not synchronisation
        w1, _ = scrape(port, m1)
        ops1 = operator_writes(args)
        writes_per_min = (w1 - w0) * 60.0 / args.steady_seconds

        # Restart: a new process must re-list, reconcile every set, and find
        # nothing to do.
        op.terminate()
        op.wait(timeout=60)
        port = free_port()
        t1 = time.time()
        op = start_operator(args, port, log)
        wait_metrics(port, time.time() + 120)
        while True:
            writes, reconciles = scrape(port)
            if reconciles >= args.sets and converged(args) == args.sets:
                break
            if time.time() - t1 > args.timeout:
                raise RuntimeError("did not re-converge after restart")
            time.sleep(0.5)
        restart_secs = time.time() - t1
        restart_writes, _ = scrape(port)
    finally:
        op.terminate()
        try:
            op.wait(timeout=60)
        except subprocess.TimeoutExpired:
            op.kill()

    pods = args.sets * (args.replicas + args.warm)
    print(f"\nforecasting: {args.forecasting}")
    print(f"\nShardSet controller, {args.sets} sets x {args.replicas + args.warm} pods ({pods} pods)")
    print(f"{'metric':48} {'value':>12} {'baseline':>12} {'target':>8}")
    print(f"{'converge from nothing (s) | after restart (s)':48} {fresh_secs:12.1f} {restart_secs:12.1f} {'-':>8}")
    print(f"{'API writes/min, steady state':48} {writes_per_min:12.1f} {'-':>12} {'0':>8}")
    for method in sorted(set(m0) | set(m1)):
        per_min = (m1.get(method, 0) - m0.get(method, 0)) * 60.0 / args.steady_seconds
        print(f"{'  of which ' + method + ' per min':48} {per_min:12.1f}")
    for kind in ops0:
        changed = sum(1 for n, rv in ops1[kind].items() if ops0[kind].get(n) != rv)
        print(f"{'  ' + kind + ' created or changed in the window':48} {changed:12d}")
    print(f"{'writes made by the restarted operator':48} {restart_writes:12.0f} {'-':>12} {'~0':>8}")
    print(f"{'operator RSS (MB): converged | idle':48} {full_rss:12.1f} {idle_rss:12.1f} {'-':>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
