#!/usr/bin/env python3
"""Turns bench_forecast / baselines.py key=value lines into markdown tables."""
import sys


def rows(path):
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        yield dict(kv.split("=", 1) for kv in line.split() if "=" in kv)


def main():
    rs = list(rows(sys.argv[1]))
    m4 = [r for r in rs if r.get("dataset", "").startswith("m4")]
    nab = [r for r in rs if r.get("dataset", "").startswith("nab")]
    print("M4 Hourly (414 series, h=48, MASE scaled by in-sample seasonal naive m=24, OWA vs Naive2):\n")
    print("MSIS: M4's scaled interval score (lower is better), alpha = 0.1 for the 90% band "
          "(q0.05..q0.95) and 0.05 for the 95% band; p10-p90 is the 80% band.\n")
    print("| split | model | sMAPE | MASE | OWA | MSIS 90% | p10-p90 cov | 90% cov | MSIS 95% | 95% cov "
          "| 99% cov | wall s | CPU s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in m4:
        split = "train holdout (last 48)" if "holdout" in r["dataset"] else "test"
        if "-every" in r["dataset"] or "-first" in r["dataset"]:
            split += f" (subset {r['dataset'].split('m4-hourly-')[1]}: {r['series']} series)"
        print(f"| {split} | {r['model']} | {r['smape']} | {r['mase']} | {r['owa']} | {r.get('msis90', '-')} "
              f"| {r.get('cov80', '-')} | {r['cov90']} | {r.get('msis95', '-')} | {r.get('cov95', '-')} "
              f"| {r['cov99']} | {r['seconds']} | {r.get('cpu_seconds', '-')} |")
    print("\nNAB realAWSCloudwatch + realKnownCause (5-min, rolling origin every 144 steps from mid-series, "
          "7-day history, h=12, MASE scaled by in-sample one-step naive):\n")
    print("| windows | model | forecasts (with a MASE scale) | MASE | 90% cov | 99% cov | wall s | CPU s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in nab:
        print(f"| {r.get('windows', '-')} | {r['model']} | {r['forecasts']} | {r['mase']} | {r['cov90']} | {r['cov99']} | {r['seconds']} "
              f"| {r.get('cpu_seconds', '-')} |")


if __name__ == "__main__":
    main()
