#!/usr/bin/env python3
"""Unit tests of the pod runner's pure logic (hack/podrunner/podrunner.py)."""
import os
import sys
import unittest

SRC = os.environ.get("SHARDCAST_SOURCE_DIR") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "hack", "podrunner"))
import podrunner as pr  # noqa: E402


def pod(name, ip=None, phase="Running", deleting=False, uid=None):
    meta = {"name": name, "uid": uid or "uid-" + name}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-02T08:00:00Z"
    status = {"phase": phase}
    if ip:
        status["podIP"] = ip
    return {"metadata": meta, "status": status}


class PodsToRun(unittest.TestCase):
    def test_only_pods_with_an_ip_that_are_not_going(self):
        doc = {"items": [pod("kv-0", "127.64.0.2"), pod("kv-1"), pod("kv-2", "127.65.0.3", deleting=True),
                         pod("kv-3", "127.66.0.4", phase="Failed"),
                         pod("kv-4", "127.66.0.5", phase="Succeeded"),
                         pod("kv-5", "127.67.0.6", phase="Pending")]}
        self.assertEqual(pr.pods_to_run(doc), {"kv-0": ("127.64.0.2", "uid-kv-0"),
                                               "kv-5": ("127.67.0.6", "uid-kv-5")})

    def test_a_pod_created_again_under_its_name_is_another_pod(self):
        # Deleted and created again between two polls, on the same IP: the
        # uid differs, so the runner's key for it changes and it restarts
        # the processes, as a kubelet starts the new pod's containers.
        before = pr.pods_to_run({"items": [pod("kv-1", "127.65.0.0", uid="a")]})
        after = pr.pods_to_run({"items": [pod("kv-1", "127.65.0.0", uid="b")]})
        self.assertNotEqual(before["kv-1"], after["kv-1"])

    def test_a_list_without_uids_still_runs_its_pods(self):
        doc = {"items": [{"metadata": {"name": "kv-0"}, "status": {"podIP": "127.64.0.2"}}]}
        self.assertEqual(pr.pods_to_run(doc), {"kv-0": ("127.64.0.2", "")})

    def test_empty_list(self):
        self.assertEqual(pr.pods_to_run({}), {})


class Ports(unittest.TestCase):
    def test_from_the_spec(self):
        ss = {"spec": {"routing": {"port": 6390}, "hooks": {"port": 8091}}}
        self.assertEqual(pr.shardset_ports(ss), (6390, 8091))

    def test_crd_defaults_when_absent(self):
        self.assertEqual(pr.shardset_ports({"spec": {"routing": {}}}), (8080, 8081))
        self.assertEqual(pr.shardset_ports(None), (8080, 8081))
        self.assertEqual(pr.shardset_ports({"spec": {"hooks": None}}), (8080, 8081))

    def test_flags_win(self):
        ss = {"spec": {"routing": {"port": 6390}, "hooks": {"port": 8091}}}
        self.assertEqual(pr.shardset_ports(ss, 7000, 7001), (7000, 7001))


class Cpu(unittest.TestCase):
    def test_delta_over_the_interval(self):
        hz = pr.CLK_TCK
        # 0.5 s of CPU in 2 s -> 250m; the agent used 0.1 s -> 50m.
        prev = {10: 100, 11: 7}
        now = {10: 100 + hz // 2, 11: 7 + hz // 10}
        self.assertAlmostEqual(pr.cpu_millis(prev, now, 2.0), 300.0, delta=1000.0 / hz)

    def test_a_new_pid_counts_from_zero_and_a_gone_one_is_dropped(self):
        hz = pr.CLK_TCK
        self.assertAlmostEqual(pr.cpu_millis({10: 50}, {12: hz}, 1.0), 1000.0)

    def test_never_negative_and_zero_interval(self):
        self.assertEqual(pr.cpu_millis({10: 50}, {10: 40}, 1.0), 0.0)
        self.assertEqual(pr.cpu_millis({}, {10: 40}, 0.0), 0.0)

    def test_quantities(self):
        self.assertEqual(pr.cpu_quantity(0.2), "1m")
        self.assertEqual(pr.cpu_quantity(349.6), "350m")
        self.assertEqual(pr.memory_quantity(10 * 1024 * 1024), "10240Ki")
        self.assertEqual(pr.memory_quantity(0), "1Ki")

    def test_quantities_are_per_container(self):
        # KWOK gives every container the annotation's value; the pod's sum
        # must be the real usage.
        self.assertEqual(pr.cpu_quantity(300, containers=2), "150m")
        self.assertEqual(pr.cpu_quantity(1, containers=2), "1m")
        self.assertEqual(pr.memory_quantity(10 * 1024 * 1024, containers=2), "5120Ki")

    def test_container_counts(self):
        doc = {"items": [{"metadata": {"name": "a"}, "spec": {"containers": [{}, {}]}},
                         {"metadata": {"name": "b"}, "spec": {}}]}
        self.assertEqual(pr.container_counts(doc), {"a": 2, "b": 1})

    def test_parse_stat_with_spaces_and_parens_in_comm(self):
        fields = ["S"] + [str(i) for i in range(4, 53)]  # field n holds n
        text = "1234 (redis (x) y) " + " ".join(fields)
        ticks, rss = pr.parse_stat(text)
        self.assertEqual(ticks, 14 + 15 + 16 + 17)  # utime stime cutime cstime
        self.assertEqual(rss, 24)

    def test_parse_own_stat(self):
        with open("/proc/self/stat") as f:
            ticks, rss = pr.parse_stat(f.read())
        self.assertGreaterEqual(ticks, 0)
        self.assertGreater(rss, 0)


if __name__ == "__main__":
    unittest.main()
