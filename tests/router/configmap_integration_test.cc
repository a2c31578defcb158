// shardcast-router --configmap NS/NAME against the real local control plane:
// the router reads the routing ConfigMap through the Kubernetes API with a
// ServiceAccount token whose only permission is get and watch on that one
// ConfigMap, routes by it, and follows a new epoch written to it.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "router/document.h"
// processes.h also starts agents; this test starts none.
#ifndef SHARDCAST_AGENT_BIN
#define SHARDCAST_AGENT_BIN "shardcast-agent"
#endif
#include "tests/support/processes.h"
#include "tests/testenv/controlplane.h"

namespace shardcast::router {
namespace {

using nlohmann::json;
using testenv::ControlPlane;
using testsupport::RedisClient;
using testsupport::RedisServer;

// Every range owned by `owner` at `endpoint`.
std::string RoutingJson(std::uint64_t epoch, const std::string& owner,
                        const std::string& endpoint) {
  Document d;
  d.shard_set = "kv";
  d.epoch = epoch;
  d.ranges = EvenRanges(4);
  for (auto& r : d.ranges) {
    r.owner = owner;
    r.endpoint = endpoint;
  }
  return DocumentToJson(d).dump();
}

json ConfigMap(const std::string& ns, const std::string& name, const std::string& routing) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"data", {{"routing.json", routing}}}};
}

// The value of the first sample of /metrics whose line starts with `prefix`
// (-1 when absent).
double MetricValue(int port, const std::string& prefix) {
  const std::string body = testsupport::HttpCall(port, "GET", "/metrics").body;
  const auto at = body.find("\n" + prefix);
  if (at == std::string::npos) return -1;
  const auto sp = body.find(' ', at + 1 + prefix.size());
  return sp == std::string::npos ? -1 : std::atof(body.c_str() + sp + 1);
}

class RouterConfigMapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cp_ = &ControlPlane::Shared();
    ASSERT_TRUE(cp_->ready()) << cp_->startup_error();
    std::mt19937 rng(std::random_device{}());
    ns_ = "router-cm-" + std::to_string(rng() % 1000000);
    Kubectl({"create", "namespace", ns_});
    dir_ = testsupport::MakeTempDir("router-cm");
  }
  void TearDown() override {
    router_.Kill();
    if (cp_ != nullptr && cp_->ready()) {
      cp_->Kubectl({"delete", "namespace", ns_, "--wait=false", "--ignore-not-found"});
    }
  }
  std::string Kubectl(const std::vector<std::string>& args, const std::string& in = "") {
    auto r = cp_->Kubectl(args, in);
    EXPECT_TRUE(r.ok()) << r.describe();
    return r.out;
  }
  // A kubeconfig whose user is ServiceAccount `router` of the namespace,
  // allowed get and watch on ConfigMap `name` only.
  std::string RouterKubeconfig(const std::string& name) {
    Kubectl({"-n", ns_, "create", "serviceaccount", "router"});
    Kubectl({"-n", ns_, "create", "role", "router", "--verb=get,watch", "--resource=configmaps",
             "--resource-name=" + name});
    Kubectl({"-n", ns_, "create", "rolebinding", "router", "--role=router",
             "--serviceaccount=" + ns_ + ":router"});
    std::string token = Kubectl({"-n", ns_, "create", "token", "router", "--duration=1h"});
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
    json view =
        json::parse(Kubectl({"config", "view", "--raw", "--minify", "--flatten", "-o", "json"}),
                    nullptr, false);
    EXPECT_FALSE(view.is_discarded());
    const json cluster = view["clusters"][0]["cluster"];
    const std::string path = (dir_ / "router.kubeconfig").string();
    std::ofstream out(path);
    out << "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: "
        << cluster.value("server", "")
        << "\n    certificate-authority-data: " << cluster.value("certificate-authority-data", "")
        << "\nusers:\n- name: router\n  user:\n    token: " << token
        << "\ncontexts:\n- name: router\n  context:\n    cluster: c\n    user: router\n"
        << "    namespace: " << ns_ << "\ncurrent-context: router\n";
    return path;
  }

  ControlPlane* cp_ = nullptr;
  std::string ns_;
  std::filesystem::path dir_;
  testsupport::Process router_;
};

TEST_F(RouterConfigMapTest, RoutesByTheConfigMapAndFollowsANewEpoch) {
  RedisServer a(dir_), b(dir_);
  const std::string name = "kv-routing";
  Kubectl({"apply", "-f", "-"}, ConfigMap(ns_, name, RoutingJson(1, "kv-0", a.endpoint())).dump());
  const std::string kubeconfig = RouterKubeconfig(name);
  // The token is narrow: it may not list ConfigMaps nor read another one.
  auto can = cp_->Kubectl({"auth", "can-i", "list", "configmaps", "-n", ns_,
                           "--as=system:serviceaccount:" + ns_ + ":router"});
  EXPECT_NE(can.out.find("no"), std::string::npos) << can.describe();

  const int port = testsupport::FreePort(), metrics = testsupport::FreePort();
  router_.Start(
      {SHARDCAST_ROUTER_BINARY, "--configmap", ns_ + "/" + name, "--kubeconfig", kubeconfig,
       "--listen", "127.0.0.1:" + std::to_string(port), "--metrics-bind-address",
       "127.0.0.1:" + std::to_string(metrics), "--threads", "1"},
      (dir_ / "router.log").string());
  auto log = [&] {
    std::ifstream in(dir_ / "router.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  // Epoch 1: every range on `a`.
  ASSERT_TRUE(testsupport::WaitUntil(
      [&] {
        return RedisClient(port).Cmd({"SET", "k1", "v1"}).str == "OK";
      },
      std::chrono::seconds(60)))
      << log();
  EXPECT_EQ(RedisClient(a.port()).Cmd({"GET", "k1"}).str, "v1");
  EXPECT_TRUE(RedisClient(b.port()).Cmd({"GET", "k1"}).nil());
  EXPECT_EQ(RedisClient(port).Cmd({"GET", "k1"}).str, "v1");

  // Epoch 2: every range on `b`; the router follows the watch.
  Kubectl({"apply", "-f", "-"}, ConfigMap(ns_, name, RoutingJson(2, "kv-1", b.endpoint())).dump());
  ASSERT_TRUE(testsupport::WaitUntil(
      [&] { return MetricValue(metrics, "shardcast_router_routing_epoch") == 2; },
      std::chrono::seconds(60)))
      << log();
  ASSERT_EQ(RedisClient(port).Cmd({"SET", "k2", "v2"}).str, "OK");
  EXPECT_EQ(RedisClient(b.port()).Cmd({"GET", "k2"}).str, "v2");
  EXPECT_TRUE(RedisClient(a.port()).Cmd({"GET", "k2"}).nil());
  EXPECT_TRUE(RedisClient(port).Cmd({"GET", "k1"}).nil());  // k1 stayed on `a`

  // An older epoch written afterwards is seen and ignored.
  const std::string ignored = "shardcast_router_routing_updates_total{outcome=\"ignored\"}";
  const double before = std::max(0.0, MetricValue(metrics, ignored));
  Kubectl({"apply", "-f", "-"}, ConfigMap(ns_, name, RoutingJson(1, "kv-0", a.endpoint())).dump());
  ASSERT_TRUE(testsupport::WaitUntil([&] { return MetricValue(metrics, ignored) > before; },
                                     std::chrono::seconds(60)))
      << log();
  EXPECT_EQ(MetricValue(metrics, "shardcast_router_routing_epoch"), 2);
  ASSERT_EQ(RedisClient(port).Cmd({"SET", "k3", "v3"}).str, "OK");
  EXPECT_EQ(RedisClient(b.port()).Cmd({"GET", "k3"}).str, "v3");
}

}  // namespace
}  // namespace shardcast::router
