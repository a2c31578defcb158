"""The report of a replay run (hack/replay/run.py): the summary text around
the measures' table (measures.py). Does not import the oracle: run.py
computes it and passes it to measures.summarize.
"""
import time

from measures import fmt_t, oracle_line, table


def format_summary(summary, res):
    out = [f"trace {res['trace']}: {res['description']}",
           f"live window {time.strftime('%Y-%m-%d %H:%M', time.gmtime(res['start']))} .. "
           f"{time.strftime('%H:%M', time.gmtime(res['end']))} UTC trace time, x{res['timeScale']:g} "
           f"({(res['end'] - res['start']) / res['timeScale']:.0f}s real) after a warm-up from "
           f"{time.strftime('%m-%d %H:%M', time.gmtime(res['warmupStart']))}; forecast step {res['forecastStep']}m, "
           f"horizon {res['horizon']}m; wall {res.get('wallSeconds', 0):.0f}s",
           "counterfactual overload episodes (initial routing, nothing done): "
           + (", ".join(f"{fmt_t(s)}..{fmt_t(e)[-5:]}" for s, e in summary["episodes"]) or "none"),
           "", table(summary), ""]
    if summary.get("oraclePlanner"):
        out.append(oracle_line(summary["oraclePlanner"]))
    for name, s in summary["arms"].items():
        out.append(f"{name}: first promotion {fmt_t(s['firstPromotion'])}, first overload sample "
                   f"{fmt_t(s['firstOverload'])}, routing epochs seen {s['epochs']} "
                   f"(errors {s['routingErrors']}), scale-ins {s['scaleIns']}, first trusted forecast "
                   f"{fmt_t(s['trustedFrom'])}, during warm-up: {s['warmupPromotions']} promotions, "
                   f"{s['warmupOverloadSamples']} overload samples; actions {s['actions']}")
    return "\n".join(out) + "\n"
