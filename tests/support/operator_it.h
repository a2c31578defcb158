// Shared pieces of the in-process operator integration tests (forecast and
// MigrationPolicy controllers on the real local control plane): a fresh
// namespace with the CRDs applied, and a Manager run on its own thread.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>

#include "operator/kube/client.h"
#include "operator/kube/kubeconfig.h"
#include "operator/manager/manager.h"
#include "tests/testenv/controlplane.h"

namespace shardcast::testing {

// Applies crds/ (server-side), waits until both CRDs are Established,
// connects `*client` with the shared control plane's kubeconfig and creates
// the namespace `<prefix>-<random number>` in `*ns`. Fails the calling test
// fatally on any error (callers in SetUp() need no further check).
inline void SetUpOperatorNamespace(const std::string& prefix, std::shared_ptr<kube::Client>* client,
                                   std::string* ns) {
  auto& cp = testenv::ControlPlane::Shared();
  ASSERT_TRUE(cp.ready()) << cp.startup_error();
  auto apply =
      cp.Kubectl({"apply", "--server-side", "-f", testenv::ControlPlane::SourceDir() + "/crds/"});
  ASSERT_TRUE(apply.ok()) << apply.describe();
  auto est = cp.Kubectl({"wait", "--for=condition=Established", "--timeout=60s",
                         "crd/shardsets.shardcast.dev", "crd/migrationpolicies.shardcast.dev"});
  ASSERT_TRUE(est.ok()) << est.describe();
  auto cfg = kube::LoadKubeconfigFile(cp.kubeconfig_path());
  ASSERT_TRUE(cfg) << cfg.error().message;
  auto t = kube::MakeHttpTransport(*cfg);
  ASSERT_TRUE(t) << t.error().to_string();
  *client = std::make_shared<kube::Client>(*t);
  static std::mt19937 rng(std::random_device{}());
  *ns = prefix + "-" + std::to_string(rng() % 1000000);
  ASSERT_TRUE((*client)->create(
      kube::resources::kNamespaces, "",
      nlohmann::json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", *ns}}}}));
}

// Runs `manager->run()` on its own thread from Start() until Stop() or
// destruction. Declare it after the Manager it runs, so it stops first.
class ManagerThread {
 public:
  ManagerThread() = default;
  ManagerThread(const ManagerThread&) = delete;
  ManagerThread& operator=(const ManagerThread&) = delete;
  ~ManagerThread() { Stop(); }

  void Start(manager::Manager* manager) {
    manager_ = manager;
    thread_ = std::thread([this] { result_ = manager_->run(stop_); });
  }
  void Stop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    manager_->request_stop();
    thread_.join();
  }

 private:
  manager::Manager* manager_ = nullptr;
  std::atomic<bool> stop_{false};
  Result<void> result_;
  std::thread thread_;
};

}  // namespace shardcast::testing
