#!/usr/bin/env python3
"""Planner oracle: the real planner handed the true future load, offline.

The end-to-end comparison (hack/replay/run.py, measures.py, bench/e2e/run.sh)
measures two live arms against references computed from the trace alone. The
packing bound (measures.packing_bound) is the fewest pods per minute; this is
the other one: `shardcast plan` (operator/cmd/plan.cc, docs/planner.md) run
step by step on a simulated ShardSet whose forecasts are the truth. No
cluster is needed.

Simulation, from the arm's start (the warm-up start, as the live arms) to the
end of the measured window, at the forecast step of the run:
  state     active and warm pods (the arm's first recorded tick, else
            replicas + warm pool by ordinal) and the routing: the arm's
            initialOwners over the equal split of the key space;
  load      of a range and a pod at trace time t: hack/replay/loads.py, the
            same mapping run.py sets the KWOK pods with (split or merged
            ranges get the load of the key span they cover; reads split over
            the owner and echoes; an idle pod 5m);
  forecast  the true future under the current routing: per active pod the
            maximum of its load over (t, t + horizon] as p50 = p90 = p99,
            probExceed 1 if that peak is over maxUtilization x capacity else
            0, trusted; observed = the load at t. Per range likewise (the
            peak of its own load), unless --pod-forecasts-only, which gives
            the planner pod forecasts only (it then splits a pod's forecast
            evenly over its ranges). Warm pods: observed only, untrusted.
            No time to crossing (unknown = act now; the live operator
            passes timeToCrossingSeconds);
  pods      passed as ready, but for a new warm pod still starting up;
  history   built as controllers/migrationpolicy (HistoryFrom over the last
            100 finished actions and the unfinished ones): move starts of
            the last hour (Move, AddEcho), per-range and per-pod last action
            (cooldowns), migrations in flight, and lowLoadSince kept like the
            reconciler (set when the mean utilization of the active pods is
            first seen below scaleInUtilization, cleared when it is not;
            checked every trace minute);
  policy    examples/demo/migrationpolicy.yaml with the run's step and
            horizon (as run.py writes it); examples/demo/shardset.yaml.

Plans and their execution, after the live MigrationPolicy controller: at
every forecast step one `shardcast plan -o json`, unless actions of an
earlier plan are unfinished. The reconciler plans only when none is
(PlanWhenIdle), so the plan then waits for the first trace minute when none
is (plansDeferred counts the steps that waited); the planner therefore never
sees a migration in flight. A plan's actions are queued in order, and each
starts when the live executor would start it (executor.cc may_start): not
while an earlier action of the queue is unfinished if either of the two is a
Promote, Demote or ScaleIn; a Move or AddEcho only while fewer than the
policy's limits.maxConcurrentMigrations are in flight and fewer than
limits.maxMovesPerHour started in the last hour (MayStartMigration). One
rule is the oracle's own: an action does not start while an earlier one on
the same range ids (its range, a split's new range, a merge's absorbed range)
is unfinished. An action takes effect a duration after its start:
  Promote        the pod start-up: the warm pod becomes active (and counts
                 as an active pod and a promotion) only then;
  Move, AddEcho  the move duration: the owner changes (the echo is added)
                 only then; until then the range stays where it was and the
                 action is a migration in flight (the live AddEcho copies
                 data only with agent hooks; without, it is one routing
                 write);
  the others     at once: Split (the upper half gets the new id), Merge (one
                 routing write each in the live executor, no data copied),
                 RemoveEcho, Demote (active -> warm), ScaleIn (pod removed).
An effect is applied at the first trace minute at or after start + duration
(the simulation's time step), in queue order. After each one the warm pool is
refilled like the ShardSet controller does (lowest free ordinal) or trimmed
(highest ordinal first); a new warm pod counts as a warm pod from then on and
is ready (promotable) one pod start-up later. Actions unfinished at the end
of the window stay so (unfinishedActions). The ShardSet controller's own
placement (a joining pod taking ranges from the ring) is not simulated: the
planner's moves are the only owner changes.

Durations, in trace seconds: --pod-startup-seconds and --move-seconds; by
default the median startedAt-to-finishedAt of the run's completed Promote
(resp. Move) actions over all its arms (results.json arms.*.actions: the
policy's status records; the live operator runs on the trace's clock), else
the policy's spec.migration.leadTime.promotion (resp. perRange), the lead
times the planner itself assumes (30s and 10s when the policy has none). A
live Move's completion comes after its cutover and verification window, so
the oracle keeps a range on its source until the whole move is over, where
the live routing changes at the cutover. The durations used and where they
came from are in the output ("durations") and its summary line.
--instant is the earlier oracle: every plan applied at once, in order, at its
step, and new warm pods ready at once.

What is copied from the C++ controllers, and how it is kept equal: the
planner's decisions all come from `shardcast plan`. It takes the history as
input and knows nothing of the warm pool, so two rules are copied here:
the history (the status records of applied actions and HistoryFrom) and the
warm-pool refill (ComputeDesired's rounds). tests/hack/replay/rules_test.py
runs both copies against the C++ code (a probe linking the controllers) on
generated cases, with every action completed at once. Not covered there:
lowLoadSince, which the MigrationPolicy reconciler keeps inside its round
(no pure function to call), HISTORY_LIMIT (the reconciler's kHistoryLimit),
the records of unfinished actions, and the executor's start rules above
(tests/hack/replay/oracle_test.py checks those on scripted plans).

Measured on trace minutes of [start, end) exactly as measures.arm_summary
does for a live arm's ticks: overTrueMinutes (active pod-minutes over
maxUtilization), activePodMinutes, warmPodMinutes, rangesMoved (Moves that
took effect, i.e. owner changes), promotions (when the pod became active)
with their lead time against the counterfactual episodes. There are no
metrics-server samples, so no overload samples. actionLog: each finished
action's type, range, pod (a Move's target) and the trace times it was
planned, started and took effect.

CLI: python3 hack/replay/oracle.py --results DIR/results.json --binary PATH
[--pod-startup-seconds S] [--move-seconds S] [--instant] prints the table of
the run's arms, the packing bound and the oracle, then the oracle's summary
line, which names the durations used and where they came from.
"""
import argparse
import copy
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cpu_model  # noqa: E402
import loads as loads_mod  # noqa: E402
import measures  # noqa: E402
import traces  # noqa: E402
import yaml  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SHARDSET = os.path.join(ROOT, "examples/demo/shardset.yaml")
POLICY = os.path.join(ROOT, "examples/demo/migrationpolicy.yaml")
HISTORY_LIMIT = 100  # controllers/migrationpolicy/reconciler.cc kHistoryLimit
REQUIRED = ("start", "end", "forecastStep", "horizon", "capacity", "maxUtilization", "ranges", "minReplicas",
            "maxReplicas", "arms")
# what measures.arm_summary reads of each arm
ARM_FIELDS = ("ticks", "observed", "forecasts", "actions", "routing", "routingErrors", "promotions", "demotions")
ACTION_TYPES = ("Promote", "Move", "AddEcho", "RemoveEcho", "Split", "Merge", "Demote", "ScaleIn")
# controllers/migrationpolicy/policy.cc CopiesData: the actions that copy data,
# counted by maxConcurrentMigrations and maxMovesPerHour
COPIES_DATA = ("Move", "AddEcho")
# controllers/migrationpolicy/executor.cc Structural: such an action waits for
# every earlier action of its plan, and every later action waits for it
STRUCTURAL = ("Promote", "Demote", "ScaleIn")
# crds/: defaults of the MigrationPolicy fields read here when the policy omits them
DEFAULT_LIMITS = {"maxConcurrentMigrations": 2, "maxMovesPerHour": 32}
DEFAULT_LEAD_TIMES = {"promotion": "30s", "perRange": "10s"}


class OracleError(Exception):
    """Bad input or a failed plan; the message is one line."""


def _num(res, key, where):
    v = res.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise OracleError(f"{where}: field '{key}' must be a number, got {json.dumps(v)[:40]}")
    return v


def check_results(res, where="results.json"):
    if not isinstance(res, dict):
        raise OracleError(f"{where}: must be a JSON object")
    missing = [k for k in REQUIRED if k not in res]
    if missing:
        raise OracleError(f"{where}: missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    for k in REQUIRED[:-1]:
        _num(res, k, where)
    if res["end"] <= res["start"]:
        raise OracleError(f"{where}: end ({res['end']}) must be after start ({res['start']})")
    if res["forecastStep"] <= 0 or res["horizon"] <= 0:
        raise OracleError(f"{where}: forecastStep and horizon must be > 0 minutes")
    if not isinstance(res["arms"], dict) or not res["arms"]:
        raise OracleError(f"{where}: field 'arms' must be a non-empty object")
    for name, arm in res["arms"].items():
        if not isinstance(arm, dict):
            raise OracleError(f"{where}: arms.{name} must be an object")
        gone = [k for k in ARM_FIELDS if k not in arm]
        if gone:
            raise OracleError(f"{where}: arms.{name}: missing field{'s' if len(gone) > 1 else ''} {', '.join(gone)}")


def _ordinal(name):
    tail = name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _range_ids(a):
    """The range ids an action touches (its range, a split's new one, a merge's absorbed one)."""
    return {a.get(k) for k in ("range", "newRange", "absorbedRange")} - {None}


def _load_yaml(path):
    try:
        with open(path) as f:
            return yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        raise OracleError(f"{path}: {str(e).splitlines()[0]}") from None


def parse_duration(text, field):
    """Seconds of a MigrationPolicy duration such as 30s, 5m or 1h30m."""
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", str(text).strip())
    if not m or not any(m.groups()):
        raise OracleError(f"{field}: '{text}' is not a duration (such as 30s, 5m or 1h30m)")
    h, mi, sec = (int(g or 0) for g in m.groups())
    return h * 3600 + mi * 60 + sec


def completed_seconds(action):
    """finishedAt - startedAt of a Completed action of a live arm's record
    (trace seconds: the live operator runs on the trace's clock), else None."""
    if not isinstance(action, dict) or action.get("phase") != "Completed":
        return None
    try:
        started = traces.parse_time(action["startedAt"], "startedAt")
        finished = traces.parse_time(action["finishedAt"], "finishedAt")
    except (KeyError, traces.TraceError):
        return None
    return finished - started if finished >= started else None


def measured_seconds(res, typ):
    """The median duration of the completed `typ` actions of all the run's
    arms, and how many there were (None, 0 when none)."""
    xs = [d for arm in res["arms"].values() for a in arm.get("actions") or []
          if isinstance(a, dict) and a.get("type") == typ and (d := completed_seconds(a)) is not None]
    return (statistics.median(xs), len(xs)) if xs else (None, 0)


def _choose(given, flag, res, typ, lead_time, lead_field):
    """(seconds, where they came from): the flag, else the run's median of
    completed `typ` actions, else the policy's lead time."""
    if given is not None:
        if given < 0:
            raise OracleError(f"{flag}: must be >= 0, got {given:g}")
        return float(given), flag
    median, n = measured_seconds(res, typ)
    if median is not None:
        return float(median), f"results.json: median of {n} completed {typ} action{'s' if n != 1 else ''}"
    return float(lead_time), f"policy {lead_field}: results.json has no completed {typ}"


def durations(res, policy, pod_startup=None, move_seconds=None, instant=False):
    """How long the oracle's actions take (trace seconds) and where each
    figure came from; see the module doc."""
    if instant:
        return {"instant": True, "podStartupSeconds": 0.0, "podStartupFrom": "--instant",
                "moveSeconds": 0.0, "moveFrom": "--instant"}
    lead = ((policy.get("spec") or {}).get("migration") or {}).get("leadTime") or {}
    field = "spec.migration.leadTime."
    promotion = parse_duration(lead.get("promotion", DEFAULT_LEAD_TIMES["promotion"]), field + "promotion")
    per_range = parse_duration(lead.get("perRange", DEFAULT_LEAD_TIMES["perRange"]), field + "perRange")
    startup, startup_from = _choose(pod_startup, "--pod-startup-seconds", res, "Promote", promotion,
                                    field + "promotion")
    move, move_from = _choose(move_seconds, "--move-seconds", res, "Move", per_range, field + "perRange")
    return {"instant": False, "podStartupSeconds": startup, "podStartupFrom": startup_from,
            "moveSeconds": move, "moveFrom": move_from}


class Simulation:
    def __init__(self, res, tr, binary, arm=None, shardset=None, policy=None, range_forecasts=True,
                 warmup=True, workdir=None, pod_startup=None, move_seconds=None, instant=False,
                 cpu_model=None):
        check_results(res)
        if tr.weights is None:
            raise OracleError("trace: set_ranges() was not called (the trace has no range weights)")
        if len(tr.weights) != int(res["ranges"]):
            raise OracleError(f"trace: {len(tr.weights)} ranges, results.json says {res['ranges']}")
        self.res, self.tr, self.binary = res, tr, binary
        self.range_forecasts = range_forecasts
        # Pod CPU = a x the trace's load + b per active pod + c spread over
        # the active pods (hack/replay/cpu_model.py); None: the trace's load.
        self.cpu_model = _check_cpu_model(cpu_model)
        if arm is None:
            arm = next((n for n in ("predictive", "reactive") if n in res["arms"]), next(iter(res["arms"])))
        if arm not in res["arms"]:
            raise OracleError(f"results.json: no arm '{arm}' (arms: {', '.join(res['arms'])})")
        self.arm_name = arm
        a = res["arms"][arm]
        owners = a.get("initialOwners") if isinstance(a, dict) else None
        if not owners:
            raise OracleError(f"results.json: arms.{arm}.initialOwners: missing")
        if len(owners) != int(res["ranges"]):
            raise OracleError(f"results.json: arms.{arm}.initialOwners: {len(owners)} owners for "
                              f"{res['ranges']} ranges")
        self.initial_owners = list(owners)
        self.shardset = copy.deepcopy(shardset if shardset is not None else _load_yaml(SHARDSET))
        self.policy = copy.deepcopy(policy if policy is not None else _load_yaml(POLICY))
        try:
            self.set_name = self.shardset["metadata"]["name"]
            spec = self.shardset["spec"]
            self.pool = int(spec["warmPool"]["size"])
            replicas = int(spec["replicas"])
            spec["minReplicas"], spec["maxReplicas"] = int(res["minReplicas"]), int(res["maxReplicas"])
            spec["keySpace"]["ranges"] = int(res["ranges"])
            spec["capacity"] = {"metric": "CPU", "cpuMillis": float(res["capacity"])}
            pspec = self.policy["spec"]
            pspec["forecast"]["step"] = f"{int(res['forecastStep'])}m"
            pspec["forecast"]["horizon"] = f"{int(res['horizon'])}m"
            pspec["thresholds"]["maxUtilization"] = float(res["maxUtilization"])
            pspec["events"] = list(tr.events)
            self.scale_in_util = float(pspec["thresholds"]["scaleInUtilization"])
            limits = dict(DEFAULT_LIMITS, **(pspec.get("limits") or {}))
            self.max_migrations = int(limits["maxConcurrentMigrations"])
            self.max_moves_hour = int(limits["maxMovesPerHour"])
        except (KeyError, TypeError, ValueError) as e:
            raise OracleError(f"examples/demo: ShardSet or MigrationPolicy without the field {e}") from None
        self.durations = durations(res, self.policy, pod_startup, move_seconds, instant)
        self.cap = float(res["capacity"])
        self.mx = float(res["maxUtilization"])
        self.step = int(res["forecastStep"]) * 60
        self.horizon = int(res["horizon"]) * 60
        self.T0, self.T1 = int(res["start"]), int(res["end"])
        self.TW = int(res.get("warmupStart", self.T0)) if warmup else self.T0
        self.TW = min(self.TW, self.T0)
        if self.TW < tr.t0 or self.T1 + self.horizon > tr.t_end + 60:
            raise OracleError(f"trace {tr.name} covers {traces.fmt_time(tr.t0)}..{traces.fmt_time(tr.t_end)}, "
                              f"not the window plus one horizon")
        # Pods: as the arm's first tick shows them, else replicas + warm pool by ordinal.
        ticks = a.get("ticks") or []
        if ticks and ticks[0].get("active"):
            self.active = list(ticks[0]["active"])
            self.warm = list(ticks[0].get("warm") or [])
        else:
            names = sorted(set(owners), key=lambda n: (_ordinal(n) is None, _ordinal(n) or 0, n))
            self.active = names
            k = 0
            while len(self.active) < replicas:
                if f"{self.set_name}-{k}" not in self.active:
                    self.active.append(f"{self.set_name}-{k}")
                k += 1
            self.warm = []
            self._refill_warm()
        missing = sorted(set(owners) - set(self.active))
        if missing:
            raise OracleError(f"results.json: arms.{arm}.initialOwners names {', '.join(missing)}, not an active pod")
        n = int(res["ranges"])
        span = loads_mod.SPAN
        self.ranges = {i: {"id": i, "start": span * i // n, "end": span * (i + 1) // n - 1, "owner": owners[i],
                           "state": "stable", "echoes": []} for i in range(n)}
        self.history = []        # finished, newest last: {type, started, finished, range, other, source, target}
        self.queue = []          # the plan's unfinished actions, in order: {action, where, planned, record, due}
        self.starting = {}       # warm pod -> trace time its start-up ends
        self.action_log = []     # {type, range, pod, planned, started, finished} per finished action
        self.plans_deferred = 0  # forecast steps whose plan waited for unfinished actions
        self.low_since = None
        self.tmp = workdir
        self.own_tmp = workdir is None
        self.plan_calls = 0
        self.plan_seconds = 0.0
        self.blocked = 0

    # ---- load ------------------------------------------------------------
    def range_list(self):
        return [self.ranges[k] for k in sorted(self.ranges, key=lambda k: self.ranges[k]["start"])]

    def loads_at(self, t, ranges=None):
        ranges = self.range_list() if ranges is None else ranges
        rl = self.tr.range_loads(t)
        cm = self.cpu_model
        if cm:
            rl = [v * cm["a"] for v in rl]
        rloads = loads_mod.doc_range_loads(rl, ranges)
        pl = loads_mod.pod_loads(rl, ranges, self.active + self.warm, rloads)
        if cm and self.active:
            extra = cm["b"] + max(0.0, cm["c"]) / len(self.active)
            for p in self.active:
                pl[p] += extra
        return rloads, pl

    def forecasts(self, t):
        ranges = self.range_list()
        r_obs, p_obs = self.loads_at(t, ranges)
        r_peak = {k: 0.0 for k in r_obs}
        p_peak = {p: 0.0 for p in p_obs}
        for m in range(t + 60, t + self.horizon + 1, 60):
            rl, pl = self.loads_at(m, ranges)
            for k, v in rl.items():
                r_peak[k] = max(r_peak[k], v)
            for p, v in pl.items():
                p_peak[p] = max(p_peak.get(p, 0.0), v)
        limit = self.mx * self.cap
        pods = []
        for p in self.active:
            pk = p_peak[p]
            pods.append({"pod": p, "observed": round(p_obs[p], 3), "p50": round(pk, 3), "p90": round(pk, 3),
                         "p99": round(pk, 3), "probExceed": 1.0 if pk > limit else 0.0, "trusted": True})
        for p in self.warm:
            pods.append({"pod": p, "observed": round(p_obs[p], 3), "trusted": False})
        doc = {"generatedAt": traces.fmt_time(t), "horizonSeconds": self.horizon, "pods": pods}
        if self.range_forecasts:
            doc["ranges"] = [{"id": k, "observed": round(r_obs[k], 3), "p50": round(r_peak[k], 3),
                              "p90": round(r_peak[k], 3), "p99": round(r_peak[k], 3), "trusted": True}
                             for k in sorted(r_obs)]
        return doc

    # ---- planner input ----------------------------------------------------
    def history_input(self, now):
        """The planner's history as HistoryFrom (controllers/migrationpolicy)
        builds it from the newest HISTORY_LIMIT finished records and those in
        flight, with the median duration of the completed promotions and
        moves and the start of the newest promotion."""
        moves, rla, rle, pla, in_flight = [], {}, {}, {}, 0
        for h in self.history[-HISTORY_LIMIT:] + self.in_flight_records():
            last = h["started"] if h["finished"] is None else max(h["started"], h["finished"])
            if h["type"] in COPIES_DATA:
                if now - h["started"] < 3600:
                    moves.append(h["started"])
                in_flight += h["finished"] is None
            echo = h["type"] in ("AddEcho", "RemoveEcho")
            if h["range"] is not None:
                last_of = rle if echo else rla  # echo changes cool apart (planner.h)
                last_of[str(h["range"])] = max(last_of.get(str(h["range"]), 0), last)
            if h["other"] is not None and h["type"] in ("Split", "Merge"):
                rla[str(h["other"])] = max(rla.get(str(h["other"]), 0), last)
            # Moves and echoes cool their ranges, not the pods.
            if h["type"] != "Move" and not echo:
                for pod in (h["source"], h["target"]):
                    if pod:
                        pla[pod] = max(pla.get(pod, 0), last)
        # The median duration of completed promotions (the upper one of an even count).
        took = sorted(h["finished"] - h["started"] for h in self.history[-HISTORY_LIMIT:]
                      if h["type"] == "Promote" and h["finished"] is not None)
        promoted = [h["started"] for h in self.history[-HISTORY_LIMIT:] + self.in_flight_records()
                    if h["type"] == "Promote"]
        # Its Moves hand over when they finish (see the module doc).
        moved = sorted(h["finished"] - h["started"] for h in self.history[-HISTORY_LIMIT:]
                       if h["type"] == "Move" and h["finished"] is not None)
        return {"moves": sorted(moves), "rangeLastAction": rla, "rangeLastEcho": rle, "podLastAction": pla,
                "inFlightMigrations": in_flight, "lowLoadSince": self.low_since,
                "promotionSeconds": float(took[len(took) // 2]) if took else None,
                "lastPromotion": max(promoted) if promoted else None,
                "moveSeconds": float(moved[len(moved) // 2]) if moved else None}

    def in_flight_records(self):
        """History records of the started, unfinished actions (status.actions)."""
        return [e["record"] for e in self.queue if e["record"] is not None]

    def ready(self, pod, now):
        """Whether a pod has finished starting up (always, but for new warm pods)."""
        return self.starting.get(pod, now) <= now

    def state_doc(self, now):
        pods = [{"name": p, "role": "active", "ready": True} for p in self.active]
        pods += [{"name": p, "role": "warm", "ready": self.ready(p, now)} for p in self.warm]
        return {"shardSet": {"name": self.set_name, "spec": self.shardset["spec"]}, "pods": pods,
                "routing": {"ranges": self.range_list()}, "history": self.history_input(now)}

    def plan(self, t):
        sp, pp, fp = (os.path.join(self.tmp, f) for f in ("state.json", "policy.yaml", "forecast.json"))
        with open(sp, "w") as f:
            json.dump(self.state_doc(t), f)
        with open(fp, "w") as f:
            json.dump(self.forecasts(t), f)
        if not os.path.exists(pp):
            with open(pp, "w") as f:
                yaml.safe_dump(self.policy, f)
        cmd = [self.binary, "plan", "--shardset", sp, "--policy", pp, "--forecast", fp,
               "--now", traces.fmt_time(t), "-o", "json"]
        c0 = time.time()
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        except FileNotFoundError:
            raise OracleError(f"{self.binary}: no such file (the shardcast binary)") from None
        except PermissionError:
            raise OracleError(f"{self.binary}: not executable") from None
        except subprocess.TimeoutExpired:
            raise OracleError(f"shardcast plan at {traces.fmt_time(t)}: no answer in 60s") from None
        self.plan_seconds += time.time() - c0
        self.plan_calls += 1
        if r.returncode != 0:
            msg = next((ln for ln in reversed(r.stderr.strip().splitlines()) if ln.strip()), f"exit {r.returncode}")
            raise OracleError(f"shardcast plan at {traces.fmt_time(t)} failed: {msg.strip()}")
        try:
            out = json.loads(r.stdout)
            acts = out["actions"]
            if not isinstance(acts, list):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise OracleError(f"shardcast plan at {traces.fmt_time(t)}: output is not a plan (-o json)") from None
        self.blocked += len(out.get("blocked") or [])
        return acts

    # ---- applying a plan ------------------------------------------------------
    def _refill_warm(self):
        used = set(self.active) | set(self.warm)
        k = 0
        while len(self.warm) < self.pool:
            name = f"{self.set_name}-{k}"
            if name not in used:
                self.warm.append(name)
                used.add(name)
            k += 1
        if len(self.warm) > self.pool:
            referenced = {e for r in self.ranges.values() for e in r["echoes"]}
            order = sorted(self.warm, key=lambda n: -(_ordinal(n) or 0))
            for name in order:
                if len(self.warm) <= self.pool:
                    break
                if name not in referenced:
                    self.warm.remove(name)

    def apply(self, t, actions, tally):
        """Applies a plan's actions at once, in order, then refills the warm pool."""
        for i, a in enumerate(actions):
            self.apply_action(t, a, tally, self._where(t, i, a))
        self._refill_warm()

    @staticmethod
    def _where(t, i, a):
        typ = a.get("type") if isinstance(a, dict) else None
        where = f"shardcast plan at {traces.fmt_time(t)}: actions[{i}] ({typ})"
        if typ not in ACTION_TYPES:
            raise OracleError(f"{where}: unknown action type")
        return where

    @staticmethod
    def _record(a, started):
        """The action's history record (status.actions / status.history):
        started, and finished None until it is done."""
        rec = {"type": a["type"], "started": started, "finished": None, "range": a.get("range"),
               "other": a.get("newRange", a.get("absorbedRange")), "source": "", "target": ""}
        pod = a.get("pod", "")
        if a["type"] in ("Promote", "AddEcho", "RemoveEcho"):
            rec["target"] = pod
        elif a["type"] == "Move":
            rec["source"], rec["target"] = a.get("from"), a.get("to")
        else:  # Demote, ScaleIn, Split, Merge
            rec["source"] = pod
        return rec

    def apply_action(self, t, a, tally, where, rec=None):
        """One action's effect at trace time t; `where` names it in errors.
        Its history record (`rec`, started at t when not given) is finished at t."""
        rid = a.get("range")
        r = self.ranges.get(rid) if rid is not None else None
        if rid is not None and r is None:
            raise OracleError(f"{where}: unknown range {rid}")
        EFFECTS[a["type"]](self, t, a, r, where, tally)
        rec = rec or self._record(a, t)
        rec["finished"] = t
        self.history.append(rec)
        if len(self.history) > HISTORY_LIMIT:
            del self.history[:-HISTORY_LIMIT]
        tally["actions"][a["type"]] = tally["actions"].get(a["type"], 0) + 1

    def _promote(self, t, a, r, where, tally):
        pod = a.get("pod", "")
        if pod not in self.warm:
            raise OracleError(f"{where}: {pod} is not a warm pod")
        self.warm.remove(pod)
        self.active.append(pod)
        if self.T0 <= t <= self.T1:
            tally["promotions"].append({"t": t, "pod": pod})

    def _demote(self, t, a, r, where, tally):
        pod = a.get("pod", "")
        if pod not in self.active:
            raise OracleError(f"{where}: {pod} is not an active pod")
        self.active.remove(pod)
        self.warm.append(pod)
        tally["demotions"].append({"t": t, "pod": pod})

    def _scale_in(self, t, a, r, where, tally):
        pod = a.get("pod", "")
        if pod not in self.active:
            raise OracleError(f"{where}: {pod} is not an active pod")
        owned = [k for k, x in self.ranges.items() if x["owner"] == pod]
        if owned:
            raise OracleError(f"{where}: {pod} still owns ranges {owned[:5]}")
        self.active.remove(pod)
        for x in self.ranges.values():
            x["echoes"] = [e for e in x["echoes"] if e != pod]
        tally["demotions"].append({"t": t, "pod": pod})

    def _move(self, t, a, r, where, tally):
        src, dst = a.get("from"), a.get("to")
        if r is None or r["owner"] != src:
            raise OracleError(f"{where}: range {a.get('range')} is not owned by {src}")
        if dst not in self.active:
            raise OracleError(f"{where}: target {dst} is not an active pod")
        r["owner"] = dst
        if self.T0 <= t <= self.T1 and src != dst:
            tally["moved"] += 1

    def _add_echo(self, t, a, r, where, tally):
        pod = a.get("pod", "")
        if r is None or pod not in self.active:
            raise OracleError(f"{where}: range {a.get('range')} / pod {pod} unknown")
        r["echoes"].append(pod)

    def _remove_echo(self, t, a, r, where, tally):
        pod = a.get("pod", "")
        if r is None or pod not in r["echoes"]:
            raise OracleError(f"{where}: {pod} is not an echo of range {a.get('range')}")
        r["echoes"].remove(pod)

    def _split(self, t, a, r, where, tally):
        rid, new, at = a.get("range"), a.get("newRange"), a.get("splitAt")
        if r is None or new is None or at is None or not (r["start"] < at <= r["end"]):
            raise OracleError(f"{where}: split of range {rid} at {at} is outside it")
        if new in self.ranges:
            raise OracleError(f"{where}: new range id {new} is taken")
        upper = copy.deepcopy(r)
        upper["id"], upper["start"] = new, at
        r["end"] = at - 1
        self.ranges[new] = upper

    def _merge(self, t, a, r, where, tally):
        rid, other = a.get("range"), a.get("absorbedRange")
        b = self.ranges.get(other)
        if r is None or b is None or r["end"] + 1 != b["start"] or r["owner"] != b["owner"]:
            raise OracleError(f"{where}: ranges {rid} and {other} are not adjacent on one owner")
        r["end"] = b["end"]
        del self.ranges[other]

    # ---- executing a plan over time ----------------------------------------------
    def execute(self, t, actions, tally):
        """Hands a plan over: applied at once (--instant), else queued and
        started as the live executor allows (see advance)."""
        if self.durations["instant"]:
            self.apply(t, actions, tally)
            for a in actions:
                self._log(a, t, t, t)
            return
        for i, a in enumerate(actions):
            self.queue.append({"action": a, "where": self._where(t, i, a), "planned": t, "record": None,
                               "due": None})
        self.advance(t, tally)

    def advance(self, t, tally):
        """At trace time t: new warm pods whose start-up is over become ready;
        queued actions due by t take effect and those allowed to start do,
        until neither happens."""
        self.starting = {p: at for p, at in self.starting.items() if at > t}
        while True:
            done = [e for e in self.queue if e["due"] is not None and e["due"] <= t]
            for e in done:
                self._finish(e, t, tally)
            if not self._start_allowed(t) and not done:
                return

    def duration(self, typ):
        """Trace seconds from an action's start to its effect."""
        if typ == "Promote":
            return self.durations["podStartupSeconds"]
        if typ in COPIES_DATA:
            return self.durations["moveSeconds"]
        return 0.0  # Split, Merge: one routing write; RemoveEcho, Demote, ScaleIn

    def _start_allowed(self, t):
        """Starts every queued action that may start at t; how many did."""
        n = 0
        for i, e in enumerate(self.queue):
            if e["record"] is None and self.may_start(i, t):
                e["record"] = self._record(e["action"], t)
                e["due"] = t + self.duration(e["action"]["type"])
                n += 1
        return n

    def may_start(self, i, t):
        """The live executor's rule (executor.cc may_start): not while an
        earlier action is unfinished when either is structural; a Move or
        AddEcho within maxConcurrentMigrations and maxMovesPerHour
        (MayStartMigration). And the oracle's: not while an earlier action
        on one of the same ranges is unfinished."""
        a = self.queue[i]["action"]
        for e in self.queue[:i]:
            b = e["action"]
            if a["type"] in STRUCTURAL or b["type"] in STRUCTURAL or _range_ids(a) & _range_ids(b):
                return False
        return a["type"] not in COPIES_DATA or self.migration_allowed(t)

    def migration_allowed(self, t):
        """Whether a Move or AddEcho may start at t (MayStartMigration)."""
        h = self.history_input(t)
        return h["inFlightMigrations"] < self.max_migrations and len(h["moves"]) < self.max_moves_hour

    def _finish(self, e, t, tally):
        self.queue.remove(e)
        self.apply_action(t, e["action"], tally, e["where"], e["record"])
        self._log(e["action"], e["planned"], e["record"]["started"], t)
        self._refill_and_start(t)

    def _log(self, a, planned, started, finished):
        self.action_log.append({"type": a["type"], "range": a.get("range"), "pod": a.get("pod") or a.get("to"),
                                "planned": planned, "started": started, "finished": finished})

    def _refill_and_start(self, t):
        """The warm-pool refill; a new pod is ready a start-up time later."""
        before = set(self.warm)
        self._refill_warm()
        startup = self.durations["podStartupSeconds"]
        for pod in self.warm:
            if pod not in before and startup > 0:
                self.starting[pod] = t + startup
        self.starting = {p: at for p, at in self.starting.items() if p in self.warm}

    # ---- the run ---------------------------------------------------------------
    def run(self):
        if self.own_tmp:
            self.tmp = tempfile.mkdtemp(prefix="shardcast-oracle-")
        try:
            return self._run()
        finally:
            if self.own_tmp:
                shutil.rmtree(self.tmp, ignore_errors=True)

    def _track_low_load(self, m, pl):
        """lowLoadSince like the reconciler: set when the mean utilization of
        the active pods is first seen below scaleInUtilization, cleared when it is not."""
        util = [pl[p] / self.cap for p in self.active]
        if util and sum(util) / len(util) < self.scale_in_util:
            if self.low_since is None:
                self.low_since = m
        else:
            self.low_since = None

    def _minute(self, m, plan_due, tally):
        """Trace minute m: the actions due take effect, then the plan, when
        one is due and no action is unfinished (the reconciler plans only
        then). Returns (a plan still due, the pod loads at m)."""
        self.advance(m, tally)
        _, pl = self.loads_at(m)
        self._track_low_load(m, pl)
        at_step = (m - self.TW) % self.step == 0
        if at_step and self.queue:
            self.plans_deferred += 1
        due = plan_due or at_step
        if not due or self.queue:
            return due, pl
        acts = self.plan(m)
        if acts:
            self.execute(m, acts, tally)
            _, pl = self.loads_at(m)
        return False, pl

    def _run(self):
        tally = {"promotions": [], "demotions": [], "moved": 0, "actions": {}}
        measured = MinuteMeasures(self)
        plan_due = False
        for m in range(self.TW, self.T1, 60):
            plan_due, pl = self._minute(m, plan_due, tally)
            measured.add(m, pl)
        return {**measured.summary(),
                "rangesMoved": tally["moved"], "promotions": tally["promotions"],
                "scaleIns": len([d for d in tally["demotions"] if self.T0 <= d["t"] <= self.T1]),
                "actions": tally["actions"], "planCalls": self.plan_calls,
                "planSeconds": round(self.plan_seconds, 1), "blocked": self.blocked, "arm": self.arm_name,
                "rangeForecasts": self.range_forecasts, "simulatedFrom": self.TW,
                "finalRanges": len(self.ranges), "durations": self.durations,
                "plansDeferred": self.plans_deferred, "unfinishedActions": len(self.queue),
                "cpuModel": self.cpu_model, "actionLog": self.action_log}


class MinuteMeasures:
    """The measures of the window [T0, T1) of a simulation, minute by
    minute, as measures.arm_summary takes them for a live arm: active and
    warm pod-minutes, active pod-minutes over maxUtilization, and the series
    of active pod counts."""

    def __init__(self, sim):
        self.sim = sim
        self.limit = sim.mx * sim.cap
        self.act_min = self.warm_min = self.over_min = 0
        self.pods = []

    def add(self, m, pl):
        sim = self.sim
        if m < sim.T0:
            return
        self.act_min += len(sim.active)
        self.warm_min += len(sim.warm)
        self.over_min += sum(1 for p in sim.active if pl[p] > self.limit)
        if not self.pods or self.pods[-1][1] != len(sim.active):
            self.pods.append((m, len(sim.active)))

    def summary(self):
        return {"overTrueMinutes": self.over_min, "activePodMinutes": self.act_min,
                "warmPodMinutes": self.warm_min,
                "pods": self.pods + [(self.sim.T1, len(self.sim.active))]}


# An action's effect on the simulated ShardSet, by type (Simulation.apply_action).
EFFECTS = {"Promote": Simulation._promote, "Demote": Simulation._demote, "ScaleIn": Simulation._scale_in,
           "Move": Simulation._move, "AddEcho": Simulation._add_echo, "RemoveEcho": Simulation._remove_echo,
           "Split": Simulation._split, "Merge": Simulation._merge}

def _check_cpu_model(cm):
    """A pod CPU model {a, b, c} (a > 0, b >= 0), or None."""
    if cm is None:
        return None
    try:
        out = {k: float(cm[k]) for k in ("a", "b", "c")}
    except (KeyError, TypeError, ValueError):
        raise OracleError(f"cpu model: {cm!r} is not {{a, b, c}} numbers") from None
    if not out["a"] > 0 or out["b"] < 0:
        raise OracleError(f"cpu model: a must be > 0 and b >= 0, not a={out['a']:g} b={out['b']:g}")
    return out


def parse_cpu_model(text, res, tr, arm):
    """--cpu-model: "fit" (fitted on the arm's ticks of a data plane run) or "A,B,C"."""
    if text == "fit":
        if "dataPlane" not in res:
            raise OracleError("--cpu-model fit: the results are not of the real data plane (no dataPlane)")
        try:
            return cpu_model.model(res, tr, arm)
        except ValueError as e:
            raise OracleError(f"--cpu-model fit: {e}") from None
    parts = text.split(",")
    try:
        if len(parts) != 3:
            raise ValueError
        return _check_cpu_model(dict(zip("abc", (float(x) for x in parts))))
    except ValueError:
        raise OracleError(f"--cpu-model: '{text}' is not 'fit' or three numbers A,B,C") from None


def simulate(res, tr, binary, **kw):
    """The oracle's measures (see the module doc); raises OracleError."""
    out = Simulation(res, tr, binary, **kw).run()
    arm = res["arms"][out["arm"]]
    eps = measures.counterfactual_episodes(res, tr, arm["initialOwners"])
    for p in out["promotions"]:
        p["leadMinutes"] = measures.lead_minutes(p["t"], eps)
    return out


def simulate_or_error(res, tr, binary, **kw):
    """simulate(), or {"error": message} when it fails (for the replay's summary)."""
    try:
        return simulate(res, tr, binary, **kw)
    except OracleError as e:
        return {"error": str(e)}


def check_trace(res, tr, arm):
    """The run's recorded pod loads at its first tick must be what this trace
    gives on the initial routing (else the trace spec, zipf or seed differ)."""
    if res.get("description") and res["description"] != tr.description:
        raise OracleError(f"trace: '{tr.description}' is not the run's '{res['description']}' "
                          f"(give the run's --trace)")
    a = res["arms"][arm]
    ticks, routing = a.get("ticks") or [], a.get("routing") or []
    if not ticks or not routing or routing[0].get("epoch") != ticks[0].get("epoch"):
        return
    owners = a["initialOwners"]
    n = len(owners)
    if sorted(routing[0].get("owners", {})) != sorted(str(i) for i in range(n)):
        return
    span = loads_mod.SPAN
    ranges = [{"id": str(i), "start": span * i // n, "end": span * (i + 1) // n - 1,
               "owner": routing[0]["owners"][str(i)]} for i in range(n)]
    want = loads_mod.pod_loads(tr.range_loads(ticks[0]["t"]), ranges, list(ticks[0]["loads"]))
    for p, v in ticks[0]["loads"].items():
        if abs(want.get(p, 0.0) - v) > 1.0 + 0.01 * v:
            raise OracleError(f"trace: pod {p} had {v:.0f}m at {traces.fmt_time(int(ticks[0]['t']))} in the run, "
                              f"this trace gives {want.get(p, 0.0):.0f}m (trace spec, --zipf or --seed differ)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", required=True, help="results.json of a replay (hack/replay/run.py --out)")
    ap.add_argument("--binary", required=True, help="the shardcast binary (its `plan` subcommand)")
    ap.add_argument("--arm", help="arm whose initial routing and pods to start from (default: predictive)")
    ap.add_argument("--trace", help="trace spec (default: the results' traceSpec, else its trace name)")
    ap.add_argument("--zipf", type=float, help="Zipf exponent (default: the results', else 0.7 as run.py)")
    ap.add_argument("--seed", type=int, help="range popularity seed (default: the results', else 7 as run.py)")
    ap.add_argument("--pod-forecasts-only", action="store_true",
                    help="give the planner pod forecasts only (ranges share them evenly)")
    ap.add_argument("--no-warmup", action="store_true", help="start at the measured window, not the warm-up")
    ap.add_argument("--pod-startup-seconds", type=float,
                    help="trace seconds from a Promote's start until its pod is active, and from a new warm "
                         "pod's creation until it is ready (default: the median completed Promote of the run, "
                         "else the policy's migration.leadTime.promotion)")
    ap.add_argument("--move-seconds", type=float,
                    help="trace seconds from a Move's or AddEcho's start until it takes effect (default: the "
                         "median completed Move of the run, else the policy's migration.leadTime.perRange)")
    ap.add_argument("--instant", action="store_true",
                    help="apply each plan at once, with no durations (the oracle's earlier model)")
    ap.add_argument("--cpu-model", metavar="fit|A,B,C",
                    help="pod CPU = A x the trace's load + B per active pod + C over the active pods; 'fit': "
                         "fitted on the arm's ticks of a real data plane run (hack/replay/cpu_model.py). "
                         "Default: the trace's load")
    ap.add_argument("--json", help="also write the oracle's measures to this file")
    args = ap.parse_args(argv)
    try:
        if args.instant and (args.pod_startup_seconds is not None or args.move_seconds is not None):
            raise OracleError("--instant takes no --pod-startup-seconds or --move-seconds")
        try:
            with open(args.results) as f:
                res = json.load(f)
        except OSError as e:
            raise OracleError(f"{args.results}: {e.strerror}") from None
        except ValueError as e:
            raise OracleError(f"{args.results}: not JSON ({e})") from None
        check_results(res, args.results)
        spec = args.trace or res.get("traceSpec") or res.get("trace")
        if not spec:
            raise OracleError(f"{args.results}: no trace or traceSpec field; give --trace")
        tr = traces.load(spec)
        zipf = args.zipf if args.zipf is not None else res.get("zipf", 0.7)
        seed = args.seed if args.seed is not None else res.get("seed", 7)
        tr.set_ranges(int(res["ranges"]), zipf, seed)
        sim_kw = {"range_forecasts": not args.pod_forecasts_only, "warmup": not args.no_warmup,
                  "pod_startup": args.pod_startup_seconds, "move_seconds": args.move_seconds,
                  "instant": args.instant}
        if args.arm:
            sim_kw["arm"] = args.arm
        arm = args.arm or next((n for n in ("predictive", "reactive") if n in res["arms"]), next(iter(res["arms"])))
        if arm not in res["arms"]:
            raise OracleError(f"{args.results}: no arm '{arm}' (arms: {', '.join(res['arms'])})")
        if "dataPlane" in res:
            scale = float(res["dataPlane"]["traceScale"])
            tr.values = [v * scale for v in tr.values]  # as hack/demo/run.py; its ticks are real CPU
        else:
            check_trace(res, tr, arm)
        if args.cpu_model:
            sim_kw["cpu_model"] = parse_cpu_model(args.cpu_model, res, tr, arm)
        summary = measures.summarize(res, tr, oracle_planner=simulate(res, tr, args.binary, **sim_kw))
    except (OracleError, traces.TraceError) as e:
        print(f"oracle: {e}", file=sys.stderr)
        return 2
    except KeyError as e:
        print(f"oracle: {args.results}: missing field {e}", file=sys.stderr)
        return 2
    except (TypeError, ValueError, AttributeError, IndexError) as e:
        print(f"oracle: {args.results}: unexpected shape ({type(e).__name__}: {e})", file=sys.stderr)
        return 2
    o = summary["oraclePlanner"]
    print(f"trace {res.get('traceSpec') or res.get('trace')}: window {traces.fmt_time(res['start'])} .. "
          f"{traces.fmt_time(res['end'])}, forecast step {res['forecastStep']}m, horizon {res['horizon']}m")
    print()
    print(measures.table(summary))
    print()
    print(measures.oracle_line(o))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(o, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
