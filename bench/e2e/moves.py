#!/usr/bin/env python3
"""The move-by-move account of a bench/e2e run (one results.json).

Usage: bench/e2e/moves.py RESULT_DIR [--arm predictive] [--oracle]

For every plan of the arm in the measured window (its time is in the action
ids, plan-<hash>-<unix>-...), one line per plan: the trace time, the active
pods of the arm against the oracle's at that minute, what the plan started
(Promote, Move range from->to with its outcome, ScaleIn, ...), and for each
pod the plan moved ranges off (or promoted for): the forecast the operator
had published last before the plan (peak, p90, probability of exceeding,
time to crossing) beside the true load of the ranges it owned at the plan,
had they stayed there (the trace's load, maximum over the forecast horizon;
"-" once a split or merge changed its ranges), both as % of capacity; then
the planner's reason for each action, from the operator's log beside
results.json ("action <id> (<type>): <reason>" lines, logged since
2026-12-02; absent in older runs). With --oracle,
the oracle's actions follow, one line per planned minute.
"""
import argparse
import bisect
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "hack", "replay"))
import traces  # noqa: E402
from table import plans_of  # noqa: E402


def hm(t):
    return time.strftime("%m-%d %H:%M", time.gmtime(t))


def pct(v, cap):
    return "-" if v is None else f"{100.0 * v / cap:.0f}%"


def count_at(steps, t):
    """The value of a [[t, n], ...] step series at t."""
    n = None
    for s, v in steps:
        if s > t:
            break
        n = v
    return n


def owners_at(routing, t):
    owners = {}
    for r in routing:
        if r["t"] > t:
            break
        owners = r["owners"]
    return owners


def true_peak(tr, n, owners, pod, t, horizon):
    """Max over [t, t + horizon] of the trace load of the ranges `pod` owns
    at t (None when a range is not one of the n original ones)."""
    ids = [int(i) for i, o in owners.items() if o == pod]
    if not ids or any(i >= n for i in ids):
        return None
    return max(sum(tr.range_loads(u)[i] for i in ids) for u in range(int(t) - int(t) % 60, int(t + horizon), 60))


ACTION_LOG = re.compile(r"migrationpolicy \S+: action (\S+) \((\w+)\): (.*)$")


def reasons_from_log(path):
    out = {}
    try:
        with open(path, errors="replace") as f:
            for line in f:
                m = ACTION_LOG.search(line.rstrip("\n"))
                if m:
                    out[m.group(1)] = m.group(3)
    except OSError:
        pass
    return out


def account(res, arm, with_oracle, reasons=None):
    reasons = reasons or {}
    a = res["arms"][arm]
    tr = traces.load(res["traceSpec"])
    # The real data plane replays the trace scaled to its pods' capacity.
    scale = float((res.get("dataPlane") or {}).get("traceScale") or 1.0)
    if scale != 1.0:
        tr.values = [v * scale for v in tr.values]
    n = int(res["ranges"])
    tr.set_ranges(n, res["zipf"], res["seed"])
    cap = res["capacity"]
    horizon = res.get("horizon", 60) * 60
    ticks = a["ticks"]
    pubs = a.get("forecasts", [])
    pub_t = [f["t"] for f in pubs]
    oracle = res.get("summary", {}).get("oraclePlanner") or {}
    plans = plans_of(a)
    lines = [f"## {res['trace']}: {arm} arm, {len(plans)} plans "
             f"(window {hm(res['start'])} .. {hm(res['end'])})"]
    tick_t = [tk["t"] for tk in ticks]
    for t in sorted(plans):
        if not res["start"] <= t <= res["end"]:
            continue
        acts = sorted(plans[t], key=lambda x: x["id"])
        i = bisect.bisect_right(tick_t, t)
        active = len(ticks[i - 1]["active"]) if i else None
        what, pods = [], []
        for x in acts:
            typ, ph = x.get("type", "?"), x.get("phase", "?")
            if typ in ("Move", "AddEcho", "RemoveEcho"):
                what.append(f"{typ} r{x.get('range')} {x.get('source', '')}->{x.get('target', '')} {ph}")
                if x.get("source"):
                    pods.append(x["source"])
            elif typ in ("Promote", "Demote"):
                what.append(f"{typ} {x.get('target') or x.get('source')} {ph}")
            else:
                what.append(f"{typ} {x.get('source') or x.get('target') or ''} "
                            f"r{x.get('range', '')} {ph}".replace(" r ", " "))
        lines.append(f"{hm(t)} active {active} (oracle {count_at(oracle.get('pods', []), t)}): "
                     + "; ".join(what))
        j = bisect.bisect_right(pub_t, t)
        fc = pubs[j - 1]["pods"] if j else {}
        for pod in dict.fromkeys(pods):
            f = fc.get(pod, {})
            ttc = f.get("timeToCrossingSeconds")
            lines.append(f"    {pod}: forecast peak {pct(f.get('peak'), cap)} p90 {pct(f.get('p90'), cap)} "
                         f"P(exceed) {f.get('probExceed', '-')} crossing in "
                         f"{'-' if ttc is None else f'{ttc / 60:.0f}m'}; true peak next "
                         f"{horizon // 60}m {pct(true_peak(tr, n, owners_at(a['routing'], t), pod, t, horizon), cap)}")
        seen = set()
        for x in acts:
            why = reasons.get(x.get("id"))
            if why and why not in seen:
                seen.add(why)
                lines.append(f"    why ({x.get('type')}): {why[:300]}")
    if with_oracle and oracle.get("actionLog"):
        lines.append(f"## oracle: {len(oracle['actionLog'])} actions")
        by_min = {}
        for x in oracle["actionLog"]:
            by_min.setdefault(x["planned"], []).append(x)
        for t in sorted(by_min):
            lines.append(f"{hm(t)}: " + "; ".join(
                f"{x['type']} {'r' + str(x['range']) + '->' if x.get('range') is not None else ''}{x.get('pod', '')}"
                for x in by_min[t]))
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("result_dir")
    ap.add_argument("--arm", default="predictive")
    ap.add_argument("--oracle", action="store_true", help="the oracle's actions too")
    args = ap.parse_args(argv)
    path = os.path.join(args.result_dir, "results.json")
    try:
        with open(path) as f:
            res = json.load(f)
    except (OSError, ValueError) as e:
        print(f"bench/e2e/moves.py: {path}: {e}", file=sys.stderr)
        return 1
    if args.arm not in res.get("arms", {}):
        print(f"bench/e2e/moves.py: {path}: no arm '{args.arm}' (has {', '.join(res.get('arms', {}))})",
              file=sys.stderr)
        return 1
    reasons = reasons_from_log(os.path.join(args.result_dir, f"operator-{args.arm}.log"))
    print(account(res, args.arm, args.oracle, reasons))
    return 0


if __name__ == "__main__":
    sys.exit(main())
