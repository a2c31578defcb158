// The MigrationPolicy controller with the ShardSet controller in an
// in-process Manager on the real local control plane (KWOK pods, CPU usage
// from the kwok.x-k8s.io/usage-cpu annotation through metrics-server,
// forecasts injected into ShardSet status). HTTP hooks are served by a small
// server on loopback. Waits on conditions with timeouts, never sleeps.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <ctime>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "controllers/api/informers.h"
#include "controllers/api/resources.h"
#include "controllers/migrationpolicy/reconciler.h"
#include "controllers/migrationpolicy/register.h"
#include "controllers/planner/schedule.h"
#include "controllers/shardset/register.h"
#include "operator/kube/kubeconfig.h"
#include "operator/manager/manager.h"
#include "tests/support/operator_it.h"
#include "tests/testenv/controlplane.h"

namespace shardcast::migrationpolicy {
namespace {

using namespace std::chrono_literals;
using testenv::ControlPlane;
using testenv::WaitFor;

// A workload's hook server on 127.0.0.1: records every call; progress is
// "idle" until copy is posted, then "copying" while held, then "done".
class HookServer {
 public:
  HookServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    ::listen(fd_, 16);
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~HookServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  void hold(bool h) { hold_ = h; }
  // The cutover hook answers 503 while set: the move stays in Cutover.
  void set_fail_cutover(bool f) { fail_cutover_ = f; }
  std::vector<std::string> calls() {
    std::lock_guard<std::mutex> l(mu_);
    return calls_;
  }
  // The JSON body of the last POST to `path` (null when none).
  Json BodyOf(const std::string& path) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = bodies_.find(path);
    return it == bodies_.end() ? Json() : Json::parse(it->second, nullptr, false);
  }
  bool called(const std::string& what) {
    for (const auto& c : calls()) {
      if (c.rfind(what, 0) == 0) return true;
    }
    return false;
  }

 private:
  void loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::string req;
      char buf[4096];
      size_t need = std::string::npos;
      while (true) {
        pollfd r{c, POLLIN, 0};
        if (::poll(&r, 1, 2000) <= 0) break;
        ssize_t n = ::recv(c, buf, sizeof(buf), 0);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
        auto he = req.find("\r\n\r\n");
        if (he != std::string::npos && need == std::string::npos) {
          auto cl = req.find("Content-Length: ");
          size_t body = cl == std::string::npos ? 0 : std::stoul(req.substr(cl + 16));
          need = he + 4 + body;
        }
        if (need != std::string::npos && req.size() >= need) break;
      }
      std::string line = req.substr(0, req.find("\r\n"));
      std::string method = line.substr(0, line.find(' '));
      std::string path = line.substr(method.size() + 1);
      path = path.substr(0, path.find(' '));
      std::string body = "{}";
      std::string status_line = "200 OK";
      {
        std::lock_guard<std::mutex> l(mu_);
        calls_.push_back(method + " " + path.substr(0, path.find('?')));
        if (method == "POST" && need != std::string::npos && need <= req.size()) {
          bodies_[path] = req.substr(req.find("\r\n\r\n") + 4);
        }
        if (path.rfind("/shardcast/copy", 0) == 0) copied_ = true;
        if (path.rfind("/shardcast/cutover", 0) == 0 && fail_cutover_)
          status_line = "503 Service Unavailable";
        if (path.rfind("/shardcast/progress", 0) == 0) {
          body = !copied_ ? R"({"state":"idle"})"
                 : hold_  ? R"({"state":"copying","progress":0.5})"
                          : R"({"state":"done","progress":1})";
        }
      }
      std::string resp =
          "HTTP/1.1 " + status_line +
          "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\nConnection: close\r\n\r\n" + body;
      (void)::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> hold_{false};
  std::atomic<bool> fail_cutover_{false};
  bool copied_ = false;
  std::mutex mu_;
  std::vector<std::string> calls_;
  std::map<std::string, std::string> bodies_;
  std::thread thread_;
};

// Both controllers in one Manager. With `hook_port`, hooks go to loopback.
class RunningManager {
 public:
  // Each manager gets its own Client: the Manager installs a request
  // observer on its client that must not outlive it. Without
  // `with_shardsets`, nobody honours a replica request: a promotion stays
  // in Promoting for as long as that manager runs.
  RunningManager(std::shared_ptr<kube::Client> /*fixture's*/, const std::string& ns,
                 int hook_port = 0, bool with_shardsets = true) {
    auto cfg = kube::LoadKubeconfigFile(ControlPlane::Shared().kubeconfig_path());
    auto t = cfg ? kube::MakeHttpTransport(*cfg)
                 : kube::ApiResult<std::shared_ptr<kube::Transport>>(
                       kube::MakeApiError(kube::ErrorKind::kConfig, "kubeconfig"));
    EXPECT_TRUE(t);
    auto client = std::make_shared<kube::Client>(t ? *t : nullptr);
    manager::ManagerOptions mo;
    mo.namespace_ = ns;
    mo.metrics_address = "";
    mo.health_address = "";
    mgr_ = std::make_unique<manager::Manager>(client, mo);
    if (with_shardsets) shardset::RegisterShardSetController(*mgr_);
    if (hook_port == 0) {
      controllers::RegisterMigrationPolicyController(*mgr_);
    } else {
      // The informer options every controller registers with (a second
      // registration with other options is an error).
      auto& policies = mgr_->informer(api::kMigrationPolicies);
      auto& sets = mgr_->informer(api::kShardSets);
      auto& pods = mgr_->informer(kube::resources::kPods, api::PodInformerOptions());
      auto& cms = mgr_->informer(kube::resources::kConfigMaps, api::ConfigMapInformerOptions());
      ReconcilerDeps d;
      d.client = client;
      d.policies = &policies.store();
      d.shardsets = &sets.store();
      d.pods = &pods.store();
      d.configmaps = &cms.store();
      d.events = &mgr_->events();
      d.metrics = &mgr_->metrics();
      d.hook_endpoint = [hook_port](const std::string&, const std::string&, int) {
        return "127.0.0.1:" + std::to_string(hook_port);
      };
      auto& c =
          mgr_->AddController("migrationpolicy", std::make_unique<MigrationPolicyReconciler>(d));
      WireHandlers(policies, sets, pods, cms, c);
    }
    runner_.Start(mgr_.get());
  }
  ~RunningManager() { stop(); }
  void stop() { runner_.Stop(); }
  std::string metrics() { return mgr_->metrics().render(); }
  // Freezes (or thaws) the operator's view of routing ConfigMaps: events
  // are held back, so its cache goes stale.
  void PauseConfigmaps(bool paused) {
    mgr_->informer(kube::resources::kConfigMaps, api::ConfigMapInformerOptions())
        .set_paused(paused);
  }

 private:
  std::unique_ptr<manager::Manager> mgr_;
  testing::ManagerThread runner_;
};

class MigrationPolicyIT : public ::testing::Test {
 public:  // KillDuringPhaseAndResume drives the fixture
  void SetUp() override { testing::SetUpOperatorNamespace("mp-it", &client_, &ns_); }
  void TearDown() override {
    if (HasFailure() && client_) {
      auto p = client_->list(api::kMigrationPolicies, ns_);
      if (p) {
        // Status only: managedFields alone would fill the CI log's excerpt.
        for (const auto& item : (*p)["items"]) {
          std::cerr << "policy " << kube::ObjectName(item)
                    << " status: " << item.value("status", Json::object()).dump().substr(0, 12000)
                    << "\n";
        }
      }
      auto cm = client_->get(kube::resources::kConfigMaps, ns_, "kv-routing");
      if (cm) std::cerr << "routing: " << (*cm)["data"].dump() << "\n";
    }
    if (client_) (void)client_->remove(kube::resources::kNamespaces, "", ns_);
  }

  // 2 active pods, no warm pool, 4 ranges; pods report 50m CPU. loadFactor 2
  // lets one pod own all 4 ranges, so the ShardSet controller's bounded-load
  // rebalancing never undoes a move (see docs/migrationpolicy.md).
  Json ShardSet(int hook_port = 0) const {
    Json s = Json::parse(R"({"apiVersion":"shardcast.dev/v1alpha1","kind":"ShardSet",
      "metadata":{"name":"kv","labels":{"tier":"kv"}},
      "spec":{"replicas":2,"minReplicas":1,"maxReplicas":4,"warmPool":{"size":0},
        "keySpace":{"ranges":4,"hashing":{"loadFactor":2.0}},"capacity":{"metric":"CPU","cpuMillis":1000},
        "routing":{"configMapName":"kv-routing"},
        "template":{"metadata":{"annotations":{"kwok.x-k8s.io/usage-cpu":"50m"}},
          "spec":{"nodeSelector":{"type":"kwok"},
            "tolerations":[{"key":"kwok.x-k8s.io/node","operator":"Exists","effect":"NoSchedule"}],
            "containers":[{"name":"kv","image":"example/kv:1.0"}]}}}})");
    if (hook_port != 0) s["spec"]["hooks"] = {{"port", hook_port}, {"timeoutSeconds", 5}};
    return s;
  }
  Json Policy(const std::string& name, const std::string& mode,
              const std::string& verification = "3s") const {
    Json p = Json::parse(R"({"apiVersion":"shardcast.dev/v1alpha1","kind":"MigrationPolicy",
      "spec":{"shardSetSelector":{"matchLabels":{"tier":"kv"}},
        "limits":{"cooldown":"1h"},
        "migration":{"proposalTTL":"15m","verification":{"window":"3s"}}}})");
    p["metadata"]["name"] = name;
    p["spec"]["mode"] = mode;
    p["spec"]["migration"]["verification"]["window"] = verification;
    return p;
  }

  std::optional<Json> Get(const kube::Resource& r, const std::string& name) {
    auto o = client_->get(r, ns_, name);
    if (!o) return std::nullopt;
    return *o;
  }
  Json Status(const std::string& policy) {
    auto p = Get(api::kMigrationPolicies, policy);
    return p ? p->value("status", Json::object()) : Json::object();
  }
  static std::string Cond(const Json& status, const std::string& type,
                          const char* field = "status") {
    for (const auto& c : status.value("conditions", Json::array())) {
      if (c.value("type", "") == type) return c.value(field, "");
    }
    return "";
  }
  Json Routing() {
    auto cm = Get(kube::resources::kConfigMaps, "kv-routing");
    if (!cm || !(*cm).contains("data") || !(*cm)["data"].contains("routing.json")) return Json();
    return Json::parse((*cm)["data"]["routing.json"].get<std::string>(), nullptr, false);
  }
  // Every range exactly once, covering the key space, owned by a pod of the set.
  ::testing::AssertionResult Consistent(const Json& doc) {
    if (!doc.is_object() || !doc.contains("ranges"))
      return ::testing::AssertionFailure() << "no routing document";
    std::set<uint64_t> ids;
    uint64_t next = 0;
    for (const auto& r : doc["ranges"]) {
      if (!ids.insert(r["id"].get<uint64_t>()).second)
        return ::testing::AssertionFailure() << "range listed twice";
      if (r["start"].get<uint64_t>() != next)
        return ::testing::AssertionFailure() << "gap at " << next;
      next = r["end"].get<uint64_t>() + 1;
      if (r.value("owner", "").rfind("kv-", 0) != 0)
        return ::testing::AssertionFailure() << "bad owner";
    }
    // Splits and merges change the number of ranges, never the coverage.
    if (next != (uint64_t{1} << 32))
      return ::testing::AssertionFailure() << "coverage ends at " << next;
    if (ids.empty()) return ::testing::AssertionFailure() << "no ranges";
    return ::testing::AssertionSuccess();
  }
  std::string OwnerOf(uint32_t id) {
    Json d = Routing();
    if (!d.is_object()) return "";
    for (const auto& r : d["ranges"]) {
      if (r["id"] == id) return r.value("owner", "");
    }
    return "";
  }

  // Waits for the set to publish routing with both pods Ready, then makes
  // the pod owning the most ranges hot in the forecast (p90 85%: one or two
  // of its ranges must move, which the other pod can take within the
  // ShardSet's bounded-load limit). Sets hot_.
  void ConvergeAndForecastHot() {
    ASSERT_TRUE(WaitFor(
        [&] {
          Json d = Routing();
          if (!Consistent(d)) return false;
          for (const auto& r : d["ranges"]) {
            if (r.value("endpoint", "").empty()) return false;
          }
          std::set<std::string> owners;
          for (const auto& r : d["ranges"]) owners.insert(r["owner"]);
          return owners.size() == 2;
        },
        120s, "routing over 2 ready pods"));
    ASSERT_TRUE(WaitFor(
        [&] {
          auto l = client_->list(kube::resources::kPodMetrics, ns_);
          return l && (*l)["items"].size() >= 2;
        },
        90s, "PodMetrics for both pods"));
    std::map<std::string, int> count;
    const Json doc = Routing();
    for (const auto& r : doc["ranges"]) ++count[r["owner"].get<std::string>()];
    hot_ = count["kv-0"] >= count["kv-1"] ? "kv-0" : "kv-1";
    Json patch = {{"status",
                   {{"forecasts", Json::array({{{"pod", hot_},
                                                {"horizonSeconds", 1800},
                                                {"peak", 800},
                                                {"p90", 850},
                                                {"p99", 900},
                                                {"probExceed", 0.99},
                                                {"trusted", true}}})}}}};
    ASSERT_TRUE(WaitFor(
        [&] {
          (void)client_->patch(api::kShardSets, ns_, "kv", kube::PatchType::kMerge, patch,
                               {"test", false, "status"});
          auto s = Get(api::kShardSets, "kv");
          return s && (*s)["status"].contains("forecasts");
        },
        30s, "forecast injected"));
  }

  // A set of 2 active pods and 1 warm spare, converged, then both active
  // pods forecast hot (p90 95%): only a promotion makes room. Returns the
  // ShardSet's metadata.generation before any policy exists.
  int64_t BothActivePodsHotWithAWarmSpare() {
    Json set = ShardSet();
    set["spec"]["warmPool"]["size"] = 1;
    EXPECT_TRUE(client_->create(api::kShardSets, ns_, set));
    ConvergeAndForecastHot();
    if (HasFatalFailure()) return -1;
    EXPECT_TRUE(WaitFor(
        [&] {
          auto s = Get(api::kShardSets, "kv");
          return s && (*s)["status"].value("warmReplicas", 0) == 1;
        },
        90s, "a ready warm pod"));
    auto before = Get(api::kShardSets, "kv");
    if (!before) return -1;
    Json hot = Json::array();
    for (const char* pod : {"kv-0", "kv-1"}) {
      hot.push_back({{"pod", pod},
                     {"horizonSeconds", 1800},
                     {"peak", 900},
                     {"p90", 950},
                     {"p99", 990},
                     {"probExceed", 0.99},
                     {"trusted", true}});
    }
    EXPECT_TRUE(client_->patch(api::kShardSets, ns_, "kv", kube::PatchType::kMerge,
                               Json{{"status", {{"forecasts", hot}}}}, {"test", false, "status"}));
    return (*before)["metadata"]["generation"].get<int64_t>();
  }

  std::shared_ptr<kube::Client> client_;
  std::string ns_;
  std::string hot_;
};

TEST_F(MigrationPolicyIT, TwoPoliciesSelectingOneShardSetGetTheConflictCondition) {
  RunningManager m(client_, ns_);
  ASSERT_TRUE(client_->create(api::kShardSets, ns_, ShardSet()));
  ASSERT_TRUE(client_->create(api::kMigrationPolicies, ns_, Policy("first", "Observe")));
  // creationTimestamp has one-second resolution: make the order unambiguous.
  ASSERT_TRUE(
      WaitFor([&] { return !Status("first").value("selectedShardSets", Json::array()).empty(); },
              60s, "first governs kv"));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto p = Get(api::kMigrationPolicies, "first");
        return p && planner::ParseRfc3339((*p)["metadata"]["creationTimestamp"].get<std::string>())
                            .value_or(0) < std::time(nullptr);
      },
      5s, "a second passes"));
  ASSERT_TRUE(client_->create(api::kMigrationPolicies, ns_, Policy("second", "Observe")));
  ASSERT_TRUE(WaitFor(
      [&] {
        return Cond(Status("first"), "Conflict") == "True" &&
               Cond(Status("second"), "Conflict") == "True";
      },
      60s, "both policies report the conflict"));
  Json a = Status("first"), b = Status("second");
  EXPECT_EQ(Cond(b, "Conflict", "reason"), "ShardSetSelectedByMultiplePolicies");
  EXPECT_NE(Cond(b, "Conflict", "message").find("first governs it"), std::string::npos) << b.dump();
  EXPECT_NE(Cond(a, "Conflict", "message").find("second"), std::string::npos) << a.dump();
  EXPECT_EQ(a["selectedShardSets"], Json::array({"kv"}));
  EXPECT_EQ(b["selectedShardSets"], Json::array());
  ASSERT_EQ(b["conflicts"].size(), 1u);
  EXPECT_EQ(b["conflicts"][0]["chosen"], "first");
  EXPECT_EQ(b["conflicts"][0]["policies"], Json::array({"first", "second"}));
  // The conflict clears when the winner goes away; the other takes over.
  ASSERT_TRUE(client_->remove(api::kMigrationPolicies, ns_, "first"));
  ASSERT_TRUE(WaitFor(
      [&] {
        Json s = Status("second");
        return Cond(s, "Conflict") == "False" &&
               s.value("selectedShardSets", Json::array()) == Json::array({"kv"});
      },
      60s, "second governs kv alone"));
}

TEST_F(MigrationPolicyIT, ProposalWaitsForApprovalThenExecutesWithHooks) {
  HookServer hooks;
  RunningManager m(client_, ns_, hooks.port());
  ASSERT_TRUE(client_->create(api::kShardSets, ns_, ShardSet(hooks.port())));
  ConvergeAndForecastHot();
  if (HasFatalFailure()) return;
  ASSERT_TRUE(client_->create(api::kMigrationPolicies, ns_, Policy("p", "Proposal")));
  ASSERT_TRUE(WaitFor([&] { return Status("p").contains("proposal"); }, 60s, "a proposal"));
  Json prop = Status("p")["proposal"];
  std::string id = prop["id"];
  ASSERT_GE(prop["actions"].size(), 1u) << prop.dump();
  Json move = prop["actions"][0];
  ASSERT_EQ(move["type"], "Move") << prop.dump();
  EXPECT_EQ(move["source"], hot_);
  uint32_t range = move["range"];
  int64_t epoch = Routing()["epoch"];

  // A wrong approval is reported and changes nothing.
  ASSERT_TRUE(
      client_->patch(api::kMigrationPolicies, ns_, "p", kube::PatchType::kMerge,
                     {{"metadata", {{"annotations", {{"shardcast.dev/approve", "plan-wrong"}}}}}}));
  ASSERT_TRUE(WaitFor(
      [&] {
        return Cond(Status("p"), "Planned", "message").find("plan-wrong") != std::string::npos;
      },
      30s, "the wrong approval is reported"));
  EXPECT_TRUE(Status("p").value("actions", Json::array()).empty());
  EXPECT_EQ(Status("p")["proposal"]["id"], id);
  EXPECT_EQ(Routing()["epoch"], epoch);
  EXPECT_EQ(OwnerOf(range), hot_);
  EXPECT_TRUE(hooks.calls().empty());

  ASSERT_TRUE(client_->patch(api::kMigrationPolicies, ns_, "p", kube::PatchType::kMerge,
                             {{"metadata", {{"annotations", {{"shardcast.dev/approve", id}}}}}}));
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& h : Status("p").value("history", Json::array())) {
          if (h.value("range", -1) == static_cast<int>(range) &&
              h.value("phase", "") == "Completed")
            return true;
        }
        return false;
      },
      120s, "the approved move completes"));
  EXPECT_EQ(OwnerOf(range), move["target"].get<std::string>());
  Json doc = Routing();
  EXPECT_TRUE(Consistent(doc));
  EXPECT_GE(doc["epoch"].get<int64_t>(), epoch + 2);  // mark + cutover
  for (const auto& r : doc["ranges"]) EXPECT_EQ(r["state"], "stable");
  EXPECT_TRUE(hooks.called("POST /shardcast/prepare"));
  // The body carries what a data-moving agent needs (docs/dataplane-protocol.md).
  Json prepare = hooks.BodyOf("/shardcast/prepare");
  ASSERT_TRUE(prepare.is_object()) << prepare.dump();
  EXPECT_NE(prepare.value("action", ""), "") << prepare.dump();
  EXPECT_EQ(prepare.value("range", -1), static_cast<int>(range)) << prepare.dump();
  EXPECT_TRUE(prepare.contains("start") && prepare.contains("end")) << prepare.dump();
  EXPECT_LT(prepare.value("start", 1), prepare.value("end", 0)) << prepare.dump();
  EXPECT_NE(prepare.value("sourceEndpoint", ""), "") << prepare.dump();
  EXPECT_NE(prepare.value("targetEndpoint", ""), "") << prepare.dump();
  EXPECT_NE(prepare.value("sourceEndpoint", ""), prepare.value("targetEndpoint", ""));
  EXPECT_GE(prepare.value("fencingToken", 0), 1) << prepare.dump();
  EXPECT_GE(prepare.value("epoch", 0), epoch) << prepare.dump();
  EXPECT_TRUE(hooks.called("POST /shardcast/copy"));
  EXPECT_TRUE(hooks.called("GET /shardcast/progress"));
  EXPECT_TRUE(hooks.called("POST /shardcast/cutover"));
  EXPECT_TRUE(hooks.called("POST /shardcast/release"));
  // The injected forecast still says the pod is hot, so a new proposal (new
  // id) may follow; the approved one is gone.
  EXPECT_NE(Status("p").value("proposal", Json::object()).value("id", ""), id);
  EXPECT_NE(m.metrics().find("shardcast_migrations_total{shardset=\"" + ns_ +
                             "/kv\",result=\"Completed\"} 1"),
            std::string::npos)
      << m.metrics();
}

TEST_F(MigrationPolicyIT, MoveWhoseTargetTurnsHotIsReverted) {
  RunningManager m(client_, ns_);
  ASSERT_TRUE(client_->create(api::kShardSets, ns_, ShardSet()));
  ConvergeAndForecastHot();
  if (HasFatalFailure()) return;
  ASSERT_TRUE(client_->create(api::kMigrationPolicies, ns_, Policy("p", "Auto", "10m")));
  Json action;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& a : Status("p").value("actions", Json::array())) {
          if (a.value("type", "") == "Move" && a.value("phase", "") == "Verifying") {
            action = a;
            return true;
          }
        }
        return false;
      },
      90s, "a move in Verifying"));
  std::string target = action["target"];
  uint32_t range = action["range"];
  EXPECT_EQ(OwnerOf(range), target);
  auto r = ControlPlane::Shared().Kubectl(
      {"-n", ns_, "annotate", "pod", target, "--overwrite", "kwok.x-k8s.io/usage-cpu=950m"});
  ASSERT_TRUE(r.ok()) << r.describe();
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& h : Status("p").value("history", Json::array())) {
          if (h.value("id", "") == action["id"] && h.value("phase", "") == "Reverted") return true;
        }
        return false;
      },
      120s, "the move is reverted"));
  EXPECT_EQ(OwnerOf(range), hot_);
  EXPECT_TRUE(Consistent(Routing()));
  const Json finished = Status("p")["history"];
  for (const auto& h : finished) {
    if (h["id"] == action["id"]) {
      EXPECT_NE(h.value("message", "").find("utilization"), std::string::npos) << h.dump();
    }
  }
}

// Issue 12, scale-in victim: the ShardSet controller keeps a scale-in
// victim until every move off it is terminal. A move whose verification
// fails after the document stopped naming the victim reverts to it (before,
// the victim was deleted at once and the move failed on the target).
TEST_F(MigrationPolicyIT, ScaleInVictimIsKeptUntilAMoveOffItReverts) {
  RunningManager m(client_, ns_);
  ASSERT_TRUE(client_->create(api::kShardSets, ns_, ShardSet()));
  ASSERT_TRUE(WaitFor(
      [&] {
        Json d = Routing();
        if (!Consistent(d)) return false;
        std::set<std::string> owners;
        for (const auto& r : d["ranges"]) {
          if (r.value("endpoint", "").empty()) return false;
          owners.insert(r["owner"]);
        }
        return owners.size() == 2;
      },
      120s, "routing over 2 ready pods"));
  Json policy = Policy("p", "Auto", "10m");
  policy["spec"]["limits"]["maxConcurrentMigrations"] = 4;
  ASSERT_TRUE(client_->create(api::kMigrationPolicies, ns_, policy));
  ASSERT_TRUE(
      WaitFor([&] { return !Status("p").value("selectedShardSets", Json::array()).empty(); }, 60s,
              "p governs kv"));
  ASSERT_TRUE(client_->patch(api::kShardSets, ns_, "kv", kube::PatchType::kMerge,
                             Json{{"spec", {{"replicas", 1}}}}));
  // Every range of the victim cut over (the document names it nowhere)
  // while a move off it is still verifying.
  std::string victim, target, uid;
  Json action;
  ASSERT_TRUE(WaitFor(
      [&] {
        Json d = Routing();
        for (const auto& a : Status("p").value("actions", Json::array())) {
          if (a.value("ownershipRequest", "") != "ScaleIn" || a.value("phase", "") != "Verifying")
            continue;
          victim = a.value("source", "");
          for (const auto& r : d["ranges"]) {
            if (r.value("owner", "") == victim) return false;
          }
          action = a;
          return true;
        }
        return false;
      },
      120s, "the victim's ranges cut over, a move off it verifying"));
  target = action["target"];
  auto pod = Get(kube::resources::kPods, victim);
  ASSERT_TRUE(pod) << victim << " was deleted while a move off it was verifying";
  uid = (*pod)["metadata"]["uid"];
  auto r = ControlPlane::Shared().Kubectl(
      {"-n", ns_, "annotate", "pod", target, "--overwrite", "kwok.x-k8s.io/usage-cpu=950m"});
  ASSERT_TRUE(r.ok()) << r.describe();
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& h : Status("p").value("history", Json::array())) {
          if (h.value("id", "") == action["id"]) return h.value("phase", "") != "";
        }
        return false;
      },
      120s, "the move off the victim finishes"));
  for (const auto& h : Status("p")["history"]) {
    if (h["id"] == action["id"]) {
      EXPECT_EQ(h["phase"], "Reverted") << h.dump();
    }
  }
  pod = Get(kube::resources::kPods, victim);
  ASSERT_TRUE(pod) << victim << " was deleted before the move off it was terminal";
  EXPECT_EQ((*pod)["metadata"]["uid"], uid) << "the same pod, with its data";
  EXPECT_TRUE(Consistent(Routing()));
}

// A planner scale-in (both pods at 5% of capacity, stabilization 1s) runs to
// Completed and the ShardSet controller deletes its victim: the ScaleIn
// action does not hold the pod it drains (it did, and waited in Verifying
// until its phase timeout).
TEST_F(MigrationPolicyIT, PlannerScaleInCompletesAndItsVictimIsDeleted) {
  RunningManager m(client_, ns_);
  ASSERT_TRUE(client_->create(api::kShardSets, ns_, ShardSet()));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto l = client_->list(kube::resources::kPodMetrics, ns_);
        return l && (*l)["items"].size() >= 2;
      },
      90s, "PodMetrics for both pods"));
  Json policy = Policy("p", "Auto");
  policy["spec"]["limits"]["scaleInStabilization"] = "1s";
  ASSERT_TRUE(client_->create(api::kMigrationPolicies, ns_, policy));
  std::string victim;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& h : Status("p").value("history", Json::array())) {
          if (h.value("type", "") != "ScaleIn") continue;
          victim = h.value("source", "");
          return h.value("phase", "") == "Completed";
        }
        return false;
      },
      150s, "a ScaleIn action completed"))
      << Status("p").dump();
  EXPECT_FALSE(victim.empty());
  EXPECT_TRUE(
      WaitFor([&] { return !Get(kube::resources::kPods, victim); }, 60s, "the victim deleted"));
  auto s = Get(api::kShardSets, "kv");
  ASSERT_TRUE(s);
  EXPECT_EQ((*s)["status"].value("activeReplicas", 0), 1);
  EXPECT_TRUE(Consistent(Routing()));
}

// Both active pods forecast hot and a warm pod ready: the policy promotes it
// by a replica request in its own status; the ShardSet controller honours
// the request, and nobody writes the ShardSet's spec.
TEST_F(MigrationPolicyIT, PromotionIsARequestTheShardSetControllerHonoursWithoutSpecWrites) {
  RunningManager m(client_, ns_);
  const int64_t generation = BothActivePodsHotWithAWarmSpare();
  if (HasFailure()) return;
  ASSERT_TRUE(client_->create(api::kMigrationPolicies, ns_, Policy("p", "Auto")));
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& q : Status("p").value("replicaRequests", Json::array())) {
          if (q.value("shardSet", "") == "kv" && q.value("replicas", 0) == 3) return true;
        }
        return false;
      },
      90s, "a replica request for 3 active pods in the policy's status"));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto s = Get(api::kShardSets, "kv");
        if (!s) return false;
        const Json& st = (*s)["status"];
        return st.value("desiredReplicas", 0) == 3 &&
               st.value("desiredReplicasFrom", "") == "MigrationPolicy/p" &&
               st.value("activeReplicas", 0) == 3;
      },
      90s, "the ShardSet controller promotes to 3 active pods"));
  auto after = Get(api::kShardSets, "kv");
  ASSERT_TRUE(after);
  EXPECT_EQ((*after)["spec"]["replicas"], 2) << "spec is the user's";
  EXPECT_EQ((*after)["metadata"]["generation"], generation) << "no spec write";
  // Deleting the policy hands the count back to spec.replicas.
  ASSERT_TRUE(client_->remove(api::kMigrationPolicies, ns_, "p"));
  EXPECT_TRUE(WaitFor(
      [&] {
        auto s = Get(api::kShardSets, "kv");
        return s && (*s)["status"].value("desiredReplicasFrom", "") == "spec" &&
               (*s)["status"].value("desiredReplicas", 0) == 2;
      },
      60s, "desiredReplicas back to spec.replicas"));
}

// Kills the operator while a move is in `phase`, checks the routing
// document it left, then starts a new operator and waits for the move to
// complete with a consistent routing table.
void KillDuringPhaseAndResume(MigrationPolicyIT& t, const std::string& phase) {
  HookServer hooks;
  // Copying: the copy stays in progress until released; Cutover: the cutover
  // hook answers 503 until released.
  if (phase == "Copying") hooks.hold(true);
  if (phase == "Cutover") hooks.set_fail_cutover(true);
  auto m = std::make_unique<RunningManager>(t.client_, t.ns_, hooks.port());
  ASSERT_TRUE(t.client_->create(api::kShardSets, t.ns_, t.ShardSet(hooks.port())));
  t.ConvergeAndForecastHot();
  if (::testing::Test::HasFatalFailure()) return;
  ASSERT_TRUE(t.client_->create(api::kMigrationPolicies, t.ns_,
                                t.Policy("p", "Auto", phase == "Verifying" ? "20s" : "3s")));
  Json action;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& a : t.Status("p").value("actions", Json::array())) {
          if (a.value("phase", "") != phase) continue;
          if (phase == "Copying" && a.value("message", "").find("copying") == std::string::npos)
            continue;
          if (phase == "Cutover" && a.value("attempts", 0) < 1) continue;
          action = a;
          return true;
        }
        return false;
      },
      90s, "a move in phase " + phase));
  m->stop();  // the operator goes away mid-move
  m.reset();
  Json doc = t.Routing();
  EXPECT_TRUE(t.Consistent(doc));
  uint32_t range = action["range"];
  for (const auto& r : doc["ranges"]) {
    if (r["id"] != range) continue;
    if (phase == "Verifying") {
      EXPECT_EQ(r["owner"], action["target"]) << "cut over before the kill: " << r.dump();
    } else {
      EXPECT_EQ(r["state"], "migrating") << r.dump();
      EXPECT_EQ(r["owner"], action["source"]) << r.dump();
      EXPECT_EQ(r["target"], action["target"]) << r.dump();
    }
  }

  hooks.hold(false);
  hooks.set_fail_cutover(false);
  RunningManager again(t.client_, t.ns_, hooks.port());
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& h : t.Status("p").value("history", Json::array())) {
          if (h.value("id", "") == action["id"]) return h.value("phase", "") == "Completed";
        }
        return false;
      },
      120s, "the move completes under the new manager"));
  doc = t.Routing();
  EXPECT_TRUE(t.Consistent(doc));
  EXPECT_EQ(t.OwnerOf(range), action["target"].get<std::string>());
  // The forecast still says "hot", so Auto mode may already run the next
  // move; the routing invariants hold whatever it does.
  for (const auto& r : doc["ranges"]) {
    if (r["state"] != "stable") {
      EXPECT_EQ(r["source"], r["owner"]) << r.dump();
      EXPECT_NE(r["target"], r["owner"]) << r.dump();
    }
  }
}

// The operator dies after asking for a promotion (the replica request is in
// the policy's status) and before it saw the pod promoted: a new operator
// finishes the Promote action from status, without asking twice.
TEST_F(MigrationPolicyIT, NewManagerResumesAPromotionKilledWhilePromoting) {
  auto sets = std::make_unique<RunningManager>(client_, ns_);
  BothActivePodsHotWithAWarmSpare();
  if (HasFailure()) return;
  // From here on only the policy controller runs: the promotion it asks for
  // cannot complete before it is killed (with both controllers in one
  // process it completes within a poll interval).
  sets->stop();
  sets.reset();
  auto m = std::make_unique<RunningManager>(client_, ns_, 0, false);
  ASSERT_TRUE(client_->create(api::kMigrationPolicies, ns_, Policy("p", "Auto")));
  Json promote;
  ASSERT_TRUE(WaitFor(
      [&] {
        Json st = Status("p");
        if (st.value("replicaRequests", Json::array()).empty()) return false;
        for (const auto& a : st.value("actions", Json::array())) {
          if (a.value("type", "") == "Promote" && a.value("phase", "") == "Promoting") {
            promote = a;
            return true;
          }
        }
        return false;
      },
      90s, "a Promote action in phase Promoting with its replica request"));
  m->stop();
  m.reset();
  RunningManager again(client_, ns_);
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& h : Status("p").value("history", Json::array())) {
          if (h.value("id", "") == promote["id"]) return h.value("phase", "") == "Completed";
        }
        return false;
      },
      90s, "the promotion completes under the new manager"));
  auto s = Get(api::kShardSets, "kv");
  ASSERT_TRUE(s);
  EXPECT_EQ((*s)["spec"]["replicas"], 2);
  // Auto mode may plan further promotions afterwards (the forecast still
  // says hot); this one action ran once.
  EXPECT_GE((*s)["status"].value("desiredReplicas", 0), 3);
  int seen = 0;
  for (const auto& h : Status("p").value("history", Json::array()))
    seen += h.value("id", "") == promote["id"] ? 1 : 0;
  EXPECT_EQ(seen, 1);
  Json doc = Routing();
  EXPECT_TRUE(Consistent(doc)) << doc.dump();
}

TEST_F(MigrationPolicyIT, NewManagerResumesAMoveKilledWhileCopying) {
  KillDuringPhaseAndResume(*this, "Copying");
}

TEST_F(MigrationPolicyIT, NewManagerResumesAMoveKilledAtCutover) {
  KillDuringPhaseAndResume(*this, "Cutover");
}

TEST_F(MigrationPolicyIT, NewManagerResumesAMoveKilledWhileVerifying) {
  KillDuringPhaseAndResume(*this, "Verifying");
}

// Stale read: the operator's view of the routing ConfigMap is frozen while
// another writer moves a range. The operator's routing write must fail on
// the resourceVersion precondition instead of overwriting the newer
// document, and once its view catches up the table is consistent.
TEST_F(MigrationPolicyIT, StaleRoutingViewDoesNotOverwriteANewerDocument) {
  HookServer hooks;
  hooks.hold(true);
  RunningManager m(client_, ns_, hooks.port());
  ASSERT_TRUE(client_->create(api::kShardSets, ns_, ShardSet(hooks.port())));
  ConvergeAndForecastHot();
  if (HasFatalFailure()) return;
  m.PauseConfigmaps(true);
  // Another writer (a person, a second operator with a newer lease) takes
  // range ownership decisions: it rewrites the document with a new epoch.
  auto cm = Get(kube::resources::kConfigMaps, "kv-routing");
  ASSERT_TRUE(cm);
  Json doc = Json::parse((*cm)["data"]["routing.json"].get<std::string>());
  const int64_t their_epoch = doc["epoch"].get<int64_t>() + 10;
  doc["epoch"] = their_epoch;
  (*cm)["data"]["routing.json"] = doc.dump();
  auto w = client_->update(kube::resources::kConfigMaps, ns_, *cm);
  ASSERT_TRUE(w) << w.error().to_string();
  // The policy plans on the stale view and tries to mark a range migrating:
  // its routing PUTs carry the stale resourceVersion and get 409.
  auto conflicts = [&] {
    const std::string text = m.metrics();
    const std::string key = "shardcast_api_requests_total{method=\"PUT\",code=\"409\"} ";
    auto at = text.find(key);
    return at == std::string::npos ? 0.0 : std::stod(text.substr(at + key.size()));
  };
  const double before = conflicts();
  ASSERT_TRUE(client_->create(api::kMigrationPolicies, ns_, Policy("p", "Auto")));
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& a : Status("p").value("actions", Json::array())) {
          if (a.value("phase", "") == "Migrating") return conflicts() >= before + 2;
        }
        return false;
      },
      90s, "the policy's routing writes from its stale view are refused (409)"));
  // Whatever it tried, the newer document was not overwritten.
  Json now = Routing();
  EXPECT_GE(now["epoch"].get<int64_t>(), their_epoch) << now.dump();
  m.PauseConfigmaps(false);
  hooks.hold(false);
  // With the view thawed, the move proceeds on top of the newer document.
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& h : Status("p").value("history", Json::array())) {
          if (h.value("phase", "") == "Completed") return true;
        }
        return false;
      },
      120s, "a move completes once the view is current"));
  now = Routing();
  EXPECT_TRUE(Consistent(now));
  EXPECT_GT(now["epoch"].get<int64_t>(), their_epoch) << "epochs only move forward";
}

}  // namespace
}  // namespace shardcast::migrationpolicy
