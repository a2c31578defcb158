#!/usr/bin/env python3
"""The demo on the real data plane (`make demo`, docs/demo.md).

The replay driver (hack/replay/run.py) with real processes in place of the
annotated load: the same ShardSet shape, trace, accelerated domain clock,
backfill, Auto-mode operator, records, summary and plot, but

  - the ShardSet (hack/demo/shardset.yaml) has hooks enabled and a small
    capacity (--capacity, default 100m), and its pods are served by the pod
    runner (hack/podrunner/: real redis-server + shardcast-agent per pod,
    their real CPU reported as the pods' usage);
  - two shardcast-routers follow the routing ConfigMap on loopback ports;
  - the trace drives the load generator (hack/loadgen/, RESP through both
    routers, keys over the 32 initial ranges by the trace's Zipf weights)
    instead of the pods' annotations. The trace is scaled by
    capacity / 1000m (the annotated demo's pod), and its millicores are turned
    into operations/s by a calibration measured at start (pods' real CPU with
    and without a known rate), so the pods' real CPU follows the scaled trace;
  - redis-benchmark runs beside it through the first router; the live view
    shows its throughput and p99 with trace time, each pod's real CPU vs
    capacity and the operator's actions;
  - at the end: the replay's summary and plot plus the data plane's summary
    (redis-benchmark throughput/p99 before and during moves, its errors, the
    load generator's, the actions and how they ended, the bytes and keys the
    agents moved and copied), printed and written to
    --out/dataplane-summary.txt.

An action that fails is reported, never fatal. Ctrl-C stops everything.
"""
import argparse
import importlib.util
import json
import os
import shutil
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "hack", "replay"))
sys.path.insert(0, HERE)
import dataplane  # noqa: E402
import loads as loads_mod  # noqa: E402
import measures  # noqa: E402
import traces  # noqa: E402
import yaml  # noqa: E402

# hack/replay/run.py, by path: this file is run.py too.
_spec = importlib.util.spec_from_file_location("replay_run", os.path.join(ROOT, "hack", "replay", "run.py"))
replay = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(replay)

TRACE_CAPACITY = 1000.0  # millicores of a pod in the trace's units (examples/demo/shardset.yaml)
MOVE_TYPES = ("Move", "Split", "Merge", "AddEcho", "RemoveEcho", "ScaleIn")
DONE_PHASES = ("Completed", "Reverted", "Failed")
CALIBRATION_RATE = 4000.0  # operations/s sent while calibrating
FALLBACK_OPS_PER_MILLI = 50.0
AGENT_METRICS_PORT = 9091  # the pod runner's --metrics-port default: each agent's /metrics
AGENT_SCRAPE_SECONDS = 2.0


def read_calibration(path):
    """dataPlane.calibration of an earlier run's results.json, with reusedFrom;
    SystemExit naming the file and the field when it has none."""
    try:
        with open(path) as f:
            cal = json.load(f)["dataPlane"]["calibration"]
        base, opm = float(cal["idleMillis"]), float(cal["opsPerMilli"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SystemExit(f"--reuse-calibration: {path}: no dataPlane.calibration with idleMillis and "
                         f"opsPerMilli ({type(e).__name__}: {e})") from None
    if not (opm > 0 and base >= 0):
        raise SystemExit(f"--reuse-calibration: {path}: dataPlane.calibration.opsPerMilli must be > 0 and "
                         f"idleMillis >= 0")
    return dict(cal, idleMillis=base, opsPerMilli=opm, reusedFrom=path)


class DemoRunner(replay.Runner):
    def __init__(self, args):
        super().__init__(args)
        if len(self.arms) != 1:
            raise SystemExit("--arms: the real data plane runs one arm (use --simulated for two)")
        with open(os.path.join(HERE, "shardset.yaml")) as f:
            self.shardset = yaml.safe_load(f)
        self.shardset["spec"]["capacity"]["cpuMillis"] = int(args.capacity)
        self.capacity = float(args.capacity)
        self.scale = self.capacity / TRACE_CAPACITY
        self.tr.values = [v * self.scale for v in self.tr.values]
        self.arm = self.arms[0]
        self.dp = dataplane.DataPlane(args, self.kc, self.arm.ns, self.set_name(), self.routing_name(),
                                      self.workdir)
        self.started = False
        self.baseline = 0.0      # millicores of the pods with no generated load (idle + redis-benchmark)
        self.ops_per_milli = FALLBACK_OPS_PER_MILLI
        self.calibration = {}
        self.target_rate = 0.0
        self.prev_stats = None   # (real time, loadgen stats)
        self.range_rate = None   # ops/s per initial range over the last tick
        self.busy = []           # [start, end] real-time intervals with a move-type action in flight
        self.samples = []        # per tick: t, real, target, rate, errors, busy
        self.copied = dataplane.CopiedTally()  # the agents' bytes and keys moved/copied
        self.pod_ips = {}        # pod -> IP, from the newest tick
        self.copied_lock = threading.Lock()
        self.scraper_stop = threading.Event()
        self.write_fraction = 1.0 - loads_mod.READ_FRACTION

    # ---- the data plane ----------------------------------------------------
    def pods_up(self, pods):
        ips = [p["status"]["podIP"] for p in pods if p.get("status", {}).get("podIP")]
        return len(ips) == len(pods) and all(dataplane.redis_ping(ip, 8080) for ip in ips)

    def start_dataplane(self, pods):
        t = time.time()
        self.dp.start_podrunner()
        replay.wait_for("redis-server answering PING on every pod IP", lambda: self.pods_up(self.pods(self.arm)),
                        90, period=0.5)
        self.dp.start_routers(2)
        replay.wait_for("both routers ready (routing ConfigMap loaded)", self.dp.routers_ready, 60, period=0.5)
        self.dp.start_bench()
        self.dp.start_loadgen(list(self.tr.weights), self.write_fraction)
        dataplane.log(f"data plane up in {time.time() - t:.1f}s: {len(pods)} pods served by the pod runner, routers "
                      + ", ".join(f"127.0.0.1:{p}" for _, p, _ in self.dp.routers)
                      + "; redis-benchmark through the first")
        threading.Thread(target=self.scrape_agents, name="agent-metrics", daemon=True).start()
        self.calibrate()
        self.started = True

    def scrape_agents(self):
        """Every AGENT_SCRAPE_SECONDS: each pod's agent copy counters into the tally."""
        while not self.scraper_stop.wait(AGENT_SCRAPE_SECONDS):
            self.scrape_once()

    def scrape_once(self):
        with self.copied_lock:
            ips = dict(self.pod_ips)
        for pod, ip in ips.items():
            got = dataplane.scrape_copied(ip, AGENT_METRICS_PORT)
            if got is not None:
                with self.copied_lock:
                    self.copied.update(pod, got)

    def mean_cpu(self, seconds):
        """Mean over `seconds` of the pods' summed real CPU (pod runner samples)."""
        vals = []
        end = time.time() + seconds
        last = None
        while time.time() < end:
            cpu = self.dp.pod_cpu()
            snap = json.dumps(cpu, sort_keys=True)
            if snap != last and cpu and all(v is not None for v in cpu.values()):
                vals.append(sum(cpu.values()))
                last = snap
            time.sleep(0.5)  # the pod runner samples every 2 s
        return statistics.mean(vals) if vals else None

    def calibrate(self):
        if self.a.reuse_calibration:
            self.reuse_calibration(self.a.reuse_calibration)
            return
        s = self.a.calibration_seconds
        self.mean_cpu(3)  # let the first samples after start-up pass
        base = self.mean_cpu(s)
        self.dp.set_rate(CALIBRATION_RATE, list(self.tr.weights), self.write_fraction)
        self.mean_cpu(3)
        loaded = self.mean_cpu(s)
        st = self.dp.loadgen_stats() or {}
        self.dp.set_rate(0.0, list(self.tr.weights), self.write_fraction)
        rate = st.get("rate") or CALIBRATION_RATE
        if base is None or loaded is None or loaded - base < 5:
            dataplane.log(f"calibration: no usable CPU difference (idle {base}, loaded {loaded}); using "
                          f"{FALLBACK_OPS_PER_MILLI:g} operations/s per millicore")
            self.baseline = base or 0.0
        else:
            self.baseline = base
            self.ops_per_milli = rate / (loaded - base)
        self.calibration = {"idleMillis": base, "loadedMillis": loaded, "rate": rate,
                            "opsPerMilli": self.ops_per_milli}
        dataplane.log(f"calibration: pods {base or 0:.0f}m with redis-benchmark only, {loaded or 0:.0f}m with "
                      f"{rate:.0f} ops/s more: {self.ops_per_milli:.1f} ops/s per millicore; trace x{self.scale:g} "
                      f"(capacity {self.capacity:.0f}m); peak of the window "
                      f"{self.peak_total():.0f}m = {self.rate_for(self.peak_total()):.0f} ops/s")

    def reuse_calibration(self, path):
        """The calibration of an earlier run, so that two arms run one after
        the other send the same requests."""
        self.calibration = read_calibration(path)
        base, opm = self.calibration["idleMillis"], self.calibration["opsPerMilli"]
        self.baseline, self.ops_per_milli = base, opm
        dataplane.log(f"calibration: reused from {path}: pods {base:.0f}m with redis-benchmark only, "
                      f"{opm:.1f} ops/s per millicore; trace x{self.scale:g} (capacity {self.capacity:.0f}m)")

    def peak_total(self):
        return max(self.tr.total(t) for t in range(int(self.TW), int(self.T1) + 1, 60))

    def rate_for(self, total_millis):
        return max(0.0, total_millis - self.baseline) * self.ops_per_milli

    # ---- the replay's hooks ------------------------------------------------
    def apply_loads(self, arm, t, doc, pods):
        """The replay writes each pod's usage here; the demo steers the load
        generator instead and returns the pods' real CPU."""
        if not self.started:
            self.start_dataplane(pods)
        self.dp.supervise()
        with self.copied_lock:
            self.pod_ips = {p["metadata"]["name"]: p["status"]["podIP"] for p in pods
                            if p.get("status", {}).get("podIP")}
        self.target_rate = self.rate_for(self.tr.total(t))
        self.dp.set_rate(self.target_rate, list(self.tr.weights), self.write_fraction)
        now = time.time()
        st = self.dp.loadgen_stats()
        if st and self.prev_stats and now > self.prev_stats[0]:
            dt = now - self.prev_stats[0]
            self.range_rate = [max(0.0, b - a) / dt for a, b in zip(self.prev_stats[1]["perRange"], st["perRange"])]
        if st:
            self.prev_stats = (now, st)
        # The range counters the operator scrapes: the requests really sent
        # for each range, in the trace's millicores, given to the routing
        # document's owners (and echoes) as the replay does.
        if self.range_rate is not None:
            # redis-benchmark's keys (-r 100000) fall evenly over the key space.
            bench = self.bench_rate(now) / len(self.range_rate)
            rl = [(r + bench) / self.ops_per_milli for r in self.range_rate]
            served = {}
            loads_mod.pod_loads(rl, doc["ranges"], [p["metadata"]["name"] for p in pods], served=served)
            self.count_requests(arm, t, served, pods)
        cpu = self.dp.pod_cpu()
        loads = {p["metadata"]["name"]: float(cpu.get(p["metadata"]["name"]) or 0.0) for p in pods}
        busy = any(a.get("type") in MOVE_TYPES and a.get("phase") not in DONE_PHASES for a in arm.actions.values())
        if busy:
            if self.busy and self.busy[-1][1] >= now - 2 * self.a.tick:
                self.busy[-1][1] = now
            else:
                self.busy.append([now, now])
        self.samples.append({"t": t, "real": now, "target": self.target_rate,
                             "rate": (st or {}).get("rate", 0.0), "errors": (st or {}).get("errors", 0.0),
                             "busy": busy})
        return loads

    def bench_rate(self, now, window=10.0):
        """redis-benchmark's requests per second over the last `window` seconds."""
        rounds = self.dp.bench.rounds if self.dp.bench else []
        return sum(r["ops"] for r in rounds if r["end"] >= now - window) / window

    # ---- live view -----------------------------------------------------------
    def view(self, t):
        arm = self.arm
        out = []
        left = (self.T1 - t) / self.S
        phase = "warm-up" if t < self.T0 else "measured window"
        out.append(f"Shardcast demo on the real data plane — trace {self.tr.name} — trace time "
                   f"{traces.fmt_time(int(t))} (x{self.S:g}) — {phase} — {left:.0f}s left — Ctrl-C stops")
        st = self.dp.loadgen_stats() or {}
        last = (st.get("lastErrors") or [""])[-1]
        out.append(f"load generator: target {self.target_rate:6.0f} ops/s, sent {st.get('rate', 0):6.0f} ops/s, "
                   f"errors {st.get('errors', 0):.0f}, dropped {st.get('dropped', 0):.0f}"
                   + (f" (last: {last[:60]})" if last else ""))
        rounds = self.dp.bench.rounds if self.dp.bench else []
        ok = [r for r in rounds if not r["error"]]
        errs = [r for r in rounds if r["error"]]
        if ok:
            r = ok[-1]
            out.append(f"redis-benchmark (independent client, router :{self.dp.routers[0][1]}): "
                       f"{r['rps']:6.0f} ops/s, p99 {r['p99']:.1f} ms (round {len(rounds)}, "
                       f"{len(errs)} ended by an error" + (f": {errs[-1]['error'][:60]}" if errs else "") + ")")
        else:
            out.append("redis-benchmark: first round running")
        tk = arm.ticks[-1] if arm.ticks else {"active": [], "warm": [], "epoch": "?", "loads": {}}
        fc = arm.forecasts[-1]["pods"] if arm.forecasts else {}
        out.append("")
        out.append(f"routing epoch {tk['epoch']}, {len(tk['active'])} active + {len(tk['warm'])} warm pods; "
                   f"capacity {self.capacity:.0f}m (real CPU of redis-server + agent), max {self.max_util:.0%} "
                   f"(| on the bar)")
        out += self.pod_lines(tk, fc, "cpu")
        acts = sorted(arm.actions.values(), key=lambda a: (a.get("startedAt") or "", a.get("id")))
        out.append(f"actions ({len(acts)}; promotions {len(arm.promotions)}, ranges moved "
                   f"{measures.moves(arm.routing)}, failed {sum(1 for a in acts if a.get('phase') == 'Failed')}):")
        out += self.activity_lines(arm, acts[-6:], "  ")
        if self.dp.restarts():
            out.append(f"restarted: {self.dp.restarts()}")
        sys.stdout.write(("\033[H\033[2J" if self.a.clear else "\n") + "\n".join(out) + "\n")
        sys.stdout.flush()

    # ---- results -----------------------------------------------------------
    def results(self):
        res = super().results()
        self.scraper_stop.set()
        self.scrape_once()  # the pods still running: their final counts
        with self.copied_lock:
            copied = self.copied.totals()
        res["dataPlane"] = {
            "copied": copied,
            "capacity": self.capacity, "traceScale": self.scale, "calibration": self.calibration,
            "samples": self.samples, "busy": self.busy,
            "bench": self.dp.bench.rounds if self.dp.bench else [],
            "loadgen": self.dp.loadgen_stats(), "restarts": self.dp.restarts(),
            "routers": [p for _, p, _ in self.dp.routers],
        }
        return res

    def cleanup(self):
        try:
            super().cleanup()
        finally:
            self.dp.stop_all()
            if not self.a.keep:  # the pods' redis data (the PVC stand-in)
                shutil.rmtree(self.dp.data_dir, ignore_errors=True)


def classify(rounds, busy):
    """Splits redis-benchmark rounds into before the first move, during a move
    (overlapping a busy interval) and the rest."""
    first = busy[0][0] if busy else None
    out = {"before moves": [], "during moves": [], "between/after moves": []}
    for r in rounds:
        if any(r["start"] <= e and r["end"] >= s for s, e in busy):
            out["during moves"].append(r)
        elif first is None or r["end"] < first:
            out["before moves"].append(r)
        else:
            out["between/after moves"].append(r)
    return out


def pct(vals, q):
    vals = sorted(vals)
    if not vals:
        return None
    return vals[min(len(vals) - 1, int(q * len(vals)))]


def dataplane_summary(res):
    dp = res["dataPlane"]
    arm = next(iter(res["arms"].values()))
    lines = ["", "== real data plane =="]
    cal = dp["calibration"]
    lines.append(f"capacity {dp['capacity']:.0f}m per pod (trace x{dp['traceScale']:g}); calibration: "
                 f"{cal.get('opsPerMilli', 0):.1f} ops/s per millicore (pods {cal.get('idleMillis') or 0:.0f}m "
                 f"idle with redis-benchmark, {cal.get('loadedMillis') or 0:.0f}m at {cal.get('rate', 0):.0f} ops/s)"
                 + (f", reused from {cal['reusedFrom']}" if cal.get("reusedFrom") else ""))
    rounds = dp["bench"]
    lines.append(f"redis-benchmark (SET+GET rounds through router :{dp['routers'][0] if dp['routers'] else '?'}): "
                 f"{len(rounds)} rounds, {sum(1 for r in rounds if r['error'])} ended by an error")
    for name, rs in classify(rounds, dp["busy"]).items():
        ok = [r for r in rs if not r["error"]]
        if not rs:
            lines.append(f"  {name:20} no rounds")
            continue
        rps = [r["rps"] for r in ok]
        p99 = [r["p99"] for r in ok if r["p99"] is not None]
        lines.append(f"  {name:20} {len(rs):3} rounds: throughput median {statistics.median(rps) if rps else 0:7.0f} "
                     f"ops/s (min {min(rps) if rps else 0:.0f}); p99 median {statistics.median(p99) if p99 else 0:6.1f} "
                     f"ms, worst {max(p99) if p99 else 0:.1f} ms; errors {len(rs) - len(ok)}")
    errs = [r["error"] for r in rounds if r["error"]]
    for e in sorted(set(errs))[:5]:
        lines.append(f"  error ({errs.count(e)}x): {e}")
    lg = dp.get("loadgen") or {}
    samples = dp["samples"]
    tgt = statistics.mean(s["target"] for s in samples) if samples else 0
    lines.append(f"load generator: {lg.get('sent', 0):.0f} operations, errors {lg.get('errors', 0):.0f}, "
                 f"connection errors {lg.get('connErrors', 0):.0f}, dropped {lg.get('dropped', 0):.0f}; "
                 f"mean target {tgt:.0f} ops/s, peak target {max((s['target'] for s in samples), default=0):.0f}"
                 + (f"; last errors: {'; '.join(lg.get('lastErrors') or [])[:200]}" if lg.get("lastErrors") else ""))
    acts = arm["actions"]
    by = {}
    for a in acts:
        k = (a.get("type", "?"), a.get("phase", "?"))
        by[k] = by.get(k, 0) + 1
    lines.append(f"operator actions: {len(acts)}" + ("" if not by else ": " + ", ".join(
        f"{t} {p} {n}" for (t, p), n in sorted(by.items()))))
    for a in acts:
        if a.get("phase") in ("Failed", "Reverted"):
            rng = f" range {a['range']}" if a.get("range") is not None else ""
            lines.append(f"  {a.get('phase')}: {a.get('type')}{rng} {a.get('source') or ''}->{a.get('target') or ''}: "
                         f"{(a.get('message') or '')[:150]}")
    cp = dp.get("copied") or {"bytes": {}, "keys": {}}
    lines.append("agents copied (shardcast_agent_{bytes,keys}_copied_total, summed over the pods): "
                 + (", ".join(f"{kind} {cp['bytes'].get(kind, 0) / 1048576:.2f} MiB in "
                              f"{cp['keys'].get(kind, 0):.0f} keys" for kind in sorted(set(cp["bytes"]) | set(cp["keys"])))
                    or "nothing"))
    lines.append(f"promotions {len(arm['promotions'])}, ranges moved {measures.moves(arm['routing'])}, routing "
                 f"errors {len(arm['routingErrors'])}; move-busy time {sum(e - s for s, e in dp['busy']):.0f}s real"
                 + (f"; restarted: {dp['restarts']}" if dp["restarts"] else ""))
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--binary", required=True, help="the shardcast binary")
    ap.add_argument("--router", required=True, help="the shardcast-router binary")
    ap.add_argument("--agent", required=True, help="the shardcast-agent binary")
    ap.add_argument("--python", default="/usr/bin/python3", help="python for the pod runner and load generator")
    ap.add_argument("--capacity", type=float, default=100.0, help="each pod's CPU capacity, millicores (default 100)")
    ap.add_argument("--loadgen-workers", type=int, default=2)
    ap.add_argument("--bench-requests", type=int, default=1000, help="redis-benchmark -n per test and round")
    ap.add_argument("--bench-clients", type=int, default=2, help="redis-benchmark -c")
    ap.add_argument("--bench-pause", type=float, default=1.0, help="seconds between redis-benchmark rounds")
    ap.add_argument("--calibration-seconds", type=float, default=6.0)
    ap.add_argument("--reuse-calibration", metavar="RESULTS_JSON",
                    help="take the calibration (idle millicores, ops/s per millicore) from an earlier run's "
                         "results.json instead of measuring it, so both arms send the same requests")
    ap.add_argument("--oracle", action="store_true", help="also compute the planner oracle (slow)")
    ap.add_argument("--no-clear", dest="clear", action="store_false", help="live view without clearing the screen")
    # The replay driver's flags.
    ap.add_argument("--trace", default="generated")
    ap.add_argument("--start")
    ap.add_argument("--hours", type=float)
    ap.add_argument("--time-scale", type=float, default=120.0)
    ap.add_argument("--metrics-resolution", type=float, default=10.0)
    ap.add_argument("--warmup-hours", type=float)
    ap.add_argument("--tick", type=float, default=1.0)
    ap.add_argument("--sample-period", default="1s")
    ap.add_argument("--arms", default="predictive")
    ap.add_argument("--out", required=True)
    ap.add_argument("--namespace-prefix", default="demo")
    ap.add_argument("--run-id")
    ap.add_argument("--zipf", type=float, default=0.7)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--backfill-days", type=float, default=21)
    ap.add_argument("--no-backfill", action="store_true")
    ap.add_argument("--setup-timeout", type=float, default=120)
    ap.add_argument("--live", action="store_true")
    ap.add_argument("--view-every", type=float, default=3.0)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--plot")
    args = ap.parse_args(argv)
    if args.time_scale <= 0:
        ap.error("--time-scale: must be > 0")
    if args.capacity < 10:
        ap.error("--capacity: must be at least 10 (millicores)")
    for name in ("router", "agent", "binary"):
        if not os.access(getattr(args, name), os.X_OK):
            ap.error(f"--{name}: {getattr(args, name)} is not an executable")
    return args


def main():
    args = parse_args()
    try:
        r = DemoRunner(args)
    except traces.TraceError as e:
        raise SystemExit(f"demo: {e}")
    interrupted, wall = replay.run_interruptibly(
        r, "stopping the data plane and the operator, deleting the namespace", dataplane.log)
    if interrupted and not r.arm.ticks:
        return 130
    res = r.results()
    res["wallSeconds"] = wall
    planner_oracle = None
    if args.oracle:
        import cpu_model
        import oracle
        # The oracle's pods cost what the data plane's do: the CPU model
        # fitted on this arm's ticks (hack/replay/cpu_model.py).
        try:
            cm = cpu_model.model(res, r.tr, next(iter(res["arms"])))
        except ValueError as e:
            dataplane.log(f"oracle: no pod CPU model ({e}); the oracle uses the trace's load")
            cm = None
        planner_oracle = oracle.simulate_or_error(res, r.tr, args.binary, cpu_model=cm)
    dp_text = dataplane_summary(res)
    with open(os.path.join(args.out, "dataplane-summary.txt"), "w") as f:
        f.write(dp_text)
    svg = replay.write_outputs(args, r, res, planner_oracle, extra_text=dp_text)
    dataplane.log(f"plot: {svg}; summary: {os.path.join(args.out, 'summary.txt')}")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
