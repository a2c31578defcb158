#!/usr/bin/env python3
"""Replays a load trace against Shardcast on the local control plane.

One or more *arms* (predictive: `shardcast run` with forecasting, in Auto
mode; reactive: `shardcast run --forecasting=false`) run the same trace at
the same time, each in its own namespace with its own operator process. For
each arm:

  1. the demo ShardSet (examples/demo/) is created and a bootstrap operator
     (forecasting off, no MigrationPolicy yet) brings up its pods and routing;
  2. the bootstrap operator is stopped, every pod gets its load at the start
     of the live window, and (predictive arm) the history before it is
     backfilled with `shardcast backfill` from the trace;
  3. the MigrationPolicy is applied and the operator is started with a domain
     clock (`--time-scale S --time-origin <live start> --time-anchor <real
     start>`): trace time and the operator's domain time are the same clock;
  4. every tick (real seconds) the driver reads the routing ConfigMap and the
     pods and sets each pod's `kwok.x-k8s.io/usage-cpu` to the sum of the
     loads of the ranges routed to it (reads split over echoes), and records
     what metrics.k8s.io, status.forecasts, the MigrationPolicy status and the
     routing show;
  5. each pod's metrics endpoint is served on its pod IP (KWOK's nodes hand
     out loopback pod CIDRs, hack/controlplane.sh): a Prometheus page of
     `shardcast_range_requests_total{range="<id>"}` counters that grow by the
     requests the pod serves for each range (RPS_PER_MILLI per millicore), so
     the operator samples per-range load as it would from a real workload.
     The predictive arm's range history is backfilled as well.

At the end: a JSON record and summary per arm, the two offline references
(the packing bound, and the planner oracle: `shardcast plan` run offline on
the true future load, hack/replay/oracle.py), an SVG timeline
(hack/replay/plot.py). The record keeps the trace spec, Zipf exponent and
seed, so `hack/replay/oracle.py --results` can recompute the oracle later.
Ctrl-C stops the operators and deletes the namespaces.
"""
import argparse
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analyze  # noqa: E402
import kube  # noqa: E402
import loads as loads_mod  # noqa: E402
import measures  # noqa: E402
import oracle  # noqa: E402
from procs import free_port, stop_process  # noqa: E402
import traces  # noqa: E402
import yaml  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
WARMUP_STEPS = 6     # forecast steps replayed before the measured window (default)
RPS_PER_MILLI = 2.0  # requests/s a pod serves per millicore of a range's load (range counters)


def log(msg):
    print(f"[replay {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Stop(Exception):
    pass


def kubectl(kubeconfig, *args, stdin=None, check=True, timeout=120):
    r = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, *args], input=stdin, capture_output=True,
                       text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def wait_for(what, pred, timeout, period=0.25):
    """Polls pred() until it returns something truthy; raises after timeout."""
    deadline = time.time() + timeout
    last_err = None
    while time.time() < deadline:
        try:
            v = pred()
            if v:
                return v
        except (kube.ApiError, OSError, KeyError, ValueError) as e:
            last_err = e
        time.sleep(period)  # polling interval of a condition wait
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last_err})" if last_err else ""))


class _CounterHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path.split("?")[0] != self.server.path:
            self.send_error(404)
            return
        counters = self.server.endpoints.read(self.server.server_address[0])
        lines = ["# HELP shardcast_range_requests_total Requests served per key range.",
                 "# TYPE shardcast_range_requests_total counter"]
        lines += [f'shardcast_range_requests_total{{range="{rid}"}} {v:.3f}' for rid, v in sorted(counters.items())]
        body = ("\n".join(lines) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


class CounterServers:
    """One metrics endpoint per pod IP (loopback addresses on KWOK nodes):
    each serves the range counters of the pod that has that IP now.

    The counters grow continuously, as a real router's do: a read at trace
    time `now` returns the counters of the pod's last tick plus its rates
    times the trace time since then. Counters that stepped once a tick
    aliased with the operator's scrapes (one tick and one scrape a real
    second each): a scrape saw zero, one or two ticks' growth, so a range's
    rate read 0x, 1x or 2x its load, and a forecast step that had seen only
    a few scrapes jumped for every pod at once. A counter never reads less
    than it was read before, whatever the clock does."""

    def __init__(self, port, path, clock):
        self.port = port
        self.path = path
        self.clock = clock   # () -> trace time now
        self.servers = {}    # ip -> server
        self.lock = threading.Lock()
        self.pages = {}      # ip -> {"pod", "t", "base", "rates", "read"}
        self.failed = set()

    def ensure(self, ip):
        if ip in self.servers or ip in self.failed:
            return
        if not ip.startswith("127."):
            self.failed.add(ip)
            log(f"pod IP {ip} is not a loopback address: no range counters for it (restart the control "
                f"plane with hack/controlplane.sh for loopback pod CIDRs)")
            return
        try:
            srv = http.server.ThreadingHTTPServer((ip, self.port), _CounterHandler)
        except OSError as e:
            self.failed.add(ip)
            log(f"metrics endpoint {ip}:{self.port}: {e}: no range counters for it")
            return
        srv.daemon_threads = True
        srv.endpoints = self
        srv.path = self.path
        threading.Thread(target=srv.serve_forever, name=f"counters-{ip}", daemon=True).start()
        self.servers[ip] = srv

    def publish(self, ip, pod, t, counters, rates):
        """Serves on `ip` pod `pod`'s `counters` at trace time `t`, growing
        at `rates` (requests/s per range) from then on. Raises `counters`
        (in place) to what the endpoint has already shown for this pod."""
        with self.lock:
            old = self.pages.get(ip)
            read = old["read"] if old is not None and old["pod"] == pod else {}
            for rid, v in read.items():
                if v > counters.get(rid, 0.0):
                    counters[rid] = v
            self.pages[ip] = {"pod": pod, "t": t, "base": dict(counters), "rates": dict(rates), "read": read}

    def read(self, ip):
        """The counters of the pod on `ip` now (empty when none)."""
        with self.lock:
            page = self.pages.get(ip)
            if page is None:
                return {}
            extra = max(0.0, self.clock() - page["t"])
            out = dict(page["base"])
            for rid, rate in page["rates"].items():
                out[rid] = out.get(rid, 0.0) + rate * extra
            for rid, v in out.items():
                if v < page["read"].get(rid, 0.0):
                    out[rid] = page["read"][rid]
            page["read"] = dict(out)
            return out

    def close(self):
        for srv in self.servers.values():
            srv.shutdown()
            srv.server_close()
        self.servers.clear()


class Arm:
    def __init__(self, name, ns, forecasting):
        self.name = name
        self.ns = ns
        self.forecasting = forecasting
        self.proc = None
        self.log_path = None
        self.port = None
        # records
        self.ticks = []        # {t, real, loads{pod:m}, active[], warm[], epoch}
        self.observed = {}     # "pod|timestamp" -> {t, pod, cpu, active}
        self.forecasts = []    # {t, pods{pod: {...}}}
        self.actions = {}      # id -> action (latest seen)
        self.routing = []      # {t, epoch, owners[]} per observed epoch
        self.routing_errors = []
        self.events = {}       # uid -> {t, reason, message, type}
        self.roles = {}        # pod -> role last seen
        self.promotions = []   # {t, pod}
        self.demotions = []
        self.last_fc = None
        self.last_doc = None
        self.initial_owners = None
        self.counters = {}     # pod -> {range id: requests served}
        self.rates = {}        # pod -> {range id: requests/s} since the last counter update
        self.counter_t = None  # trace time of the last counter update
        self.crossing_dumped = False  # shardset-<arm>-crossing.yaml written


class Runner:
    def __init__(self, args):
        self.a = args
        self.kc = args.kubeconfig
        self.client = kube.Client(self.kc)
        self.tr = traces.load(args.trace)
        with open(os.path.join(ROOT, "examples/demo/shardset.yaml")) as f:
            self.shardset = yaml.safe_load(f)
        with open(os.path.join(ROOT, "examples/demo/migrationpolicy.yaml")) as f:
            self.policy = yaml.safe_load(f)
        self.nranges = int(self.shardset["spec"]["keySpace"]["ranges"])
        self.capacity = float(self.shardset["spec"]["capacity"]["cpuMillis"])
        self.max_util = float(self.policy["spec"]["thresholds"]["maxUtilization"])
        self.tr.set_ranges(self.nranges, args.zipf, args.seed)
        self.T0 = traces.parse_time(args.start, "--start") if args.start else self.tr.live_start
        self.T0 -= self.T0 % 60
        self.hours = args.hours if args.hours else self.tr.live_hours
        self.T1 = self.T0 + int(self.hours * 3600)
        if self.T1 > self.tr.t_end:
            raise traces.TraceError(f"--hours {self.hours}: the trace ends at {traces.fmt_time(self.tr.t_end)}")
        self.S = args.time_scale
        # One forecast step per metrics-server sample (docs/demo.md): the step
        # is METRICS_RESOLUTION real seconds of trace time, in whole minutes.
        self.step_min = max(1, int(round(args.metrics_resolution * self.S / 60.0)))
        self.horizon_min = max(60, 3 * self.step_min)
        self.policy["spec"]["forecast"]["step"] = f"{self.step_min}m"
        self.policy["spec"]["forecast"]["horizon"] = f"{self.horizon_min}m"
        # Warm-up: a few forecast steps replayed live before the measured
        # window, so that metrics-server has samples of every pod and the
        # operator has placed the ranges. Trust needs no live warm-up: the
        # forecast controller judges a backfilled series on its newest 30
        # steps when it loads it (docs/forecasting-in-operator.md).
        warm = args.warmup_hours if args.warmup_hours is not None else WARMUP_STEPS * self.step_min / 60.0
        self.TW = self.T0 - int(warm * 3600)
        self.TW -= self.TW % 60
        if self.TW <= self.tr.t0 + 3 * 86400:
            raise traces.TraceError("the warm-up starts less than 3 days into the trace: no history to backfill")
        self.R0 = None
        self.arms = []
        suffix = args.run_id or str(os.getpid())
        for name in args.arms.split(","):
            name = name.strip()
            if name not in ("predictive", "reactive"):
                raise SystemExit(f"--arms: unknown arm '{name}' (predictive, reactive)")
            self.arms.append(Arm(name, f"{args.namespace_prefix}-{name[:4]}-{suffix}", name == "predictive"))
        self.workdir = args.out
        os.makedirs(self.workdir, exist_ok=True)
        self.view_last = 0.0
        m = self.shardset["spec"].get("metrics") or {}
        self.counter_servers = CounterServers(int(m.get("port", 9090)), m.get("path", "/metrics"), self.domain_now)

    # ---- domain clock -------------------------------------------------
    def domain_now(self):
        return self.TW + self.S * (time.time() - self.R0)

    def domain_of_real(self, real):
        return self.TW + self.S * (real - self.R0)

    # ---- setup ---------------------------------------------------------
    def install_crds(self):
        kubectl(self.kc, "apply", "--server-side", "-f", os.path.join(ROOT, "crds"))
        kubectl(self.kc, "wait", "--for=condition=Established", "crd/shardsets.shardcast.dev",
                "crd/migrationpolicies.shardcast.dev", "--timeout=60s")

    def start_operator(self, arm, forecasting, env_extra=None, time_flags=True, suffix=""):
        arm.port = free_port()
        arm.log_path = os.path.join(self.workdir, f"operator-{arm.name}{suffix}.log")
        cmd = [self.a.binary, "run", "--kubeconfig", self.kc, "--namespace", arm.ns,
               "--metrics-bind-address", f"127.0.0.1:{arm.port}", "--health-probe-bind-address", "",
               f"--forecasting={'true' if forecasting else 'false'}"]
        if time_flags:
            cmd += ["--time-scale", str(self.S), "--time-origin", str(self.TW), "--time-anchor", f"{self.R0:.3f}"]
        env = dict(os.environ)
        env.update({"SHARDCAST_FORECAST_SAMPLE_PERIOD": self.a.sample_period})
        for k in ("SHARDCAST_TIME_SCALE", "SHARDCAST_TIME_ORIGIN", "SHARDCAST_TIME_ANCHOR"):
            env.pop(k, None)
        if env_extra:
            env.update(env_extra)
        logf = open(arm.log_path, "w")
        arm.proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)
        logf.close()

    def stop_operator(self, arm):
        if arm.proc and arm.proc.poll() is None:
            stop_process(arm.proc, 30)
        arm.proc = None

    def routing_doc(self, arm):
        cm = self.client.get(f"/api/v1/namespaces/{arm.ns}/configmaps/{self.routing_name()}")
        return json.loads(cm["data"]["routing.json"])

    def routing_name(self):
        return self.shardset["spec"]["routing"]["configMapName"]

    def set_name(self):
        return self.shardset["metadata"]["name"]

    def pods(self, arm):
        sel = "shardcast.dev/shardset=" + self.set_name()
        items = self.client.get(f"/api/v1/namespaces/{arm.ns}/pods?labelSelector={sel}")["items"]
        return [p for p in items if not p["metadata"].get("deletionTimestamp")]

    def bootstrapped(self, arm):
        doc = self.routing_doc(arm)
        pods = self.pods(arm)
        spec = self.shardset["spec"]
        ready = {p["metadata"]["name"]: p["metadata"]["labels"].get("shardcast.dev/role") for p in pods
                 if any(c.get("type") == "Ready" and c.get("status") == "True"
                        for c in p.get("status", {}).get("conditions", []))}
        active = [n for n, r in ready.items() if r == "active"]
        warm = [n for n, r in ready.items() if r == "warm"]
        owners = {r["owner"] for r in doc["ranges"]}
        return (len(doc["ranges"]) == self.nranges and len(active) == spec["replicas"]
                and len(warm) == spec["warmPool"]["size"] and owners <= set(active)
                and all(r.get("endpoint") for r in doc["ranges"]))

    def setup(self):
        t = time.time()
        self.install_crds()
        log(f"CRDs installed ({time.time() - t:.1f}s)")
        for arm in self.arms:
            kubectl(self.kc, "create", "namespace", arm.ns)
            ss = json.loads(json.dumps(self.shardset))
            ss["metadata"]["namespace"] = arm.ns
            kubectl(self.kc, "apply", "-f", "-", stdin=json.dumps(ss))
            self.start_operator(arm, forecasting=False, time_flags=False, suffix="-bootstrap")
        for arm in self.arms:
            wait_for(f"{arm.ns}: pods and routing of ShardSet {self.set_name()}", lambda: self.bootstrapped(arm),
                     self.a.setup_timeout)
            self.stop_operator(arm)
            log(f"{arm.name}: ShardSet {arm.ns}/{self.set_name()} is up; bootstrap operator stopped")
        for arm in self.arms:
            doc = self.routing_doc(arm)
            arm.initial_owners = [r["owner"] for r in sorted(doc["ranges"], key=lambda r: r["start"])]
            self.apply_loads(arm, self.TW, doc, self.pods(arm))
            if arm.forecasting and not self.a.no_backfill:
                self.backfill(arm, doc)
            mp = json.loads(json.dumps(self.policy))
            mp["metadata"]["namespace"] = arm.ns
            mp["spec"]["events"] = list(self.tr.events)
            kubectl(self.kc, "apply", "-f", "-", stdin=json.dumps(mp))

    def backfill(self, arm, doc):
        """History of each active pod before T0 under the current routing."""
        tmp = tempfile.mkdtemp(prefix="backfill-", dir=self.workdir)
        owners = {}
        for r in doc["ranges"]:
            owners.setdefault(r["owner"], []).append(r["id"])
        w = self.tr.weights
        start = max(self.tr.t0, self.TW - self.a.backfill_days * 86400)
        fine_from = self.TW - 3 * 86400

        def csv(name, key, factor, fine_step):
            """The trace total times `factor`, every fine_step seconds over the
            last 3 days and every 15 minutes before; a --series argument."""
            path = os.path.join(tmp, f"{name}.csv")
            with open(path, "w") as f:
                f.write("timestamp,value\n")
                t = start
                while t < self.TW:
                    f.write(f"{t},{self.tr.total(t) * factor:.2f}\n")
                    t += fine_step if t >= fine_from else 900
            return ["--series", f"{key}={path}"]

        series = []
        for pod, ids in sorted(owners.items()):
            series += csv(pod, pod, sum(w[i] for i in ids), 60)
        # Each range's request rate (what its counters would have shown).
        wd = loads_mod.doc_range_loads(w, doc["ranges"])
        ranges = []
        for rid, share in sorted(wd.items()):
            ranges += csv(f"range-{rid}", rid, share * RPS_PER_MILLI, 300)
        t = time.time()
        for metric, args in (("cpu", series), ("range", ranges)):
            out = subprocess.run([self.a.binary, "backfill", "--kubeconfig", self.kc, "--namespace", arm.ns,
                                  "--shardset", self.set_name(), "--metric", metric, *args],
                                 capture_output=True, text=True, timeout=300)
            if out.returncode != 0:
                raise RuntimeError(f"shardcast backfill --metric {metric}: {out.stderr.strip()}")
        log(f"{arm.name}: backfilled {len(owners)} pods and {len(wd)} ranges from {traces.fmt_time(start)} "
            f"({time.time() - t:.1f}s)")
        shutil.rmtree(tmp, ignore_errors=True)

    # ---- load ----------------------------------------------------------
    def pod_loads(self, t, doc, pod_names, served=None):
        return loads_mod.pod_loads(self.tr.range_loads(t), doc["ranges"], pod_names, served=served)

    def apply_loads(self, arm, t, doc, pods):
        names = [p["metadata"]["name"] for p in pods]
        served = {}
        loads = self.pod_loads(t, doc, names, served)
        self.count_requests(arm, t, served, pods)
        for p in pods:
            n = p["metadata"]["name"]
            want = f"{int(round(loads.get(n, loads_mod.IDLE_LOAD)))}m"
            if p["metadata"].get("annotations", {}).get("kwok.x-k8s.io/usage-cpu") == want:
                continue
            try:
                self.client.merge_patch(f"/api/v1/namespaces/{arm.ns}/pods/{n}",
                                        {"metadata": {"annotations": {"kwok.x-k8s.io/usage-cpu": want}}})
            except kube.ApiError as e:
                if e.status != 404:
                    raise
        return loads

    def count_requests(self, arm, t, served, pods):
        """Advances each pod's range counters to `t` at the rates of the
        previous tick, takes this tick's rates from `served` (millicores
        per range) and publishes both on the pod's IP, where the counters
        keep growing until the next tick."""
        dt = 0.0 if arm.counter_t is None else max(0.0, t - arm.counter_t)
        arm.counter_t = t
        for p in pods:
            n = p["metadata"]["name"]
            c = arm.counters.setdefault(n, {})
            for rid, rate in arm.rates.get(n, {}).items():
                c[rid] = c.get(rid, 0.0) + rate * dt
            arm.rates[n] = {rid: load * RPS_PER_MILLI for rid, load in served.get(n, {}).items()}
            for rid in arm.rates[n]:
                c.setdefault(rid, 0.0)
            st = p.get("status", {})
            if st.get("podIP") and st.get("phase") == "Running":
                self.counter_servers.ensure(st["podIP"])
                self.counter_servers.publish(st["podIP"], n, t, c, arm.rates[n])
        live = {p["metadata"]["name"] for p in pods}
        for n in list(arm.counters):
            if n not in live:
                del arm.counters[n]
                arm.rates.pop(n, None)

    # ---- observation ---------------------------------------------------
    def check_routing(self, arm, t, doc):
        ep = doc.get("epoch")
        if arm.last_doc is not None and arm.last_doc.get("epoch") == ep:
            return
        ids = [r["id"] for r in doc["ranges"]]
        errs = []
        if len(set(ids)) != len(ids):
            errs.append(f"duplicate range ids in {sorted(ids)}")
        rs = sorted(doc["ranges"], key=lambda r: r["start"])
        if rs and (rs[0]["start"] != 0 or rs[-1]["end"] != 2 ** 32 - 1):
            errs.append("ranges do not cover [0, 2^32)")
        for a, b in zip(rs, rs[1:]):
            if b["start"] != a["end"] + 1:
                errs.append(f"gap or overlap between ranges {a['id']} and {b['id']}")
        for r in doc["ranges"]:
            if not r.get("owner"):
                errs.append(f"range {r['id']} has no owner")
        if errs:
            arm.routing_errors.append({"t": t, "epoch": ep, "errors": errs})
        owners = {str(r["id"]): r["owner"] for r in doc["ranges"]}
        arm.routing.append({"t": t, "epoch": ep, "owners": owners,
                            "echoes": sum(len(r.get("echoes") or []) for r in doc["ranges"])})
        arm.last_doc = doc

    def observe(self, arm, t, pods, doc):
        # Pod roles: promotions are warm -> active transitions.
        for p in pods:
            n = p["metadata"]["name"]
            role = p["metadata"]["labels"].get("shardcast.dev/role")
            prev = arm.roles.get(n)
            if prev == "warm" and role == "active":
                arm.promotions.append({"t": t, "pod": n})
            if prev == "active" and role != "active":
                arm.demotions.append({"t": t, "pod": n})
            arm.roles[n] = role
        for n in list(arm.roles):
            if n not in {p["metadata"]["name"] for p in pods}:
                if arm.roles[n] == "active":
                    arm.demotions.append({"t": t, "pod": n})
                del arm.roles[n]
        # metrics.k8s.io: one sample per pod and metrics-server timestamp.
        try:
            pm = self.client.get(f"/apis/metrics.k8s.io/v1beta1/namespaces/{arm.ns}/pods?labelSelector="
                                 f"shardcast.dev/shardset={self.set_name()}")
            for item in pm.get("items", []):
                n = item["metadata"]["name"]
                ts = item.get("timestamp", "")
                key = f"{n}|{ts}"
                if key in arm.observed:
                    continue
                cpu = sum(kube.parse_cpu_millis(c["usage"]["cpu"]) for c in item.get("containers", []))
                real = traces.parse_time(ts.replace("T", " ").rstrip("Z"), "PodMetrics.timestamp") if ts else time.time()
                arm.observed[key] = {"t": self.domain_of_real(real), "pod": n, "cpu": cpu,
                                     "active": arm.roles.get(n) == "active"}
        except kube.ApiError:
            pass
        # status.forecasts
        try:
            ss = self.client.get(f"/apis/shardcast.dev/v1alpha1/namespaces/{arm.ns}/shardsets/{self.set_name()}")
            fc = ss.get("status", {}).get("forecasts") or []
            key = json.dumps(fc, sort_keys=True)
            if key != arm.last_fc:
                arm.last_fc = key
                arm.forecasts.append({"t": t, "pods": {f["pod"]: f for f in fc}})
                if not arm.crossing_dumped and any("timeToCrossingSeconds" in f for f in fc):
                    arm.crossing_dumped = True
                    self.dump_shardset(arm, f"shardset-{arm.name}-crossing.yaml")
        except kube.ApiError:
            pass
        # MigrationPolicy actions (status.actions and status.history)
        try:
            mp = self.client.get(f"/apis/shardcast.dev/v1alpha1/namespaces/{arm.ns}/migrationpolicies/kv")
            st = mp.get("status", {})
            for a in (st.get("history") or []) + (st.get("actions") or []):
                if "id" in a:
                    rec = arm.actions.setdefault(a["id"], {"firstSeen": t})
                    rec.update(a)
            arm.conditions = {c.get("type"): c for c in st.get("conditions") or []}
        except kube.ApiError:
            pass
        self.check_routing(arm, t, doc)

    def poll_events(self, arm):
        try:
            evs = self.client.get(f"/api/v1/namespaces/{arm.ns}/events")["items"]
        except kube.ApiError:
            return
        for e in evs:
            uid = e["metadata"]["uid"]
            if uid in arm.events:
                continue
            when = e.get("lastTimestamp") or e.get("eventTime") or e["metadata"].get("creationTimestamp")
            real = time.time()
            if when:
                try:
                    real = traces.parse_time(when[:19].replace("T", " "), "event time")
                except traces.TraceError:
                    pass
            arm.events[uid] = {"t": self.domain_of_real(real) if real >= self.R0 - 5 else self.TW,
                               "reason": e.get("reason", ""), "message": e.get("message", ""),
                               "type": e.get("type", ""), "kind": e.get("involvedObject", {}).get("kind", "")}

    # ---- main loop -----------------------------------------------------
    def run(self):
        self.setup()
        self.R0 = time.time() + 1.0
        for arm in self.arms:
            self.start_operator(arm, forecasting=arm.forecasting)
        log(f"replaying {traces.fmt_time(self.TW)} .. {traces.fmt_time(self.T1)} at x{self.S:g} "
            f"({(self.T1 - self.TW) / self.S:.0f}s; warm-up until {traces.fmt_time(self.T0)}), forecast step "
            f"{self.step_min}m, horizon {self.horizon_min}m, tick {self.a.tick}s; arms: "
            + ", ".join(f"{a.name} in {a.ns}" for a in self.arms))
        k = 0
        while True:
            tick_real = self.R0 + k * self.a.tick
            delay = tick_real - time.time()
            if delay > 0:
                time.sleep(delay)  # paces trace steps on a timer (not synchronisation)
            t = self.domain_now()
            if t > self.T1:
                break
            for arm in self.arms:
                if arm.proc is not None and arm.proc.poll() is not None:
                    raise RuntimeError(f"{arm.name}: the operator exited ({arm.proc.returncode}); see {arm.log_path}")
                doc = self.routing_doc(arm)
                pods = self.pods(arm)
                loads = self.apply_loads(arm, t, doc, pods)
                active = sorted(p["metadata"]["name"] for p in pods
                                if p["metadata"]["labels"].get("shardcast.dev/role") == "active")
                warm = sorted(p["metadata"]["name"] for p in pods
                              if p["metadata"]["labels"].get("shardcast.dev/role") == "warm")
                arm.ticks.append({"t": t, "real": time.time(), "loads": loads, "active": active, "warm": warm,
                                  "epoch": doc.get("epoch")})
                self.observe(arm, t, pods, doc)
                if k % 3 == 0:
                    self.poll_events(arm)
            if self.a.live and time.time() - self.view_last >= self.a.view_every:
                self.view_last = time.time()
                self.view(t)
            k += 1
        for arm in self.arms:
            self.poll_events(arm)
            self.stop_operator(arm)

    # ---- live view -----------------------------------------------------
    def view(self, t):
        out = []
        left = (self.T1 - t) / self.S
        phase = "warm-up (forecasts earn trust)" if t < self.T0 else "measured window"
        out.append(f"Shardcast demo — trace {self.tr.name} — trace time {traces.fmt_time(int(t))} "
                   f"(x{self.S:g}: 1 trace hour = {3600 / self.S:.0f}s) — {phase} — {left:.0f}s left — Ctrl-C stops")
        for arm in self.arms:
            tk = arm.ticks[-1]
            fc = arm.forecasts[-1]["pods"] if arm.forecasts else {}
            out.append("")
            out.append(f"[{arm.name}] routing epoch {tk['epoch']}, {len(tk['active'])} active + "
                       f"{len(tk['warm'])} warm pods; capacity {self.capacity:.0f}m, max {self.max_util:.0%} "
                       f"(| on the bar)")
            out += self.pod_lines(tk, fc, "load")
            acts = sorted(arm.actions.values(), key=lambda a: (a.get("startedAt") or "", a.get("id")))[-5:]
            out.append(f"  actions ({len(arm.actions)}; promotions {len(arm.promotions)}, ranges moved "
                       f"{measures.moves(arm.routing)}):")
            out += self.activity_lines(arm, acts, "    ")
        sys.stdout.write("\033[H\033[2J" + "\n".join(out) + "\n")
        sys.stdout.flush()

    def horizon_label(self):
        return self.policy["spec"]["forecast"]["horizon"]

    def pod_lines(self, tk, fc, quantity):
        """The live view's pod table: `quantity` (load or cpu) against capacity
        as a bar (| marks maxUtilization) and the forecast band of each pod."""
        out = [f"  {'pod':8} {'role':6} {quantity:>6} {'util':>5}  {quantity + ' vs capacity':32}  "
               f"forecast peak next {self.horizon_label()} p50..p90 (trusted)"]
        width = 30
        mark = int(self.max_util * width)
        for pod in tk["active"] + tk["warm"]:
            load = tk["loads"].get(pod, 0)
            u = load / self.capacity
            fill = min(width, int(round(u * width)))
            bar = "".join("#" if i < fill else ("|" if i == mark else ".") for i in range(width + 2))
            role = "active" if pod in tk["active"] else "warm"
            f = fc.get(pod)
            ftxt = (f"{f.get('peak', 0):.0f}..{f.get('p90', 0):.0f}m ({'yes' if f.get('trusted') else 'no'})"
                    if f else "-")
            hot = " OVER" if u > self.max_util and role == "active" else ""
            out.append(f"  {pod:8} {role:6} {load:5.0f}m {u:5.0%}  {bar}  {ftxt}{hot}")
        return out

    @staticmethod
    def activity_lines(arm, acts, indent):
        """The live view's lines for `acts` and the arm's last 3 policy Events."""
        out = []
        for a in acts:
            rng = f" range {a['range']}" if a.get("range") is not None else ""
            out.append(f"{indent}{a.get('type', '?'):8}{rng} {a.get('source', '') or ''}->{a.get('target', '') or ''} "
                       f"{a.get('phase', '')} {(a.get('message') or '')[:70]}")
        evs = sorted(arm.events.values(), key=lambda e: e["t"])
        evs = [e for e in evs if e["kind"] == "MigrationPolicy" and e["reason"] not in ("MoveStarted",)][-3:]
        for e in evs:
            out.append(f"{indent}event {e['reason']}: {e['message'][:110]}")
        return out

    # ---- results -------------------------------------------------------
    def results(self):
        res = {"trace": self.tr.name, "traceSpec": self.a.trace, "zipf": self.a.zipf, "seed": self.a.seed,
               "description": self.tr.description, "start": self.T0, "end": self.T1,
               "warmupStart": self.TW, "forecastStep": self.step_min, "horizon": self.horizon_min,
               "timeScale": self.S, "capacity": self.capacity, "maxUtilization": self.max_util,
               "ranges": self.nranges, "minReplicas": self.shardset["spec"]["minReplicas"],
               "maxReplicas": self.shardset["spec"]["maxReplicas"], "arms": {}}
        for arm in self.arms:
            res["arms"][arm.name] = {
                "namespace": arm.ns, "ticks": arm.ticks, "observed": sorted(arm.observed.values(), key=lambda o: o["t"]),
                "forecasts": arm.forecasts, "actions": list(arm.actions.values()), "routing": arm.routing,
                "routingErrors": arm.routing_errors, "events": sorted(arm.events.values(), key=lambda e: e["t"]),
                "promotions": arm.promotions, "demotions": arm.demotions, "initialOwners": arm.initial_owners,
            }
        return res

    def dump_shardset(self, arm, name):
        """OUT/<name>: `kubectl get shardset -o yaml` of the arm now (a
        failure is logged, not raised)."""
        try:
            out = kubectl(self.kc, "-n", arm.ns, "get", "shardset", self.set_name(), "-o", "yaml", timeout=60)
            with open(os.path.join(self.workdir, name), "w") as f:
                f.write(out)
        except (OSError, subprocess.SubprocessError, RuntimeError) as e:
            log(f"{arm.name}: writing {name}: {e}")

    def dump_shardsets(self):
        """OUT/shardset-<arm>.yaml at the end (status.forecasts,
        status.rangeForecasts; shardset-<arm>-crossing.yaml is the first one
        whose forecasts had a time to crossing)."""
        for arm in self.arms:
            self.dump_shardset(arm, f"shardset-{arm.name}.yaml")

    def cleanup(self):
        self.dump_shardsets()
        for arm in self.arms:
            try:
                self.stop_operator(arm)
            except Exception as e:  # noqa: BLE001 - best effort on the way out
                log(f"{arm.name}: stopping the operator: {e}")
        self.counter_servers.close()
        if not self.a.keep:
            for arm in self.arms:
                kubectl(self.kc, "delete", "namespace", arm.ns, "--wait=false", "--ignore-not-found", check=False)


def run_interruptibly(runner, stopping, say):
    """runner.run() until it ends or Ctrl-C / SIGTERM stops it (then says
    "interrupted: <stopping>"); runner.cleanup() in every case. Returns
    (interrupted, wall seconds). Shared with the demo (hack/demo/run.py)."""

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    interrupted = False
    t_start = time.time()
    try:
        runner.run()
    except KeyboardInterrupt:
        interrupted = True
        say(f"interrupted: {stopping}")
    finally:
        runner.cleanup()
    return interrupted, time.time() - t_start


def write_outputs(args, runner, res, planner_oracle, extra_text=""):
    """Summarizes `res` (with the oracle's plan when given) into
    res["summary"], writes OUT/results.json, OUT/summary.txt (the summary and
    `extra_text`) and the SVG timeline, prints the summary; returns the SVG's
    path. Shared with the demo."""
    summary = measures.summarize(res, runner.tr, oracle_planner=planner_oracle)
    res["summary"] = summary
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(res, f)
    text = analyze.format_summary(summary, res) + extra_text
    with open(os.path.join(args.out, "summary.txt"), "w") as f:
        f.write(text)
    print(text)
    import plot
    svg = args.plot or os.path.join(args.out, "timeline.svg")
    plot.write_svg(res, summary, svg)
    return svg


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--binary", required=True, help="the shardcast binary")
    ap.add_argument("--trace", default="generated", help="generated[:k=v..] or nab:PATH[:k=v..] (hack/replay/traces.py)")
    ap.add_argument("--start", help="trace time where the measured window starts (default: the trace's)")
    ap.add_argument("--hours", type=float, help="trace hours of the measured window (default: the trace's)")
    ap.add_argument("--time-scale", type=float, default=120.0, help="trace seconds per real second (default 120)")
    ap.add_argument("--metrics-resolution", type=float, default=10.0,
                    help="metrics-server --metric-resolution in seconds (sets the forecast step)")
    ap.add_argument("--warmup-hours", type=float,
                    help="trace hours replayed before --start (default: 6 forecast steps)")
    ap.add_argument("--tick", type=float, default=1.0, help="real seconds between load updates (default 1)")
    ap.add_argument("--sample-period", default="1s", help="operator's forecast sample period (real time)")
    ap.add_argument("--arms", default="predictive", help="comma list: predictive, reactive")
    ap.add_argument("--out", required=True, help="directory for logs, results.json, summary and plot")
    ap.add_argument("--namespace-prefix", default="replay")
    ap.add_argument("--run-id", help="namespace suffix (default: the process id)")
    ap.add_argument("--zipf", type=float, default=0.7, help="Zipf exponent of range popularity")
    ap.add_argument("--seed", type=int, default=7, help="seed of the range popularity order")
    ap.add_argument("--backfill-days", type=float, default=21)
    ap.add_argument("--no-backfill", action="store_true")
    ap.add_argument("--setup-timeout", type=float, default=90)
    ap.add_argument("--live", action="store_true", help="live terminal view")
    ap.add_argument("--view-every", type=float, default=3.0)
    ap.add_argument("--keep", action="store_true", help="keep the namespaces afterwards")
    ap.add_argument("--plot", help="SVG path (default OUT/timeline.svg)")
    args = ap.parse_args()
    if args.time_scale <= 0:
        raise SystemExit("--time-scale must be > 0")
    try:
        r = Runner(args)
    except traces.TraceError as e:
        raise SystemExit(f"replay: {e}")
    interrupted, wall = run_interruptibly(r, "stopping the operators and deleting the namespaces", log)
    if interrupted and not any(a.ticks for a in r.arms):
        return 130
    res = r.results()
    res["wallSeconds"] = wall
    planner_oracle = oracle.simulate_or_error(res, r.tr, args.binary) if args.binary else None
    svg = write_outputs(args, r, res, planner_oracle)
    log(f"plot: {svg}; results: {os.path.join(args.out, 'results.json')}")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
