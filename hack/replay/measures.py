"""Measures of a replay (hack/replay/run.py) and its two offline references,
shared by the report of a live run (analyze.py) and the planner oracle
(oracle.py); imports neither.

Per arm, over the live window [start, end] of trace time:
  overloadSamples   metrics.k8s.io samples (one per pod and metrics-server
                    timestamp) of an active pod above maxUtilization x capacity
  overTrueMinutes   pod-minutes over maxUtilization of the load the driver set
                    (every tick, not only what metrics-server happened to see)
  activePodMinutes, warmPodMinutes
  rangesMoved       owner changes between consecutive observed routing epochs
  promotions        warm -> active transitions, with their lead time: the
                    start of the next episode in which the *counterfactual*
                    load (the trace on the initial routing, nothing done)
                    crosses maxUtilization, minus the promotion time
                    (positive = ahead of the crossing, negative = late)
Packing bound (offline, from the trace alone; `packing_bound`): at every
trace minute the fewest active pods k(t) >= minReplicas whose best packing
of that minute's range loads (largest first onto the least loaded pod) keeps
every pod at or below maxUtilization; no overload by construction, no warm
pods, and as moves, for each increase of k, the fewest hottest ranges that
make up the new pod's fair share (a lower bound of what filling it takes).
Oracle (planner, true future; computed by hack/replay/oracle.py when the
shardcast binary is known, and passed to `summarize`): `shardcast plan` run
offline every forecast step (once unfinished actions are done) on a
simulated ShardSet whose forecasts are the trace's true future load, its
actions started as the live executor starts them and taking effect a pod
start-up (Promote) or move duration (Move, AddEcho) later, or all at once
with --instant; measured on trace minutes like an arm (no metrics-server, so
no overload samples). `oracle_durations` says which durations it used.
`table` and `oracle_line` print these measures (both CLIs use them).
"""
import heapq
import math


def owner_changes(a, b):
    """Ranges (by id, present in both epochs) whose owner changed."""
    oa, ob = a["owners"], b["owners"]
    if isinstance(oa, list):  # older records: owners indexed by range id
        oa = {str(i): o for i, o in enumerate(oa)}
        ob = {str(i): o for i, o in enumerate(ob)}
    return sum(1 for k, o in ob.items() if k in oa and oa[k] != o)


def moves(routing):
    return sum(owner_changes(a, b) for a, b in zip(routing, routing[1:]))


def _lpt_max(loads, k):
    heap = [0.0] * k
    for v in sorted(loads, reverse=True):
        m = heapq.heappop(heap)
        heapq.heappush(heap, m + v)
    return max(heap)


def packing_bound(res, tr, min_replicas, max_replicas):
    cap = res["capacity"] * res["maxUtilization"]
    T0, T1 = res["start"], res["end"]
    pod_minutes = 0
    moved = 0
    prev = None
    ks = []
    t = T0
    while t <= T1:
        rl = tr.range_loads(t)
        k = max(min_replicas, math.ceil(sum(rl) / cap))
        while k < max_replicas and _lpt_max(rl, k) > cap:
            k += 1
        ks.append((t, k))
        pod_minutes += k
        if prev is not None and k > prev:
            for kk in range(prev + 1, k + 1):
                share = sum(rl) / kk
                acc, cnt = 0.0, 0
                for v in sorted(rl, reverse=True):
                    if acc >= share:
                        break
                    acc += v
                    cnt += 1
                moved += cnt
        prev = k
        t += 60
    return {"activePodMinutes": pod_minutes, "warmPodMinutes": 0, "overloadSamples": 0, "overTrueMinutes": 0,
            "rangesMoved": moved, "pods": ks}


def counterfactual_episodes(res, tr, owners):
    """Intervals where the trace on the initial routing (nothing done) is over maxUtilization."""
    cap = res["capacity"] * res["maxUtilization"]
    eps = []
    cur = None
    t = res["start"]
    while t <= res["end"]:
        rl = tr.range_loads(t)
        per = {}
        for i, o in enumerate(owners):
            per[o] = per.get(o, 0.0) + rl[i]
        over = max(per.values()) > cap
        if over and cur is None:
            cur = [t, t]
        elif over:
            cur[1] = t
        elif cur is not None:
            eps.append(cur)
            cur = None
        t += 60
    if cur is not None:
        eps.append(cur)
    return eps


def lead_minutes(t, episodes):
    """Minutes from t to the start of the first counterfactual episode that
    has not ended by t (negative: t is inside it); None when none is left."""
    return next(((s - t) / 60.0 for s, e in episodes if e >= t), None)


def flaps(promotions, demotions, cooldown):
    """Flaps: the same pod promoted and scaled in (demoted or removed), in
    either order, less than `cooldown` seconds apart. The planner refuses
    them (docs/planner.md); a count above 0 is a defect."""
    n = 0
    for p in promotions:
        for d in demotions:
            if p["pod"] == d.get("pod") and abs(p["t"] - d["t"]) < cooldown:
                n += 1
    return n


def arm_summary(res, tr, arm):
    cap = res["capacity"]
    mx = res["maxUtilization"]
    T0, T1 = res["start"], res["end"]
    obs = [o for o in arm["observed"] if T0 <= o["t"] <= T1 and o["active"]]
    over = [o for o in obs if o["cpu"] / cap > mx]
    ticks = [tk for tk in arm["ticks"] if T0 <= tk["t"] <= T1]
    act_min = warm_min = over_min = 0.0
    for a, b in zip(ticks, ticks[1:]):
        dt = (b["t"] - a["t"]) / 60.0
        act_min += len(a["active"]) * dt
        warm_min += len(a["warm"]) * dt
        over_min += sum(1 for p in a["active"] if a["loads"].get(p, 0) / cap > mx) * dt
    eps = counterfactual_episodes(res, tr, arm["initialOwners"]) if arm.get("initialOwners") else []
    promos = [{"t": p["t"], "pod": p["pod"], "leadMinutes": lead_minutes(p["t"], eps)}
              for p in arm["promotions"] if T0 <= p["t"] <= T1]
    types = {}
    for a in arm["actions"]:
        key = f"{a.get('type')}/{a.get('phase')}"
        types[key] = types.get(key, 0) + 1
    return {
        "observedSamples": len(obs), "overloadSamples": len(over),
        "firstOverload": min((o["t"] for o in over), default=None),
        "overTrueMinutes": round(over_min, 1),
        "activePodMinutes": round(act_min), "warmPodMinutes": round(warm_min),
        "rangesMoved": moves(arm["routing"]), "epochs": len(arm["routing"]),
        "routingErrors": len(arm["routingErrors"]),
        "promotions": promos, "firstPromotion": min((p["t"] for p in promos), default=None),
        "scaleIns": len([d for d in arm["demotions"] if T0 <= d["t"] <= T1]), "actions": types,
        "flaps": flaps([p for p in arm["promotions"] if T0 <= p["t"] <= T1],
                       [d for d in arm["demotions"] if T0 <= d["t"] <= T1], res.get("cooldownSeconds", 300)),
        "warmupPromotions": len([p for p in arm["promotions"] if p["t"] < T0]),
        "warmupOverloadSamples": len([o for o in arm["observed"] if o["t"] < T0 and o["active"]
                                      and o["cpu"] / cap > mx]),
        "trustedFrom": next((f["t"] for f in arm["forecasts"]
                             if any(v.get("trusted") for v in f["pods"].values())), None),
        "episodes": eps,
    }


def summarize(res, tr, oracle_planner=None):
    """Per-arm measures, the packing bound and, when given, the planner
    oracle's measures (oracle.simulate, or {"error": ...} when it failed)."""
    out = {"arms": {}}
    for name, arm in res["arms"].items():
        out["arms"][name] = arm_summary(res, tr, arm)
    first = next(iter(res["arms"].values()))
    # minReplicas/maxReplicas of the demo ShardSet: the bound uses the same ones.
    out["packingBound"] = packing_bound(res, tr, res.get("minReplicas", 3), res.get("maxReplicas", 8))
    if oracle_planner is not None:
        out["oraclePlanner"] = oracle_planner
    out["episodes"] = counterfactual_episodes(res, tr, first["initialOwners"]) if first.get("initialOwners") else []
    return out


def fmt_t(t):
    import time
    return "-" if t is None else time.strftime("%m-%d %H:%M", time.gmtime(t))


def table(summary):
    rows = [("arm", "overload samples", "over-max pod-min (true)", "active pod-min", "warm pod-min",
             "ranges moved", "promotions", "scale-ins", "flaps", "lead time (trace min)")]
    for name, s in summary["arms"].items():
        leads = [p["leadMinutes"] for p in s["promotions"] if p["leadMinutes"] is not None]
        lead = ", ".join(f"{x:+.0f}" for x in leads) if leads else "-"
        rows.append((name, f"{s['overloadSamples']} / {s['observedSamples']}", f"{s['overTrueMinutes']:.0f}",
                     str(s["activePodMinutes"]), str(s["warmPodMinutes"]), str(s["rangesMoved"]),
                     str(len(s["promotions"])), str(s.get("scaleIns", "-")), str(s.get("flaps", "-")), lead))
    o = summary.get("packingBound") or summary.get("oracle")  # "oracle": records before 2026-11-30
    rows.append(("packing bound", "0", "0", str(o["activePodMinutes"]), "0", str(o["rangesMoved"]), "-", "-", "-",
                 "-"))
    o = summary.get("oraclePlanner")
    if o and "error" not in o:
        leads = [p["leadMinutes"] for p in o["promotions"] if p["leadMinutes"] is not None]
        rows.append(("oracle (planner, true future)", "-", f"{o['overTrueMinutes']:.0f}", str(o["activePodMinutes"]),
                     str(o["warmPodMinutes"]), str(o["rangesMoved"]), str(len(o["promotions"])),
                     str(o.get("scaleIns", "-")), "-", ", ".join(f"{x:+.0f}" for x in leads) if leads else "-"))
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)


def oracle_durations(o):
    """How long the oracle's actions took, and where the figures came from
    (records without them are of the earlier oracle, which applied plans at once)."""
    d = o.get("durations") or {"instant": True}
    if d["instant"]:
        return "actions applied at once"
    return (f"pod start-up {d['podStartupSeconds']:g}s ({d['podStartupFrom']}), move {d['moveSeconds']:g}s "
            f"({d['moveFrom']}); {o.get('plansDeferred', 0)} forecast steps' plans waited for unfinished actions")


def oracle_line(o):
    if "error" in o:
        return f"oracle (planner, true future): not computed: {o['error']}"
    what = "pod and range forecasts" if o.get("rangeForecasts", True) else "pod forecasts only"
    return (f"oracle (planner, true future): {what}, from the {o['arm']} arm's initial routing at "
            f"{fmt_t(o['simulatedFrom'])}; {oracle_durations(o)}; {o['planCalls']} plan calls "
            f"({o['planSeconds']:.1f}s), first promotion "
            f"{fmt_t(min((p['t'] for p in o['promotions']), default=None))}, scale-ins {o['scaleIns']}, "
            f"{o['finalRanges']} ranges at the end, blocked findings {o['blocked']}; actions {o['actions']}"
            + cpu_model_text(o.get("cpuModel")))


def cpu_model_text(cm):
    """The oracle's pod CPU model, when it has one (hack/replay/cpu_model.py)."""
    if not cm:
        return ""
    return (f"; pod CPU {cm['a']:.2f} x trace + {cm['b']:.1f}m per active pod + {max(0.0, cm['c']):.0f}m "
            f"(the data plane's, fitted on the arm's ticks)")
