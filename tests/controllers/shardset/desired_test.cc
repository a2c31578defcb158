#include <gtest/gtest.h>

#include <algorithm>

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
  ASSERT_EQ(d.kind, StepKind::kWriteRouting);
  EXPECT_EQ(d.assignment.size(), 16u);
  std::map<std::string, int> per;
  for (const auto& [id, pod] : d.assignment) ++per[pod];
  EXPECT_EQ(per.size(), 3u);
  EXPECT_EQ(per.count("kv-3"), 0u) << "a warm pod must own nothing";
  for (const auto& [pod, n] : per) EXPECT_LE(n, 7) << pod;  // ceil(1.25*16/3)
}

TEST(Desired, ConvergedSetDoesNothing) {
  ShardSetSpec s = Spec(3, 1);
  Observation obs;
  obs.pods = {Pod(0, "active"), Pod(1, "active"), Pod(2, "active"), Pod(3, "warm")};
  Desired first = ComputeDesired(s, obs);
  ASSERT_EQ(first.kind, StepKind::kWriteRouting);
  std::map<std::string, std::string> ips;
  for (const auto& p : obs.pods) ips[p.name] = p.ip;
  obs.routing =
      ParseRoutingDocument(BuildRoutingDocument(s, first.assignment, ips, 1, nullptr).dump())
          .value();
  Desired d = ComputeDesired(s, obs);
  EXPECT_EQ(d.kind, StepKind::kNone);
  EXPECT_FALSE(d.waiting);
  EXPECT_TRUE(d.problem.empty());
  // A new pod IP is a change of the document.
  obs.pods[0].ip = "10.9.9.9";
  d = ComputeDesired(s, obs);
  EXPECT_EQ(d.kind, StepKind::kWriteRouting);
  EXPECT_EQ(d.moved, 0u);
}

TEST(Desired, MissingActivePodPromotesReadyWarmPodInsteadOfCreating) {
  ShardSetSpec s = Spec(3, 1);
  Observation obs;
  obs.pods = {Pod(0, "active"), Pod(2, "active"), Pod(3, "warm")};
  obs.routing = Published(s, obs.pods, {"kv-0", "kv-1", "kv-2"}, 4);
  Desired d = ComputeDesired(s, obs);
  ASSERT_EQ(d.kind, StepKind::kPromote);
  EXPECT_EQ(d.promote, std::vector<std::string>{"kv-3"});
  EXPECT_TRUE(d.create.empty());

  // After the relabel: kv-1's ranges move to kv-3 (and only those).
  obs.pods[2].role = "active";
  d = ComputeDesired(s, obs);
  ASSERT_EQ(d.kind, StepKind::kWriteRouting);
  size_t had = 0;
  for (const auto& r : obs.routing->ranges) had += r.owner == "kv-1";
  EXPECT_EQ(d.moved, had);
  for (const auto& r : obs.routing->ranges) {
    if (r.owner != "kv-1") {
      EXPECT_EQ(d.assignment.at(r.id), r.owner) << "range " << r.id;
    }
    EXPECT_NE(d.assignment.at(r.id), "kv-1");
  }
  // Published: refill the pool with the lowest free ordinal (1).
  std::map<std::string, std::string> ips;
  for (const auto& p : obs.pods) ips[p.name] = p.ip;
  obs.routing =
      ParseRoutingDocument(BuildRoutingDocument(s, d.assignment, ips, 5, &*obs.routing).dump())
          .value();
  d = ComputeDesired(s, obs);
  ASSERT_EQ(d.kind, StepKind::kCreatePods);
  ASSERT_EQ(d.create.size(), 1u);
  EXPECT_EQ(d.create[0].ordinal, 1);
  EXPECT_EQ(d.create[0].role, "warm");
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

TEST(Desired, FailedActivePodPromotesThenMovesThenIsReplaced) {
  ShardSetSpec s = Spec(2, 1);
  Observation obs;
  obs.pods = {Pod(0, "active"), Pod(1, "active", false, "Failed"), Pod(2, "warm")};
  obs.routing = Published(s, obs.pods, {"kv-0", "kv-1"}, 2);
  Desired d = ComputeDesired(s, obs);
  ASSERT_EQ(d.kind, StepKind::kPromote);
  EXPECT_EQ(d.promote, std::vector<std::string>{"kv-2"});
  obs.pods[2].role = "active";
  d = ComputeDesired(s, obs);
  ASSERT_EQ(d.kind, StepKind::kWriteRouting) << "the failed pod owns ranges: move them first";
  for (const auto& [id, pod] : d.assignment) EXPECT_NE(pod, "kv-1");
  std::map<std::string, std::string> ips = {{"kv-0", "10.0.0.1"}, {"kv-2", "10.0.0.3"}};
  obs.routing =
      ParseRoutingDocument(BuildRoutingDocument(s, d.assignment, ips, 3, &*obs.routing).dump())
          .value();
  d = ComputeDesired(s, obs);
  ASSERT_EQ(d.kind, StepKind::kDeletePods);
  EXPECT_EQ(Names(d.remove), std::vector<std::string>{"kv-1"});
  EXPECT_EQ(d.remove[0].uid, "uid-1");
  EXPECT_EQ(d.remove[0].reason, "Failed");
  // Deleted: the freed ordinal 1 comes back as the new warm pod.
  obs.pods.erase(obs.pods.begin() + 1);
  d = ComputeDesired(s, obs);
  ASSERT_EQ(d.kind, StepKind::kCreatePods);
  EXPECT_EQ(d.create[0].ordinal, 1);
  EXPECT_EQ(d.create[0].role, "warm");
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

TEST(Desired, ScaleUpPromotesWarmThenRebalancesNearTheMinimum) {
  ShardSetSpec s = Spec(4, 1, 64);
  Observation obs = FourthPodPromoted(s);
  Desired d = ComputeDesired(s, obs);
  ASSERT_EQ(d.kind, StepKind::kWriteRouting);
  // Bounded load: nobody above ceil(1.25 * 64 / 4) = 20; the old pods held
  // 22/21/21, so at least 3 ranges must move, and a fair share (16) is
  // the most a minimal rebalance moves; all of them go to the new pod.
  std::map<std::string, size_t> per;
  for (const auto& [id, pod] : d.assignment) ++per[pod];
  for (const auto& [pod, n] : per) EXPECT_LE(n, 20u) << pod;
  EXPECT_GE(d.moved, 3u);
  EXPECT_LE(d.moved, 16u);
  EXPECT_EQ(per["kv-3"], d.moved) << "moves go to the new pod only";
}

TEST(Desired, UnderAPolicyRequestAPromotedPodJoinsEmptyForThePlannerToFill) {
  ShardSetSpec s = Spec(4, 1, 64);  // loadFactor 1.25
  s.policy_fills_joiners = true;
  Observation obs = FourthPodPromoted(s);
  Desired d = ComputeDesired(s, obs);
  // The ring would hand kv-3 about a quarter of the ranges; under the
  // policy's request nothing moves until the policy moves hot ranges to it.
  EXPECT_NE(d.kind, StepKind::kWriteRouting) << d.summary;
  // Once it owns a range (a planned move) it is placed like any pod: the
  // bounded load (ceil(1.25 x 64 / 4) = 20 over 22/21/20/1) sheds only the
  // excess, all of it to kv-3, and keeps what the planner did.
  std::map<uint32_t, std::string> a = obs.routing->owners();
  ASSERT_EQ(a[5], "kv-2");
  a[5] = "kv-3";
  std::map<std::string, std::string> ips;
  for (const auto& p : obs.pods) ips[p.name] = p.ip;
  auto doc = ParseRoutingDocument(BuildRoutingDocument(s, a, ips, 2, nullptr).dump());
  ASSERT_TRUE(doc.ok());
  obs.routing = doc.value();
  d = ComputeDesired(s, obs);
  ASSERT_EQ(d.kind, StepKind::kWriteRouting) << d.summary;
  EXPECT_EQ(d.moved, 3u);
  EXPECT_EQ(d.assignment.at(5), "kv-3");
  size_t on_new = 0;
  for (const auto& [id, pod] : d.assignment) on_new += pod == "kv-3";
  EXPECT_EQ(on_new, 1u + d.moved);
  // With a loadFactor that leaves room (the demo's 2.0), nothing moves.
  s.load_factor = 2.0;
  EXPECT_NE(ComputeDesired(s, obs).kind, StepKind::kWriteRouting);
  // Without a policy's request the ring fills the joiner as before.
  s.policy_fills_joiners = false;
  s.load_factor = 1.25;
  obs = FourthPodPromoted(s);
  d = ComputeDesired(s, obs);
  ASSERT_EQ(d.kind, StepKind::kWriteRouting);
  EXPECT_GE(d.moved, 3u);
}

TEST(Desired, ScaleDownDrainsBeforeDeletingAndNeverDeletesAnOwner) {
  ShardSetSpec s = Spec(2, 0);
  Observation obs;
  obs.pods = {Pod(0, "active"), Pod(1, "active"), Pod(2, "active")};
  obs.routing = Published(s, obs.pods, {"kv-0", "kv-1", "kv-2"}, 9);
  Desired d = ComputeDesired(s, obs);
  ASSERT_EQ(d.kind, StepKind::kWriteRouting) << "drain first";
  ASSERT_EQ(d.victims.size(), 1u);
  std::string victim = d.victims[0];
  EXPECT_EQ(victim, "kv-2") << "equal load and ranges: highest ordinal goes";
  for (const auto& [id, pod] : d.assignment) EXPECT_NE(pod, victim);
  for (const auto& r : obs.routing->ranges) {
    if (r.owner != victim) {
      EXPECT_EQ(d.assignment.at(r.id), r.owner);
    }
  }
  EXPECT_TRUE(d.remove.empty());

  // Even with the drained assignment computed, a document that still names
  // the victim (not yet published) blocks the delete.
  Desired again = ComputeDesired(s, obs);
  EXPECT_NE(again.kind, StepKind::kDeletePods);

  std::map<std::string, std::string> ips;
  for (const auto& p : obs.pods) ips[p.name] = p.ip;
  obs.routing =
      ParseRoutingDocument(BuildRoutingDocument(s, d.assignment, ips, 10, &*obs.routing).dump())
          .value();
  d = ComputeDesired(s, obs);
  ASSERT_EQ(d.kind, StepKind::kDeletePods);
  EXPECT_EQ(Names(d.remove), std::vector<std::string>{victim});
  EXPECT_EQ(d.remove[0].reason, "ScaleIn");
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
  EXPECT_NE(d.kind, StepKind::kDeletePods);
  EXPECT_NE(d.problem.find("spec.replicas"), std::string::npos) << d.problem;
}

TEST(Desired, RepeatedRoundsReachAFixedPointWithEveryRangeOwnedOnce) {
  // Simulates the reconciler on an ideal cluster (every step takes effect,
  // pods become ready at once) through fresh start, scale up, a failure and
  // scale down; checks the invariants after every step.
  ShardSetSpec s = Spec(3, 2, 64);
  Observation obs;
  std::map<std::string, std::string> ips;
  int64_t epoch = 0;
  auto run = [&](int max_steps) {
    for (int i = 0; i < max_steps; ++i) {
      Desired d = ComputeDesired(s, obs);
      for (const auto& r : d.remove) {
        ASSERT_FALSE(obs.routing && obs.routing->referenced_pods().count(r.name))
            << "deleting owner " << r.name;
      }
      switch (d.kind) {
        case StepKind::kNone:
          return;
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
        case StepKind::kWriteRouting: {
          for (const auto& p : obs.pods) ips[p.name] = p.ip;
          obs.routing =
              ParseRoutingDocument(BuildRoutingDocument(s, d.assignment, ips, ++epoch,
                                                        obs.routing ? &*obs.routing : nullptr)
                                       .dump())
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
    for (const auto& r : obs.routing->ranges) EXPECT_TRUE(actives.count(r.owner)) << r.owner;
  };
  run(20);
  check(3, 2);
  int64_t e = epoch;
  run(20);
  EXPECT_EQ(epoch, e) << "no change, no new epoch";
  s.replicas = 5;
  run(20);
  check(5, 2);
  obs.pods[1].phase = "Failed";
  obs.pods[1].ready = false;
  run(20);
  check(5, 2);
  s.replicas = 2;
  run(20);
  check(2, 2);
}

}  // namespace
}  // namespace shardcast::shardset
