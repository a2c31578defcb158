// The forecast controller in an in-process Manager on the real local
// control plane: KWOK pods report CPU through metrics-server, samples land
// in the history ConfigMap, status.forecasts appears, and a new Manager
// (operator restart) reloads the history. Waits on conditions, never sleeps.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>

#include "controllers/api/resources.h"
#include "controllers/forecast/reconciler.h"
#include "controllers/forecast/register.h"
#include "operator/kube/kubeconfig.h"
#include "operator/manager/manager.h"
#include "tests/support/operator_it.h"
#include "tests/testenv/controlplane.h"

namespace shardcast::forecast {
namespace {

using namespace std::chrono_literals;
using testenv::ControlPlane;
using testenv::WaitFor;

// Serves increasing range counters for every pod IP (10 requests/s-ish).
class CountingHttp : public HttpGetter {
 public:
  Result<std::string> get(const std::string&, int, const std::string&,
                          std::chrono::milliseconds) override {
    std::lock_guard<std::mutex> l(mu_);
    n_ += 100;
    return "shardcast_range_requests_total{range=\"0\"} " + std::to_string(n_) +
           "\nshardcast_range_requests_total{range=\"1\"} " + std::to_string(n_ / 2) + "\n";
  }

 private:
  std::mutex mu_;
  long n_ = 0;
};

class RunningManager {
 public:
  RunningManager(std::shared_ptr<kube::Client> client, const std::string& ns) {
    manager::ManagerOptions mo;
    mo.namespace_ = ns;
    mo.metrics_address = "";
    mo.health_address = "";
    mgr_ = std::make_unique<manager::Manager>(client, mo);
    ControllerOptions o;
    o.sample_period = 1s;
    o.persist_interval = 2s;
    o.scrape_timeout = 200ms;
    o.state.pod_resolutions = {{1, 3600}, {60, 1440}};
    o.state.refit_interval_seconds = 5;
    rec_ = RegisterForecastController(*mgr_, o, std::make_shared<CountingHttp>());
    runner_.Start(mgr_.get());
  }
  ~RunningManager() { stop(); }
  void stop() { runner_.Stop(); }
  ForecastReconciler& reconciler() { return *rec_; }
  manager::Manager& manager() { return *mgr_; }

 private:
  std::unique_ptr<manager::Manager> mgr_;
  ForecastReconciler* rec_ = nullptr;
  testing::ManagerThread runner_;
};

class ForecastIT : public ::testing::Test {
 protected:
  void SetUp() override { testing::SetUpOperatorNamespace("forecast-it", &client_, &ns_); }
  void TearDown() override {
    if (client_) (void)client_->remove(kube::resources::kNamespaces, "", ns_);
  }

  Json ShardSet() const {
    return Json::parse(R"({"apiVersion":"shardcast.dev/v1alpha1","kind":"ShardSet",
      "metadata":{"name":"kv"},
      "spec":{"replicas":2,"minReplicas":1,"maxReplicas":4,"warmPool":{"size":0},
        "keySpace":{"ranges":4},"capacity":{"metric":"CPU","cpuMillis":1000},
        "routing":{"configMapName":"kv-routing"},
        "template":{"spec":{"containers":[{"name":"kv","image":"example/kv:1.0"}]}}}})");
  }
  Json Pod(const std::string& name, const std::string& cpu) const {
    return {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata",
             {{"name", name},
              {"labels", {{api::kLabelShardSet, "kv"}, {api::kLabelRole, api::kRoleActive}}},
              {"annotations", {{"kwok.x-k8s.io/usage-cpu", cpu}}}}},
            {"spec",
             {{"nodeSelector", {{"type", "kwok"}}},
              {"tolerations", Json::array({{{"key", "kwok.x-k8s.io/node"},
                                            {"operator", "Exists"},
                                            {"effect", "NoSchedule"}}})},
              {"containers", Json::array({{{"name", "kv"}, {"image", "example/kv:1.0"}}})}}}};
  }
  // The decoded cpu.<pod> series of the history ConfigMap, with its rv.
  std::optional<std::pair<predictor::RegularSeries, std::string>> HistoryCpu(
      const std::string& pod) {
    auto cm = client_->get(kube::resources::kConfigMaps, ns_, "kv-history");
    if (!cm || !(*cm)["data"].contains("cpu." + pod)) return std::nullopt;
    auto h = predictor::History::DecodeSnapshot((*cm)["data"]["cpu." + pod].get<std::string>());
    if (!h) return std::nullopt;
    return std::make_pair(h->Series(0), kube::ObjectResourceVersion(*cm));
  }

  std::shared_ptr<kube::Client> client_;
  std::string ns_;
};

TEST_F(ForecastIT, SamplesForecastsAndSurvivesRestart) {
  ASSERT_TRUE(client_->create(api::kShardSets, ns_, ShardSet()));
  ASSERT_TRUE(client_->create(kube::resources::kPods, ns_, Pod("kv-0", "300m")));
  ASSERT_TRUE(client_->create(kube::resources::kPods, ns_, Pod("kv-1", "100m")));

  auto mgr = std::make_unique<RunningManager>(client_, ns_);

  // 1. metrics.k8s.io samples arrive in the history (written to the ConfigMap).
  int present = 0;
  double last = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto s = HistoryCpu("kv-0");
        if (!s) return false;
        present = 0;
        for (double v : s->first.values)
          if (std::isfinite(v)) ++present, last = v;
        return present >= 3;
      },
      240s, "3 CPU samples of kv-0 in ConfigMap kv-history"));
  EXPECT_NEAR(last, 300, 30);
  auto cm = client_->get(kube::resources::kConfigMaps, ns_, "kv-history");
  ASSERT_TRUE(cm);
  EXPECT_EQ((*cm)["metadata"]["ownerReferences"][0]["kind"], "ShardSet");
  EXPECT_EQ((*cm)["metadata"]["labels"][api::kLabelShardSet], "kv");
  EXPECT_TRUE((*cm)["data"].contains("range.0")) << "request counters scraped";

  // 2. status.forecasts with a sensible peak for the 300m pod.
  Json forecasts;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto s = client_->get(api::kShardSets, ns_, "kv");
        if (!s || !s->contains("status") || !(*s)["status"].contains("forecasts")) return false;
        forecasts = (*s)["status"]["forecasts"];
        return forecasts.size() == 2;
      },
      120s, "status.forecasts for both pods"));
  EXPECT_EQ(forecasts[0]["pod"], "kv-0");
  EXPECT_NEAR(forecasts[0]["peak"].get<double>(), 300, 40) << forecasts.dump();
  EXPECT_NEAR(forecasts[1]["peak"].get<double>(), 100, 20) << forecasts.dump();
  EXPECT_GE(forecasts[0]["p99"].get<double>(), forecasts[0]["peak"].get<double>());
  // A minute of data is the predictor's short-series fallback (wide
  // heuristic bands), so probExceed is only checked to be a probability.
  EXPECT_GE(forecasts[0]["probExceed"].get<double>(), 0.0);
  EXPECT_LE(forecasts[0]["probExceed"].get<double>(), 1.0);
  EXPECT_FALSE(forecasts[0]["trusted"].get<bool>());  // no matured forecasts yet
  EXPECT_EQ(forecasts[0]["horizonSeconds"], 1800);
  std::string metrics = mgr->manager().metrics().render();
  EXPECT_NE(
      metrics.find("shardcast_observed_cpu_millicores{shardset=\"" + ns_ + "/kv\",pod=\"kv-0\"}"),
      std::string::npos);

  // Steady state writes (almost) nothing: a handful of samples later the
  // status writes have not grown with the samples.
  auto before = mgr->reconciler().stats();
  ASSERT_TRUE(WaitFor([&] { return mgr->reconciler().stats().samples >= before.samples + 5; }, 60s,
                      "5 more samples"));
  auto after = mgr->reconciler().stats();
  EXPECT_LE(after.status_writes - before.status_writes, 1u);
  std::cout << "[forecast-it] samples " << after.samples << ", status writes "
            << after.status_writes << ", history writes " << after.history_writes << ", refits "
            << after.refits << "\n";

  // 3. Restart: a new Manager loads the history from the ConfigMap.
  mgr->stop();
  auto saved = HistoryCpu("kv-0");
  ASSERT_TRUE(saved);
  int64_t saved_end =
      saved->first.start + static_cast<int64_t>(saved->first.values.size() - 1) * saved->first.step;
  mgr.reset();
  auto second = std::make_unique<RunningManager>(client_, ns_);
  ASSERT_TRUE(WaitFor([&] { return second->reconciler().stats().history_loads >= 2; }, 60s,
                      "history loaded by the new Manager"));
  // Its next save still holds the samples taken before the restart.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto s = HistoryCpu("kv-0");
        if (!s || s->second == saved->second) return false;
        int64_t end =
            s->first.start + static_cast<int64_t>(s->first.values.size() - 1) * s->first.step;
        if (end <= saved_end) return false;
        int old_present = 0;
        for (size_t i = 0; i < s->first.values.size(); ++i) {
          int64_t t = s->first.start + static_cast<int64_t>(i) * s->first.step;
          if (t <= saved_end && std::isfinite(s->first.values[i])) ++old_present;
        }
        return old_present >= present;
      },
      60s, "the saved history after restart keeps the samples from before it"));
  second->stop();
}

}  // namespace
}  // namespace shardcast::forecast
