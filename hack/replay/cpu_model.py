#!/usr/bin/env python3
"""How the real data plane's pod CPU relates to the trace it replays.

Usage: hack/replay/cpu_model.py RESULTS_JSON [RESULTS_JSON ...]

For each arm of each results.json written by hack/demo/run.py (the real data
plane), fits, by least squares over the arm's ticks,

    summed pod CPU (millicores) = a x trace load + b x active pods + c

where the trace load is the trace's total at the tick (times the run's
traceScale), which is what the replay's load model and the planner oracle
(hack/replay/loads.py, hack/replay/oracle.py) give the pods. a != 1 is the
calibration's error (operations/s per millicore measured at start); b is
CPU each active pod costs beyond its share of the trace (the oracle models
none: an idle pod is 5m there); c is the constant rest (redis-benchmark's
rounds). Prints a, b, c, R^2 and the means, one line per arm.

The planner oracle takes the fitted model (oracle.py --cpu-model fit, and
hack/demo/run.py --oracle) so that its pods cost what the data plane's do.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import traces  # noqa: E402


def solve(a, b):
    """Solves the square system a x = b (Gauss-Jordan with pivoting)."""
    n = len(a)
    m = [row[:] + [v] for row, v in zip(a, b)]
    for i in range(n):
        p = max(range(i, n), key=lambda r: abs(m[r][i]))
        if abs(m[p][i]) < 1e-12:
            raise ValueError("singular: the active pod count or the trace never changed")
        m[i], m[p] = m[p], m[i]
        for r in range(n):
            if r != i:
                f = m[r][i] / m[i][i]
                m[r] = [x - f * y for x, y in zip(m[r], m[i])]
    return [m[i][n] / m[i][i] for i in range(n)]


def fit(results, tr=None):
    """{arm: {a, b, c, r2, cpu, trace, ticks}} of a data plane's results.json
    (`tr`: its trace, already scaled as the run scaled it; default: loaded
    from the results' traceSpec and scaled by dataPlane.traceScale)."""
    scale = 1.0
    if tr is None:
        tr = traces.load(results.get("traceSpec") or results["trace"])
        scale = results["dataPlane"]["traceScale"]
    out = {}
    for name, arm in results["arms"].items():
        xs, ys = [], []
        for tk in arm["ticks"]:
            xs.append([tr.total(tk["t"]) * scale, float(len(tk["active"])), 1.0])
            ys.append(sum(v for v in tk["loads"].values() if v is not None))
        if len(xs) < 3:
            continue
        k = len(xs[0])
        ata = [[sum(x[i] * x[j] for x in xs) for j in range(k)] for i in range(k)]
        aty = [sum(x[i] * y for x, y in zip(xs, ys)) for i in range(k)]
        c = solve(ata, aty)
        pred = [sum(ci * xi for ci, xi in zip(c, x)) for x in xs]
        mean = sum(ys) / len(ys)
        ss = sum((y - mean) ** 2 for y in ys)
        r2 = 1 - sum((y - p) ** 2 for y, p in zip(ys, pred)) / ss if ss > 0 else 0.0
        out[name] = {"a": c[0], "b": c[1], "c": c[2], "r2": r2, "cpu": mean,
                     "trace": sum(x[0] for x in xs) / len(xs), "ticks": len(xs)}
    return out


def model(results, tr, arm):
    """The fitted {a, b, c} of one arm, as the oracle takes it; ValueError
    when the arm has too few ticks or the fit is singular."""
    m = fit(results, tr).get(arm)
    if not m:
        raise ValueError(f"arm '{arm}' has too few ticks")
    return {k: m[k] for k in ("a", "b", "c")}


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    for path in argv:
        try:
            with open(path) as f:
                res = json.load(f)
            arms = fit(res)
        except (OSError, ValueError, KeyError, traces.TraceError) as e:
            print(f"cpu_model.py: {path}: {e}", file=sys.stderr)
            return 1
        for name, m in arms.items():
            print(f"{path} {name}: pod CPU = {m['a']:.2f} x trace + {m['b']:.1f}m per active pod "
                  f"+ {m['c']:.0f}m (R^2 {m['r2']:.2f}, {m['ticks']} ticks; mean CPU {m['cpu']:.0f}m, "
                  f"trace {m['trace']:.0f}m)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
