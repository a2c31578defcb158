"""SVG timeline of a replay (hack/replay/run.py): one panel per arm with each
active pod's load (the driver's, every tick), metrics-server samples (red
when over maxUtilization), the capacity and maxUtilization lines, the
forecast band of the hottest pod (p50..p90 of its peak over the horizon, as
published in status.forecasts, drawn at the time it was published),
promotions (green), scale-ins (grey) and range moves (ticks on top), plus
the number of active pods, the packing bound's and the planner oracle's."""
import html
import time

import measures

W, PANEL_H, STRIP_H, LEFT, RIGHT, TOP = 1100, 260, 70, 70, 20, 40
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]


def write_svg(res, summary, path):
    T0, T1 = res.get("warmupStart", res["start"]), res["end"]
    cap, mx = res["capacity"], res["maxUtilization"]
    arms = list(res["arms"].items())
    ymax = cap * 1.5
    for _, arm in arms:
        for tk in arm["ticks"]:
            ymax = max(ymax, max(tk["loads"].values(), default=0) * 1.05)
    ymax = min(ymax, cap * 2.5)
    pw = W - LEFT - RIGHT
    H = TOP + len(arms) * (PANEL_H + STRIP_H + 40) + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{LEFT}" y="20" font-size="14">{html.escape(res["description"])} — x{res["timeScale"]:g}</text>']

    def X(t):
        return LEFT + pw * (t - T0) / max(1, (T1 - T0))

    for ai, (name, arm) in enumerate(arms):
        y0 = TOP + ai * (PANEL_H + STRIP_H + 40)

        def Y(v):
            return y0 + PANEL_H - PANEL_H * min(v, ymax) / ymax

        out.append(f'<text x="{LEFT}" y="{y0 - 6}" font-size="13" font-weight="bold">{html.escape(name)}</text>')
        out.append(f'<rect x="{LEFT}" y="{y0}" width="{pw}" height="{PANEL_H}" fill="none" stroke="#999"/>')
        # grid: hours
        hours = int((T1 - T0) // 3600) + 1
        step = max(1, hours // 12)
        for h in range(0, hours + 1, step):
            t = T0 - T0 % 3600 + h * 3600
            if T0 <= t <= T1:
                out.append(f'<line x1="{X(t):.1f}" y1="{y0}" x2="{X(t):.1f}" y2="{y0 + PANEL_H + STRIP_H}" stroke="#eee"/>')
                out.append(f'<text x="{X(t):.1f}" y="{y0 + PANEL_H + STRIP_H + 14}" text-anchor="middle">'
                           f'{time.strftime("%H:%M", time.gmtime(t))}</text>')
        for v in range(0, int(ymax) + 1, 250):
            out.append(f'<text x="{LEFT - 4}" y="{Y(v) + 4:.1f}" text-anchor="end">{v}m</text>')
        # measured window
        if res.get("warmupStart", T0) < res["start"]:
            out.append(f'<rect x="{LEFT}" y="{y0}" width="{X(res["start"]) - LEFT:.1f}" height="{PANEL_H}" fill="#f4f4f4"/>')
            out.append(f'<text x="{LEFT + 4}" y="{y0 + PANEL_H - 6}" fill="#888">warm-up (forecasts earn trust)</text>')
        # forecast band of the hottest pod
        fc = arm["forecasts"]
        band = []
        for i, f in enumerate(fc):
            t_end = fc[i + 1]["t"] if i + 1 < len(fc) else T1
            pods = [p for p in f["pods"].values()]
            if not pods:
                continue
            hot = max(pods, key=lambda p: p.get("peak", 0))
            band.append((f["t"], t_end, hot.get("peak", 0), hot.get("p90", 0), hot.get("trusted", False)))
        for t0, t1, p50, p90, trusted in band:
            out.append(f'<rect x="{X(t0):.1f}" y="{Y(p90):.1f}" width="{max(0.5, X(t1) - X(t0)):.1f}" '
                       f'height="{max(0.5, Y(p50) - Y(p90)):.1f}" fill="{"#6baed6" if trusted else "#c6dbef"}" opacity="0.5"/>')
        # capacity and max
        out.append(f'<line x1="{LEFT}" y1="{Y(cap):.1f}" x2="{LEFT + pw}" y2="{Y(cap):.1f}" stroke="black"/>')
        out.append(f'<line x1="{LEFT}" y1="{Y(cap * mx):.1f}" x2="{LEFT + pw}" y2="{Y(cap * mx):.1f}" '
                   f'stroke="red" stroke-dasharray="5,4"/>')
        # per-pod load lines
        pods = sorted({p for tk in arm["ticks"] for p in tk["active"]})
        for pi, pod in enumerate(pods):
            pts = []
            segs = []
            for tk in arm["ticks"]:
                if pod in tk["active"]:
                    pts.append(f'{X(tk["t"]):.1f},{Y(tk["loads"].get(pod, 0)):.1f}')
                elif pts:
                    segs.append(pts)
                    pts = []
            if pts:
                segs.append(pts)
            for s in segs:
                out.append(f'<polyline points="{" ".join(s)}" fill="none" stroke="{COLORS[pi % len(COLORS)]}" stroke-width="1.3"/>')
        # metrics-server samples
        for o in arm["observed"]:
            if o["active"] and T0 <= o["t"] <= T1:
                over = o["cpu"] / cap > mx
                out.append(f'<circle cx="{X(o["t"]):.1f}" cy="{Y(o["cpu"]):.1f}" r="{2.5 if over else 1.5}" '
                           f'fill="{"red" if over else "#555"}"/>')
        # actions
        # Promotion labels do not overlap: each goes to the first row (12 px
        # apart, from the top) whose previous label ends left of it; only when
        # all six rows are taken, to the row that frees up first.
        row_end = [float("-inf")] * 6
        for p in sorted(arm["promotions"], key=lambda p: p["t"]):
            x, label = X(p["t"]), "+" + p["pod"]
            out.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + PANEL_H}" stroke="green" stroke-width="1.5"/>')
            width = 6.2 * len(label) + 6  # 11 px sans-serif, generous
            anchor, tx = ("start", x + 2) if x + 2 + width <= LEFT + pw else ("end", x - 2)
            left = tx if anchor == "start" else tx - width
            row = next((r for r, end in enumerate(row_end) if end < left), None)
            if row is None:
                row = min(range(len(row_end)), key=lambda r: row_end[r])
            row_end[row] = left + width + 4
            out.append(f'<text x="{tx:.1f}" y="{y0 + 12 + 12 * row}" fill="green" text-anchor="{anchor}" '
                       'stroke="white" stroke-width="3" paint-order="stroke">'
                       f'{html.escape(label)}</text>')
        for p in arm["demotions"]:
            out.append(f'<line x1="{X(p["t"]):.1f}" y1="{y0}" x2="{X(p["t"]):.1f}" y2="{y0 + PANEL_H}" stroke="#888" stroke-dasharray="2,2"/>')
        for a, b in zip(arm["routing"], arm["routing"][1:]):
            n = measures.owner_changes(a, b)
            if n:
                out.append(f'<line x1="{X(b["t"]):.1f}" y1="{y0}" x2="{X(b["t"]):.1f}" y2="{y0 - 3 - min(n, 10)}" stroke="purple"/>')
        # strip: active pods vs oracle
        sy0 = y0 + PANEL_H + 8
        kmax = res.get("maxReplicas", 8)

        def SY(k):
            return sy0 + STRIP_H - 10 - (STRIP_H - 14) * k / kmax

        pts = " ".join(f'{X(tk["t"]):.1f},{SY(len(tk["active"])):.1f}' for tk in arm["ticks"])
        out.append(f'<polyline points="{pts}" fill="none" stroke="black"/>')
        bound = summary.get("packingBound") or summary.get("oracle")
        opts = " ".join(f'{X(t):.1f},{SY(k):.1f}' for t, k in bound["pods"])
        out.append(f'<polyline points="{opts}" fill="none" stroke="orange" stroke-dasharray="4,3"/>')
        orc = summary.get("oraclePlanner") or {}
        if orc.get("pods"):
            # a step line: the count holds until the next change
            steps = []
            for (t, k), nxt in zip(orc["pods"], orc["pods"][1:] + [None]):
                steps.append(f'{X(t):.1f},{SY(k):.1f}')
                if nxt is not None:
                    steps.append(f'{X(nxt[0]):.1f},{SY(k):.1f}')
            out.append(f'<polyline points="{" ".join(steps)}" fill="none" stroke="teal" stroke-dasharray="1,2"/>')
        out.append(f'<text x="{LEFT - 4}" y="{sy0 + 20}" text-anchor="end">pods</text>')
        s = summary["arms"][name]
        out.append(f'<text x="{LEFT + pw}" y="{y0 - 6}" text-anchor="end">overload samples {s["overloadSamples"]}, '
                   f'active pod-min {s["activePodMinutes"]}, ranges moved {s["rangesMoved"]}, promotions {len(s["promotions"])}</text>')
    ly = H - 12
    out.append(f'<text x="{LEFT}" y="{ly}">lines: pod load; dots: metrics-server samples (red: over max); red dashed: '
               f'maxUtilization; black: capacity; blue band: hottest pod forecast p50..p90 of peak (dark: trusted); '
               f'green: promotion; purple ticks: range moves; strip: active pods (black) vs packing bound (orange) '
               f'and planner oracle (teal)</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out))
