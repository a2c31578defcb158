// Smoke test of the real local control plane: version, a KWOK pod whose
// annotated CPU usage shows up through metrics-server, apiserver restart and
// etcd compaction.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/testenv/controlplane.h"
#include "util/quantity.h"

namespace shardcast::testenv {
namespace {

using namespace std::chrono_literals;

class ControlPlaneSmoke : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(cp().ready()) << cp().startup_error(); }
  static ControlPlane& cp() { return ControlPlane::Shared(); }
};

TEST_F(ControlPlaneSmoke, ServerVersionIs1_33_13) {
  auto v = cp().ServerVersion();
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(*v, "v1.33.13");
}

TEST_F(ControlPlaneSmoke, HelmIsThePinnedVersionAndReachesTheCluster) {
  const std::string helm = cp().HelmPath();
  ASSERT_FALSE(helm.empty());
  auto v = RunCommand({helm, "version", "--short"});
  ASSERT_TRUE(v.ok()) << v.describe();
  EXPECT_EQ(v.out.rfind("v3.17.4", 0), 0u) << v.out;
  auto ls = RunCommand({helm, "list", "--all-namespaces", "--kubeconfig", cp().kubeconfig_path()});
  EXPECT_TRUE(ls.ok()) << ls.describe();
}

TEST_F(ControlPlaneSmoke, KwokNodesAreReadyWithLargeAllocatable) {
  auto r = cp().Kubectl({"get", "nodes", "-l", "type=kwok", "-o", "json"});
  ASSERT_TRUE(r.ok()) << r.describe();
  auto nodes = nlohmann::json::parse(r.out)["items"];
  ASSERT_GE(nodes.size(), 1u);
  for (const auto& n : nodes) {
    EXPECT_EQ(n["status"]["allocatable"]["cpu"], "64") << n["metadata"]["name"];
    EXPECT_EQ(n["status"]["allocatable"]["pods"], "1100") << n["metadata"]["name"];
    bool ready = false;
    for (const auto& c : n["status"]["conditions"]) {
      if (c["type"] == "Ready") ready = c["status"] == "True";
    }
    EXPECT_TRUE(ready) << n["metadata"]["name"];
  }
}

TEST_F(ControlPlaneSmoke, KwokPodReportsAnnotatedCpuThroughMetricsServer) {
  const std::string ns = "smoke-" + std::to_string(::getpid());
  const std::string pod = "usage-250m";
  auto created = cp().Kubectl({"create", "namespace", ns});
  ASSERT_TRUE(created.ok()) << created.describe();
  const std::string manifest = R"({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": ")" + pod +
                               R"(", "namespace": ")" + ns + R"(",
      "annotations": {"kwok.x-k8s.io/usage-cpu": "250m", "kwok.x-k8s.io/usage-memory": "64Mi"}},
    "spec": {
      "nodeSelector": {"type": "kwok"},
      "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}],
      "containers": [{"name": "app", "image": "fake-image"}]}})";
  auto applied = cp().Kubectl({"apply", "-f", "-"}, manifest);
  ASSERT_TRUE(applied.ok()) << applied.describe();

  std::string phase;
  EXPECT_TRUE(WaitFor(
      [&] {
        auto r = cp().Kubectl({"get", "pod", pod, "-n", ns, "-o", "jsonpath={.status.phase}"});
        phase = r.out;
        return r.ok() && r.out == "Running";
      },
      120s, "pod " + ns + "/" + pod + " Running"))
      << "last phase: " << phase;

  std::string last;
  double cpu = -1, mem = -1;
  EXPECT_TRUE(WaitFor(
      [&] {
        auto r = cp().Kubectl(
            {"get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/" + ns + "/pods/" + pod});
        last = r.ok() ? r.out : r.describe();
        if (!r.ok()) return false;
        auto j = nlohmann::json::parse(r.out, nullptr, false);
        if (j.is_discarded() || !j.contains("containers")) return false;
        double c = 0, m = 0;
        for (const auto& ctr : j["containers"]) {
          auto cm = util::ParseCpuMillis(ctr["usage"].value("cpu", ""), "usage.cpu");
          auto mb = util::ParseBytes(ctr["usage"].value("memory", ""), "usage.memory");
          if (!cm || !mb) return false;
          c += *cm;
          m += *mb;
        }
        cpu = c;
        mem = m;
        return std::abs(cpu - 250) <= 25;
      },
      180s, "metrics.k8s.io to report ~250m CPU for " + ns + "/" + pod))
      << "last response: " << last;
  EXPECT_NEAR(cpu, 250, 25);
  EXPECT_NEAR(mem, 64.0 * 1024 * 1024, 1024 * 1024);

  auto del = cp().Kubectl({"delete", "namespace", ns, "--wait=false"});
  EXPECT_TRUE(del.ok()) << del.describe();
}

TEST_F(ControlPlaneSmoke, ApiserverAnswersAfterRestart) {
  auto before = cp().Kubectl({"create", "configmap", "restart-probe-" + std::to_string(::getpid()),
                              "-n", "default", "--from-literal=k=v"});
  ASSERT_TRUE(before.ok()) << before.describe();
  auto restarted = cp().RestartApiserver();
  ASSERT_TRUE(restarted.ok()) << restarted.error().message;
  EXPECT_TRUE(
      WaitFor([&] { return cp().ServerVersion().ok(); }, 60s, "apiserver /version after restart"));
  // Data written before the restart is still there (same etcd).
  auto after = cp().Kubectl({"get", "configmap", "restart-probe-" + std::to_string(::getpid()),
                             "-n", "default", "-o", "jsonpath={.data.k}"});
  ASSERT_TRUE(after.ok()) << after.describe();
  EXPECT_EQ(after.out, "v");
}

TEST_F(ControlPlaneSmoke, CompactEtcdAdvancesWithWrites) {
  auto first = cp().CompactEtcd();
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_GT(*first, 0);
  auto w = cp().Kubectl({"create", "configmap", "compact-probe-" + std::to_string(::getpid()), "-n",
                         "default", "--from-literal=k=v"});
  ASSERT_TRUE(w.ok()) << w.describe();
  auto second = cp().CompactEtcd();
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_GT(*second, *first);
}

}  // namespace
}  // namespace shardcast::testenv
