// GoogleTest fixture for integration tests on the real local Kubernetes
// control plane of hack/controlplane.sh (etcd, kube-apiserver v1.33.13,
// kube-controller-manager, kube-scheduler, KWOK nodes, metrics-server).
//
// One control plane per test binary: ControlPlane::Shared() reuses the
// cluster named by env SHARDCAST_TEST_KUBECONFIG, or starts a private one
// (hack/controlplane.sh build + start with a unique SHARDCAST_CP_DIR under
// /tmp) and stops it when the process exits. A watchdog process also stops
// it if the test binary dies without running its exit handlers.
//
// Linking shardcast_testenv also provides a default main() (see
// testenv_main.cc) that registers ControlPlaneEnvironment, which prints the
// server's /version at start. A test binary may define its own main() and call
// InstallControlPlaneEnvironment() instead.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "util/expected.h"

namespace shardcast::testenv {

// Result of a finished child process. Named `out`/`err` rather than
// stdout/stderr because those are macros in <cstdio>.
struct CommandResult {
  int exit_code = -1;  // exit status, or 128+signal when killed
  std::string out;     // captured stdout
  std::string err;     // captured stderr
  bool timed_out = false;

  bool ok() const { return exit_code == 0 && !timed_out; }
  // One-line description for assertion messages.
  std::string describe() const;
};

struct CommandOptions {
  std::map<std::string, std::string> env;  // added to / overriding the parent's environment
  std::string stdin_data;                  // written to the child's stdin
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
  // Send the child's stdout and stderr to this process's stderr (live
  // progress) instead of capturing them.
  bool passthrough = false;
};

// Runs argv[0] (looked up in PATH when it has no '/') with argv, capturing
// stdout and stderr. The child is killed when the timeout expires.
CommandResult RunCommand(const std::vector<std::string>& argv, const CommandOptions& options = {});

// Polls `predicate` until it returns true or `timeout` expires. This is the
// only way tests should wait. Returns an AssertionResult naming
// `description` on timeout, so use it as ASSERT_TRUE(WaitFor(...)).
::testing::AssertionResult WaitFor(
    const std::function<bool()>& predicate, std::chrono::milliseconds timeout,
    const std::string& description,
    std::chrono::milliseconds interval = std::chrono::milliseconds(250));

class ControlPlane {
 public:
  // The control plane of this test binary (started on first use).
  static ControlPlane& Shared();

  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;
  ~ControlPlane();

  // False when starting (or finding) the control plane failed; startup_error()
  // then says why.
  bool ready() const { return startup_error_.empty(); }
  const std::string& startup_error() const { return startup_error_; }

  // Admin kubeconfig (client certificate auth, TLS verification on).
  const std::string& kubeconfig_path() const { return kubeconfig_; }
  // State dir of hack/controlplane.sh (logs, pids, certs); empty when reusing
  // a cluster from SHARDCAST_TEST_KUBECONFIG without a known state dir.
  const std::string& state_dir() const { return state_dir_; }
  // True when this process started the control plane (and will stop it).
  bool owned() const { return owned_; }

  // Runs /usr/bin/kubectl (or $KUBECTL) with --kubeconfig=kubeconfig_path().
  CommandResult Kubectl(const std::vector<std::string>& args, const std::string& stdin_data = "",
                        std::chrono::milliseconds timeout = std::chrono::minutes(2)) const;

  // Stops kube-apiserver and starts it again with the same flags and port;
  // returns once /readyz answers. Needs the state dir.
  [[nodiscard]] Result<void> RestartApiserver();
  // Compacts etcd to its current revision; returns that revision.
  [[nodiscard]] Result<long long> CompactEtcd();
  // Path of the pinned helm binary (v3.17.4) from the build cache.
  std::string HelmPath() const;
  // gitVersion from the server's /version, e.g. "v1.33.13".
  [[nodiscard]] Result<std::string> ServerVersion() const;

  // The repository root (env SHARDCAST_SOURCE_DIR or the compile-time path).
  static std::string SourceDir();

 private:
  ControlPlane();
  void start();
  void stop();
  CommandResult script(const std::vector<std::string>& args,
                       std::chrono::milliseconds timeout = std::chrono::minutes(5),
                       bool passthrough = false) const;

  std::string kubeconfig_;
  std::string state_dir_;
  std::string startup_error_;
  bool owned_ = false;
  mutable std::mutex mu_;  // serialises restart/compact
};

// A global environment that starts the shared control plane before the first
// test and prints the kube-apiserver version.
class ControlPlaneEnvironment : public ::testing::Environment {
 public:
  void SetUp() override;
};

// Registers ControlPlaneEnvironment (for test binaries with their own main).
void InstallControlPlaneEnvironment();

}  // namespace shardcast::testenv
