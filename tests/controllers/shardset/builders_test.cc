#include <gtest/gtest.h>

#include <set>

#include "controllers/api/resources.h"
#include "controllers/shardset/last_good.h"
#include "controllers/shardset/shardset.h"
#include "testutil.h"

namespace shardcast::shardset {
namespace {

using testing::Pod;
using testing::SetObject;
using testing::Spec;

// ---- ParseShardSet ----

TEST(ParseShardSet, ReadsFieldsAndDefaults) {
  Json obj = SetObject(5, 2, 64);
  auto s = ParseShardSet(obj);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->name, "kv");
  EXPECT_EQ(s->ns, "ns");
  EXPECT_EQ(s->uid, "set-uid");
  EXPECT_EQ(s->generation, 4);
  EXPECT_EQ(s->replicas, 5);
  EXPECT_EQ(s->warm_pool, 2);
  EXPECT_EQ(s->ranges, 64);
  EXPECT_EQ(s->config_map, "kv-routing");

  obj["spec"].erase("warmPool");
  obj["spec"].erase("keySpace");
  obj["spec"].erase("replicas");
  obj["spec"]["routing"].erase("port");
  auto d = ParseShardSet(obj);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->replicas, 3);
  EXPECT_EQ(d->warm_pool, 1);
  EXPECT_EQ(d->ranges, 256);
  EXPECT_EQ(d->virtual_nodes, 64);
  EXPECT_DOUBLE_EQ(d->load_factor, 1.25);
  EXPECT_EQ(d->port, 8080);
}

struct BadField {
  const char* pointer;
  Json value;
  const char* field;
};

TEST(ParseShardSet, MalformedFieldsAreNamed) {
  const std::vector<BadField> cases = {
      {"/spec/replicas", "three", "spec.replicas"},
      {"/spec/replicas", -1, "spec.replicas"},
      {"/spec/replicas", 2.5, "spec.replicas"},
      {"/spec/warmPool", "big", "spec.warmPool"},
      {"/spec/warmPool/size", "two", "spec.warmPool.size"},
      {"/spec/warmPool/size", 101, "spec.warmPool.size"},
      {"/spec/keySpace/ranges", 0, "spec.keySpace.ranges"},
      {"/spec/keySpace/ranges", 5000, "spec.keySpace.ranges"},
      {"/spec/keySpace/hashing/virtualNodes", Json::array(), "spec.keySpace.hashing.virtualNodes"},
      {"/spec/keySpace/hashing/loadFactor", 9.0, "spec.keySpace.hashing.loadFactor"},
      {"/spec/keySpace/hashing/loadFactor", "x", "spec.keySpace.hashing.loadFactor"},
      {"/spec/keySpace/hashing/algorithm", "Random", "spec.keySpace.hashing.algorithm"},
      {"/spec/routing", 7, "spec.routing"},
      {"/spec/routing/configMapName", "Bad_Name", "spec.routing.configMapName"},
      {"/spec/routing/configMapName", 3, "spec.routing.configMapName"},
      {"/spec/routing/port", 70000, "spec.routing.port"},
      {"/spec/template", "pod", "spec.template"},
      {"/spec/template/spec", nullptr, "spec.template.spec"},
      {"/spec/template/metadata/labels", Json{{"a", 1}}, "spec.template.metadata.labels.a"},
      {"/spec/volumeClaimTemplates", Json::object(), "spec.volumeClaimTemplates"},
      {"/spec/volumeClaimTemplates", Json::array({Json{{"spec", Json::object()}}}),
       "spec.volumeClaimTemplates[0].metadata.name"},
  };
  for (const auto& c : cases) {
    Json obj = SetObject();
    obj[Json::json_pointer(c.pointer)] = c.value;
    auto s = ParseShardSet(obj);
    ASSERT_FALSE(s.ok()) << c.pointer << " = " << c.value.dump() << " was accepted";
    EXPECT_EQ(s.error().message.rfind(c.field, 0), 0u)
        << c.pointer << ": message '" << s.error().message << "' does not start with " << c.field;
  }
  EXPECT_FALSE(ParseShardSet(Json::array()).ok());
  EXPECT_FALSE(ParseShardSet(Json{{"metadata", {{"name", "x"}}}}).ok());
  EXPECT_EQ(ParseShardSet(Json{{"metadata", {{"name", "x"}}}}).error().message.rfind("spec", 0),
            0u);
}

TEST(ParseShardSet, NeverThrowsOnAnyValueAtAnyField) {
  // Every field replaced by every JSON type: an error or a value, no throw.
  const std::vector<Json> values = {
      nullptr, true, -7, 1.5e300, "s", Json::array({1}), Json::object({{"k", "v"}})};
  const Json base = SetObject();
  std::vector<std::string> pointers;
  std::function<void(const Json&, const std::string&)> walk = [&](const Json& j,
                                                                  const std::string& at) {
    pointers.push_back(at);
    if (j.is_object()) {
      for (auto it = j.begin(); it != j.end(); ++it) walk(it.value(), at + "/" + it.key());
    }
  };
  walk(base, "");
  size_t errors = 0;
  for (const auto& p : pointers) {
    for (const auto& v : values) {
      Json obj = base;
      if (p.empty()) {
        obj = v;
      } else {
        obj[Json::json_pointer(p)] = v;
      }
      EXPECT_NO_THROW({
        auto s = ParseShardSet(obj);
        if (!s.ok()) {
          ++errors;
          EXPECT_FALSE(s.error().message.empty());
        }
      }) << p;
    }
  }
  EXPECT_GT(errors, 20u);
}

// ---- pods and claims ----

TEST(BuildPod, NameLabelsOwnerAndTemplate) {
  ShardSetSpec s = Spec();
  Json pod = BuildPod(s, 4, api::kRoleWarm);
  EXPECT_EQ(pod["metadata"]["name"], "kv-4");
  EXPECT_EQ(pod["metadata"]["namespace"], "ns");
  EXPECT_EQ(pod["metadata"]["labels"][api::kLabelShardSet], "kv");
  EXPECT_EQ(pod["metadata"]["labels"][api::kLabelRole], "warm");
  EXPECT_EQ(pod["metadata"]["labels"]["app"], "kv");
  EXPECT_EQ(pod["metadata"]["annotations"]["a"], "b");
  ASSERT_EQ(pod["metadata"]["ownerReferences"].size(), 1u);
  const Json& o = pod["metadata"]["ownerReferences"][0];
  EXPECT_EQ(o["kind"], "ShardSet");
  EXPECT_EQ(o["apiVersion"], "shardcast.dev/v1alpha1");
  EXPECT_EQ(o["uid"], "set-uid");
  EXPECT_EQ(o["controller"], true);
  EXPECT_EQ(o["blockOwnerDeletion"], true);
  EXPECT_EQ(pod["spec"]["hostname"], "kv-4");
  EXPECT_EQ(pod["spec"]["containers"][0]["image"], "example/kv:1.0");
  EXPECT_FALSE(pod["spec"].contains("volumes"));
  EXPECT_EQ(BuildPod(s, 0, api::kRoleActive)["metadata"]["labels"][api::kLabelRole], "active");
}

TEST(BuildPod, TemplateCannotOverrideControllerLabels) {
  Json obj = SetObject();
  obj["spec"]["template"]["metadata"]["labels"][api::kLabelShardSet] = "other";
  obj["spec"]["template"]["metadata"]["labels"][api::kLabelRole] = "active";
  auto s = ParseShardSet(obj);
  ASSERT_TRUE(s.ok());
  Json pod = BuildPod(*s, 1, api::kRoleWarm);
  EXPECT_EQ(pod["metadata"]["labels"][api::kLabelShardSet], "kv");
  EXPECT_EQ(pod["metadata"]["labels"][api::kLabelRole], "warm");
}

TEST(BuildPvc, NamedAfterClaimAndPodWithVolumeInPod) {
  Json obj = SetObject();
  obj["spec"]["volumeClaimTemplates"] =
      Json::array({{{"metadata", {{"name", "data"}, {"labels", {{"tier", "ssd"}}}}},
                    {"spec",
                     {{"accessModes", {"ReadWriteOnce"}},
                      {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}}});
  auto s = ParseShardSet(obj);
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto pvc = BuildPvc(*s, s->volume_claim_templates[0], 2);
  ASSERT_TRUE(pvc.ok());
  EXPECT_EQ((*pvc)["metadata"]["name"], "data-kv-2");
  EXPECT_EQ((*pvc)["metadata"]["labels"]["tier"], "ssd");
  EXPECT_EQ((*pvc)["metadata"]["ownerReferences"][0]["uid"], "set-uid");
  EXPECT_EQ((*pvc)["spec"]["resources"]["requests"]["storage"], "1Gi");
  Json pod = BuildPod(*s, 2, api::kRoleActive);
  ASSERT_EQ(pod["spec"]["volumes"].size(), 1u);
  EXPECT_EQ(pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"], "data-kv-2");
  EXPECT_FALSE(BuildPvc(*s, Json::object(), 1).ok());
}

TEST(ObservePod, ReadsRolePhaseReadinessAndTolerment) {
  Json pod = {{"metadata",
               {{"name", "kv-7"},
                {"uid", "u"},
                {"resourceVersion", "9"},
                {"labels", {{api::kLabelRole, "warm"}}}}},
              {"status",
               {{"phase", "Running"},
                {"podIP", "10.1.2.3"},
                {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}};
  ObservedPod p = ObservePod(pod);
  EXPECT_EQ(p.name, "kv-7");
  EXPECT_EQ(p.ordinal, 7);
  EXPECT_EQ(p.role, "warm");
  EXPECT_TRUE(p.ready);
  EXPECT_TRUE(p.live());
  EXPECT_EQ(p.ip, "10.1.2.3");
  pod["status"]["phase"] = "Failed";
  EXPECT_FALSE(ObservePod(pod).ready);
  EXPECT_FALSE(ObservePod(pod).live());
  pod["status"] = "garbage";
  pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  EXPECT_NO_THROW(p = ObservePod(pod));
  EXPECT_TRUE(p.terminating);
  EXPECT_NO_THROW(ObservePod(Json(42)));
}

// ---- routing document ----

void ExpectCoversKeySpaceOnce(const Json& doc) {
  uint64_t next = 0;
  std::set<uint64_t> ids;
  for (const auto& r : doc["ranges"]) {
    EXPECT_EQ(r["start"].get<uint64_t>(), next) << r.dump();
    EXPECT_LE(r["start"].get<uint64_t>(), r["end"].get<uint64_t>());
    EXPECT_TRUE(ids.insert(r["id"].get<uint64_t>()).second);
    next = r["end"].get<uint64_t>() + 1;
  }
  EXPECT_EQ(next, uint64_t{1} << 32);
}

TEST(EvenRanges, SplitTheKeySpaceExactly) {
  for (int n : {1, 3, 7, 16, 256, 4096}) {
    auto ranges = EvenRanges(n);
    ASSERT_EQ(ranges.size(), static_cast<size_t>(n));
    Json doc = {{"ranges", Json::array()}};
    uint32_t min_w = UINT32_MAX, max_w = 0;
    for (const auto& r : ranges) {
      doc["ranges"].push_back({{"id", r.id}, {"start", r.start}, {"end", r.end}});
      min_w = std::min(min_w, r.end - r.start);
      max_w = std::max(max_w, r.end - r.start);
    }
    ExpectCoversKeySpaceOnce(doc);
    EXPECT_LE(max_w - min_w, 1u) << n;
  }
  EXPECT_EQ(EvenRanges(16)[1].start, 268435456u);
}

TEST(BuildRoutingDocument, FreshDocumentFollowsTheContract) {
  ShardSetSpec s = Spec(2, 0, 8);
  std::map<uint32_t, std::string> a;
  for (uint32_t i = 0; i < 8; ++i) a[i] = i % 2 ? "kv-1" : "kv-0";
  Json doc = BuildRoutingDocument(s, a, {{"kv-0", "10.0.0.1"}, {"kv-1", "fd00::2"}}, 1, nullptr);
  EXPECT_EQ(doc["schemaVersion"], 1);
  EXPECT_EQ(doc["shardSet"], "kv");
  EXPECT_EQ(doc["epoch"], 1);
  EXPECT_EQ(doc["hash"], "fnv1a64-high32");
  ASSERT_EQ(doc["ranges"].size(), 8u);
  ExpectCoversKeySpaceOnce(doc);
  EXPECT_EQ(doc["ranges"][0]["owner"], "kv-0");
  EXPECT_EQ(doc["ranges"][0]["endpoint"], "10.0.0.1:8080");
  EXPECT_EQ(doc["ranges"][1]["endpoint"], "[fd00::2]:8080");
  EXPECT_EQ(doc["ranges"][0]["state"], "stable");
  EXPECT_TRUE(doc["ranges"][0]["source"].is_null());
  EXPECT_TRUE(doc["ranges"][0]["target"].is_null());
  EXPECT_TRUE(doc["ranges"][0]["echoes"].is_array());
  auto parsed = ParseRoutingDocument(doc.dump());
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->epoch, 1);
  EXPECT_EQ(parsed->owners(), a);
}

TEST(BuildRoutingDocument, KeepsForeignFieldsSplitRangesAndValidMigrations) {
  ShardSetSpec s = Spec(3, 0, 4);
  Json prev = Json::parse(R"({"schemaVersion":1,"shardSet":"kv","epoch":5,"hash":"fnv1a64-high32",
    "note":"kept","ranges":[
     {"id":0,"start":0,"end":99,"owner":"kv-0","endpoint":"x:1","state":"migrating",
      "source":"kv-0","target":"kv-2","shadowFraction":0,"echoes":[],"extra":{"k":1}},
     {"id":9,"start":100,"end":2147483647,"owner":"kv-1","endpoint":"x:1","state":"shadow",
      "source":"kv-1","target":"kv-2","shadowFraction":0.2,"targetEndpoint":"x:1","echoes":[]},
     {"id":2,"start":2147483648,"end":4294967295,"owner":"kv-1","endpoint":"","state":"stable",
      "source":null,"target":null,"shadowFraction":0,
      "echoes":[{"pod":"kv-2","endpoint":"10.0.0.3:8080"}]}]})");
  auto p = ParseRoutingDocument(prev.dump());
  ASSERT_TRUE(p.ok()) << p.error().message;
  std::map<uint32_t, std::string> a = {{0, "kv-0"}, {9, "kv-0"}, {2, "kv-1"}};
  std::map<std::string, std::string> ips = {
      {"kv-0", "10.0.0.1"}, {"kv-1", "10.0.0.2"}, {"kv-2", "10.0.0.3"}};
  Json doc = BuildRoutingDocument(s, a, ips, 6, &*p);
  EXPECT_EQ(doc["note"], "kept");
  EXPECT_EQ(doc["epoch"], 6);
  ASSERT_EQ(doc["ranges"].size(), 3u);
  ExpectCoversKeySpaceOnce(doc);
  // Range 0: owner unchanged, migration kept with its extra field.
  EXPECT_EQ(doc["ranges"][0]["state"], "migrating");
  EXPECT_EQ(doc["ranges"][0]["target"], "kv-2");
  EXPECT_EQ(doc["ranges"][0]["extra"]["k"], 1);
  EXPECT_EQ(doc["ranges"][0]["endpoint"], "10.0.0.1:8080");
  // Range 9: owner moved away from the migration's source: reset to stable.
  EXPECT_EQ(doc["ranges"][1]["id"], 9);
  EXPECT_EQ(doc["ranges"][1]["end"], 2147483647u);
  EXPECT_EQ(doc["ranges"][1]["owner"], "kv-0");
  EXPECT_EQ(doc["ranges"][1]["state"], "stable");
  EXPECT_TRUE(doc["ranges"][1]["target"].is_null());
  EXPECT_EQ(doc["ranges"][1]["shadowFraction"], 0);
  // Range 2: echoes preserved.
  EXPECT_EQ(doc["ranges"][2]["echoes"][0]["pod"], "kv-2");
  EXPECT_EQ(p->ReferencedPods(), (std::set<std::string>{"kv-0", "kv-1", "kv-2"}));
}

TEST(ParseRoutingDocument, RejectsGapsOverlapsAndGarbageNamingTheField) {
  auto doc = [](const std::string& ranges) {
    return R"({"schemaVersion":1,"shardSet":"kv","epoch":3,"hash":"fnv1a64-high32","ranges":)" +
           ranges + "}";
  };
  EXPECT_TRUE(
      ParseRoutingDocument(
          doc(R"([{"id":0,"start":0,"end":4294967295,"owner":"a","endpoint":"","state":"stable"}])"))
          .ok());
  auto gap = ParseRoutingDocument(doc(
      R"([{"id":0,"start":0,"end":5,"owner":"a","endpoint":"","state":"stable"},{"id":1,"start":7,"end":4294967295,"owner":"a","endpoint":"","state":"stable"}])"));
  ASSERT_FALSE(gap.ok());
  EXPECT_NE(gap.error().message.find("ranges[1].start"), std::string::npos) << gap.error().message;
  EXPECT_FALSE(
      ParseRoutingDocument(
          doc(R"([{"id":0,"start":0,"end":5,"owner":"a","endpoint":"","state":"stable"},{"id":1,"start":5,"end":4294967295,"owner":"a","endpoint":"","state":"stable"}])"))
          .ok());
  EXPECT_FALSE(
      ParseRoutingDocument(
          doc(R"([{"id":0,"start":0,"end":5,"owner":"a","endpoint":"","state":"stable"},{"id":0,"start":6,"end":4294967295,"owner":"a","endpoint":"","state":"stable"}])"))
          .ok());
  EXPECT_FALSE(
      ParseRoutingDocument(
          doc(R"([{"id":0,"start":0,"end":10,"owner":"a","endpoint":"","state":"stable"}])"))
          .ok());
  auto bad_end =
      ParseRoutingDocument(doc(R"([{"id":0,"start":0,"end":"x","endpoint":"","state":"stable"}])"));
  ASSERT_FALSE(bad_end.ok());
  EXPECT_NE(bad_end.error().message.find("ranges[0].end"), std::string::npos);
  EXPECT_FALSE(ParseRoutingDocument(doc(R"([])")).ok());
  EXPECT_FALSE(ParseRoutingDocument("{not json").ok());
  EXPECT_FALSE(ParseRoutingDocument(R"({"schemaVersion":2,"epoch":1,"ranges":[]})").ok());
  EXPECT_FALSE(
      ParseRoutingDocument(
          R"({"schemaVersion":1,"shardSet":"kv","hash":"fnv1a64-high32","epoch":-1,"ranges":[]})")
          .ok());
}

TEST(ParseRoutingDocument, RejectsAnEmptyOrMissingOwner) {
  // docs/routing.md promises clients a non-empty owner for every range.
  auto doc = [](const std::string& ranges) {
    return R"({"schemaVersion":1,"shardSet":"kv","epoch":3,"hash":"fnv1a64-high32","ranges":)" +
           ranges + "}";
  };
  auto empty = ParseRoutingDocument(doc(
      R"([{"id":0,"start":0,"end":5,"owner":"a","endpoint":"","state":"stable"},{"id":1,"start":6,"end":4294967295,"owner":"","endpoint":"","state":"stable"}])"));
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("ranges[1].owner"), std::string::npos)
      << empty.error().message;
  auto missing = ParseRoutingDocument(
      doc(R"([{"id":0,"start":0,"end":4294967295,"endpoint":"","state":"stable"}])"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("ranges[0].owner"), std::string::npos)
      << missing.error().message;
}

// ---- status ----

TEST(BuildStatus, CountsPodsAndKeepsTransitionTimes) {
  StatusInput in;
  in.observed_generation = 4;
  in.selector = "shardcast.dev/shardset=kv";
  in.pods = {Pod(0, "active"), Pod(1, "active", false), Pod(2, "warm"), Pod(3, "warm", false),
             Pod(4, "active", false, "Failed")};
  in.ranges_per_pod = {{"kv-0", 10}, {"kv-1", 6}};
  in.epoch = 7;
  in.conditions = {{"Ready", "False", "NotReady", "1/2"},
                   {"Progressing", "True", "WaitingForPods", "w"},
                   {"Degraded", "False", "AsExpected", ""}};
  Json st = BuildStatus(in, Json::object(), "2026-01-01T00:00:00Z");
  EXPECT_EQ(st["observedGeneration"], 4);
  EXPECT_EQ(st["selector"], "shardcast.dev/shardset=kv");
  EXPECT_EQ(st["replicas"], 2);
  EXPECT_EQ(st["activeReplicas"], 2);
  EXPECT_EQ(st["readyReplicas"], 1);
  EXPECT_EQ(st["warmReplicas"], 1);
  EXPECT_EQ(st["epoch"], 7);
  ASSERT_EQ(st["pods"].size(), 4u);  // the failed pod is not listed
  EXPECT_EQ(st["pods"][0],
            (Json{{"name", "kv-0"}, {"role", "active"}, {"ready", true}, {"ranges", 10}}));
  EXPECT_EQ(st["pods"][2]["ranges"], 0);
  ASSERT_EQ(st["conditions"].size(), 3u);
  EXPECT_EQ(st["conditions"][0]["lastTransitionTime"], "2026-01-01T00:00:00Z");

  // Same input later: identical object (no write needed).
  EXPECT_EQ(BuildStatus(in, st, "2026-01-01T00:05:00Z"), st);
  // Ready flips: only its transition time moves; a new message alone keeps it.
  in.conditions[0] = {"Ready", "True", "AllRangesServed", "2/2"};
  in.conditions[1].message = "other";
  Json st2 = BuildStatus(in, st, "2026-01-01T00:10:00Z");
  EXPECT_EQ(st2["conditions"][0]["lastTransitionTime"], "2026-01-01T00:10:00Z");
  EXPECT_EQ(st2["conditions"][1]["lastTransitionTime"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(st2["conditions"][1]["message"], "other");
  EXPECT_NE(st2, st);
}

TEST(BuildStatus, KeepsForecastsWrittenByOthers) {
  StatusInput in;
  Json prev = {{"forecasts", Json::array({{{"pod", "kv-0"}, {"peak", 0.5}}})}};
  EXPECT_EQ(BuildStatus(in, prev, "t")["forecasts"], prev["forecasts"]);
}

TEST(BuildStatus, KeepsEveryFieldWrittenByOthersAndPublishesTheRequests) {
  StatusInput in;
  in.ownership_requests = {{3, "kv-2", kReasonScaleIn, "2026-01-01T00:00:00Z"}};
  Json prev = {{"routerStats", {{"routers", 2}}},
               {"rangeForecasts", Json::array({{{"range", 7}}})},
               {"ownershipRequests", Json::array({{{"range", 1}}})},
               {"epoch", 99}};
  Json st = BuildStatus(in, prev, "t");
  EXPECT_EQ(st["routerStats"], prev["routerStats"]);
  EXPECT_EQ(st["rangeForecasts"], prev["rangeForecasts"]);
  EXPECT_EQ(st["epoch"], 0) << "our own fields are rebuilt";
  EXPECT_EQ(st["ownershipRequests"], Json::array({{{"range", 3},
                                                   {"owner", "kv-2"},
                                                   {"reason", "ScaleIn"},
                                                   {"since", "2026-01-01T00:00:00Z"}}}));
  in.ownership_requests.clear();
  EXPECT_EQ(BuildStatus(in, st, "t")["ownershipRequests"], Json::array());
}

// ---- ownership requests ----

TEST(OwnershipRequests, SinceIsCarriedForTheSameRangeOwnerAndReasonOnly) {
  std::vector<OwnershipRequest> reqs = {{1, "kv-1", kReasonOwnerGone, ""},
                                        {2, "kv-1", kReasonShedding, ""},
                                        {3, "kv-2", kReasonScaleIn, ""}};
  Json prev =
      Json::array({{{"range", 1}, {"owner", "kv-1"}, {"reason", "OwnerGone"}, {"since", "A"}},
                   {{"range", 2}, {"owner", "kv-1"}, {"reason", "ScaleIn"}, {"since", "B"}},
                   {{"range", 3}, {"owner", "kv-9"}, {"reason", "ScaleIn"}, {"since", "C"}},
                   "garbage"});
  CarrySince(reqs, prev, "NOW");
  EXPECT_EQ(reqs[0].since, "A");
  EXPECT_EQ(reqs[1].since, "NOW") << "another reason";
  EXPECT_EQ(reqs[2].since, "NOW") << "another owner";
  CarrySince(reqs, Json(), "LATER");
  EXPECT_EQ(reqs[0].since, "LATER");
}

TEST(OwnershipRequests, MessagesNameTheLostRangesAndWhoActs) {
  std::vector<OwnershipRequest> reqs = {{9, "kv-4", kReasonOwnerGone, ""},
                                        {3, "kv-1", kReasonOwnerGone, ""},
                                        {7, "kv-1", kReasonOwnerGone, ""},
                                        {5, "kv-2", kReasonScaleIn, ""}};
  EXPECT_EQ(LostRangesText(reqs), "3, 7 (kv-1); 9 (kv-4)");
  std::string lost = DataLostMessage(reqs, "");
  EXPECT_NE(lost.find("3, 7 (kv-1); 9 (kv-4)"), std::string::npos) << lost;
  EXPECT_NE(lost.find("waiting for a MigrationPolicy to move ranges"), std::string::npos) << lost;
  EXPECT_NE(DataLostMessage(reqs, "p").find("MigrationPolicy p reassigns"), std::string::npos);
  EXPECT_EQ(DataLostMessage({{5, "kv-2", kReasonScaleIn, ""}}, ""), "");
  std::string waiting = RequestsMessage(reqs, "");
  EXPECT_NE(waiting.find("4 range(s)"), std::string::npos) << waiting;
  EXPECT_NE(waiting.find("OwnerGone 3, ScaleIn 1"), std::string::npos) << waiting;
  EXPECT_NE(waiting.find("waiting for a MigrationPolicy to move ranges"), std::string::npos);
  EXPECT_NE(RequestsMessage(reqs, "p").find("MigrationPolicy p moves them"), std::string::npos);
  EXPECT_EQ(RequestsMessage({}, ""), "");
}

// ---- last good document ----

TEST(LastGood, OnlyAValidCopyControlledByTheShardSetCounts) {
  ShardSetSpec s = Spec(1, 0, 4);
  s.uid = "set-uid";
  s.ns = "ns";
  std::string text =
      BuildRoutingDocument(s, {{0, "kv-0"}, {1, "kv-0"}, {2, "kv-0"}, {3, "kv-0"}}, {}, 4, nullptr)
          .dump();
  Json cm = BuildLastGoodConfigMap(s, {4, text}, Json());
  EXPECT_EQ(cm["metadata"]["name"], "kv-routing-last-good");
  EXPECT_EQ(cm["metadata"]["namespace"], "ns");
  EXPECT_EQ(cm["metadata"]["labels"][api::kLabelShardSet], "kv");
  EXPECT_EQ(cm["metadata"]["ownerReferences"][0]["uid"], "set-uid");
  EXPECT_EQ(cm["metadata"]["ownerReferences"][0]["controller"], true);
  auto got = LastGoodIn(cm, "set-uid");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->epoch, 4);
  EXPECT_EQ(got->text, text);
  EXPECT_FALSE(LastGoodIn(cm, "other-uid")) << "a previous ShardSet of the same name";
  cm["data"][api::kRoutingKey] = "{";
  EXPECT_FALSE(LastGoodIn(cm, "set-uid"));
  EXPECT_FALSE(LastGoodIn(Json(), "set-uid"));
}

TEST(LastGood, TheMessageNamesTheFieldAndTheRestoreCommand) {
  ShardSetSpec s = Spec(1, 0, 4);
  s.ns = "prod";
  std::string m = InvalidRoutingMessage(s,
                                        "routing.json ranges[3].owner: must be a non-empty "
                                        "pod name",
                                        LastGood{12, "{}"});
  EXPECT_NE(m.find("ConfigMap kv-routing: routing.json ranges[3].owner"), std::string::npos) << m;
  EXPECT_NE(m.find("epoch 12"), std::string::npos) << m;
  EXPECT_NE(m.find(RestoreCommand(s)), std::string::npos) << m;
  EXPECT_EQ(RestoreCommand(s),
            "kubectl -n prod get configmap kv-routing-last-good -o "
            "jsonpath='{.data.routing\\.json}' > routing.json && kubectl -n prod create "
            "configmap kv-routing --from-file=routing.json=routing.json --dry-run=client -o yaml "
            "| kubectl label --local -f - shardcast.dev/shardset=kv -o yaml | kubectl -n prod "
            "apply --server-side --force-conflicts --field-manager=shardcast-restore -f -");
  std::string none = InvalidRoutingMessage(s, "", std::nullopt);
  EXPECT_NE(none.find("missing"), std::string::npos) << none;
  EXPECT_NE(none.find("No last good copy"), std::string::npos) << none;
}

}  // namespace
}  // namespace shardcast::shardset
