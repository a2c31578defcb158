"""Load traces for the replay driver (docs/demo.md).

A trace is a total load (CPU millicores) at a 1-minute step in trace time
(unix seconds), split over the ShardSet's key ranges by fixed Zipf weights:
range r carries total(t) * weight[r]. Two sources:

  generated[:k=v,...]   daily + weekly seasonality, a weekly trend, AR(1)
                        noise, a scheduled campaign spike; deterministic
                        (seeded). Keys: seed, peak, start, campaign_day,
                        campaign_hour, campaign_hours, campaign_mult.
  nab:PATH[:k=v,...]    a NAB series (timestamp,value CSV; read in place,
                        PATH relative to ../shared/data/nab or absolute),
                        scaled so its 99th percentile is `peak` millicores,
                        linearly interpolated to 1 minute.

Every trace names a recommended measured window (`live_start`,
`live_hours`); the replay starts a short warm-up before it (see
docs/demo.md) and backfills everything before the warm-up.
"""
import bisect
import calendar
import csv
import math
import os
import random
import sys
import time

STEP = 60  # seconds
NAB_ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "nab"))


class TraceError(ValueError):
    pass


def parse_time(s, field):
    s = str(s).strip()
    try:
        return int(float(s))
    except ValueError:
        pass
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return calendar.timegm(time.strptime(s, fmt))
        except ValueError:
            continue
    raise TraceError(f"{field}: '{s}' is not a time (unix seconds, RFC3339 or 'YYYY-MM-DD HH:MM:SS')")


def fmt_time(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def zipf_weights(n, s, seed):
    w = [1.0 / (k + 1) ** s for k in range(n)]
    tot = sum(w)
    w = [x / tot for x in w]
    order = list(range(n))
    random.Random(seed).shuffle(order)  # rank order[k] gets the k-th largest weight
    out = [0.0] * n
    for k, r in enumerate(order):
        out[r] = w[k]
    return out


class Trace:
    def __init__(self, name, t0, values, live_start, live_hours, events=(), description=""):
        self.name = name
        self.t0 = t0              # time of values[0]
        self.values = values      # total millicores, one per STEP
        self.live_start = live_start
        self.live_hours = live_hours
        self.events = list(events)  # MigrationPolicy spec.events entries (scheduled load events)
        self.description = description
        self.weights = None

    @property
    def t_end(self):
        return self.t0 + (len(self.values) - 1) * STEP

    def set_ranges(self, n, zipf_s=0.9, seed=7):
        self.weights = zipf_weights(n, zipf_s, seed)

    def total(self, t):
        x = (t - self.t0) / STEP
        if x <= 0:
            return self.values[0]
        i = int(x)
        if i >= len(self.values) - 1:
            return self.values[-1]
        f = x - i
        return self.values[i] * (1 - f) + self.values[i + 1] * f

    def range_loads(self, t):
        tot = self.total(t)
        return [tot * w for w in self.weights]


def _opts(parts, allowed):
    out = {}
    for p in parts:
        if not p:
            continue
        if "=" not in p:
            raise TraceError(f"trace option '{p}': expected key=value")
        k, v = p.split("=", 1)
        if k not in allowed:
            raise TraceError(f"trace option '{k}': unknown (allowed: {', '.join(sorted(allowed))})")
        out[k] = v
    return out


def generated(opts):
    seed = int(opts.get("seed", 1))
    peak = float(opts.get("peak", 3000))
    start = parse_time(opts.get("start", "2026-10-05T00:00:00Z"), "start")  # a Monday
    weeks = 5
    days_live = 6
    camp_day = int(opts.get("campaign_day", 39))       # day index from start (Friday of week 6)
    camp_hour = float(opts.get("campaign_hour", 9.5))
    camp_hours = float(opts.get("campaign_hours", 1.0))
    camp_mult = float(opts.get("campaign_mult", 1.7))
    rng = random.Random(seed)
    n = (weeks * 7 + days_live) * 1440
    vals = []
    noise = 0.0
    camp_start = start + camp_day * 86400 + int(camp_hour * 3600)
    camp_end = camp_start + int(camp_hours * 3600)
    ramp = 20 * 60
    for i in range(n):
        t = start + i * STEP
        h = ((t % 86400) / 3600.0)
        dow = (t // 86400 + 3) % 7  # 0 = Monday (1970-01-01 was a Thursday)
        daily = 0.33 + 0.62 * math.exp(-0.5 * ((h - 13.0) / 2.6) ** 2) + 0.12 * math.exp(-0.5 * ((h - 20.0) / 1.4) ** 2)
        weekly = 0.72 if dow >= 5 else 1.0
        trend = 1.0 + 0.02 * (i / (7 * 1440))
        noise = 0.92 * noise + rng.gauss(0, 0.012)
        camp = 1.0
        if camp_start - ramp <= t < camp_end + ramp:
            if t < camp_start:
                camp = 1 + (camp_mult - 1) * (t - camp_start + ramp) / ramp
            elif t < camp_end:
                camp = camp_mult
            else:
                camp = 1 + (camp_mult - 1) * (camp_end + ramp - t) / ramp
        vals.append(peak / 1.12 * daily * weekly * trend * camp * math.exp(noise))
    live_start = start + (weeks * 7 + 4) * 86400 + 7 * 3600 + 1800  # Friday of week 6, 07:30
    events = [{"name": "campaign", "start": fmt_time(camp_start), "duration": f"{int(camp_hours * 60)}m",
               "multiplier": camp_mult}]
    return Trace("generated", start, vals, live_start, 3, events,
                 f"generated: daily+weekly seasonality, +2%/week trend, AR(1) noise, campaign x{camp_mult} "
                 f"at {fmt_time(camp_start)} for {camp_hours}h (seed {seed})")


def nab(path, opts):
    full = path if os.path.isabs(path) else os.path.join(NAB_ROOT, path)
    if not os.path.exists(full):
        raise TraceError(f"nab: {full}: no such file (NAB series are read in place from {NAB_ROOT})")
    ts, vs = [], []
    with open(full, newline="") as f:
        rd = csv.reader(f)
        header = next(rd, None)
        if header is None or len(header) < 2:
            raise TraceError(f"{full}: line 1: expected a header 'timestamp,value'")
        for ln, row in enumerate(rd, start=2):
            if not row:
                continue
            if len(row) < 2:
                raise TraceError(f"{full}: line {ln}: expected 2 columns (timestamp,value), got {len(row)}")
            t = parse_time(row[0], f"{full}: line {ln}: column timestamp")
            try:
                v = float(row[1])
            except ValueError:
                raise TraceError(f"{full}: line {ln}: column value: '{row[1]}' is not a number") from None
            if not math.isfinite(v) or v < 0:
                raise TraceError(f"{full}: line {ln}: column value: {v} must be finite and >= 0")
            if ts and t <= ts[-1]:
                raise TraceError(f"{full}: line {ln}: column timestamp: not after the previous line")
            ts.append(t)
            vs.append(v)
    if len(ts) < 10:
        raise TraceError(f"{full}: fewer than 10 samples")
    peak = float(opts.get("peak", 3000))
    q99 = sorted(vs)[int(0.99 * (len(vs) - 1))] or 1.0
    scale = peak / q99
    t0 = ts[0] - ts[0] % STEP
    vals = []
    t = t0
    while t <= ts[-1]:
        j = bisect.bisect_right(ts, t)
        if j == 0:
            v = vs[0]
        elif j >= len(ts):
            v = vs[-1]
        else:
            a, b = ts[j - 1], ts[j]
            v = vs[j - 1] + (vs[j] - vs[j - 1]) * (t - a) / (b - a)
        vals.append(max(v * scale, 1.0))
        t += STEP
    live = opts.get("live")
    if live:
        live_start = parse_time(live, "live")
    else:
        # Default: the first Wednesday to Friday 05:00 at least 5 weeks in
        # (enough history for a daily season; the warm-up before it is a
        # weekday evening and night).
        live_start = t0 + 35 * 86400
        live_start -= live_start % 86400
        while (live_start // 86400 + 3) % 7 not in (2, 3, 4):
            live_start += 86400
        live_start += 5 * 3600
        # A shorter series: its last whole day at 05:00 after two days of
        # history (--start, or live=, picks another window).
        if live_start + 86400 > ts[-1]:
            live_start = ts[-1] - 86400
            live_start -= live_start % 86400
            live_start += 5 * 3600
            if live_start + 86400 > ts[-1]:
                live_start -= 86400
            if live_start - t0 < 2 * 86400:
                raise TraceError(f"nab: {path}: the series spans {(ts[-1] - t0) / 86400:.1f} days; "
                                 "it needs 3 (two of history, one live)")
    if not (t0 < live_start < ts[-1]):
        raise TraceError(f"nab: live start {fmt_time(live_start)} is outside the series")
    return Trace("nab:" + path, t0, vals, live_start, 4, [],
                 f"NAB {path}, 99th percentile scaled to {peak:.0f}m, interpolated to 1 min")


def load(spec):
    """Parses a trace spec (see the module doc)."""
    parts = spec.split(":")
    kind = parts[0]
    if kind == "generated":
        tr = generated(_opts(parts[1:], {"seed", "peak", "start", "campaign_day", "campaign_hour",
                                         "campaign_hours", "campaign_mult"}))
    elif kind == "nab":
        if len(parts) < 2 or not parts[1]:
            raise TraceError("nab: needs a path, e.g. nab:realKnownCause/nyc_taxi.csv")
        tr = nab(parts[1], _opts(parts[2:], {"peak", "live"}))
    else:
        raise TraceError(f"trace '{spec}': unknown source '{kind}' (generated or nab:PATH)")
    return tr


if __name__ == "__main__":
    # python3 hack/replay/traces.py SPEC: prints the trace as CSV (trace time, total millicores).
    tr = load(sys.argv[1] if len(sys.argv) > 1 else "generated")
    print("timestamp,value")
    for i, v in enumerate(tr.values):
        print(f"{tr.t0 + i * STEP},{v:.1f}")
