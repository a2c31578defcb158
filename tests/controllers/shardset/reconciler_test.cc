// The reconciler against in-memory stores and a fake HTTP transport: which
// API calls one round makes.
#include "reconciler_fixture.h"

namespace shardcast::shardset {
namespace {

using testing::PodObject;
using testing::ReconcilerTest;
using testing::SetObject;

TEST_F(ReconcilerTest, FreshSetCreatesPodsAndWritesStatus) {
  PutSet(SetObject(3, 1, 16));
  auto r = rec->Reconcile("ns/kv");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->kind, ctrl::Action::Kind::kRequeueAfter);
  auto w = transport->writes();
  ASSERT_EQ(w.size(), 5u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(w[i].method, "POST");
    EXPECT_EQ(w[i].path_and_query, "/api/v1/namespaces/ns/pods");
    EXPECT_EQ(Json::parse(w[i].body)["metadata"]["name"], "kv-" + std::to_string(i));
  }
  EXPECT_EQ(w[4].method, "PUT");
  EXPECT_EQ(w[4].path_and_query, "/apis/shardcast.dev/v1alpha1/namespaces/ns/shardsets/kv/status");
  Json st = Json::parse(w[4].body);
  EXPECT_EQ(st["metadata"]["resourceVersion"], "1") << "status write has a precondition";
  EXPECT_EQ(st["status"]["observedGeneration"], 4);
}

TEST_F(ReconcilerTest, ConvergedSetMakesNoWrites) {
  PutSet(SetObject(2, 1, 8));
  PutPod(0, "active");
  PutPod(1, "active");
  PutPod(2, "warm");
  // Round 1 publishes the routing document (create) and status.
  ASSERT_TRUE(rec->Reconcile("ns/kv").ok());
  Json cm = LastConfigMapWrite("POST", "kv-routing");
  ASSERT_TRUE(cm.is_object());
  EXPECT_EQ(cm["metadata"]["labels"][api::kLabelShardSet], "kv");
  EXPECT_EQ(cm["metadata"]["annotations"][api::kAnnotationFencing], "1");
  EXPECT_EQ(cm["metadata"]["ownerReferences"][0]["uid"], "set-uid");
  auto doc = ParseRoutingDocument(cm["data"][api::kRoutingKey].get<std::string>());
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  EXPECT_EQ(doc->epoch, 1);
  EXPECT_TRUE(sink.has("RoutingPublished"));
  // The last good copy is saved in the same round (owned by the ShardSet).
  Json lg = LastConfigMapWrite("POST", "kv-routing-last-good");
  ASSERT_TRUE(lg.is_object());
  EXPECT_EQ(lg["metadata"]["ownerReferences"][0]["uid"], "set-uid");
  EXPECT_EQ(lg["data"][api::kRoutingKey], cm["data"][api::kRoutingKey]);
  cm["metadata"]["resourceVersion"] = "50";
  cms.Upsert(std::make_shared<const Json>(cm));
  lg["metadata"]["resourceVersion"] = "51";
  cms.Upsert(std::make_shared<const Json>(lg));
  Json set = LastWrite("PUT", "/status");
  EXPECT_EQ(set["status"]["epoch"], 1);
  set["metadata"]["resourceVersion"] = "2";
  sets.Upsert(std::make_shared<const Json>(set));
  // Round 2: the status may settle (Progressing -> False) once.
  ASSERT_TRUE(rec->Reconcile("ns/kv").ok());
  Json settled = LastWrite("PUT", "/status");
  settled["metadata"]["resourceVersion"] = "3";
  sets.Upsert(std::make_shared<const Json>(settled));
  size_t before = transport->writes().size();
  auto r = rec->Reconcile("ns/kv");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, ctrl::Action::Kind::kAwaitChange);
  EXPECT_EQ(transport->writes().size(), before) << "no API writes at rest";
  bool ready = false;
  for (const auto& c : settled["status"]["conditions"]) {
    if (c["type"] == "Ready") ready = c["status"] == "True";
  }
  EXPECT_TRUE(ready) << settled["status"].dump();
  EXPECT_NE(registry.render().find("shardcast_routing_epoch{shardset=\"ns/kv\"} 1"),
            std::string::npos)
      << registry.render();
}

TEST_F(ReconcilerTest, RefusesRoutingWriteWhenConfigMapHasALargerFencingToken) {
  PutSet(SetObject(1, 0, 4));
  PutPod(0, "active");
  Json cm = {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata",
              {{"name", "kv-routing"},
               {"namespace", "ns"},
               {"resourceVersion", "7"},
               {"annotations", {{api::kAnnotationFencing, "5"}}}}},
             {"data", Json::object()}};
  cms.Upsert(std::make_shared<const Json>(cm));
  auto r = rec->Reconcile("ns/kv");
  for (const auto& w : transport->writes()) {
    EXPECT_EQ(w.path_and_query.find("/configmaps"), std::string::npos) << w.path_and_query;
  }
  EXPECT_TRUE(sink.has("RoutingWriteFailed"));
  Json st = LastWrite("PUT", "/status");
  bool degraded = false;
  for (const auto& c : st["status"]["conditions"]) {
    if (c["type"] == "Degraded") degraded = c["status"] == "True";
  }
  EXPECT_TRUE(degraded) << st.dump();
  (void)r;
}

TEST_F(ReconcilerTest, NoWritesAtAllWhenTheFencingTokenMayNotWrite) {
  PutSet(SetObject());
  may_write = false;
  ASSERT_TRUE(rec->Reconcile("ns/kv").ok());
  EXPECT_TRUE(transport->writes().empty());
}

TEST_F(ReconcilerTest, MalformedSpecOnlyReportsDegradedNamingTheField) {
  Json obj = SetObject();
  obj["spec"]["warmPool"]["size"] = "lots";
  PutSet(obj);
  auto r = rec->Reconcile("ns/kv");
  ASSERT_TRUE(r.ok());
  auto w = transport->writes();
  ASSERT_EQ(w.size(), 1u);
  Json st = Json::parse(w[0].body)["status"];
  bool named = false;
  for (const auto& c : st["conditions"]) {
    if (c["type"] == "Degraded" && c["status"] == "True") {
      named = c["message"].get<std::string>().find("spec.warmPool.size") != std::string::npos;
      EXPECT_EQ(c["reason"], "InvalidSpec");
    }
  }
  EXPECT_TRUE(named) << st.dump();
  EXPECT_TRUE(sink.has("InvalidSpec"));
}

TEST_F(ReconcilerTest, PromotionPatchesTheRoleWithAResourceVersionPrecondition) {
  PutSet(SetObject(2, 1, 8));
  PutPod(0, "active");
  PutPod(2, "warm");
  ASSERT_TRUE(rec->Reconcile("ns/kv").ok());
  auto w = transport->writes();
  ASSERT_GE(w.size(), 1u);
  EXPECT_EQ(w[0].method, "PATCH");
  EXPECT_EQ(w[0].path_and_query.rfind("/api/v1/namespaces/ns/pods/kv-2", 0), 0u);
  Json body = Json::parse(w[0].body);
  EXPECT_EQ(body["metadata"]["resourceVersion"], "102");
  EXPECT_EQ(body["metadata"]["labels"][api::kLabelRole], "active");
  EXPECT_TRUE(sink.has("Promoted"));
  EXPECT_NE(registry.render().find("shardcast_promotions_total{shardset=\"ns/kv\"} 1"),
            std::string::npos);
}

// A MigrationPolicy in namespace ns with this status.
std::shared_ptr<const Json> PolicyObject(const std::string& name, const std::string& created,
                                         const Json& status) {
  return std::make_shared<const Json>(
      Json{{"apiVersion", "shardcast.dev/v1alpha1"},
           {"kind", "MigrationPolicy"},
           {"metadata", {{"name", name}, {"namespace", "ns"}, {"creationTimestamp", created}}},
           {"status", status}});
}

// A governing MigrationPolicy's status.replicaRequests decides the active
// count (clamped to [min, max]) without any write to the ShardSet's spec.
TEST_F(ReconcilerTest, GoverningPolicyReplicaRequestPromotesWithoutTouchingSpec) {
  PutSet(SetObject(1, 1, 8));
  PutPod(0, "active");
  PutPod(1, "warm");
  auto policy = [](const std::string& name, const std::string& created, const Json& selected,
                   int replicas) {
    return PolicyObject(
        name, created,
        {{"selectedShardSets", selected},
         {"replicaRequests",
          Json::array({{{"shardSet", "kv"}, {"replicas", replicas}, {"action", "a-1"}}})}});
  };
  // A policy that does not (or no longer) govern kv is ignored.
  policies.Upsert(policy("stale", "2026-01-01T00:00:00Z", Json::array(), 5));
  ASSERT_TRUE(rec->Reconcile("ns/kv").ok());
  for (const auto& w : transport->writes()) {
    EXPECT_EQ(w.path_and_query.find("/pods/kv-1"), std::string::npos)
        << "no promotion without a request";
  }
  Json st = LastWrite("PUT", "/status");
  EXPECT_EQ(st["status"]["desiredReplicas"], 1);
  EXPECT_EQ(st["status"]["desiredReplicasFrom"], "spec");

  policies.Upsert(policy("p", "2026-01-02T00:00:00Z", Json::array({"kv"}), 2));
  transport->requests.clear();
  ASSERT_TRUE(rec->Reconcile("ns/kv").ok());
  auto w = transport->writes();
  ASSERT_GE(w.size(), 1u);
  EXPECT_EQ(w[0].method, "PATCH");
  EXPECT_EQ(w[0].path_and_query.rfind("/api/v1/namespaces/ns/pods/kv-1", 0), 0u);
  for (const auto& x : w) {
    if (x.path_and_query.find("/shardsets/") == std::string::npos) continue;
    EXPECT_NE(x.path_and_query.find("/status"), std::string::npos)
        << "only status is written: " << x.path_and_query;
  }
  st = LastWrite("PUT", "/status");
  EXPECT_EQ(st["status"]["desiredReplicas"], 2);
  EXPECT_EQ(st["status"]["desiredReplicasFrom"], "MigrationPolicy/p");
  EXPECT_EQ(st["spec"]["replicas"], 1);

  // Clamped to maxReplicas.
  policies.Upsert(policy("p", "2026-01-02T00:00:00Z", Json::array({"kv"}), 500));
  ASSERT_TRUE(rec->Reconcile("ns/kv").ok());
  st = LastWrite("PUT", "/status");
  EXPECT_EQ(st["status"]["desiredReplicas"], SetObject(1, 1, 8)["spec"].value("maxReplicas", 10));
}

// The governing policy's unfinished Promote action names the warm pod the
// planner chose (kv-2, pre-warmed): that one is promoted, not kv-1. A
// Promote in a policy that does not govern the set changes nothing.
TEST_F(ReconcilerTest, ThePodTheGoverningPolicysPromoteNamesIsPromoted) {
  PutSet(SetObject(1, 2, 8));
  PutPod(0, "active");
  PutPod(1, "warm");
  PutPod(2, "warm");
  auto policy = [](const std::string& name, const std::string& created, const Json& selected,
                   const std::string& target) {
    Json promote = {{"id", name + "-1"},
                    {"shardSet", "kv"},
                    {"type", "Promote"},
                    {"target", target},
                    {"phase", "Promoting"}};
    return PolicyObject(
        name, created,
        {{"selectedShardSets", selected},
         {"actions", Json::array({promote})},
         {"replicaRequests",
          Json::array({{{"shardSet", "kv"}, {"replicas", 2}, {"action", name + "-1"}}})}});
  };
  policies.Upsert(policy("p", "2026-01-02T00:00:00Z", Json::array({"kv"}), "kv-2"));
  policies.Upsert(policy("q", "2026-01-03T00:00:00Z", Json::array(), "kv-1"));
  ASSERT_TRUE(rec->Reconcile("ns/kv").ok());
  auto w = transport->writes();
  ASSERT_GE(w.size(), 1u);
  EXPECT_EQ(w[0].method, "PATCH");
  EXPECT_EQ(w[0].path_and_query.rfind("/api/v1/namespaces/ns/pods/kv-2", 0), 0u)
      << w[0].path_and_query;
  for (const auto& x : w) {
    EXPECT_EQ(x.path_and_query.find("/pods/kv-1"), std::string::npos) << x.path_and_query;
  }
}

TEST_F(ReconcilerTest, DeleteIsSkippedWhenTheLiveDocumentStillNamesThePod) {
  // The cache says kv-1 (failed) owns nothing, the API server's current
  // document says it owns a range: it must not be deleted.
  ShardSetSpec s = testing::Spec(1, 0, 2);
  PutSet(SetObject(1, 0, 2));
  PutPod(0, "active");
  Json failed = PodObject(1, "warm", false);
  failed["status"]["phase"] = "Failed";
  pods.Upsert(std::make_shared<const Json>(failed));
  auto cached =
      BuildRoutingDocument(s, {{0, "kv-0"}, {1, "kv-0"}}, {{"kv-0", "10.0.0.1"}}, 3, nullptr);
  auto live =
      BuildRoutingDocument(s, {{0, "kv-0"}, {1, "kv-1"}}, {{"kv-0", "10.0.0.1"}}, 4, nullptr);
  Json cm = ConfigMapObject("kv-routing", cached.dump());
  cms.Upsert(std::make_shared<const Json>(cm));
  Json live_cm = cm;
  live_cm["data"][api::kRoutingKey] = live.dump();
  transport->gets["/api/v1/namespaces/ns/configmaps/kv-routing"] = live_cm;
  ASSERT_TRUE(rec->Reconcile("ns/kv").ok());
  for (const auto& w : transport->writes()) EXPECT_NE(w.method, "DELETE") << w.path_and_query;
  // With the live document agreeing, the failed pod goes (uid precondition).
  transport->gets["/api/v1/namespaces/ns/configmaps/kv-routing"] = cm;
  ASSERT_TRUE(rec->Reconcile("ns/kv").ok());
  bool deleted = false;
  for (const auto& w : transport->writes()) {
    if (w.method == "DELETE") {
      deleted = true;
      EXPECT_EQ(w.path_and_query.rfind("/api/v1/namespaces/ns/pods/kv-1", 0), 0u);
      EXPECT_NE(w.body.find("uid-1"), std::string::npos) << w.body;
    }
  }
  EXPECT_TRUE(deleted);
  EXPECT_TRUE(sink.has("PodReplaced"));
}

TEST_F(ReconcilerTest, RemovedOrdinalTakesItsClaimsAlongButAReplacedPodKeepsThem) {
  Json set = SetObject(1, 0, 4);
  set["spec"]["volumeClaimTemplates"] = Json::parse(
      R"([{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}])");
  PutSet(set);
  PutPod(0, "active");
  PutPod(1, "warm");  // beyond warmPool.size 0
  ShardSetSpec s = testing::Spec(1, 0, 4);
  auto doc = BuildRoutingDocument(s, {{0, "kv-0"}, {1, "kv-0"}, {2, "kv-0"}, {3, "kv-0"}},
                                  {{"kv-0", "10.0.0.1"}}, 2, nullptr);
  Json cm = ConfigMapObject("kv-routing", doc.dump());
  cms.Upsert(std::make_shared<const Json>(cm));
  transport->gets["/api/v1/namespaces/ns/configmaps/kv-routing"] = cm;
  ASSERT_TRUE(rec->Reconcile("ns/kv").ok());
  std::vector<std::string> deletes;
  for (const auto& w : transport->writes()) {
    if (w.method == "DELETE")
      deletes.push_back(w.path_and_query.substr(0, w.path_and_query.find('?')));
  }
  ASSERT_EQ(deletes.size(), 2u);
  EXPECT_EQ(deletes[0], "/api/v1/namespaces/ns/pods/kv-1");
  EXPECT_EQ(deletes[1], "/api/v1/namespaces/ns/persistentvolumeclaims/data-kv-1");

  // A failed pod is replaced under the same name: its claim stays.
  transport->requests.clear();
  set["spec"]["warmPool"]["size"] = 1;
  PutSet(set);
  Json failed = PodObject(1, "warm", false);
  failed["status"]["phase"] = "Failed";
  pods.Upsert(std::make_shared<const Json>(failed));
  ASSERT_TRUE(rec->Reconcile("ns/kv").ok());
  bool pod_deleted = false;
  for (const auto& w : transport->writes()) {
    if (w.method != "DELETE") continue;
    EXPECT_EQ(w.path_and_query.find("persistentvolumeclaims"), std::string::npos)
        << w.path_and_query;
    pod_deleted = pod_deleted || w.path_and_query.rfind("/api/v1/namespaces/ns/pods/kv-1", 0) == 0;
  }
  EXPECT_TRUE(pod_deleted);
}

// A MigrationPolicy may split or merge ranges in the routing document; the
// ShardSet controller keeps the document's ranges as they are (it takes the
// range list from the published document, not from spec.keySpace.ranges).
TEST_F(ReconcilerTest, SplitRangesInThePublishedDocumentAreKept) {
  PutSet(SetObject(1, 0, 4));
  PutPod(0, "active");
  ShardSetSpec s = testing::Spec(1, 0, 4);
  Json doc = BuildRoutingDocument(s, {{0, "kv-0"}, {1, "kv-0"}, {2, "kv-0"}, {3, "kv-0"}},
                                  {{"kv-0", "10.0.0.1"}}, 5, nullptr);
  Json upper = doc["ranges"][0];
  const uint32_t mid = doc["ranges"][0]["end"].get<uint32_t>() / 2;
  upper["id"] = 4;
  upper["start"] = mid + 1;
  doc["ranges"][0]["end"] = mid;
  doc["ranges"].insert(doc["ranges"].begin() + 1, upper);
  Json cm = ConfigMapObject("kv-routing", doc.dump());
  cm["metadata"]["annotations"] = {{api::kAnnotationFencing, "1"}};
  cms.Upsert(std::make_shared<const Json>(cm));
  ASSERT_TRUE(rec->Reconcile("ns/kv").ok());
  EXPECT_EQ(ConfigMapWrites("kv-routing"), 0u) << "no rewrite of a valid split document";
  Json st = LastWrite("PUT", "/status");
  ASSERT_TRUE(st.is_object());
  EXPECT_EQ(st["status"]["epoch"], 5);
  EXPECT_EQ(st["status"]["pods"][0]["ranges"], 5) << st["status"].dump();
}

}  // namespace
}  // namespace shardcast::shardset
