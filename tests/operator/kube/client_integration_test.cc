// The Kubernetes client against the real local control plane
// (kube-apiserver v1.33.13 from hack/controlplane.sh).
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <mutex>
#include <random>

#include "operator/kube/client.h"
#include "operator/kube/events.h"
#include "operator/kube/informer.h"
#include "operator/kube/kubeconfig.h"
#include "operator/kube/leader_election.h"
#include "tests/testenv/controlplane.h"

namespace shardcast::kube {
namespace {

using namespace std::chrono_literals;
using testenv::ControlPlane;
using testenv::WaitFor;

std::shared_ptr<Client> MakeClient() {
  auto& cp = ControlPlane::Shared();
  auto cfg = LoadKubeconfigFile(cp.kubeconfig_path());
  EXPECT_TRUE(cfg) << (cfg ? "" : cfg.error().message);
  EXPECT_FALSE(cfg->insecure_skip_tls_verify);  // the admin kubeconfig verifies TLS
  auto t = MakeHttpTransport(*cfg);
  EXPECT_TRUE(t) << (t ? "" : t.error().to_string());
  return std::make_shared<Client>(*t);
}

std::string UniqueNamespace(const std::string& prefix) {
  static std::mt19937 rng(std::random_device{}());
  return prefix + "-" + std::to_string(rng() % 1000000);
}

const Resource kPodTemplates{"", "v1", "podtemplates", "PodTemplate", true};

class ClientIT : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ControlPlane::Shared().ready()) << ControlPlane::Shared().startup_error();
    client_ = MakeClient();
    ns_ = UniqueNamespace("client-it");
    auto r = client_->create(
        resources::kNamespaces, "",
        Json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns_}}}});
    ASSERT_TRUE(r) << r.error().to_string();
  }
  void TearDown() override {
    if (client_) (void)client_->remove(resources::kNamespaces, "", ns_);
  }
  Json ConfigMap(const std::string& name, const std::string& value) {
    return Json{{"apiVersion", "v1"},
                {"kind", "ConfigMap"},
                {"metadata", {{"name", name}, {"namespace", ns_}}},
                {"data", {{"k", value}}}};
  }
  Json PodTemplate(const std::string& name, const std::string& value) {
    return Json{{"apiVersion", "v1"},
                {"kind", "PodTemplate"},
                {"metadata", {{"name", name}, {"namespace", ns_}}},
                {"template",
                 {{"metadata", {{"labels", {{"k", value}}}}},
                  {"spec", {{"containers", Json::array({{{"name", "c"}, {"image", "fake"}}})}}}}}};
  }
  std::shared_ptr<Client> client_;
  std::string ns_;
};

TEST_F(ClientIT, ServerVersionIsThePinnedRelease) {
  auto v = client_->ServerVersion();
  ASSERT_TRUE(v) << v.error().to_string();
  std::cout << "kube-apiserver /version: " << v->dump() << "\n";
  EXPECT_EQ(v->value("gitVersion", ""), "v1.33.13");
}

TEST_F(ClientIT, ConfigMapCreateGetUpdateDelete) {
  auto created = client_->create(resources::kConfigMaps, ns_, ConfigMap("cm", "1"));
  ASSERT_TRUE(created) << created.error().to_string();
  auto got = client_->get(resources::kConfigMaps, ns_, "cm");
  ASSERT_TRUE(got);
  EXPECT_EQ((*got)["data"]["k"], "1");
  Json next = *got;
  next["data"]["k"] = "2";
  auto updated = client_->update(resources::kConfigMaps, ns_, next);
  ASSERT_TRUE(updated) << updated.error().to_string();
  EXPECT_EQ((*updated)["data"]["k"], "2");
  auto dup = client_->create(resources::kConfigMaps, ns_, ConfigMap("cm", "x"));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().kind, ErrorKind::kAlreadyExists);
  // Delete with a uid precondition that does not match is refused.
  DeleteOptions wrong;
  wrong.precondition_uid = "00000000-0000-0000-0000-000000000000";
  auto refused = client_->remove(resources::kConfigMaps, ns_, "cm", wrong);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::kConflict);
  DeleteOptions right;
  right.precondition_uid = (*updated)["metadata"]["uid"].get<std::string>();
  right.propagation_policy = "Foreground";
  ASSERT_TRUE(client_->remove(resources::kConfigMaps, ns_, "cm", right));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto g = client_->get(resources::kConfigMaps, ns_, "cm");
        return !g && g.error().kind == ErrorKind::kNotFound;
      },
      10s, "configmap deleted"));
}

TEST_F(ClientIT, StaleResourceVersionIsConflict) {
  auto created = client_->create(resources::kConfigMaps, ns_, ConfigMap("c", "1"));
  ASSERT_TRUE(created);
  Json first = *created;
  Json second = *created;
  first["data"]["k"] = "from-first";
  ASSERT_TRUE(client_->update(resources::kConfigMaps, ns_, first));
  second["data"]["k"] = "from-second";  // still carries the old resourceVersion
  auto r = client_->update(resources::kConfigMaps, ns_, second);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kConflict);
  EXPECT_EQ(r.error().http_status, 409);
  auto got = client_->get(resources::kConfigMaps, ns_, "c");
  EXPECT_EQ((*got)["data"]["k"], "from-first");
}

TEST_F(ClientIT, PatchesMergeAndJson) {
  ASSERT_TRUE(client_->create(resources::kConfigMaps, ns_, ConfigMap("p", "1")));
  auto m = client_->patch(resources::kConfigMaps, ns_, "p", PatchType::kMerge,
                          Json{{"data", {{"extra", "e"}}}});
  ASSERT_TRUE(m) << m.error().to_string();
  EXPECT_EQ((*m)["data"]["extra"], "e");
  auto j = client_->patch(resources::kConfigMaps, ns_, "p", PatchType::kJson,
                          Json::array({{{"op", "replace"}, {"path", "/data/k"}, {"value", "j"}}}));
  ASSERT_TRUE(j) << j.error().to_string();
  EXPECT_EQ((*j)["data"]["k"], "j");
  auto bad = client_->patch(resources::kConfigMaps, ns_, "p", PatchType::kJson,
                            Json::array({{{"op", "test"}, {"path", "/data/k"}, {"value", "no"}}}));
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().kind == ErrorKind::kInvalid || bad.error().kind == ErrorKind::kConflict ||
              bad.error().kind == ErrorKind::kBadRequest)
      << bad.error().to_string();
}

TEST_F(ClientIT, ServerSideApplyTracksFieldOwnership) {
  Json a = ConfigMap("ssa", "from-a");
  auto r1 = client_->apply(resources::kConfigMaps, ns_, a, "manager-a");
  ASSERT_TRUE(r1) << r1.error().to_string();
  // Another manager setting the same field conflicts unless it forces.
  Json b = ConfigMap("ssa", "from-b");
  auto r2 = client_->apply(resources::kConfigMaps, ns_, b, "manager-b");
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().kind, ErrorKind::kConflict);
  EXPECT_NE(r2.error().message.find("manager-a"), std::string::npos) << r2.error().message;
  auto r3 = client_->apply(resources::kConfigMaps, ns_, b, "manager-b", /*force=*/true);
  ASSERT_TRUE(r3) << r3.error().to_string();
  EXPECT_EQ((*r3)["data"]["k"], "from-b");
  // manager-b now owns data.k.
  bool b_owns = false;
  for (const auto& mf : (*r3)["metadata"]["managedFields"]) {
    if (mf["manager"] == "manager-b" && mf["fieldsV1"].dump().find("f:k") != std::string::npos) {
      b_owns = true;
    }
  }
  EXPECT_TRUE(b_owns) << (*r3)["metadata"]["managedFields"].dump();
  auto nameless = client_->apply(resources::kConfigMaps, ns_, Json::object(), "m");
  EXPECT_FALSE(nameless);
}

TEST_F(ClientIT, WatchSeesCreateUpdateDeleteInOrder) {
  auto list = client_->list(resources::kConfigMaps, ns_);
  ASSERT_TRUE(list);
  WatchOptions wo;
  wo.resource_version = (*list)["metadata"]["resourceVersion"];
  wo.timeout_seconds = 60;
  wo.field_selector = "metadata.name=w";
  auto stream = client_->watch(resources::kConfigMaps, ns_, wo);
  ASSERT_TRUE(stream) << stream.error().to_string();
  auto created = client_->create(resources::kConfigMaps, ns_, ConfigMap("w", "1"));
  ASSERT_TRUE(created);
  Json next = *created;
  next["data"]["k"] = "2";
  ASSERT_TRUE(client_->update(resources::kConfigMaps, ns_, next));
  ASSERT_TRUE(client_->remove(resources::kConfigMaps, ns_, "w"));
  std::vector<WatchEventType> seen;
  while (seen.size() < 3) {
    auto ev = (*stream)->next();
    ASSERT_TRUE(ev) << ev.error().to_string();
    ASSERT_TRUE(ev->has_value()) << "watch ended early";
    if ((*ev)->type == WatchEventType::kBookmark) continue;
    seen.push_back((*ev)->type);
  }
  EXPECT_EQ(seen, (std::vector<WatchEventType>{WatchEventType::kAdded, WatchEventType::kModified,
                                               WatchEventType::kDeleted}));
}

TEST_F(ClientIT, PaginatesTwoThousandObjects) {
  const int kCount = 2000;
  for (int i = 0; i < kCount; ++i) {
    Json cm = ConfigMap("page-" + std::to_string(i), std::to_string(i));
    cm["metadata"]["labels"] = {{"set", "pagination"}};
    auto r = client_->create(resources::kConfigMaps, ns_, cm);
    ASSERT_TRUE(r) << i << ": " << r.error().to_string();
  }
  ListOptions lo;
  lo.label_selector = "set=pagination";
  lo.limit = 300;
  auto all = client_->ListAll(resources::kConfigMaps, ns_, lo);
  ASSERT_TRUE(all) << all.error().to_string();
  EXPECT_EQ(all->items.size(), static_cast<size_t>(kCount));
  EXPECT_EQ(all->pages, (kCount + 299) / 300);
  std::set<std::string> names;
  for (const auto& it : all->items) names.insert(it["metadata"]["name"]);
  EXPECT_EQ(names.size(), static_cast<size_t>(kCount)) << "no duplicates across pages";
}

// Collects informer events for assertions.
struct Recorder {
  std::mutex mu;
  std::vector<std::string> log;
  EventHandlers handlers() {
    EventHandlers h;
    h.on_add = [this](const ObjectPtr& o) { push("add " + ObjectName(*o)); };
    h.on_update = [this](const ObjectPtr&, const ObjectPtr& n) {
      push("update " + ObjectName(*n));
    };
    h.on_delete = [this](const ObjectPtr& o) { push("delete " + ObjectName(*o)); };
    return h;
  }
  void push(std::string s) {
    std::lock_guard<std::mutex> l(mu);
    log.push_back(std::move(s));
  }
  bool contains(const std::string& s) {
    std::lock_guard<std::mutex> l(mu);
    return std::find(log.begin(), log.end(), s) != log.end();
  }
};

TEST_F(ClientIT, InformerIndexesByNamespaceLabelsAndOwner) {
  InformerOptions io;
  io.namespace_ = ns_;
  Informer inf(client_, resources::kConfigMaps, io);
  inf.start();
  ASSERT_TRUE(inf.WaitForSync(30s));
  Json owner = ConfigMap("owner", "o");
  auto o = client_->create(resources::kConfigMaps, ns_, owner);
  ASSERT_TRUE(o);
  Json child = ConfigMap("child", "c");
  child["metadata"]["labels"] = {{"tier", "x"}};
  child["metadata"]["ownerReferences"] = Json::array({{{"apiVersion", "v1"},
                                                       {"kind", "ConfigMap"},
                                                       {"name", "owner"},
                                                       {"uid", (*o)["metadata"]["uid"]}}});
  ASSERT_TRUE(client_->create(resources::kConfigMaps, ns_, child));
  ASSERT_TRUE(
      WaitFor([&] { return inf.store().get(ns_ + "/child") != nullptr; }, 10s, "child in cache"));
  EXPECT_EQ(inf.store().ListLabels(ns_, {{"tier", "x"}}).size(), 1u);
  EXPECT_EQ(inf.store().ListLabels(ns_, {{"tier", "y"}}).size(), 0u);
  auto owned = inf.store().ListOwnedBy((*o)["metadata"]["uid"]);
  ASSERT_EQ(owned.size(), 1u);
  EXPECT_EQ(ObjectName(*owned[0]), "child");
  EXPECT_FALSE(inf.store().get(ns_ + "/child")->at("metadata").contains("managedFields"));
  inf.stop();
}

TEST_F(ClientIT, InformerSurvivesApiServerRestart) {
  auto& cp = ControlPlane::Shared();
  if (cp.state_dir().empty()) GTEST_SKIP() << "reused cluster without a state dir";
  InformerOptions io;
  io.namespace_ = ns_;
  io.backoff_max = 2000ms;
  Recorder rec;  // outlives the informer, whose thread calls it
  Informer inf(client_, resources::kConfigMaps, io);
  inf.AddHandlers(rec.handlers());
  inf.start();
  ASSERT_TRUE(inf.WaitForSync(30s));
  ASSERT_TRUE(client_->create(resources::kConfigMaps, ns_, ConfigMap("before", "1")));
  ASSERT_TRUE(WaitFor([&] { return rec.contains("add before"); }, 10s, "add before"));
  auto restarted = cp.RestartApiserver();
  ASSERT_TRUE(restarted) << restarted.error().message;
  // The restarted server serves requests; the informer reconnects on its own.
  ASSERT_TRUE(WaitFor(
      [&] {
        return static_cast<bool>(
            client_->create(resources::kConfigMaps, ns_, ConfigMap("after", "2")));
      },
      60s, "create after restart"));
  ASSERT_TRUE(WaitFor([&] { return rec.contains("add after"); }, 60s,
                      "informer sees a change made after the restart"));
  EXPECT_GE(inf.stats().watches.load(), 2u);
  inf.stop();
}

TEST_F(ClientIT, CompactionForcesRelistWithoutLosingEvents) {
  auto& cp = ControlPlane::Shared();
  if (cp.state_dir().empty()) GTEST_SKIP() << "reused cluster without a state dir";
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client_->create(kPodTemplates, ns_, PodTemplate("keep-" + std::to_string(i), "1")));
  }
  InformerOptions io;
  io.namespace_ = ns_;
  Recorder rec;  // outlives the informer, whose thread calls it
  Informer inf(client_, kPodTemplates, io);
  inf.AddHandlers(rec.handlers());
  inf.start();
  ASSERT_TRUE(inf.WaitForSync(30s));
  ASSERT_TRUE(WaitFor([&] { return inf.store().size() >= 5; }, 10s, "initial objects"));
  // PodTemplates bypass the API server's watch cache (hack/controlplane.sh),
  // so their watch is served by etcd. Stop consuming the watch, change things, and compact etcd
  // past the informer's resourceVersion: resuming must hit 410 Gone.
  inf.set_paused(true);
  ASSERT_TRUE(client_->remove(kPodTemplates, ns_, "keep-0"));
  ASSERT_TRUE(client_->create(kPodTemplates, ns_, PodTemplate("added-while-paused", "1")));
  auto got = client_->get(kPodTemplates, ns_, "keep-1");
  ASSERT_TRUE(got);
  Json upd = *got;
  upd["template"]["metadata"]["labels"]["k"] = "changed";
  ASSERT_TRUE(client_->update(kPodTemplates, ns_, upd));
  // Writes elsewhere move etcd's revision beyond the informer's.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(
        client_->create(kPodTemplates, ns_, PodTemplate("noise-" + std::to_string(i), "n")));
  }
  auto rev = cp.CompactEtcd();
  ASSERT_TRUE(rev) << rev.error().message;
  inf.set_paused(false);
  ASSERT_TRUE(WaitFor([&] { return inf.stats().gone.load() >= 1; }, 60s, "410 Gone seen"));
  ASSERT_TRUE(WaitFor(
      [&] {
        return rec.contains("delete keep-0") && rec.contains("add added-while-paused") &&
               rec.contains("update keep-1");
      },
      30s, "every change made while the watch was gone is delivered"));
  auto server = client_->ListAll(kPodTemplates, ns_);
  ASSERT_TRUE(server);
  ASSERT_TRUE(WaitFor([&] { return inf.store().size() == server->items.size(); }, 10s,
                      "cache matches the server"));
  EXPECT_EQ(inf.store().get(ns_ + "/keep-0"), nullptr);
  EXPECT_EQ((*inf.store().get(ns_ + "/keep-1"))["template"]["metadata"]["labels"]["k"], "changed");
  EXPECT_GE(inf.stats().lists.load(), 2u);
  inf.stop();
}

TEST_F(ClientIT, LeaseHasExactlyOneLeaderAndFailsOver) {
  auto make = [&](const std::string& id) {
    LeaderElectionConfig c;
    c.lease_namespace = ns_;
    c.lease_name = "shardcast-test";
    c.identity = id;
    c.release_on_stop = false;  // simulate a crash: the lease must expire
    return std::make_unique<LeaderElector>(MakeClient(), c);
  };
  auto a = make("a");
  auto b = make("b");
  std::atomic<uint64_t> token_a{0}, token_b{0};
  a->start([&](uint64_t t) { token_a = t; }, [] {});
  ASSERT_TRUE(WaitFor([&] { return a->is_leader(); }, 20s, "a leads"));
  b->start([&](uint64_t t) { token_b = t; }, [] {});
  // b must not lead while a renews: check across several retry periods.
  auto until = std::chrono::steady_clock::now() + 6s;
  ASSERT_FALSE(WaitFor([&] { return b->is_leader() || std::chrono::steady_clock::now() > until; },
                       8s, "b never leads while a renews") &&
               b->is_leader());
  EXPECT_TRUE(a->is_leader());
  EXPECT_TRUE(a->StillLeading(token_a));
  auto stopped_at = std::chrono::steady_clock::now();
  a->stop();
  EXPECT_FALSE(a->is_leader());
  EXPECT_FALSE(a->StillLeading(token_a));
  // lease duration (15 s) + retry period with jitter (2 s * 2.2) + slack.
  ASSERT_TRUE(WaitFor([&] { return b->is_leader(); }, 15s + 4400ms + 2s, "b takes over"));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - stopped_at);
  std::cout << "takeover after leader stopped: " << took.count() << " ms\n";
  EXPECT_GT(token_b.load(), token_a.load()) << "fencing token grows across leaders";
  b->stop();
}

TEST_F(ClientIT, ReleasedLeaseIsTakenOverWithoutWaitingForExpiry) {
  auto make = [&](const std::string& id) {
    LeaderElectionConfig c;
    c.lease_namespace = ns_;
    c.lease_name = "shardcast-release";
    c.identity = id;
    return std::make_unique<LeaderElector>(MakeClient(), c);  // releases on stop (SIGTERM path)
  };
  auto a = make("a");
  auto b = make("b");
  a->start([](uint64_t) {}, [] {});
  ASSERT_TRUE(WaitFor([&] { return a->is_leader(); }, 20s, "a leads"));
  b->start([](uint64_t) {}, [] {});
  auto stopped_at = std::chrono::steady_clock::now();
  a->stop();
  auto lease = client_->get(resources::kLeases, ns_, "shardcast-release");
  ASSERT_TRUE(lease);
  EXPECT_EQ((*lease)["spec"].value("holderIdentity", "x"), "") << "a stepped down cleanly";
  // Well under the 15 s lease: b only needs its next retry (2 s, with jitter).
  ASSERT_TRUE(WaitFor([&] { return b->is_leader(); }, 8s, "b takes over a released lease"));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - stopped_at);
  std::cout << "takeover after a clean step-down: " << took.count() << " ms\n";
  b->stop();
}

TEST_F(ClientIT, EventRecorderFoldsRepeats) {
  auto cm = client_->create(resources::kConfigMaps, ns_, ConfigMap("evt", "1"));
  ASSERT_TRUE(cm);
  EventRecorder rec(client_, "shardcast-test", "it");
  rec.record(*cm, EventType::kNormal, "Promoted", "promoted pod kv-3");
  rec.record(*cm, EventType::kNormal, "Promoted", "promoted pod kv-3");
  rec.record(*cm, EventType::kWarning, "RoutingWriteFailed", "conflict");
  ASSERT_TRUE(WaitFor(
      [&] {
        auto l = client_->list(resources::kEvents, ns_);
        if (!l) return false;
        int promoted_count = 0, warnings = 0;
        for (const auto& e : (*l)["items"]) {
          if (e["involvedObject"]["name"] != "evt") continue;
          if (e["reason"] == "Promoted") promoted_count = e.value("count", 0);
          if (e["reason"] == "RoutingWriteFailed" && e["type"] == "Warning") ++warnings;
        }
        return promoted_count == 2 && warnings == 1;
      },
      10s, "one Promoted event with count 2 and one Warning"));
}

TEST_F(ClientIT, DiscoveryAndPodMetrics) {
  auto served = client_->serves("metrics.k8s.io", "v1beta1");
  ASSERT_TRUE(served) << served.error().to_string();
  EXPECT_TRUE(*served);
  auto not_served = client_->serves("nonexistent.example.com", "v1");
  ASSERT_TRUE(not_served);
  EXPECT_FALSE(*not_served);
  Json pod = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", "load"},
        {"namespace", ns_},
        {"annotations", {{"kwok.x-k8s.io/usage-cpu", "300m"}}}}},
      {"spec",
       {{"nodeSelector", {{"type", "kwok"}}},
        {"tolerations",
         Json::array(
             {{{"key", "kwok.x-k8s.io/node"}, {"operator", "Exists"}, {"effect", "NoSchedule"}}})},
        {"containers", Json::array({{{"name", "c"}, {"image", "fake"}}})}}}};
  ASSERT_TRUE(client_->create(resources::kPods, ns_, pod));
  double cpu_millis = -1;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto m = client_->get(resources::kPodMetrics, ns_, "load");
        if (!m || !m->contains("containers") || (*m)["containers"].empty()) return false;
        std::string q = (*m)["containers"][0]["usage"].value("cpu", "");
        if (q.empty()) return false;
        double v = std::stod(q);
        if (q.back() == 'n')
          v /= 1e6;
        else if (q.back() == 'u')
          v /= 1e3;
        else if (q.back() != 'm')
          v *= 1000;
        cpu_millis = v;
        // The first rate after the pod starts can cover only part of
        // metrics-server's window (66m of 300m was seen): wait for a full one.
        return std::abs(cpu_millis - 300) <= 30;
      },
      180s, "metrics.k8s.io reports the pod's CPU from its KWOK usage annotation"));
  EXPECT_NEAR(cpu_millis, 300, 30) << "CPU from the KWOK usage annotation";
}

}  // namespace
}  // namespace shardcast::kube
