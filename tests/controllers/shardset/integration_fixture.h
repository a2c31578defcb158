// ShardSet controller on the real local control plane (issue 3, section 5,
// tests 1-5; issue 12, item 2: one path for every ownership change). Each
// test gets a fresh namespace and its own operator process (`shardcast run
// --namespace <ns>`), so tests never share state. No test creates a
// MigrationPolicy: the ShardSet controller only publishes ownership
// requests, and where a test needs them carried out it rewrites the routing
// ConfigMap itself, standing in for the executor.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tests/testenv/controlplane.h"

namespace shardcast::testenv::shardset_it {

using namespace std::chrono_literals;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kRanges = 64;  // examples/shardset.yaml

inline std::string Src(const std::string& rel) { return ControlPlane::SourceDir() + "/" + rel; }

// The operator binary as a child process.
class Operator {
 public:
  Operator(const std::string& kubeconfig, const std::string& ns) : ns_(ns) {
    log_ = "/tmp/shardset-it-" + ns + "-" + std::to_string(++starts_) + ".log";
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      execl(SHARDCAST_BINARY, SHARDCAST_BINARY, "run", "--kubeconfig", kubeconfig.c_str(),
            "--namespace", ns.c_str(), "--metrics-bind-address", "", "--health-probe-bind-address",
            "", "--log-level", "info", static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~Operator() { stop(SIGTERM); }
  void KillHard() { stop(SIGKILL); }
  bool running() const { return pid_ > 0 && ::kill(pid_, 0) == 0; }
  const std::string& log() const { return log_; }

 private:
  void stop(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    auto deadline = Clock::now() + 10s;
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (Clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      usleep(20000);  // reaping a child; not test synchronisation
    }
    pid_ = -1;
  }
  std::string ns_;
  std::string log_;
  pid_t pid_ = -1;
  static inline int starts_ = 0;
};

struct PodView {
  std::string name, uid, role, phase, ip;
  bool ready = false;
  bool terminating = false;
};

struct RoutingView {
  int64_t epoch = -1;
  std::map<uint32_t, std::string> owners;
  std::vector<Json> ranges;
  bool valid = false;
  std::string error;
};

class ShardSetIT : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto& cp = ControlPlane::Shared();
    if (!cp.ready()) return;
    auto r = cp.Kubectl({"apply", "--server-side", "-f", Src("crds")});
    ASSERT_TRUE(r.ok()) << r.describe();
    r = cp.Kubectl(
        {"wait", "--for=condition=Established", "--timeout=60s", "crd/shardsets.shardcast.dev"});
    ASSERT_TRUE(r.ok()) << r.describe();
  }

  void SetUp() override {
    auto& cp = ControlPlane::Shared();
    if (!cp.ready()) GTEST_SKIP() << cp.startup_error();
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    ns_ = "ss-";
    for (char c : std::string(info->name())) {
      if (std::isalnum(static_cast<unsigned char>(c))) ns_ += static_cast<char>(std::tolower(c));
      if (ns_.size() > 40) break;
    }
    static int run = 0;  // --gtest_repeat: the previous namespace may still be terminating
    ns_ += "-" + std::to_string(getpid() % 100000) + "-" + std::to_string(++run);
    auto r = Kubectl({"create", "namespace", ns_});
    ASSERT_TRUE(r.ok()) << r.describe();
  }

  void TearDown() override {
    op_.reset();
    if (HasFailure() && !last_log_.empty()) {
      auto r = RunCommand({"tail", "-n", "60", last_log_});
      std::cerr << "---- operator log " << last_log_ << "\n" << r.out << "----\n";
    }
    if (!ns_.empty()) (void)Kubectl({"delete", "namespace", ns_, "--wait=false"});
  }

  CommandResult Kubectl(const std::vector<std::string>& args, const std::string& in = "") {
    return ControlPlane::Shared().Kubectl(args, in);
  }

  void StartOperator() {
    op_ = std::make_unique<Operator>(ControlPlane::Shared().kubeconfig_path(), ns_);
    last_log_ = op_->log();
  }

  void ApplyExample() {
    auto r = Kubectl({"apply", "-n", ns_, "-f", Src("examples/shardset.yaml")});
    ASSERT_TRUE(r.ok()) << r.describe();
  }

  std::optional<Json> GetJson(const std::vector<std::string>& args) {
    std::vector<std::string> a = args;
    a.insert(a.end(), {"-n", ns_, "-o", "json"});
    auto r = Kubectl(a);
    if (!r.ok()) return std::nullopt;
    Json j = Json::parse(r.out, nullptr, false);
    if (j.is_discarded()) return std::nullopt;
    return j;
  }

  std::vector<PodView> Pods() {
    std::vector<PodView> out;
    auto j = GetJson({"get", "pods", "-l", "shardcast.dev/shardset=kv"});
    if (!j) return out;
    for (const auto& p : (*j)["items"]) {
      PodView v;
      v.name = p["metadata"]["name"];
      v.uid = p["metadata"]["uid"];
      v.role = p["metadata"]["labels"].value("shardcast.dev/role", "");
      v.phase = p["status"].value("phase", "");
      v.ip = p["status"].value("podIP", "");
      v.terminating = p["metadata"].contains("deletionTimestamp");
      for (const auto& c : p["status"].value("conditions", Json::array())) {
        if (c.value("type", "") == "Ready" && c.value("status", "") == "True") v.ready = true;
      }
      out.push_back(v);
    }
    return out;
  }

  RoutingView Routing() {
    RoutingView v;
    auto j = GetJson({"get", "configmap", "kv-routing"});
    if (!j || !(*j).contains("data") || !(*j)["data"].contains("routing.json")) {
      v.error = "no routing document";
      return v;
    }
    Json doc = Json::parse((*j)["data"]["routing.json"].get<std::string>(), nullptr, false);
    if (doc.is_discarded()) {
      v.error = "routing.json is not JSON";
      return v;
    }
    v.epoch = doc.value("epoch", -1);
    uint64_t next = 0;
    v.valid = doc.value("schemaVersion", 0) == 1 && doc.value("hash", "") == "fnv1a64-high32";
    for (const auto& r : doc["ranges"]) {
      v.ranges.push_back(r);
      uint32_t id = r["id"];
      if (v.owners.count(id)) v.valid = false;  // a range listed twice
      v.owners[id] = r["owner"];
      if (r["start"].get<uint64_t>() != next) v.valid = false;
      next = r["end"].get<uint64_t>() + 1;
      if (r.value("owner", "").empty() || r.value("endpoint", "").empty()) v.valid = false;
    }
    if (next != (uint64_t{1} << 32)) v.valid = false;
    if (!v.valid) v.error = "routing document does not cover the key space exactly once";
    return v;
  }

  // The set is converged: `active` Ready active pods, `warm` Ready warm
  // pods, nothing else, and every range owned exactly once by a Ready active
  // pod.
  bool Converged(int active, int warm, std::string* why = nullptr) {
    auto pods = Pods();
    std::set<std::string> ready_active;
    int a = 0, w = 0;
    for (const auto& p : pods) {
      if (p.terminating) {
        if (why) *why = "pod " + p.name + " terminating";
        return false;
      }
      if (!p.ready) {
        if (why) *why = "pod " + p.name + " not ready";
        return false;
      }
      if (p.role == "active") {
        ++a;
        ready_active.insert(p.name);
      } else if (p.role == "warm") {
        ++w;
      }
    }
    if (a != active || w != warm) {
      if (why) *why = std::to_string(a) + " active / " + std::to_string(w) + " warm";
      return false;
    }
    RoutingView r = Routing();
    if (!r.valid || r.owners.size() != static_cast<size_t>(kRanges)) {
      if (why) *why = r.error;
      return false;
    }
    for (const auto& [id, o] : r.owners) {
      if (!ready_active.count(o)) {
        if (why) *why = "range " + std::to_string(id) + " owned by " + o;
        return false;
      }
    }
    auto set = GetJson({"get", "shardset", "kv"});
    if (!set || !(*set).contains("status")) return false;
    const Json& st = (*set)["status"];
    if (st.value("epoch", -1) != r.epoch || st.value("activeReplicas", -1) != active) {
      if (why) *why = "status not updated";
      return false;
    }
    return true;
  }

  ::testing::AssertionResult WaitConverged(int active, int warm,
                                           std::chrono::milliseconds timeout = 90s) {
    std::string why;
    auto r = WaitFor([&] { return Converged(active, warm, &why); }, timeout,
                     "ShardSet converges to " + std::to_string(active) + " active + " +
                         std::to_string(warm) + " warm");
    if (!r) r << " (last: " << why << ")";
    return r;
  }

  Json Status() {
    auto set = GetJson({"get", "shardset", "kv"});
    return set && set->contains("status") ? (*set)["status"] : Json::object();
  }
  std::vector<Json> Requests() {
    Json st = Status();
    std::vector<Json> out;
    for (const auto& r : st.value("ownershipRequests", Json::array())) out.push_back(r);
    return out;
  }
  Json Condition(const std::string& type) {
    for (const auto& c : Status().value("conditions", Json::array())) {
      if (c.value("type", "") == type) return c;
    }
    return Json::object();
  }

  // The executor's stand-in: rewrites the routing ConfigMap with `moves`
  // (range -> new owner, endpoint from the pod's IP) at epoch + 1, with a
  // resourceVersion precondition.
  ::testing::AssertionResult ApplyMoves(const std::map<uint32_t, std::string>& moves) {
    std::map<std::string, std::string> ips;
    for (const auto& p : Pods()) ips[p.name] = p.ip;
    auto cm = GetJson({"get", "configmap", "kv-routing"});
    if (!cm) return ::testing::AssertionFailure() << "no routing ConfigMap";
    Json doc = Json::parse((*cm)["data"]["routing.json"].get<std::string>());
    doc["epoch"] = doc["epoch"].get<int64_t>() + 1;
    for (auto& r : doc["ranges"]) {
      auto it = moves.find(r["id"].get<uint32_t>());
      if (it == moves.end()) continue;
      r["owner"] = it->second;
      r["endpoint"] = ips[it->second] + ":8080";
    }
    (*cm)["data"]["routing.json"] = doc.dump();
    auto r = Kubectl({"replace", "-n", ns_, "-f", "-"}, cm->dump());
    if (!r.ok()) return ::testing::AssertionFailure() << r.describe();
    return ::testing::AssertionSuccess();
  }

  std::string ns_;
  std::unique_ptr<Operator> op_;
  std::string last_log_;
};

inline std::map<std::string, int> PerOwner(const std::map<uint32_t, std::string>& owners) {
  std::map<std::string, int> out;
  for (const auto& [id, o] : owners) ++out[o];
  return out;
}

inline size_t Moved(const std::map<uint32_t, std::string>& a,
                    const std::map<uint32_t, std::string>& b) {
  size_t n = 0;
  for (const auto& [id, o] : b) n += a.count(id) == 0 || a.at(id) != o;
  return n;
}

}  // namespace shardcast::testenv::shardset_it
