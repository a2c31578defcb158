"""How the replay turns trace load into range and pod load (docs/demo.md).

Shared by the live driver (hack/replay/run.py, which sets each KWOK pod's CPU
to it) and the offline planner oracle (hack/replay/oracle.py, which measures
its simulated routing with it), so both see the same load for the same
routing.

The trace's ranges are the equal split of the 32-bit key space the ShardSet
starts with (range i covers [i * 2^32 / n, (i + 1) * 2^32 / n)); a range of a
routing document, also after a split or merge, gets the load of the key space
it covers. A pod carries the writes of the ranges it owns and a share of their
reads: READ_FRACTION of a range's load is reads, split evenly over the owner
and its echoes; a range in `shadow` adds shadowFraction of its reads to its
target; a pod with no load shows IDLE_LOAD.
"""

READ_FRACTION = 0.8  # share of a range's load that is reads (split over owner and echoes)
IDLE_LOAD = 5.0      # millicores of a pod that serves no range
SPAN = 2 ** 32


def doc_range_loads(rl, ranges):
    """Load of each range of a routing document ({id: load}), from the loads
    `rl` of the trace's equal-split ranges."""
    n = len(rl)
    out = {}
    for r in ranges:
        a, b = int(r["start"]), int(r["end"]) + 1
        load = 0.0
        for i in range(max(0, a * n // SPAN), min(n, (b - 1) * n // SPAN + 1)):
            lo, hi = i * SPAN // n, (i + 1) * SPAN // n
            ov = min(b, hi) - max(a, lo)
            if ov > 0:
                load += rl[i] * ov / (hi - lo)
        out[r["id"]] = load
    return out


def pod_loads(rl, ranges, pod_names, range_loads=None, served=None):
    """Load of each pod ({name: millicores}) under a routing document's ranges.
    With `served` (a dict), also fills served[pod][range id] with the load of
    the requests the pod serves for each range (shadow copies are not)."""
    loads = {p: 0.0 for p in pod_names}
    if range_loads is None:
        range_loads = doc_range_loads(rl, ranges)

    def serve(pod, rid, v):
        loads[pod] = loads.get(pod, 0.0) + v
        if served is not None:
            served.setdefault(pod, {})
            served[pod][rid] = served[pod].get(rid, 0.0) + v

    for r in ranges:
        L = range_loads[r["id"]]
        echoes = [e["pod"] if isinstance(e, dict) else e for e in r.get("echoes") or []]
        echoes = [e for e in echoes if e]
        reads = L * READ_FRACTION
        per = reads / (1 + len(echoes))
        serve(r["owner"], r["id"], (L - reads) + per)
        for e in echoes:
            serve(e, r["id"], per)
        if r.get("state") == "shadow" and r.get("target"):
            tgt = r["target"]
            loads[tgt] = loads.get(tgt, 0.0) + reads * float(r.get("shadowFraction") or 0)
    return {p: max(v, IDLE_LOAD) for p, v in loads.items()}
