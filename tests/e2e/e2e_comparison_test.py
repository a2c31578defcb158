#!/usr/bin/env python3
"""Shortened end-to-end comparison (issue 6) on the real local control plane.

Replays a short generated trace with a clear daily surge through the
predictive arm (Auto mode, backfilled history) and the reactive arm
(--forecasting=false) at the same time (hack/replay/run.py), then asserts:
  1. the predictive arm's first promotion comes before its first
     metrics.k8s.io sample over maxUtilization;
  2. the predictive arm has no more overload samples than the reactive arm
     and fewer minutes of load over maxUtilization (the driver's true load);
  3. in both arms the routing ConfigMap assigns every range exactly once at
     every observed epoch.
Uses the control plane named by SHARDCAST_TEST_KUBECONFIG (hack/test.sh), or
starts a private one. Every wait is a condition with a timeout; the only
timer is the driver's pacing of trace steps. A run in which the predictive
arm had no trusted forecast before the surge FAILS (then both arms are the
same reactive controller and the comparison would show nothing): the test
never passes by skipping.

Measured on 2026-11-30 (three runs, ~160 s each): the predictive arm
promoted at 07:54, 08:02 and 08:14, 94 to 95 minutes before its first overload
sample each time. It had 4 overload samples each time against the reactive
arm's 6, 6 and 7. 2026-12-02 (one run, 176 s, branch wip/planner): trusted
from 05:32, first promotion 08:00, 2 overload samples against 9, flaps 0.
2026-12-03 (three runs at stop 19, after the sample rescaling): first
promotion 08:50 to 08:54, predictive 0 overload samples and 0 over-max
minutes each time, reactive 1, 2, 1 samples and 6, 16, 12 minutes.
SHARDCAST_E2E_ALLOW_LOSS=1 prints a lost comparison as a
warning instead of failing (for experiments with the planner or the trace).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("SHARDCAST_SOURCE_DIR") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def fmt(t):
    return "-" if t is None else time.strftime("%H:%M", time.gmtime(t))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="shardcast-e2e-")
    os.makedirs(out, exist_ok=True)
    kc = os.environ.get("SHARDCAST_TEST_KUBECONFIG")
    private = None
    if not kc:
        private = tempfile.mkdtemp(prefix="shardcast-e2e-cp-")
        env = dict(os.environ, SHARDCAST_CP_DIR=private)
        subprocess.run(["bash", os.path.join(SRC, "hack/controlplane.sh"), "start"], check=True, env=env)
        kc = os.path.join(private, "kubeconfig")
    try:
        cmd = [sys.executable, os.path.join(SRC, "hack/replay/run.py"), "--kubeconfig", kc, "--binary", args.binary,
               "--arms", "predictive,reactive", "--namespace-prefix", "e2e", "--out", out,
               "--trace", "generated", "--time-scale", "120"]
        print("+ " + " ".join(cmd), flush=True)
        r = subprocess.run(cmd, timeout=540)
        if r.returncode != 0:
            print(f"FAIL: the replay exited with {r.returncode}; logs in {out}")
            return 1
    finally:
        if private:
            subprocess.run(["bash", os.path.join(SRC, "hack/controlplane.sh"), "stop"],
                           env=dict(os.environ, SHARDCAST_CP_DIR=private))
    with open(os.path.join(out, "results.json")) as f:
        res = json.load(f)
    s = res["summary"]["arms"]
    pred, react = s["predictive"], s["reactive"]
    failures = []
    # Routing consistency is checked whatever happened.
    for name, arm in res["arms"].items():
        if arm["routingErrors"]:
            failures.append(f"{name}: routing errors {arm['routingErrors'][:3]}")
        if len(arm["routing"]) < 2:
            failures.append(f"{name}: fewer than 2 routing epochs observed")
    # The planner uses forecasts only once they are trusted (backfilled
    # history is judged when the operator loads it; docs/demo.md). Without a
    # trusted forecast before the surge the predictive arm is the reactive
    # arm, and comparing them shows nothing: that run fails (it used to exit
    # 77, skipped, so "predictive beats reactive" could pass unshown).
    episodes = res["summary"]["episodes"]
    surge = episodes[0][0] if episodes else res["end"]
    trusted = pred.get("trustedFrom")
    if trusted is None or trusted >= surge:
        failures.append(f"no trusted forecast in the predictive arm before the surge at {fmt(surge)} "
                        f"(first trusted: {fmt(trusted)}): the comparison would test nothing")
    gaps = []
    if pred["firstPromotion"] is None:
        gaps.append("the predictive arm never promoted a warm pod")
    elif pred["firstOverload"] is not None and not pred["firstPromotion"] < pred["firstOverload"]:
        gaps.append(f"predictive: first promotion {fmt(pred['firstPromotion'])} is not before the first "
                    f"overload sample {fmt(pred['firstOverload'])}")
    # Overload is judged on both measures: metrics.k8s.io samples over
    # maxUtilization (one per pod every 20 trace minutes) and the minutes the
    # driver's load was over it (every tick). Since a pod's sample taken
    # before a handover is rescaled (stop 19), the reactive arm no longer
    # moves ranges off a relieved pod, and it has 1-2 overload samples on
    # this trace: too few to rank the arms alone, hence the minutes.
    if react["overloadSamples"] == 0 and react["overTrueMinutes"] == 0:
        failures.append("the reactive arm saw no overload: the trace does not test anything")
    if not pred["overloadSamples"] <= react["overloadSamples"]:
        gaps.append(f"predictive overload samples {pred['overloadSamples']} more than reactive "
                    f"{react['overloadSamples']}")
    if not pred["overTrueMinutes"] < react["overTrueMinutes"]:
        gaps.append(f"predictive over-max minutes {pred['overTrueMinutes']:.0f} not fewer than "
                    f"reactive {react['overTrueMinutes']:.0f}")
    if os.environ.get("SHARDCAST_E2E_ALLOW_LOSS") == "1":
        for g in gaps:
            print("WARNING (SHARDCAST_E2E_ALLOW_LOSS=1): " + g)
    else:
        failures.extend(gaps)
    print(f"predictive: first promotion {fmt(pred['firstPromotion'])}, first overload {fmt(pred['firstOverload'])}, "
          f"overload samples {pred['overloadSamples']} ({pred['overTrueMinutes']:.0f} min over); "
          f"reactive: {react['overloadSamples']} ({react['overTrueMinutes']:.0f} min over); "
          f"epochs observed {pred['epochs']} / {react['epochs']}")
    for f in failures:
        print("FAIL: " + f)
    if not failures:
        print("PASS")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
