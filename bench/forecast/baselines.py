#!/usr/bin/env python3
"""Baselines for bench/forecast: statsforecast AutoETS / AutoARIMA / SeasonalNaive
and (if installed) Prophet, on exactly the same splits and metrics as
bench_forecast (C++). Prints one `key=value` line per dataset/model."""
import argparse
import glob
import math
import os
import sys
import time
import warnings

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")
H_M4, M_M4 = 48, 24
H_NAB, SEASON_NAB, HISTORY_NAB, STRIDE_NAB = 12, 288, 2016, 144
LAST_CPU = float("nan")  # process CPU seconds of the last model run
TIME_LIMIT = 0.0  # wall seconds per model and dataset (0 = none)
CHUNK = 4
TOTAL_NAB_WINDOWS = 0


def read_m4(path):
    df = pd.read_csv(path)
    vals = df.iloc[:, 1:].to_numpy(dtype=float)
    return [r[~np.isnan(r)] for r in vals]


def seasonality_test(y, m):
    n = len(y)
    if m <= 1 or n < 3 * m:
        return False
    x = y - y.mean()
    den = (x * x).sum()
    if den <= 0:
        return False
    acf = [(x[k:] * x[:-k]).sum() / den for k in range(1, m + 1)]
    limit = 1.645 * math.sqrt((1 + 2 * sum(a * a for a in acf[:-1])) / n)
    return abs(acf[-1]) > limit


def classical_indices(y, m):
    n = len(y)
    idx = np.ones(m)
    if n < 2 * m or (y <= 0).any():
        return idx
    half = m // 2
    s, c = np.zeros(m), np.zeros(m)
    w = np.ones(m + 1) if m % 2 == 0 else np.ones(m)
    if m % 2 == 0:
        w[0] = w[-1] = 0.5
    for t in range(half, n - half):
        seg = y[t - half:t + half + 1] if m % 2 == 0 else y[t - half:t + half + 1]
        ma = (seg * w).sum() / m
        if ma > 0:
            s[t % m] += y[t] / ma
            c[t % m] += 1
    idx = np.where(c > 0, s / np.maximum(c, 1), 1.0)
    return idx / idx.mean()


def naive2(y, m, h):
    n = len(y)
    idx = classical_indices(y, m) if seasonality_test(y, m) else np.ones(m)
    last = y[-1] / idx[(n - 1) % m]
    return np.array([last * idx[(n + k) % m] for k in range(h)])


def sf_models(kind, season):
    from statsforecast.models import AutoARIMA, AutoETS, SeasonalNaive
    if kind == "AutoETS":
        return AutoETS(season_length=season)
    if kind == "AutoARIMA":
        return AutoARIMA(season_length=season)
    return SeasonalNaive(season_length=season)


def run_sf(kind, season, series, h):
    """series: list of 1-d arrays. Returns (point, lo90, hi90, lo99, hi99, seconds)."""
    from statsforecast import StatsForecast
    rows = []
    for i, y in enumerate(series):
        rows.append(pd.DataFrame({"unique_id": i, "ds": np.arange(len(y)), "y": y}))
    df = pd.concat(rows, ignore_index=True)
    model = sf_models(kind, season)
    sf = StatsForecast(models=[model], freq=1, n_jobs=1)
    t0, c0 = time.perf_counter(), time.process_time()
    # In chunks so that progress is visible and a time limit can stop the run:
    # the series done so far are then scored as a documented prefix subset.
    parts, done = [], 0
    while done < len(series):
        if TIME_LIMIT and time.perf_counter() - t0 > TIME_LIMIT:
            print(f"# {kind}: time limit {TIME_LIMIT:.0f} s reached after {done} of {len(series)} series",
                  file=sys.stderr, flush=True)
            break
        ids = list(range(done, min(done + CHUNK, len(series))))
        parts.append(sf.forecast(df=df[df["unique_id"].isin(ids)], h=h, level=[90, 99]))
        done = ids[-1] + 1
        print(f"# {kind}: {done}/{len(series)} series, {time.perf_counter() - t0:.0f} s",
              file=sys.stderr, flush=True)
    fc = pd.concat(parts)
    secs = time.perf_counter() - t0
    global LAST_CPU
    LAST_CPU = time.process_time() - c0
    if "unique_id" not in fc.columns:
        fc = fc.reset_index()
    name = repr(model).split("(")[0] if kind != "AutoETS" else "AutoETS"
    cols = [c for c in fc.columns if c not in ("unique_id", "ds")]
    base = [c for c in cols if "-lo-" not in c and "-hi-" not in c][0]
    out = []
    for i in range(done):
        g = fc[fc["unique_id"] == i]
        out.append((g[base].to_numpy(), g[f"{base}-lo-90"].to_numpy(), g[f"{base}-hi-90"].to_numpy(),
                    g[f"{base}-lo-99"].to_numpy(), g[f"{base}-hi-99"].to_numpy()))
    del name
    return out, secs


def run_prophet(series, h, freq, seasonalities):
    from prophet import Prophet
    import logging
    logging.getLogger("cmdstanpy").disabled = True
    logging.getLogger("prophet").setLevel(logging.ERROR)
    out = []
    t0, c0 = time.perf_counter(), time.process_time()
    for y in series:
        ds = pd.date_range("2000-01-01", periods=len(y) + h, freq=freq)
        m = Prophet(daily_seasonality=seasonalities[0], weekly_seasonality=seasonalities[1],
                    yearly_seasonality=False, interval_width=0.9, uncertainty_samples=200)
        m.fit(pd.DataFrame({"ds": ds[:len(y)], "y": y}))
        fut = pd.DataFrame({"ds": ds[len(y):]})
        p90 = m.predict(fut)
        m.interval_width = 0.99
        p99 = m.predict(fut)
        out.append((p90["yhat"].to_numpy(), p90["yhat_lower"].to_numpy(), p90["yhat_upper"].to_numpy(),
                    p99["yhat_lower"].to_numpy(), p99["yhat_upper"].to_numpy()))
    global LAST_CPU
    LAST_CPU = time.process_time() - c0
    return out, time.perf_counter() - t0


def score_m4(name, train, test, fcs, secs, label):
    sm = ma = sm2 = ma2 = 0.0
    c90 = c99 = cnt = 0
    for y, act, (f, l9, h9, l99, h99) in zip(train, test, fcs):
        f = np.nan_to_num(np.asarray(f, dtype=float), nan=y[-1])
        fn = naive2(y, M_M4, H_M4)
        scale = np.abs(y[M_M4:] - y[:-M_M4]).mean()
        sm += np.mean(200 * np.abs(act - f) / (np.abs(act) + np.abs(f)))
        ma += np.mean(np.abs(act - f)) / scale
        sm2 += np.mean(200 * np.abs(act - fn) / (np.abs(act) + np.abs(fn)))
        ma2 += np.mean(np.abs(act - fn)) / scale
        c90 += int(((act >= l9) & (act <= h9)).sum())
        c99 += int(((act >= l99) & (act <= h99)).sum())
        cnt += len(act)
    n = len(fcs)  # fewer than len(train) when a time limit stopped the model
    if n < len(train):
        label += f"-first{n}"
    sm, ma, sm2, ma2 = sm / n, ma / n, sm2 / n, ma2 / n
    owa = 0.5 * (sm / sm2 + ma / ma2)
    print(f"dataset={label} model={name} series={n} smape={sm:.3f} mase={ma:.3f} owa={owa:.3f} "
          f"naive2_smape={sm2:.3f} naive2_mase={ma2:.3f} cov90={c90 / cnt:.3f} cov99={c99 / cnt:.3f} "
          f"seconds={secs:.2f} cpu_seconds={LAST_CPU:.2f}", flush=True)


def nab_windows(data_dir):
    wins = []  # (history, actual)
    for sub in ("realAWSCloudwatch", "realKnownCause"):
        for path in sorted(glob.glob(os.path.join(data_dir, "nab", sub, "*.csv"))):
            df = pd.read_csv(path)
            t = pd.to_datetime(df["timestamp"]).astype("int64") // 10**9
            b = (t // 300).to_numpy()
            s = pd.Series(df["value"].to_numpy(dtype=float)).groupby(b).mean()
            full = s.reindex(np.arange(b.min(), b.max() + 1))
            v = full.to_numpy()
            n = len(v)
            o = n // 2
            while o + H_NAB <= n:
                hist = v[max(0, o - HISTORY_NAB):o]
                wins.append((hist, v[o:o + H_NAB]))
                o += STRIDE_NAB
    return wins


def score_nab(name, wins, fcs, secs):
    mase = []
    c90 = c99 = pts = 0
    for (hist, act), (f, l9, h9, l99, h99) in zip(wins, fcs):
        d = np.abs(np.diff(hist))
        d = d[np.isfinite(d)]
        sc = d.mean() if len(d) else 0
        ok = np.isfinite(act)
        if ok.sum() == 0:
            continue
        a, f = act[ok], np.asarray(f)[ok]
        if sc > 0:
            mase.append(np.mean(np.abs(a - f)) / sc)
        c90 += int(((a >= l9[ok]) & (a <= h9[ok])).sum())
        c99 += int(((a >= l99[ok]) & (a <= h99[ok])).sum())
        pts += len(a)
    label = "nab" if len(fcs) >= TOTAL_NAB_WINDOWS else f"nab-first{len(fcs)}"  # a time limit stopped the model
    print(f"dataset={label} model={name} windows={len(fcs)} forecasts={len(mase)} mase={np.mean(mase):.3f} cov90={c90 / pts:.3f} "
          f"cov99={c99 / pts:.3f} seconds={secs:.2f} cpu_seconds={LAST_CPU:.2f}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--models", default="SeasonalNaive,AutoETS,AutoARIMA,Prophet")
    ap.add_argument("--datasets", default="m4,nab")
    ap.add_argument("--m4-every", type=int, default=1,
                    help="M4: only every K-th series (0, K, 2K, ...), for models too slow for all 414")
    ap.add_argument("--m4-first", type=int, default=0,
                    help="M4: then only the first N of those series (0 = all)")
    ap.add_argument("--nab-first", type=int, default=0,
                    help="NAB: only the first N windows (0 = all), to compare with a time-limited run")
    ap.add_argument("--time-limit", type=float, default=0.0,
                    help="wall seconds per model and dataset; the series done by then are scored (a prefix)")
    args = ap.parse_args()
    global TIME_LIMIT
    TIME_LIMIT = args.time_limit
    models = args.models.split(",")
    have_prophet = True
    try:
        import prophet  # noqa: F401
    except Exception as e:  # pragma: no cover
        print(f"# prophet unavailable ({e.__class__.__name__}); skipped", flush=True)
        have_prophet = False
    if "m4" in args.datasets:
        train = read_m4(os.path.join(args.data, "m4-hourly", "Hourly-train.csv"))
        test = read_m4(os.path.join(args.data, "m4-hourly", "Hourly-test.csv"))
        label = "m4-hourly"
        if args.m4_every > 1:
            train, test = train[::args.m4_every], test[::args.m4_every]
            label = f"m4-hourly-every{args.m4_every}"
        if args.m4_first > 0:
            train, test = train[:args.m4_first], test[:args.m4_first]
            label += f"-first{args.m4_first}"
        for kind in models:
            try:
                if kind == "Prophet":
                    if not have_prophet:
                        continue
                    fcs, secs = run_prophet(train, H_M4, "h", (True, True))
                else:
                    fcs, secs = run_sf(kind, M_M4, train, H_M4)
                score_m4(kind, train, test, fcs, secs, label)
            except Exception as e:
                print(f"# {kind} on m4 failed: {e}", flush=True)
    if "nab" in args.datasets:
        wins = nab_windows(args.data)
        global TOTAL_NAB_WINDOWS
        TOTAL_NAB_WINDOWS = len(wins)
        if args.nab_first > 0:
            wins = wins[:args.nab_first]
        hists = [pd.Series(h).ffill().bfill().to_numpy() for h, _ in wins]
        for kind in models:
            try:
                if kind == "Prophet":
                    if not have_prophet:
                        continue
                    fcs, secs = run_prophet(hists, H_NAB, "5min", (True, False))
                else:
                    # statsforecast's ETS/ARIMA do not support a 288-step season
                    # in reasonable time: non-seasonal for those, 288 for SeasonalNaive.
                    fcs, secs = run_sf(kind, SEASON_NAB if kind == "SeasonalNaive" else 1, hists, H_NAB)
                score_nab(kind, wins, fcs, secs)
            except Exception as e:
                print(f"# {kind} on nab failed: {e}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
