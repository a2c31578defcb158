#!/usr/bin/env python3
"""Sums bench/e2e rounds per trace and checks issue 13's targets.

Usage: bench/e2e/table.py RESULT_DIR...   (each holds a results.json from
hack/replay/run.py; bench/e2e/run.sh passes every round's directories; or,
from the real data plane's one-arm runs (bench/e2e/dataplane.sh),
predictive/results.json and reactive/results.json, which are merged)

For each trace: the predictive arm, the reactive arm and the planner oracle,
summed over the rounds, with the per-round spread (min..max) beside every
sum, then the targets on the sums:
  overload samples          <= 10% of the reactive arm's
  over-max pod-min excess   <= 10% of the reactive arm's excess (both beyond
                               the oracle's, the overload no plan avoids)
  active pod-min            <= 1.15x the oracle's
  ranges moved              <= 1.2x the oracle's
  promotions + scale-ins    <= 1.5x the oracle's
Decision latency, per arm over the rounds (median and 90th percentile):
for each plan that started actions (its time is in the action id,
plan-<hash>-<unix>-...), the plan time minus the newest metrics sample at or
before the newest forecast publication the driver saw before the plan (the
newest sample when no forecast was published in two forecast steps); in
trace minutes and real seconds. It includes metrics-server's resolution and
the forecast step, which a sample waits for before it reaches a plan.
Forecast spikes: publications of the predictive arm (the driver's record,
warm-up included) in which a pod's p90 rose by 25% or more over the
publication before and the next was lower by a factor of 1.2 or more, summed over the
rounds; the pod's ranges can change in between, so a move can cause one.
Bytes moved: the replay's ranges carry no data, so there are none to report
for it; on the real data plane the agents count them
(shardcast_agent_bytes_copied_total, summed over the pods by the demo
driver) and the table prints them per arm and kind.
Exits 1 when a results.json is missing or unreadable (names the file).
"""
import bisect
import json
import os
import re
import statistics
import sys

ARMS = ("predictive", "reactive", "oracle")


def measures(summary):
    """Per arm: the measures this table sums (None when the arm is absent)."""
    out = {}
    for arm in ("predictive", "reactive"):
        a = summary.get("arms", {}).get(arm)
        if a is None:
            out[arm] = None
            continue
        out[arm] = {
            "overload": a["overloadSamples"],
            "samples": a["observedSamples"],
            "overMax": a["overTrueMinutes"],
            "podMin": a["activePodMinutes"],
            "moved": a["rangesMoved"],
            "churn": len(a["promotions"]) + a["scaleIns"],
            "flaps": a.get("flaps", 0),
        }
    o = summary.get("oraclePlanner")
    out["oracle"] = None if not o else {
        "overload": None, "samples": None, "overMax": o["overTrueMinutes"],
        "podMin": o["activePodMinutes"], "moved": o["rangesMoved"],
        "churn": len(o["promotions"]) + o["scaleIns"], "flaps": None}
    return out


PLAN_ID = re.compile(r"^plan-[0-9a-f]+-([0-9]+)-")


def plans_of(arm):
    """{plan time: [its actions]} of a recorded arm; the plan time (unix
    seconds) is in the action id, plan-<hash>-<unix>-..."""
    plans = {}
    for act in arm.get("actions", []):
        m = PLAN_ID.match(str(act.get("id", "")))
        if m:
            plans.setdefault(int(m.group(1)), []).append(act)
    return plans


def decision_latencies(res, arm):
    """Trace seconds from sample to plan, one per plan of `arm` in the window."""
    a = res["arms"].get(arm)
    if not a:
        return []
    samples = sorted(o["t"] for o in a.get("observed", []))
    pubs = sorted(f["t"] for f in a.get("forecasts", []))
    stale = 2 * 60 * res.get("forecastStep", 20)
    out = []
    for t in sorted(plans_of(a)):
        if not res["start"] <= t <= res["end"]:
            continue
        i = bisect.bisect_right(pubs, t)
        pub = pubs[i - 1] if i else t
        if t - pub > stale:  # no forecast for a while (the reactive arm): the newest sample
            pub = t
        j = bisect.bisect_right(samples, pub)
        if j:
            out.append(t - samples[j - 1])
    return out


def forecast_spikes(res, arm):
    """(time, pod, p90 before, p90, p90 after) of each one-publication spike."""
    pubs = sorted((res["arms"].get(arm) or {}).get("forecasts", []), key=lambda f: f["t"])
    out = []
    for prev, cur, nxt in zip(pubs, pubs[1:], pubs[2:]):
        for pod, f in cur.get("pods", {}).items():
            a, b = prev.get("pods", {}).get(pod), nxt.get("pods", {}).get(pod)
            p, q, r = (a or {}).get("p90"), f.get("p90"), (b or {}).get("p90")
            if p and q and r and q >= 1.25 * p and r * 1.2 <= q:
                out.append((cur["t"], pod, p, q, r))
    return out


def spikes_line(rounds):
    counts = [len(forecast_spikes(r, "predictive")) for _, _, r in rounds]
    return (f"forecast spikes (predictive, p90 up >= 25% for one publication): {sum(counts)} "
            f"({min(counts)}..{max(counts)})")


def latency_line(rounds):
    parts = []
    for arm in ("predictive", "reactive"):
        vals = sorted(v for _, _, r in rounds for v in decision_latencies(r, arm))
        if not vals:
            parts.append(f"{arm}: no plans")
            continue
        scale = rounds[0][2].get("timeScale", 1) or 1
        med = statistics.median(vals)
        p90 = vals[min(len(vals) - 1, int(0.9 * len(vals)))]
        parts.append(f"{arm}: median {med / 60:.1f} trace min ({med / scale:.1f} s real), "
                     f"p90 {p90 / 60:.1f} trace min ({p90 / scale:.1f} s real), {len(vals)} plans")
    return "decision latency (sample -> plan): " + "; ".join(parts)


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise SystemExit(f"bench/e2e/table.py: {path}: {e.__class__.__name__}: {e}")


def merged(d):
    """One results.json from the real data plane's one-arm runs
    (d/predictive/results.json, d/reactive/results.json; bench/e2e/dataplane.sh):
    both arms, the oracle of whichever has it, and each arm's data-plane record."""
    out = None
    for arm in ("predictive", "reactive"):
        path = os.path.join(d, arm, "results.json")
        if not os.path.exists(path):
            continue
        r = read_json(path)
        try:
            if out is None:
                out = {k: v for k, v in r.items() if k not in ("arms", "summary", "dataPlane")}
                out.update({"arms": {}, "summary": {"arms": {}}, "dataPlane": {}})
            out["arms"][arm] = r["arms"][arm]
            out["summary"]["arms"][arm] = r["summary"]["arms"][arm]
            if r["summary"].get("oraclePlanner") and not out["summary"].get("oraclePlanner"):
                out["summary"]["oraclePlanner"] = r["summary"]["oraclePlanner"]
            out["dataPlane"][arm] = r.get("dataPlane") or {}
        except (KeyError, TypeError) as e:
            raise SystemExit(f"bench/e2e/table.py: {path}: {e.__class__.__name__}: {e}")
    return out


def bytes_line(rounds):
    """Bytes the agents moved (kind move) per arm, summed over the rounds,
    when the rounds ran on the real data plane."""
    got = {}
    for _, _, r in rounds:
        for arm, dp in (r.get("dataPlane") or {}).items():
            copied = (dp or {}).get("copied") or {}
            for kind, v in (copied.get("bytes") or {}).items():
                got.setdefault(arm, {}).setdefault(kind, 0.0)
                got[arm][kind] += v
    if not got:
        return "| bytes moved | - | reported | the replay's ranges carry no data |"
    parts = [f"{arm} " + ", ".join(f"{kind} {v / 1048576:.2f} MiB" for kind, v in sorted(kinds.items()))
             for arm, kinds in sorted(got.items())]
    return f"| bytes moved (agents) | {'; '.join(parts)} | reported | real data plane |"


def load(dirs):
    by_trace = {}
    for d in dirs:
        path = os.path.join(d, "results.json")
        r = read_json(path) if os.path.exists(path) else merged(d)
        if r is None:
            raise SystemExit(f"bench/e2e/table.py: {path}: no such file (nor {d}/predictive/results.json "
                             f"or {d}/reactive/results.json)")
        try:
            m = measures(r["summary"])
        except (KeyError, TypeError) as e:
            raise SystemExit(f"bench/e2e/table.py: {path}: {e.__class__.__name__}: {e}")
        by_trace.setdefault(r.get("traceSpec", r.get("trace", d)), []).append((d, m, r))
    return by_trace


def agg(rounds, arm, key):
    vals = [m[arm][key] for _, m, _ in rounds if m[arm] is not None and m[arm][key] is not None]
    if not vals:
        return None, ""
    return sum(vals), (f"{min(vals):g}..{max(vals):g}" if len(vals) > 1 else "")


def cell(rounds, arm, key):
    s, spread = agg(rounds, arm, key)
    if s is None:
        return "-"
    return f"{s:g}" + (f" ({spread})" if spread else "")


def ratio_line(name, num, den, limit, unit="x"):
    if num is None or den is None:
        return f"| {name} | - | {limit} | not measured |"
    if den <= 0:
        ok = num <= 0
        return f"| {name} | {num:g} vs {den:g} | {limit} | {'met' if ok else 'missed'} (baseline 0) |"
    r = num / den
    lim = float(limit.split()[1].rstrip("x%")) / (100 if limit.endswith("%") else 1)
    shown = f"{r:.0%}" if limit.endswith("%") else f"{r:.2f}x"
    return f"| {name} | {shown} ({num:g} / {den:g}) | {limit} | {'met' if r <= lim else 'missed'} |"


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    by_trace = load(argv[1:])
    for trace, rounds in by_trace.items():
        print(f"### {trace}: {len(rounds)} round(s), sums (per-round min..max)\n")
        print("| arm | overload samples | of samples | over-max pod-min | active pod-min | ranges moved "
              "| promotions + scale-ins | flaps |")
        print("|---|---|---|---|---|---|---|---|")
        for arm in ARMS:
            print(f"| {arm} | " + " | ".join(cell(rounds, arm, k) for k in
                                            ("overload", "samples", "overMax", "podMin", "moved", "churn",
                                             "flaps")) + " |")
        s = {arm: {k: agg(rounds, arm, k)[0] for k in ("overload", "overMax", "podMin", "moved", "churn")}
             for arm in ARMS}
        o_over = s["oracle"]["overMax"] or 0
        pe = None if s["predictive"]["overMax"] is None else max(s["predictive"]["overMax"] - o_over, 0)
        re_ = None if s["reactive"]["overMax"] is None else max(s["reactive"]["overMax"] - o_over, 0)
        print("\n| target | predictive | limit | |\n|---|---|---|---|")
        print(ratio_line("overload samples vs reactive", s["predictive"]["overload"], s["reactive"]["overload"],
                         "<= 10%"))
        print(ratio_line("over-max excess vs reactive's", pe, re_, "<= 10%"))
        print(ratio_line("active pod-min vs oracle", s["predictive"]["podMin"], s["oracle"]["podMin"], "<= 1.15x"))
        print(ratio_line("ranges moved vs oracle", s["predictive"]["moved"], s["oracle"]["moved"], "<= 1.2x"))
        print(ratio_line("promotions + scale-ins vs oracle", s["predictive"]["churn"], s["oracle"]["churn"],
                         "<= 1.5x"))
        print(bytes_line(rounds) + "\n")
        print(latency_line(rounds) + "\n")
        print(spikes_line(rounds) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
