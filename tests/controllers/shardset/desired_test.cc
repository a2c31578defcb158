#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "controllers/api/resources.h"
#include "controllers/shardset/shardset.h"
#include "testutil.h"

namespace shardcast::shardset {
namespace {

using testing::Pod;
using testing::Spec;

// A published document assigning ranges round-robin over `owners`.
RoutingDocument Published(const ShardSetSpec& s, const std::vector<ObservedPod>& pods,
                          const std::vector<std::string>& owners, int64_t epoch) {
  std::map<uint32_t, std::string> a;
  for (int i = 0; i < s.ranges; ++i) a[static_cast<uint32_t>(i)] = owners[i % owners.size()];
  std::map<std::string, std::string> ips;
  for (const auto& p : pods) ips[p.name] = p.ip;
  auto doc = ParseRoutingDocument(BuildRoutingDocument(s, a, ips, epoch, nullptr).dump());
  EXPECT_TRUE(doc.ok());
  return doc.value();
}

// The executor's stand-in: the document after `moves` (range -> new owner),
// one epoch later, everything else kept.
RoutingDocument Moved(const ShardSetSpec& s, const Observation& obs,
                      const std::map<uint32_t, std::string>& moves) {
  std::map<std::string, std::string> ips;
  for (const auto& p : obs.pods) ips[p.name] = p.ip;
  auto doc = ParseRoutingDocument(
      BuildRoutingDocument(s, moves, ips, obs.routing->epoch + 1, &*obs.routing).dump());
  EXPECT_TRUE(doc.ok());
  return doc.value();
}

std::vector<uint32_t> RangesOf(const RoutingDocument& doc, const std::string& owner) {
  std::vector<uint32_t> out;
  for (const auto& r : doc.ranges) {
    if (r.owner == owner) out.push_back(r.id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Ranges of `requests` with `reason` (and owner, when given), ascending.
std::vector<uint32_t> Requested(const Desired& d, const std::string& reason,
                                const std::string& owner = "") {
  std::vector<uint32_t> out;
  for (const auto& r : d.requests) {
    if (r.reason == reason && (owner.empty() || r.owner == owner)) out.push_back(r.range);
  }
  return out;
}

ShardSetSpec WithClaims(ShardSetSpec s) {
  s.volume_claim_templates = {Json{{"metadata", {{"name", "data"}}}}};
  return s;
}

std::vector<std::string> Names(const std::vector<PodDelete>& v) {
  std::vector<std::string> out;
  for (const auto& d : v) out.push_back(d.name);
  return out;
}

TEST(Desired, FreshSetCreatesActiveAndWarmPodsWithLowestOrdinals) {
  ShardSetSpec s = Spec(3, 2);
  Desired d = ComputeDesired(s, {});
  ASSERT_EQ(d.kind, StepKind::kCreatePods);
  ASSERT_EQ(d.create.size(), 5u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(d.create[i].ordinal, i);
    EXPECT_EQ(d.create[i].role, "active");
  }
  EXPECT_EQ(d.create[3].ordinal, 3);
  EXPECT_EQ(d.create[4].role, "warm");
}

TEST(Desired, SkipsOccupiedNames) {
  ShardSetSpec s = Spec(2, 0);
  Observation obs;
  obs.pods = {Pod(1, "active", false)};
  obs.occupied_names = {"kv-0"};  // e.g. a pod of a previous incarnation
  Desired d = ComputeDesired(s, obs);
  ASSERT_EQ(d.kind, StepKind::kCreatePods);
  ASSERT_EQ(d.create.size(), 1u);
  EXPECT_EQ(d.create[0].ordinal, 2);
}

TEST(Desired, WaitsForAllActivePodsBeforeTheFirstDocument) {
  ShardSetSpec s = Spec(3, 1);
  Observation obs;
  obs.pods = {Pod(0, "active"), Pod(1, "active", false), Pod(2, "active"), Pod(3, "warm")};
  Desired d = ComputeDesired(s, obs);
  EXPECT_EQ(d.kind, StepKind::kNone);
  EXPECT_TRUE(d.waiting);
  obs.pods[1].ready = true;
  d = ComputeDesired(s, obs);
  ASSERT_EQ(d.kind, StepKind::kCreateRouting);
  EXPECT_EQ(d.assignment.size(), 16u);
  std::map<std::string, int> per;
  for (const auto& [id, pod] : d.assignment) ++per[pod];
  EXPECT_EQ(per.size(), 3u);
  EXPECT_EQ(per.count("kv-3"), 0u) << "a warm pod must own nothing";
  for (const auto& [pod, n] : per) EXPECT_LE(n, 7) << pod;  // ceil(1.25*16/3)
  EXPECT_TRUE(d.requests.empty());
}

// The pod cache lags behind the pods just created (issue 12: the first
// document of a set with replicas 2 + warmPool 1 gave every range to kv-0
// when the cache showed kv-0 Ready before kv-1 appeared). The document is
// published only over spec.replicas Ready active pods.
TEST(Desired, FirstDocumentWaitsForReplicasReadyActivePodsEvenIfTheCacheShowsFewer) {
  ShardSetSpec s = Spec(2, 1, 4);
  Observation obs;
  obs.pods = {Pod(0, "active")};
  obs.occupied_names = {"kv-0", "kv-1", "kv-2"};
  Desired d = ComputeDesired(s, obs);
  EXPECT_NE(d.kind, StepKind::kCreateRouting) << "kv-1 is not in the cache yet";
  EXPECT_NE(d.kind, StepKind::kPromote);
  obs.pods.push_back(Pod(2, "warm"));
  d = ComputeDesired(s, obs);
  EXPECT_NE(d.kind, StepKind::kCreateRouting);
  obs.pods.push_back(Pod(1, "active"));
  d = ComputeDesired(s, obs);
  ASSERT_EQ(d.kind, StepKind::kCreateRouting);
  std::set<std::string> owners;
  for (const auto& [id, pod] : d.assignment) owners.insert(pod);
  EXPECT_EQ(owners, (std::set<std::string>{"kv-0", "kv-1"}));
}

TEST(Desired, ConvergedSetDoesNothingAndNeverRewritesTheDocument) {
  ShardSetSpec s = Spec(3, 1);
  Observation obs;
  obs.pods = {Pod(0, "active"), Pod(1, "active"), Pod(2, "active"), Pod(3, "warm")};
  Desired first = ComputeDesired(s, obs);
  ASSERT_EQ(first.kind, StepKind::kCreateRouting);
  std::map<std::string, std::string> ips;
  for (const auto& p : obs.pods) ips[p.name] = p.ip;
  obs.routing =
      ParseRoutingDocument(BuildRoutingDocument(s, first.assignment, ips, 1, nullptr).dump())
          .value();
  Desired d = ComputeDesired(s, obs);
  EXPECT_EQ(d.kind, StepKind::kNone);
  EXPECT_FALSE(d.waiting);
  EXPECT_TRUE(d.problem.empty());
  EXPECT_TRUE(d.requests.empty());
  // A new pod IP is the executor's endpoint refresh, not this controller's.
  obs.pods[0].ip = "10.9.9.9";
  d = ComputeDesired(s, obs);
  EXPECT_EQ(d.kind, StepKind::kNone);
  EXPECT_TRUE(d.requests.empty());
}

TEST(Desired, ReadinessLossIsNotAnOwnershipChange) {
  ShardSetSpec s = Spec(3, 1);
  Observation obs;
  obs.pods = {Pod(0, "active"), Pod(1, "active", false), Pod(2, "active"), Pod(3, "warm")};
  obs.routing = Published(s, obs.pods, {"kv-0", "kv-1", "kv-2"}, 4);
  Desired d = ComputeDesired(s, obs);
  EXPECT_EQ(d.kind, StepKind::kNone) << d.summary;
  EXPECT_TRUE(d.requests.empty()) << "kv-1's ranges stay with it";
  EXPECT_TRUE(d.promote.empty());
  EXPECT_TRUE(d.waiting);
}

TEST(Desired, DeletedOwnerWithoutClaimsIsGoneItsRangesAreRequestedAndItsNameIsKept) {
  ShardSetSpec s = Spec(3, 1);
  Observation obs;
  obs.pods = {Pod(0, "active"), Pod(2, "active"), Pod(3, "warm")};
  obs.routing = Published(s, obs.pods, {"kv-0", "kv-1", "kv-2"}, 4);
  Desired d = ComputeDesired(s, obs);
  ASSERT_EQ(d.kind, StepKind::kPromote);
  EXPECT_EQ(d.promote, std::vector<std::string>{"kv-3"});
  EXPECT_EQ(Requested(d, kReasonOwnerGone), RangesOf(*obs.routing, "kv-1"));
  EXPECT_EQ(Requested(d, kReasonOwnerGone).size(), d.requests.size()) << "nothing else";

  // After the relabel the promoted pod owns nothing; no routing write ever.
  obs.pods[2].role = "active";
  d = ComputeDesired(s, obs);
  EXPECT_EQ(Requested(d, kReasonOwnerGone), RangesOf(*obs.routing, "kv-1"));
  // The pool refills, but not under kv-1's name: a new empty pod called
  // kv-1 would pass for the lost owner.
  ASSERT_EQ(d.kind, StepKind::kCreatePods);
  ASSERT_EQ(d.create.size(), 1u);
  EXPECT_EQ(d.create[0].ordinal, 4);
  EXPECT_EQ(d.create[0].role, "warm");
  obs.pods.push_back(Pod(4, "warm"));

  // The executor reassigns the ranges: the requests disappear, and the
  // name is free again.
  std::map<uint32_t, std::string> moves;
  for (uint32_t id : RangesOf(*obs.routing, "kv-1")) moves[id] = "kv-3";
  obs.routing = Moved(s, obs, moves);
  d = ComputeDesired(s, obs);
  EXPECT_TRUE(d.requests.empty());
  EXPECT_EQ(d.kind, StepKind::kNone) << d.summary;
}

TEST(Desired, DeletedOwnerWithItsClaimsIsRecreatedUnderItsNameAndKeepsItsRanges) {
  ShardSetSpec s = WithClaims(Spec(3, 1));
  Observation obs;
  obs.pods = {Pod(0, "active"), Pod(2, "active"), Pod(3, "warm")};
  obs.routing = Published(s, obs.pods, {"kv-0", "kv-1", "kv-2"}, 4);
  obs.claims = {"data-kv-1"};
  Desired d = ComputeDesired(s, obs);
  EXPECT_TRUE(d.requests.empty()) << "not gone: its data is in its claim";
  EXPECT_TRUE(d.promote.empty()) << "the owner comes back; no warm pod is needed";
  ASSERT_EQ(d.kind, StepKind::kCreatePods);
  ASSERT_EQ(d.create.size(), 1u);
  EXPECT_EQ(d.create[0].ordinal, 1);
  EXPECT_EQ(d.create[0].role, "active");
  EXPECT_EQ(d.returning, std::vector<std::string>{"kv-1"});
  // While the old pod is still terminating: wait, create nothing else.
  ObservedPod old = Pod(1, "active", false);
  old.terminating = true;
  obs.pods.push_back(old);
  d = ComputeDesired(s, obs);
  EXPECT_EQ(d.kind, StepKind::kNone);
  EXPECT_TRUE(d.requests.empty());

  // Without its claim the pod is gone: OwnerGone, and a warm pod is promoted.
  obs.pods.pop_back();
  obs.claims.clear();
  d = ComputeDesired(s, obs);
  ASSERT_EQ(d.kind, StepKind::kPromote);
  EXPECT_EQ(Requested(d, kReasonOwnerGone, "kv-1"), RangesOf(*obs.routing, "kv-1"));
}

TEST(Desired, FailedOwnerWithItsClaimsIsRestartedUnderItsName) {
  ShardSetSpec s = WithClaims(Spec(2, 0));
  Observation obs;
  obs.pods = {Pod(0, "active"), Pod(1, "active", false, "Failed")};
  obs.routing = Published(s, obs.pods, {"kv-0", "kv-1"}, 2);
  obs.claims = {"data-kv-1"};
  Desired d = ComputeDesired(s, obs);
  EXPECT_TRUE(d.requests.empty());
  ASSERT_EQ(d.kind, StepKind::kDeletePods);
  ASSERT_EQ(d.remove.size(), 1u);
  EXPECT_EQ(d.remove[0].name, "kv-1");
  EXPECT_EQ(d.remove[0].reason, kDeleteRestart) << "claims kept";
  obs.pods.pop_back();
  d = ComputeDesired(s, obs);
  ASSERT_EQ(d.kind, StepKind::kCreatePods);
  ASSERT_EQ(d.create.size(), 1u);
  EXPECT_EQ(d.create[0].ordinal, 1);
  EXPECT_EQ(d.create[0].role, "active");
}

TEST(Desired, FailedOwnerWithoutVolumeClaimTemplatesIsGoneAndKeptUntilReassigned) {
  ShardSetSpec s = Spec(2, 1);
  Observation obs;
  obs.pods = {Pod(0, "active"), Pod(1, "active", false, "Failed"), Pod(2, "warm")};
  obs.routing = Published(s, obs.pods, {"kv-0", "kv-1"}, 2);
  Desired d = ComputeDesired(s, obs);
  ASSERT_EQ(d.kind, StepKind::kPromote);
  EXPECT_EQ(d.promote, std::vector<std::string>{"kv-2"});
  EXPECT_EQ(Requested(d, kReasonOwnerGone, "kv-1"), RangesOf(*obs.routing, "kv-1"));
  obs.pods[2].role = "active";
  d = ComputeDesired(s, obs);
  for (const auto& r : d.remove) EXPECT_NE(r.name, "kv-1") << "named in the document";
  ASSERT_EQ(d.kind, StepKind::kCreatePods) << "the pool refills";
  EXPECT_EQ(d.create[0].ordinal, 3);
  EXPECT_EQ(d.create[0].role, "warm");
  obs.pods.push_back(Pod(3, "warm"));
  // Reassigned by the executor: the failed pod goes, its ordinal comes back.
  std::map<uint32_t, std::string> moves;
  for (uint32_t id : RangesOf(*obs.routing, "kv-1")) moves[id] = "kv-2";
  obs.routing = Moved(s, obs, moves);
  d = ComputeDesired(s, obs);
  EXPECT_TRUE(d.requests.empty());
  ASSERT_EQ(d.kind, StepKind::kDeletePods);
  EXPECT_EQ(Names(d.remove), std::vector<std::string>{"kv-1"});
  EXPECT_EQ(d.remove[0].uid, "uid-1");
  EXPECT_EQ(d.remove[0].reason, kDeleteFailed);
}

TEST(Desired, MissingActivePodPromotesReadyWarmPodInsteadOfCreating) {
  ShardSetSpec s = Spec(3, 1);
  Observation obs;
  obs.pods = {Pod(0, "active"), Pod(1, "active"), Pod(3, "warm")};
  obs.routing = Published(s, obs.pods, {"kv-0", "kv-1"}, 4);
  Desired d = ComputeDesired(s, obs);
  ASSERT_EQ(d.kind, StepKind::kPromote);
  EXPECT_EQ(d.promote, std::vector<std::string>{"kv-3"});
  EXPECT_TRUE(d.create.empty());
  // Promoted: the pool refills with the lowest free ordinal (2).
  obs.pods[2].role = "active";
  d = ComputeDesired(s, obs);
  ASSERT_EQ(d.kind, StepKind::kCreatePods);
  ASSERT_EQ(d.create.size(), 1u);
  EXPECT_EQ(d.create[0].ordinal, 2);
  EXPECT_EQ(d.create[0].role, "warm");
}

// The governing policy's Promote actions name the pods the planner chose
// (one pre-warmed with the ranges it will receive): those go first, a
// named pod that is not Ready or not warm is passed over.
TEST(Desired, PodsThePolicysPromoteActionsNameArePromotedFirst) {
  ShardSetSpec s = Spec(3, 3);
  Observation obs;
  obs.pods = {Pod(0, "active"), Pod(1, "active"), Pod(3, "warm"), Pod(4, "warm"),
              Pod(5, "warm", false)};
  obs.routing = Published(s, obs.pods, {"kv-0", "kv-1"}, 4);
  obs.promote_first = {"kv-5", "kv-0", "kv-4"};
  Desired d = ComputeDesired(s, obs);
  ASSERT_EQ(d.kind, StepKind::kPromote);
  EXPECT_EQ(d.promote, std::vector<std::string>{"kv-4"});
  // Two missing: the named one, then by ordinal.
  s.replicas = 4;
  d = ComputeDesired(s, obs);
  EXPECT_EQ(d.promote, (std::vector<std::string>{"kv-4", "kv-3"}));
}

TEST(Desired, NotReadyWarmPodIsNotPromotedColdStartInstead) {
  ShardSetSpec s = Spec(2, 1);
  Observation obs;
  obs.pods = {Pod(0, "active"), Pod(2, "warm", false)};
  obs.routing = Published(s, obs.pods, {"kv-0"}, 1);
  Desired d = ComputeDesired(s, obs);
  ASSERT_EQ(d.kind, StepKind::kCreatePods);
  ASSERT_EQ(d.create.size(), 1u);
  EXPECT_EQ(d.create[0].role, "active");
  EXPECT_EQ(d.create[0].ordinal, 1);
}

TEST(Desired, FailedWarmPodIsDeletedAndReplaced) {
  ShardSetSpec s = Spec(1, 1);
  Observation obs;
  obs.pods = {Pod(0, "active"), Pod(1, "warm", false, "Succeeded")};
  obs.routing = Published(s, obs.pods, {"kv-0"}, 1);
  Desired d = ComputeDesired(s, obs);
  ASSERT_EQ(d.kind, StepKind::kDeletePods);
  EXPECT_EQ(Names(d.remove), std::vector<std::string>{"kv-1"});
  obs.pods[1].terminating = true;  // being deleted: its name stays taken
  d = ComputeDesired(s, obs);
  ASSERT_EQ(d.kind, StepKind::kCreatePods);
  EXPECT_EQ(d.create[0].ordinal, 2);
}

// Three active pods own the ranges round-robin; scaling to four promotes the
// warm kv-3 first. Returns the observation once kv-3 is active.
Observation FourthPodPromoted(const ShardSetSpec& s) {
  Observation obs;
  obs.pods = {Pod(0, "active"), Pod(1, "active"), Pod(2, "active"), Pod(3, "warm")};
  obs.routing = Published(s, obs.pods, {"kv-0", "kv-1", "kv-2"}, 1);
  EXPECT_EQ(ComputeDesired(s, obs).kind, StepKind::kPromote);
  obs.pods[3].role = "active";
  return obs;
}

TEST(Desired, ScaleUpPromotesAnEmptyPodAndRequestsOnlyTheExcessAsShedding) {
  ShardSetSpec s = Spec(4, 1, 64);
  Observation obs = FourthPodPromoted(s);
  Desired d = ComputeDesired(s, obs);
  EXPECT_NE(d.kind, StepKind::kCreateRouting);
  // Bounded load: ceil(1.25 * 64 / 4) = 20; round-robin gave 22/21/21, so
  // exactly 2 + 1 + 1 ranges are requested, each owner's highest ids.
  EXPECT_EQ(d.requests.size(), 4u);
  EXPECT_EQ(Requested(d, kReasonShedding).size(), 4u);
  for (const std::string owner : {"kv-0", "kv-1", "kv-2"}) {
    std::vector<uint32_t> all = RangesOf(*obs.routing, owner);
    std::vector<uint32_t> want(all.end() - static_cast<long>(all.size() - 20), all.end());
    EXPECT_EQ(Requested(d, kReasonShedding, owner), want) << owner;
  }
  EXPECT_TRUE(Requested(d, kReasonShedding, "kv-3").empty()) << "the new pod owns nothing";
  for (size_t i = 1; i < d.requests.size(); ++i) {
    EXPECT_LT(d.requests[i - 1].range, d.requests[i].range) << "sorted by range";
  }
  // With a loadFactor that leaves room (the demo's 2.0), nothing is asked.
  s.load_factor = 2.0;
  EXPECT_TRUE(ComputeDesired(s, obs).requests.empty());
  // A range already migrating off an owner is not listed again.
  s.load_factor = 1.25;
  uint32_t last = RangesOf(*obs.routing, "kv-0").back();
  for (auto& r : obs.routing->ranges) {
    if (r.id == last) r.state = "migrating";
  }
  d = ComputeDesired(s, obs);
  std::vector<uint32_t> kv0 = Requested(d, kReasonShedding, "kv-0");
  EXPECT_EQ(kv0.size(), 2u);
  EXPECT_EQ(std::count(kv0.begin(), kv0.end(), last), 0);
}

TEST(Desired, ScaleDownRequestsTheVictimsRangesAndDeletesOnlyOnceTheyAreGone) {
  ShardSetSpec s = Spec(2, 0);
  Observation obs;
  obs.pods = {Pod(0, "active"), Pod(1, "active"), Pod(2, "active")};
  obs.routing = Published(s, obs.pods, {"kv-0", "kv-1", "kv-2"}, 9);
  Desired d = ComputeDesired(s, obs);
  ASSERT_EQ(d.victims.size(), 1u);
  std::string victim = d.victims[0];
  EXPECT_EQ(victim, "kv-2") << "equal load and ranges: highest ordinal goes";
  EXPECT_EQ(Requested(d, kReasonScaleIn, victim), RangesOf(*obs.routing, victim));
  EXPECT_TRUE(d.remove.empty());
  EXPECT_EQ(d.kind, StepKind::kNone);
  // Bound over the 2 staying pods: ceil(1.25 * 16 / 2) = 10 > 6: no shedding.
  EXPECT_TRUE(Requested(d, kReasonShedding).empty());

  // The executor moved all but one: still no delete.
  std::vector<uint32_t> ranges = RangesOf(*obs.routing, victim);
  std::map<uint32_t, std::string> moves;
  for (size_t i = 0; i + 1 < ranges.size(); ++i) moves[ranges[i]] = i % 2 ? "kv-0" : "kv-1";
  obs.routing = Moved(s, obs, moves);
  d = ComputeDesired(s, obs);
  EXPECT_EQ(Requested(d, kReasonScaleIn, victim), std::vector<uint32_t>{ranges.back()});
  EXPECT_NE(d.kind, StepKind::kDeletePods);
  obs.routing = Moved(s, obs, {{ranges.back(), "kv-0"}});
  d = ComputeDesired(s, obs);
  EXPECT_TRUE(d.requests.empty());
  ASSERT_EQ(d.kind, StepKind::kDeletePods);
  EXPECT_EQ(Names(d.remove), std::vector<std::string>{victim});
  EXPECT_EQ(d.remove[0].reason, kDeleteScaleIn);
}

TEST(Desired, AnEmptyActivePodIsTheFirstScaleInVictimAndGoesAtOnce) {
  ShardSetSpec s = Spec(3, 0, 16);
  Observation obs;
  obs.pods = {Pod(0, "active"), Pod(1, "active"), Pod(2, "active"), Pod(3, "active")};
  obs.routing = Published(s, obs.pods, {"kv-0", "kv-1", "kv-2"}, 3);
  Desired d = ComputeDesired(s, obs);
  EXPECT_EQ(d.victims, std::vector<std::string>{"kv-3"});
  EXPECT_TRUE(Requested(d, kReasonScaleIn).empty());
  ASSERT_EQ(d.kind, StepKind::kDeletePods);
  EXPECT_EQ(Names(d.remove), std::vector<std::string>{"kv-3"});
}

// The pod the governing policy's ScaleIn names (the one the planner
// drained) is the victim, even while an empty, just promoted pod would go
// first by ranges; a named pod that is not active is passed over.
TEST(Desired, ThePodThePolicysScaleInNamesIsTheVictim) {
  ShardSetSpec s = Spec(3, 0, 16);
  Observation obs;
  obs.pods = {Pod(0, "active"), Pod(1, "active"), Pod(2, "active"), Pod(3, "active"),
              Pod(4, "warm")};
  obs.routing = Published(s, obs.pods, {"kv-0", "kv-1", "kv-2"}, 3);
  obs.scale_in_first = {"kv-4", "kv-1"};
  Desired d = ComputeDesired(s, obs);
  EXPECT_EQ(d.victims, std::vector<std::string>{"kv-1"});
  EXPECT_EQ(Requested(d, kReasonScaleIn, "kv-1"), RangesOf(*obs.routing, "kv-1"));
  for (const auto& r : d.remove) EXPECT_NE(r.name, "kv-3") << "kv-3 stays";
  // Two to go: the named one, then the empty one.
  s.replicas = 2;
  d = ComputeDesired(s, obs);
  EXPECT_EQ(d.victims, (std::vector<std::string>{"kv-1", "kv-3"}));
}

TEST(Desired, InvalidDocumentMeansNoRequestNoDeletionNoRoutingWrite) {
  ShardSetSpec s = Spec(2, 1);
  Observation obs;
  obs.pods = {Pod(0, "active"),
              Pod(1, "active"),
              Pod(2, "active"),
              Pod(3, "warm"),
              Pod(4, "warm", false, "Failed"),
              Pod(5, "warm")};
  obs.routing = Published(s, obs.pods, {"kv-0", "kv-1", "kv-9"}, 7);  // the last good copy
  obs.routing_invalid = true;
  Desired d = ComputeDesired(s, obs);
  EXPECT_TRUE(d.requests.empty()) << "kv-9 is gone and kv-2 a victim, but nothing is asked";
  EXPECT_TRUE(d.remove.empty());
  EXPECT_NE(d.kind, StepKind::kDeletePods);
  EXPECT_NE(d.kind, StepKind::kCreateRouting);
  // Without any last good copy: still no first document from the ring.
  obs.routing.reset();
  d = ComputeDesired(s, obs);
  EXPECT_NE(d.kind, StepKind::kCreateRouting);
  EXPECT_TRUE(d.remove.empty());
  // Pod creation and promotion go on.
  obs.pods = {Pod(0, "active"), Pod(3, "warm")};
  d = ComputeDesired(s, obs);
  EXPECT_EQ(d.kind, StepKind::kPromote);
}

TEST(Desired, PodNamedAsEchoOrMigrationTargetIsNeverDeleted) {
  ShardSetSpec s = Spec(1, 0, 4);
  Observation obs;
  obs.pods = {Pod(0, "active"), Pod(1, "warm"), Pod(2, "warm", false, "Failed")};
  RoutingDocument doc = Published(s, obs.pods, {"kv-0"}, 3);
  doc.ranges[0].raw["echoes"] = Json::array({{{"pod", "kv-1"}, {"endpoint", "10.0.0.2:8080"}}});
  doc.ranges[1].raw["state"] = "migrating";
  doc.ranges[1].raw["source"] = "kv-0";
  doc.ranges[1].raw["target"] = "kv-2";
  doc.raw["ranges"][0] = doc.ranges[0].raw;
  doc.raw["ranges"][1] = doc.ranges[1].raw;
  obs.routing = doc;
  Desired d = ComputeDesired(s, obs);
  // kv-1 is an excess warm pod and kv-2 failed, but both are named.
  for (const auto& r : d.remove) {
    EXPECT_NE(r.name, "kv-1");
    EXPECT_NE(r.name, "kv-2");
  }
}

TEST(Desired, ExcessWarmPodsGoNotReadyFirstThenHighestOrdinal) {
  ShardSetSpec s = Spec(1, 1, 4);
  Observation obs;
  obs.pods = {Pod(0, "active"), Pod(1, "warm"), Pod(2, "warm"), Pod(3, "warm", false)};
  obs.routing = Published(s, obs.pods, {"kv-0"}, 1);
  Desired d = ComputeDesired(s, obs);
  ASSERT_EQ(d.kind, StepKind::kDeletePods);
  EXPECT_EQ(Names(d.remove), (std::vector<std::string>{"kv-3", "kv-2"}));
  for (const auto& r : d.remove) EXPECT_EQ(r.reason, "ExcessWarm");
}

TEST(Desired, ZeroReplicasKeepsOwnersAndReportsAProblem) {
  ShardSetSpec s = Spec(0, 0, 4);
  Observation obs;
  obs.pods = {Pod(0, "active")};
  obs.routing = Published(s, obs.pods, {"kv-0"}, 1);
  Desired d = ComputeDesired(s, obs);
  EXPECT_TRUE(d.remove.empty());
  EXPECT_TRUE(d.requests.empty());
  EXPECT_NE(d.kind, StepKind::kDeletePods);
  EXPECT_NE(d.problem.find("spec.replicas"), std::string::npos) << d.problem;
}

// Simulates the reconciler on an ideal cluster (every step takes effect,
// pods become ready at once) with a stand-in executor that moves every
// requested range to the least-loaded Ready active pod that is not itself a
// requested owner, through fresh start, scale up, a failure and scale down;
// checks the invariants after every step.
TEST(Desired, RepeatedRoundsWithAnExecutorReachAFixedPointWithEveryRangeOwnedOnce) {
  ShardSetSpec s = Spec(3, 2, 64);
  Observation obs;
  int64_t epoch = 0;
  size_t routing_writes = 0;
  auto execute_requests = [&](const Desired& d) {
    std::set<std::string> requested;
    for (const auto& r : d.requests) requested.insert(r.owner);
    std::map<std::string, size_t> load;
    for (const auto& p : obs.pods) {
      if (p.live() && p.ready && p.role == "active" && !requested.count(p.name)) load[p.name] = 0;
    }
    for (const auto& r : obs.routing->ranges) {
      if (load.count(r.owner)) ++load[r.owner];
    }
    ASSERT_FALSE(load.empty());
    std::map<uint32_t, std::string> moves;
    for (const auto& r : d.requests) {
      auto best = std::min_element(load.begin(), load.end(), [](const auto& a, const auto& b) {
        return a.second < b.second;
      });
      moves[r.range] = best->first;
      ++best->second;
    }
    obs.routing = Moved(s, obs, moves);
    ++epoch;
  };
  auto run = [&](int max_steps) {
    for (int i = 0; i < max_steps; ++i) {
      Desired d = ComputeDesired(s, obs);
      for (const auto& r : d.remove) {
        ASSERT_FALSE(obs.routing && obs.routing->ReferencedPods().count(r.name))
            << "deleting owner " << r.name;
      }
      switch (d.kind) {
        case StepKind::kNone:
          if (d.requests.empty()) return;
          execute_requests(d);
          break;
        case StepKind::kCreatePods:
          for (const auto& c : d.create) obs.pods.push_back(Pod(c.ordinal, c.role));
          break;
        case StepKind::kPromote:
          for (auto& p : obs.pods) {
            if (std::count(d.promote.begin(), d.promote.end(), p.name)) p.role = "active";
          }
          break;
        case StepKind::kDeletePods:
          for (const auto& r : d.remove) {
            std::erase_if(obs.pods, [&](const ObservedPod& p) { return p.name == r.name; });
          }
          break;
        case StepKind::kCreateRouting: {
          ASSERT_FALSE(obs.routing) << "the controller only creates the first document";
          ++routing_writes;
          std::map<std::string, std::string> ips;
          for (const auto& p : obs.pods) ips[p.name] = p.ip;
          obs.routing = ParseRoutingDocument(
                            BuildRoutingDocument(s, d.assignment, ips, ++epoch, nullptr).dump())
                            .value();
          break;
        }
      }
    }
    FAIL() << "no fixed point";
  };
  auto check = [&](size_t active, size_t warm) {
    size_t a = 0, w = 0;
    std::set<std::string> actives;
    for (const auto& p : obs.pods) {
      if (p.role == "active") {
        ++a;
        actives.insert(p.name);
      } else {
        ++w;
      }
    }
    EXPECT_EQ(a, active);
    EXPECT_EQ(w, warm);
    ASSERT_TRUE(obs.routing.has_value());
    EXPECT_EQ(obs.routing->ranges.size(), 64u);
    std::map<std::string, size_t> per;
    for (const auto& r : obs.routing->ranges) {
      EXPECT_TRUE(actives.count(r.owner)) << r.owner;
      ++per[r.owner];
    }
    const auto bound = static_cast<size_t>(std::ceil(1.25 * 64 / static_cast<double>(active)));
    for (const auto& [pod, n] : per) EXPECT_LE(n, bound) << pod;
  };
  run(40);
  check(3, 2);
  int64_t e = epoch;
  run(40);
  EXPECT_EQ(epoch, e) << "no change, no new epoch";
  s.replicas = 5;
  run(40);
  check(5, 2);
  obs.pods[1].phase = "Failed";
  obs.pods[1].ready = false;
  run(40);
  check(5, 2);
  s.replicas = 2;
  run(40);
  check(2, 2);
  EXPECT_EQ(routing_writes, 1u);
}

}  // namespace
}  // namespace shardcast::shardset
