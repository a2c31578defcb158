// The reconciler and issue 12: ownership requests, the last good routing
// document, owners gone or coming back.
#include "reconciler_fixture.h"

namespace shardcast::shardset {
namespace {

using testing::PodObject;
using testing::ReconcilerTest;
using testing::SetObject;

// Item 3: a corrupt document is never rebuilt; the last good copy is named,
// with the command that restores it; nothing is requested or deleted.
TEST_F(ReconcilerTest, CorruptDocumentIsKeptReportedAndFreezesOwnershipAndDeletions) {
  PutSet(SetObject(1, 0, 4));
  PutPod(0, "active");
  Json failed = PodObject(1, "warm", false);
  failed["status"]["phase"] = "Failed";
  pods.Upsert(std::make_shared<const Json>(failed));
  ShardSetSpec s = testing::Spec(1, 0, 4);
  Json good = BuildRoutingDocument(s, {{0, "kv-0"}, {1, "kv-0"}, {2, "kv-0"}, {3, "kv-0"}},
                                   {{"kv-0", "10.0.0.1"}}, 5, nullptr);
  Json bad = good;
  bad["ranges"][2]["owner"] = "";
  PutConfigMap("kv-routing", bad.dump());
  PutConfigMap("kv-routing-last-good", good.dump());
  transport->gets["/api/v1/namespaces/ns/configmaps/kv-routing"] = Json::object();
  ASSERT_TRUE(rec->Reconcile("ns/kv").ok());
  EXPECT_EQ(ConfigMapWrites("kv-routing"), 0u) << "never rebuilt";
  EXPECT_EQ(ConfigMapWrites("kv-routing-last-good"), 0u) << "the last good copy stays";
  for (const auto& w : transport->writes()) EXPECT_NE(w.method, "DELETE") << w.path_and_query;
  Json st = LastWrite("PUT", "/status");
  const Json* degraded = StatusCondition(st, "Degraded");
  ASSERT_NE(degraded, nullptr);
  EXPECT_EQ((*degraded)["status"], "True");
  EXPECT_EQ((*degraded)["reason"], "RoutingDocumentInvalid");
  std::string msg = (*degraded)["message"];
  EXPECT_NE(msg.find("ranges[2].owner"), std::string::npos) << msg;
  EXPECT_NE(msg.find("epoch 5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("kubectl -n ns get configmap kv-routing-last-good -o "
                     "jsonpath='{.data.routing\\.json}' > routing.json && kubectl -n ns create "
                     "configmap kv-routing --from-file=routing.json=routing.json"),
            std::string::npos)
      << msg;
  EXPECT_EQ(st["status"]["ownershipRequests"], Json::array());
  EXPECT_EQ(st["status"]["epoch"], 5) << "the last good document is what is served";
  EXPECT_EQ((*StatusCondition(st, "Stalled"))["status"], "True");

  // Valid again (restored): the failed pod that the document does not name
  // goes, and Degraded clears.
  PutConfigMap("kv-routing", good.dump());
  transport->gets["/api/v1/namespaces/ns/configmaps/kv-routing"] = *cms.get("ns/kv-routing");
  transport->requests.clear();
  ASSERT_TRUE(rec->Reconcile("ns/kv").ok());
  EXPECT_EQ(transport->by("DELETE", "/pods/kv-1").size(), 1u);
  st = LastWrite("PUT", "/status");
  EXPECT_EQ((*StatusCondition(st, "Degraded"))["status"], "False");
}

// The in-memory copy serves when the durable one is absent, and a missing
// document after one was published is not re-created from the ring.
TEST_F(ReconcilerTest, LastGoodCopyIsSavedOnAHigherEpochAndAMissingDocumentIsNotRebuilt) {
  PutSet(SetObject(1, 0, 4));
  PutPod(0, "active");
  ShardSetSpec s = testing::Spec(1, 0, 4);
  std::map<uint32_t, std::string> all0 = {{0, "kv-0"}, {1, "kv-0"}, {2, "kv-0"}, {3, "kv-0"}};
  Json e5 = BuildRoutingDocument(s, all0, {{"kv-0", "10.0.0.1"}}, 5, nullptr);
  PutConfigMap("kv-routing", e5.dump());
  ASSERT_TRUE(rec->Reconcile("ns/kv").ok());
  Json lg = LastConfigMapWrite("POST", "kv-routing-last-good");
  ASSERT_TRUE(lg.is_object());
  EXPECT_EQ(lg["data"][api::kRoutingKey], e5.dump());
  EXPECT_EQ(lg["metadata"]["labels"][api::kLabelShardSet], "kv");
  EXPECT_EQ(lg["metadata"]["ownerReferences"][0]["uid"], "set-uid");
  EXPECT_EQ(lg["metadata"]["ownerReferences"][0]["kind"], "ShardSet");
  // Same epoch again: no write.
  transport->requests.clear();
  ASSERT_TRUE(rec->Reconcile("ns/kv").ok());
  EXPECT_EQ(ConfigMapWrites("kv-routing-last-good"), 0u);
  // A higher epoch (the executor wrote): the copy is updated.
  lg["metadata"]["resourceVersion"] = "60";
  cms.Upsert(std::make_shared<const Json>(lg));
  Json e6 = BuildRoutingDocument(s, all0, {{"kv-0", "10.0.0.9"}}, 6, nullptr);
  PutConfigMap("kv-routing", e6.dump());
  ASSERT_TRUE(rec->Reconcile("ns/kv").ok());
  Json updated = LastConfigMapWrite("PUT", "kv-routing-last-good");
  ASSERT_TRUE(updated.is_object());
  EXPECT_EQ(updated["data"][api::kRoutingKey], e6.dump());
  EXPECT_EQ(updated["metadata"]["resourceVersion"], "60") << "update with a precondition";

  // The routing ConfigMap disappears; the durable copy too (still epoch 5):
  // the memory copy (epoch 6) is named, and nothing is created from the ring.
  cms.erase("ns/kv-routing");
  cms.erase("ns/kv-routing-last-good");
  transport->requests.clear();
  ASSERT_TRUE(rec->Reconcile("ns/kv").ok());
  EXPECT_EQ(ConfigMapWrites("kv-routing"), 0u);
  Json st = LastWrite("PUT", "/status");
  const Json* degraded = StatusCondition(st, "Degraded");
  ASSERT_NE(degraded, nullptr);
  EXPECT_EQ((*degraded)["reason"], "RoutingDocumentMissing");
  EXPECT_NE((*degraded)["message"].get<std::string>().find("epoch 6"), std::string::npos)
      << (*degraded)["message"];
}

// Item 2 and C1: a deleted owner without claims is gone: OwnerGone requests
// (sorted, with since kept across rounds), DataLost=True naming the ranges,
// one Warning Event; Progressing says the ranges wait for a MigrationPolicy.
TEST_F(ReconcilerTest, GoneOwnerIsPublishedAsOwnerGoneWithDataLostAndAnEvent) {
  PutSet(SetObject(2, 0, 4));
  PutPod(0, "active");
  ShardSetSpec s = testing::Spec(2, 0, 4);
  Json doc = BuildRoutingDocument(s, {{0, "kv-0"}, {1, "kv-1"}, {2, "kv-0"}, {3, "kv-1"}},
                                  {{"kv-0", "10.0.0.1"}, {"kv-1", "10.0.0.2"}}, 3, nullptr);
  PutConfigMap("kv-routing", doc.dump());
  ASSERT_TRUE(rec->Reconcile("ns/kv").ok());
  Json st = LastWrite("PUT", "/status");
  Json want = Json::array({{{"range", 1},
                            {"owner", "kv-1"},
                            {"reason", "OwnerGone"},
                            {"since", "2026-01-01T00:00:00Z"}},
                           {{"range", 3},
                            {"owner", "kv-1"},
                            {"reason", "OwnerGone"},
                            {"since", "2026-01-01T00:00:00Z"}}});
  EXPECT_EQ(st["status"]["ownershipRequests"], want);
  const Json* lost = StatusCondition(st, "DataLost");
  ASSERT_NE(lost, nullptr);
  EXPECT_EQ((*lost)["status"], "True");
  EXPECT_EQ((*lost)["reason"], "OwnerGone");
  EXPECT_NE((*lost)["message"].get<std::string>().find("1, 3 (kv-1)"), std::string::npos)
      << (*lost)["message"];
  const Json* progressing = StatusCondition(st, "Progressing");
  EXPECT_EQ((*progressing)["status"], "True");
  EXPECT_EQ((*progressing)["reason"], "CreatingPods") << "a pod for the missing one";
  EXPECT_NE((*progressing)["message"].get<std::string>().find(
                "waiting for a MigrationPolicy to move ranges"),
            std::string::npos)
      << (*progressing)["message"];
  EXPECT_EQ(EventCount("RangeDataLost"), 1u);
  for (const auto& e : sink.events) {
    if (e.reason == "RangeDataLost") {
      EXPECT_EQ(e.type, kube::EventType::kWarning);
      EXPECT_NE(e.message.find("1, 3 (kv-1)"), std::string::npos) << e.message;
    }
  }
  // A later round: same requests, `since` kept, no second Event. A pod
  // created meanwhile never takes the name kv-1.
  st["metadata"]["resourceVersion"] = "2";
  sets.Upsert(std::make_shared<const Json>(st));
  now = "2026-01-01T00:05:00Z";
  transport->requests.clear();
  ASSERT_TRUE(rec->Reconcile("ns/kv").ok());
  EXPECT_EQ(EventCount("RangeDataLost"), 1u);
  for (const auto& w : transport->by("POST", "/pods")) {
    EXPECT_NE(Json::parse(w.body)["metadata"]["name"], "kv-1");
  }
  Json again = LastWrite("PUT", "/status");
  if (again.is_object()) {
    EXPECT_EQ(again["status"]["ownershipRequests"], want);
  }
  // The new pod is there: only the requests are left, waiting.
  PutPod(2, "active");
  transport->requests.clear();
  ASSERT_TRUE(rec->Reconcile("ns/kv").ok());
  again = LastWrite("PUT", "/status");
  ASSERT_TRUE(again.is_object());
  EXPECT_EQ(again["status"]["ownershipRequests"], want) << "since kept";
  EXPECT_EQ((*StatusCondition(again, "Progressing"))["reason"], "WaitingForMigrationPolicy");
  EXPECT_EQ(EventCount("RangeDataLost"), 1u);
}

TEST_F(ReconcilerTest, DeletedOwnerWithItsClaimIsRecreatedUnderItsName) {
  Json set = SetObject(2, 0, 4);
  set["spec"]["volumeClaimTemplates"] = Json::parse(
      R"([{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}])");
  PutSet(set);
  PutPod(0, "active");
  ShardSetSpec s = testing::Spec(2, 0, 4);
  Json doc = BuildRoutingDocument(s, {{0, "kv-0"}, {1, "kv-1"}, {2, "kv-0"}, {3, "kv-1"}},
                                  {{"kv-0", "10.0.0.1"}, {"kv-1", "10.0.0.2"}}, 3, nullptr);
  PutConfigMap("kv-routing", doc.dump());
  transport->gets["/api/v1/namespaces/ns/persistentvolumeclaims/data-kv-1"] = {
      {"metadata", {{"name", "data-kv-1"}, {"namespace", "ns"}}}};
  ASSERT_TRUE(rec->Reconcile("ns/kv").ok());
  auto posts = transport->by("POST", "/api/v1/namespaces/ns/pods");
  ASSERT_EQ(posts.size(), 1u);
  Json pod = Json::parse(posts[0].body);
  EXPECT_EQ(pod["metadata"]["name"], "kv-1");
  EXPECT_EQ(pod["metadata"]["labels"][api::kLabelRole], "active");
  EXPECT_TRUE(sink.has("PodRecreated"));
  EXPECT_FALSE(sink.has("RangeDataLost"));
  Json st = LastWrite("PUT", "/status");
  EXPECT_EQ(st["status"]["ownershipRequests"], Json::array());
  EXPECT_EQ((*StatusCondition(st, "DataLost"))["status"], "False");
}

TEST_F(ReconcilerTest, UnderAGoverningPolicyTheRequestsAreForItsExecutor) {
  PutSet(SetObject(1, 0, 4));
  PutPod(0, "active");
  PutPod(1, "active");
  ShardSetSpec s = testing::Spec(1, 0, 4);
  Json doc = BuildRoutingDocument(s, {{0, "kv-0"}, {1, "kv-1"}, {2, "kv-0"}, {3, "kv-1"}},
                                  {{"kv-0", "10.0.0.1"}, {"kv-1", "10.0.0.2"}}, 3, nullptr);
  PutConfigMap("kv-routing", doc.dump());
  policies.Upsert(
      std::make_shared<const Json>(Json{{"apiVersion", "shardcast.dev/v1alpha1"},
                                        {"kind", "MigrationPolicy"},
                                        {"metadata", {{"name", "p"}, {"namespace", "ns"}}},
                                        {"status", {{"selectedShardSets", Json::array({"kv"})}}}}));
  ASSERT_TRUE(rec->Reconcile("ns/kv").ok());
  for (const auto& w : transport->writes()) EXPECT_NE(w.method, "DELETE") << w.path_and_query;
  EXPECT_EQ(ConfigMapWrites("kv-routing"), 0u);
  Json st = LastWrite("PUT", "/status");
  Json reqs = st["status"]["ownershipRequests"];
  ASSERT_EQ(reqs.size(), 2u) << st["status"].dump();
  for (const auto& r : reqs) {
    EXPECT_EQ(r["owner"], "kv-1");
    EXPECT_EQ(r["reason"], "ScaleIn");
  }
  const Json* progressing = StatusCondition(st, "Progressing");
  EXPECT_EQ((*progressing)["reason"], "RangesRequested");
  EXPECT_NE((*progressing)["message"].get<std::string>().find("MigrationPolicy p moves them"),
            std::string::npos)
      << (*progressing)["message"];
}

}  // namespace
}  // namespace shardcast::shardset
