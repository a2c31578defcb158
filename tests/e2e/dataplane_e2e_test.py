#!/usr/bin/env python3
"""End-to-end test on the real data plane (issue 12 item 5).

On the real local control plane (its own namespace, deleted at the end) it
runs the real operator (`shardcast run`), the pod runner (hack/podrunner: a
redis-server plus a shardcast-agent for every KWOK pod of the ShardSet, the
kubelet stand-in for tests), two shardcast-routers that follow the routing
ConfigMap, a consistency checker (tests/support/checker.py: sequence-numbered
writes to a known set of keys, every acknowledged write and every read
recorded) and redis-benchmark as an independent client (SET and GET rounds,
started again when an error reply stops it). The ShardSet has
hooks on, so every ownership change goes through the agents'
prepare/copy/cutover/release, and echoes through echo-add/echo-remove.

The routers run as the processes of two KWOK pods (labelled
app.kubernetes.io/name=kv-router, bound to those pods' IPs) that the
ShardSet's spec.routers selects: the forecast controller scrapes their
per-range counters, which give the planner each range's share of its pod's
load and read share, and the executor the router errors it judges a move's
verification by (status.routerStats).

Scenario (every wait is a condition with a deadline):
  1. 3 active pods + 1 warm, 32 ranges; the first routing document.
  2. scale in to 2: the victim's ranges move off it (ScaleIn requests);
     during the first move's copy the operator is killed (SIGKILL) and
     restarted, and the target's agent is killed.
  3. a router is restarted.
  4. scale out to 4: warm pods are promoted and ranges shed to them
     (Shedding requests); the source shard of a move is killed right after
     its cutover (the pod runner restarts it on its own data), and the
     target shard of another move is stopped (SIGSTOP) while the move is
     verified, and readers on 16 connections per router ask for keys of that
     range until it leaves Verifying (each waits for the router's backend
     timeout and gets an error), so the routers' error counters for the
     range rise however little other load hits it, and the executor must
     revert the move: the reverse move carries the writes the target took
     back to the source.
  5. a hot, read-heavy range and a declared event: a reader concentrates GETs
     on one range E of a pod P through the routers (so its read share goes
     over the planner's readHeavyFraction), and the MigrationPolicy declares
     events (spec.events[].ranges) that multiply the load of a range S of P
     (a launch: S alone exceeds a pod's target, so the planner splits it) and
     of E (so E is a hot range of the now hot pod P: the planner echoes it).
     The operator splits S, fills an echo of E through the agents (checked:
     the echo pod's redis holds every key of the reader) and moves ranges off
     P.
  6. the events are replaced by one declaring S's two halves cold, and the
     reader stops: with more ranges than spec.keySpace.ranges the planner
     merges two adjacent cold ranges of one owner (S's halves, or a colder
     pair it already merged in the plan that split S), and it removes E's
     echo (echo-remove on the agent) once E is cold.
  7. the end: every acknowledged write readable (its value or a later
     acknowledged one), no key on two owners' shards (echoes aside), no read
     went backwards on a key its client had written.

Prints one summary line:
  e2e-dataplane: acked=N lost=L stale=S moves=M reverts=R splits=P merges=G
      echoesAdded=A echoesRemoved=X promotions=O kills=K clientErrors=E doubles=D
(clientErrors: replies the checker got as errors or timeouts, e.g. while a
router restarts or a killed or stopped shard comes back; such writes are
ambiguous and never counted as acknowledged.)
Exit 0 only when lost == 0, stale == 0, no key on two owners, and everything
item 5 lists happened: >= 1 promotion, >= 10 data-carrying moves, a split, a
merge, an echo added and removed, a revert, a scale-in, and one fault of each
kind (operator, agent, router, source shard); otherwise it names what did
not happen. `make test` runs it (ctest e2e_dataplane, label integration,
tests/e2e/CMakeLists.txt); by hand:

  SHARDCAST_TEST_KUBECONFIG=... dataplane_e2e_test.py --binary build/operator/cmd/shardcast
      --router build/router/shardcast-router --agent build/agent/shardcast-agent
      [--out DIR] [--seed N]
(without SHARDCAST_TEST_KUBECONFIG it starts and stops a private control plane).
"""
import argparse
import datetime
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SRC = os.environ.get("SHARDCAST_SOURCE_DIR") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "support"))
import checker  # noqa: E402
from testlib import WaitTimeout, free_port, key_hash, wait_for  # noqa: E402

import redis  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dataplane_e2e_lib import (  # noqa: E402
    CAPACITY_MILLIS, CM, RANGES, ROUTER_METRICS_PORT, ROUTER_PORT, SET, TERMINAL,
    VERIFICATION_SECONDS, Benchmark,
    Cluster, Failure, HotReader, Procs, RangeProber, log, policy_manifest, rfc3339, router_pod_manifest,
    shardset_manifest)


class Test:
    def __init__(self, args, kc, out):
        self.a, self.out = args, out
        self.ns = "e2e-dp-%d" % os.getpid()
        self.k = Cluster(kc, self.ns)
        self.p = Procs(out)
        self.kills = {"operator": 0, "agent": 0, "router": 0, "source-shard": 0}
        self.router_ips = [None, None]
        self.operator_port = free_port()
        self.claimed = set()  # moves a fault was injected into
        self.echo_keys_checked = 0
        self.reverted = False

    # ---- pieces ----
    def start_operator(self):
        self.p.start("operator", [self.a.binary, "run", "--kubeconfig", self.k.kc,
                                  "--namespace", self.ns, "--leader-elect=true",
                                  "--leader-election-namespace", self.ns,
                                  "--metrics-bind-address", "127.0.0.1:%d" % self.operator_port,
                                  "--health-probe-bind-address", "",
                                  # Router telemetry and pod CPU every 2 s.
                                  "--forecast-sample-period", "2s"])

    def start_router(self, i):
        ip = self.router_ips[i]
        self.p.start("router-%d" % i, [self.a.router, "--configmap", "%s/%s" % (self.ns, CM),
                                       "--kubeconfig", self.k.kc,
                                       "--listen", "%s:%d" % (ip, ROUTER_PORT),
                                       "--metrics-bind-address",
                                       "%s:%d" % (ip, ROUTER_METRICS_PORT),
                                       "--request-timeout-ms", "1000", "--threads", "1"])

    def router_up(self, i):
        """Ready (/readyz: the routing document is loaded) and answering."""
        url = "http://%s:%d/readyz" % (self.router_ips[i], ROUTER_METRICS_PORT)
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status != 200:
                    return False
            return redis.Redis(host=self.router_ips[i], port=ROUTER_PORT, socket_timeout=2).ping()
        except (redis.RedisError, OSError, urllib.error.URLError):
            return False

    def router_pod_ips(self):
        ips = []
        for i in range(2):
            pod = self.k.get("pod", "kv-router-%d" % i) or {}
            st = pod.get("status", {})
            ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                        for c in st.get("conditions", []))
            if not st.get("podIP") or not ready:
                return None
            ips.append(st["podIP"])
        return ips

    def podrunner_state(self):
        path = os.path.join(self.out, "pods", self.ns, "podrunner-state.json")
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def pod_ip(self, pod):
        return self.podrunner_state().get(pod, {}).get("ip")

    def signal_pid(self, pod, which, sig=signal.SIGKILL):
        pid = self.podrunner_state().get(pod, {}).get(which, {}).get("pid")
        if not pid:
            raise Failure("no %s process for pod %s in the pod runner's state" % (which, pod))
        os.kill(pid, sig)
        return pid

    def shard(self, pod):
        return redis.Redis(host=self.pod_ip(pod), port=6379, socket_timeout=5)

    def done(self, type_, phase="Completed"):
        return [a for a in self.k.actions() if a.get("type") == type_ and a.get("phase") == phase]

    def in_flight(self):
        return [a for a in self.k.actions() if a.get("phase") not in TERMINAL]

    def requests(self):
        return self.k.set_status().get("ownershipRequests", [])

    def settled(self):
        doc = self.k.routing()
        return doc is not None and not self.requests() and not self.in_flight() and all(
            r.get("state", "stable") == "stable" for r in doc["ranges"])

    def scale(self, n):
        self.k.patch("shardset", SET, {"spec": {"replicas": n}})

    def set_events(self, events):
        self.k.patch("migrationpolicy", SET, {"spec": {"events": events}})

    # ---- set-up ----
    def setup(self):
        self.k.kubectl("apply", "--server-side", "-f", os.path.join(SRC, "crds"))
        self.k.kubectl("wait", "--for=condition=Established", "crd/shardsets.shardcast.dev",
                       "crd/migrationpolicies.shardcast.dev", "--timeout=60s")
        self.k.kubectl("create", "namespace", self.ns)
        for i in range(2):
            self.k.apply(router_pod_manifest(i))
        self.k.apply(shardset_manifest())
        self.k.apply(policy_manifest())
        self.p.start("podrunner", [sys.executable, os.path.join(SRC, "hack/podrunner/podrunner.py"),
                                   "--shardset", SET, "--namespace", self.ns, "--kubeconfig", self.k.kc,
                                   "--agent", self.a.agent, "--data-dir", os.path.join(self.out, "pods"),
                                   "--interval", "0.5",
                                   # Copies slow enough that "mid-copy" is a
                                   # moment the test can hit.
                                   "--agent-arg=--copy-rate=1000"])
        self.start_operator()
        doc = wait_for("the first routing document", self.k.routing, 120)
        owners = set(r["owner"] for r in doc["ranges"])
        log("routing epoch %d over %s" % (doc["epoch"], sorted(owners)))
        wait_for("redis on every owner", lambda: all(self.redis_ok(o) for o in owners), 90)
        self.router_ips = wait_for("the router pods' IPs", self.router_pod_ips, 60)
        for i in range(2):
            self.start_router(i)
        wait_for("both routers ready", lambda: all(self.router_up(i) for i in range(2)), 60)
        log("routers on %s" % ", ".join("%s:%d" % (ip, ROUTER_PORT) for ip in self.router_ips))

    def redis_ok(self, pod):
        ip = self.pod_ip(pod)
        if not ip:
            return False
        try:
            return redis.Redis(host=ip, port=6379, socket_timeout=1).ping()
        except (redis.RedisError, OSError):
            return False

    def start_load(self):
        self.chk = checker.Checker("%s:%d" % (self.router_ips[0], ROUTER_PORT), keys=2000,
                                   workers=4, prefix="chk").start()
        self.bench = Benchmark(self.p, self.router_ips[1], ROUTER_PORT).start()
        wait_for("acknowledged writes through the router",
                 lambda: self.chk.summary_stats()["acked"] >= 500, 60)
        # Enough data that a range's copy takes seconds at --copy-rate, and a
        # metrics sample of every pod (verification fails closed without one).
        wait_for("40000 keys on the shards", lambda: self.total_keys() >= 40000, 120, every=1)
        wait_for("PodMetrics of every pod", self.pod_metrics_ready, 120, every=2)

    def total_keys(self):
        n = 0
        for pod, st in self.podrunner_state().items():
            try:
                n += redis.Redis(host=st["ip"], port=6379, socket_timeout=1).dbsize()
            except (redis.RedisError, OSError, KeyError):
                pass
        return n

    def pod_metrics_ready(self):
        have = set(self.k.pod_cpu())
        pods = self.k.get("pods") or {}
        want = {p["metadata"]["name"] for p in pods.get("items", [])
                if p["metadata"].get("labels", {}).get("shardcast.dev/shardset") == SET}
        return bool(want) and want <= have

    # ---- scenario ----
    def wait_move(self, phases, timeout, what=None):
        def find():
            for a in self.in_flight():
                if (a.get("type") == "Move" and a.get("phase") in phases
                        and a["id"] not in self.claimed):
                    return a
            return None
        return wait_for(what or "a move in phase %s" % "/".join(phases), find, timeout, every=0.1)

    def action(self, aid):
        return next((a for a in self.k.actions() if a.get("id") == aid), None)

    def scale_in(self):
        log("scale in: 3 -> 2")
        self.scale(2)
        a = self.wait_move(("Migrating", "Copying"), 120)
        log("operator killed while %s copies range %s to %s" % (a["id"], a.get("range"), a["target"]))
        self.p.kill("operator")
        self.kills["operator"] += 1
        self.signal_pid(a["target"], "agent")
        self.kills["agent"] += 1
        log("agent of %s killed mid-copy" % a["target"])
        time.sleep(random.uniform(0, 1.0))  # a random point of the move: the only timer
        self.start_operator()
        wait_for("scale-in to finish (ranges off the victim, all moves done)", self.settled, 240, every=1)
        log("scale-in done: %d moves completed" % len(self.done("Move")))

    def restart_router(self):
        log("router 0 restarted")
        self.p.kill("router-0", signal.SIGTERM)
        self.kills["router"] += 1
        self.start_router(0)
        wait_for("router 0 back", lambda: self.router_up(0), 60)

    def scale_out(self):
        log("scale out: 2 -> 4")
        self.scale(4)
        a = self.wait_move(("Verifying", "Releasing"), 180)
        self.claimed.add(a["id"])
        log("source shard %s killed after the cutover of %s" % (a["source"], a["id"]))
        self.signal_pid(a["source"], "redis")
        self.kills["source-shard"] += 1
        # Until the scale-out's moves are done (else during step 5's moves).
        self.reverted = self.force_revert(300, give_up=self.settled)
        wait_for("scale-out to finish", self.settled, 300, every=1)

    def reverting(self):
        return [a for a in self.k.actions()
                if a.get("type") == "Move" and a.get("phase") in ("Reverting", "Reverted")]

    def revert_candidate(self):
        """A move in verification whose router baseline is recorded (so the
        errors to come count) and whose target no other unfinished action
        involves: the executor calls hooks one at a time, and a hook call to
        a stopped shard's agent blocks it until the hook timeout, so another
        action on that pod would hold up the judgement of this one."""
        acts = self.k.actions()
        for a in acts:
            if (a.get("type") != "Move" or a.get("phase") != "Verifying" or a["id"] in self.claimed
                    or not a.get("routerBaseline")):
                continue
            # The routers' timeouts (1 s) and next scrape (2 s) must fall in
            # the window: a move seen late in it is left alone.
            started = datetime.datetime.strptime(a.get("phaseStartedAt", "1970-01-01T00:00:00Z"),
                                                 "%Y-%m-%dT%H:%M:%SZ")
            left = (started.replace(tzinfo=datetime.timezone.utc).timestamp()
                    + VERIFICATION_SECONDS - time.time())
            if left < 4:
                continue
            if not any(b["id"] != a["id"] and b.get("phase") not in TERMINAL
                       and a["target"] in (b.get("source"), b.get("target")) for b in acts):
                return a
        return None

    def force_revert(self, timeout, give_up=lambda: False):
        """Stops (SIGSTOP) the target shard of a move in verification until
        one is reverted: the routers' requests to it time out, the executor
        sees the errors in status.routerStats and must revert (the reverse
        move copies what the target took back to the source). False when no
        move was a candidate within `timeout` or before give_up()."""
        deadline = time.monotonic() + timeout
        while not self.reverting():
            try:
                a = wait_for("a move in verification to stop the target of",
                             lambda: self.revert_candidate() or ("none" if give_up() else None),
                             max(1, deadline - time.monotonic()), every=0.25)
            except WaitTimeout:
                return False
            if a == "none":
                return False
            self.claimed.add(a["id"])
            rng = next((r for r in self.k.routing()["ranges"] if r["id"] == a.get("range")), None)
            pid = self.signal_pid(a["target"], "redis", signal.SIGSTOP)
            log("target shard %s of %s stopped during verification" % (a["target"], a["id"]))
            probe = (RangeProber(self.router_ips, ROUTER_PORT, rng["start"], rng["end"]).start()
                     if rng else None)
            try:
                wait_for("%s to leave Verifying" % a["id"],
                         lambda: (self.action(a["id"]) or {}).get("phase") != "Verifying",
                         90, every=0.1)
            finally:
                errors, replies = probe.stop() if probe else (0, 0)
                os.kill(pid, signal.SIGCONT)
            log("target shard %s continued; %s is %s (probe of range %s: %d errors, %d replies)"
                % (a["target"], a["id"], (self.action(a["id"]) or {}).get("phase"), a.get("range"),
                   errors, replies))
        r = wait_for("a move reverted", lambda: self.done("Move", "Reverted"), 120, every=0.5)[0]
        why = self.event_messages("MoveVerificationFailed")
        log("reverted: %s (range %s back on %s): %s" % (r["id"], r.get("range"), r["source"],
                                                        why[0][:200] if why else r.get("message")))
        return True

    def active_pods(self):
        pods = (self.k.get("pods") or {}).get("items", [])
        return sorted(p["metadata"]["name"] for p in pods
                      if p["metadata"].get("labels", {}).get("shardcast.dev/shardset") == SET
                      and p["metadata"]["labels"].get("shardcast.dev/role") == "active"
                      and not p["metadata"].get("deletionTimestamp"))

    def range_load(self, pod, rid, st):
        """The planner's view of a range's load (millicores): its pod's
        observed CPU times the range's share of the pod's forecast."""
        cpu = self.k.pod_cpu().get(pod, 0.0)
        f = next((f for f in st.get("forecasts", []) if f.get("pod") == pod), {})
        rf = next((r for r in st.get("rangeForecasts", []) if r.get("range") == rid), None)
        peak = f.get("peak") or 0
        if rf is not None and peak > 0:
            return cpu * rf.get("p50", 0) / peak
        rest = f.get("rangesRest") or {}
        if peak > 0 and rest.get("count"):
            return cpu * rest.get("p50", 0) / rest["count"] / peak
        return cpu / max(1, RANGES)

    def read_share(self, rid):
        rf = next((r for r in self.k.set_status().get("rangeForecasts", [])
                   if r.get("range") == rid), {})
        return rf.get("readShare", 0)

    def hot_range_and_event(self):
        """Step 5: a read-heavy range E and a declared launch on a range S of
        the same pod P: the planner splits S and echoes E."""
        doc = self.k.routing()
        by_owner = {}
        for r in doc["ranges"]:
            by_owner.setdefault(r["owner"], []).append(r)
        p_name = max(sorted(by_owner), key=lambda o: len(by_owner[o]))
        mine = sorted(by_owner[p_name], key=lambda r: r["id"])
        e = mine[0]
        log("hot reads on range %d of %s through router 1" % (e["id"], p_name))
        self.hot = HotReader(self.router_ips[1], ROUTER_PORT, e["start"], e["end"]).start()
        wait_for("range %d read-heavy in status.rangeForecasts (readShare >= 0.75)" % e["id"],
                 lambda: self.read_share(e["id"]) >= 0.75, 120, every=1)
        st = self.k.set_status()
        cap = float(CAPACITY_MILLIS)
        # S: the busiest other range of P (its launch must make it a giant).
        s = max(mine[1:], key=lambda r: (self.range_load(p_name, r["id"], st), -r["id"]))
        load_e, load_s = self.range_load(p_name, e["id"], st), self.range_load(p_name, s["id"], st)
        # E ends up near 45% of a pod (hot: >= hotRangeFraction 10%; an echo
        # fits on another pod); S at 3 pods' worth (a giant: split).
        m_e = min(1000.0, max(1.0, 0.45 * cap / max(load_e, 1e-3)))
        m_s = min(1000.0, max(2.0, 3 * cap / max(load_s, 1e-3)))
        log("%s at %.0fm: range %d %.1fm, read share %.2f -> x%.1f; range %d %.2fm -> x%.0f"
            % (p_name, self.k.pod_cpu().get(p_name, 0), e["id"], load_e,
               self.read_share(e["id"]), m_e, s["id"], load_s, m_s))
        t0 = time.time() - 5
        self.set_events([
            {"name": "launch", "start": rfc3339(t0), "duration": "30m", "multiplier": round(m_s),
             "ranges": [s["id"]]},
            {"name": "hot-reads", "start": rfc3339(t0), "duration": "30m",
             "multiplier": round(m_e, 2), "ranges": [e["id"]]},
        ])
        split = wait_for("range %d split" % s["id"], lambda: [
            a for a in self.done("Split") if a.get("range") == s["id"]], 150, every=0.5)[0]
        log("split: %s" % split.get("message", "")[:160])
        echo = wait_for("an echo of range %d added" % e["id"], lambda: [
            a for a in self.done("AddEcho") if a.get("range") == e["id"]], 120, every=0.5)[0]
        log("echo added: %s" % echo.get("message", "")[:160])
        self.check_echo(e["id"])
        return s["id"], split["other"], e["id"]

    def check_echo(self, rid):
        """The echo pod's redis holds every key the hot reader wrote, with its
        value: the echo was filled by a copy, not only routed."""
        doc = self.k.routing()
        r = next(r for r in doc["ranges"] if r["id"] == rid)
        if not r.get("echoes"):
            raise Failure("range %d has no echo in the routing document after AddEcho" % rid)
        pod = r["echoes"][0]["pod"]
        conn = self.shard(pod)
        want = {k: self.hot.value(k) for k in self.hot.keys}

        def filled():
            got = conn.mget(list(want))
            return all(g is not None and g.decode() == v for g, v in zip(got, want.values()))
        wait_for("the echo on %s to hold range %d's hot keys" % (pod, rid), filled, 60, every=0.5)
        self.echo_keys_checked = len(want)
        log("echo %s holds all %d hot keys of range %d" % (pod, len(want), rid))

    def cold_halves(self, lower, upper, echoed):
        """Step 6: S's halves declared cold (merged back unless the planner
        already merged another pair), the hot reader stopped and its event
        gone (the echo removed)."""
        log("event replaced: ranges %d and %d cold; hot reads stopped" % (lower, upper))
        self.set_events([{"name": "cold", "start": rfc3339(time.time() - 5), "duration": "30m",
                          "multiplier": 0.01, "ranges": [lower, upper]}])
        self.hot.stop()
        # The planner merges adjacent cold ranges of one owner while there are
        # more ranges than configured: these halves, or a pair it found colder
        # in the very plan that split S.
        merge = wait_for("a merge back to %d ranges" % RANGES, lambda: self.done("Merge"), 150,
                         every=0.5)[0]
        log("merge: ranges %s and %s: %s" % (merge.get("range"), merge.get("other"),
                                            merge.get("message", "")[:160]))
        rm = wait_for("the echo of range %d removed" % echoed, lambda: [
            a for a in self.done("RemoveEcho") if a.get("range") == echoed], 150, every=0.5)[0]
        log("echo removed: %s" % rm.get("message", "")[:160])
        self.set_events(None)
        wait_for("everything settled", self.settled, 240, every=1)

    def doubles(self):
        """Keys of the checker found on a shard that neither owns nor echoes their range."""
        doc = self.k.routing()
        found = 0
        holders = {}
        for pod in {r["owner"] for r in doc["ranges"]}:
            for key in self.shard(pod).scan_iter(match="chk:*", count=1000):
                holders.setdefault(key.decode(), []).append(pod)
        for key, pods in holders.items():
            h = key_hash(key)
            r = next(r for r in doc["ranges"] if r["start"] <= h <= r["end"])
            allowed = {r["owner"]} | {e["pod"] for e in r.get("echoes", [])}
            if len(pods) > 1 or not set(pods) <= allowed:
                found += 1
        return found

    def event_messages(self, reason):
        items = json.loads(self.k.kubectl("-n", self.ns, "get", "events", "-o", "json"))["items"]
        return [e.get("message", "") for e in items if e.get("reason") == reason]

    def events(self, reason):
        return len(self.event_messages(reason))

    def run(self):
        self.setup()
        self.start_load()
        self.scale_in()
        scaled_in = self.active_pods()
        self.restart_router()
        self.scale_out()
        lower, upper, echoed = self.hot_range_and_event()
        if not self.reverted:
            self.reverted = self.force_revert(60)
        self.cold_halves(lower, upper, echoed)
        self.chk.stop()
        self.bench.stop()
        log("redis-benchmark ran throughout (%d restarts after an error reply)"
            % self.bench.restarts)
        res = self.chk.verify()
        stats = self.chk.summary_stats()
        count = {t: len(self.done(t)) for t in ("Move", "Split", "Merge", "AddEcho", "RemoveEcho")}
        reverts = len(self.done("Move", "Reverted"))
        promotions = self.events("Promoted")
        doubles = self.doubles()
        print("e2e-dataplane: acked=%d lost=%d stale=%d moves=%d reverts=%d splits=%d merges=%d "
              "echoesAdded=%d echoesRemoved=%d promotions=%d kills=%d clientErrors=%d doubles=%d"
              % (stats["acked"], res["lost"], stats["staleReads"], count["Move"], reverts,
                 count["Split"], count["Merge"], count["AddEcho"], count["RemoveEcho"], promotions,
                 sum(self.kills.values()), stats["errors"], doubles), flush=True)
        fails = []
        if res["lost"]:
            fails.append("lost writes: %s" % res["lostExamples"])
        if stats["staleReads"]:
            fails.append("stale reads: %s" % stats["staleExamples"])
        if doubles:
            fails.append("%d keys on two owners" % doubles)
        if count["Move"] < 10:
            fails.append("only %d data-carrying moves completed (want >= 10)" % count["Move"])
        for what, n in (("promotion Event", promotions), ("revert", reverts),
                        ("split", count["Split"]), ("merge", count["Merge"]),
                        ("echo added", count["AddEcho"]), ("echo removed", count["RemoveEcho"])):
            if n < 1:
                fails.append("no %s" % what)
        if len(scaled_in) != 2:
            fails.append("scale-in to 2 left active pods %s" % scaled_in)
        if not self.echo_keys_checked:
            fails.append("the echo's data was not checked")
        fails += ["no %s kill" % k for k, n in self.kills.items() if n < 1]
        if fails:
            raise Failure("; ".join(fails))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--router", required=True)
    ap.add_argument("--agent", required=True)
    ap.add_argument("--out", default=None, help="logs and pod data (emptied first)")
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else int(time.time())
    random.seed(seed)
    out = a.out or tempfile.mkdtemp(prefix="shardcast-e2e-dp-")
    if a.out:
        shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out, exist_ok=True)
    log("seed %d, logs in %s" % (seed, out))
    kc = os.environ.get("SHARDCAST_TEST_KUBECONFIG")
    private = None
    if not kc:
        private = tempfile.mkdtemp(prefix="shardcast-e2e-dp-cp-")
        subprocess.run(["bash", os.path.join(SRC, "hack/controlplane.sh"), "start"], check=True,
                       env=dict(os.environ, SHARDCAST_CP_DIR=private))
        kc = os.path.join(private, "kubeconfig")
    t = Test(a, kc, out)
    rc = 1
    started = time.monotonic()

    def stop(signum, _frame):
        raise Failure("stopped by signal %d" % signum)
    # Cleaned up (processes, namespace) when ctest times out or on a hang.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGALRM, stop)
    signal.alarm(570)
    try:
        t.run()
        rc = 0
    except (Failure, WaitTimeout) as e:
        print("FAIL: %s (logs in %s)" % (e, out), flush=True)
    finally:
        signal.alarm(0)
        for part in ("chk", "hot", "bench"):
            if getattr(t, part, None):
                getattr(t, part).stop()
        t.p.stop_all()
        t.k.kubectl("delete", "namespace", t.ns, "--wait=false", "--ignore-not-found", check=False)
        if private:
            subprocess.run(["bash", os.path.join(SRC, "hack/controlplane.sh"), "stop"],
                           env=dict(os.environ, SHARDCAST_CP_DIR=private))
    log("%s in %.0fs" % ("passed" if rc == 0 else "FAILED", time.monotonic() - started))
    return rc


if __name__ == "__main__":
    sys.exit(main())
