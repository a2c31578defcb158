#include "controllers/planner/placement.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

namespace shardcast::planner {
namespace {

std::vector<uint32_t> Ids(uint32_t n) {
  std::vector<uint32_t> v(n);
  for (uint32_t i = 0; i < n; ++i) v[i] = i;
  return v;
}
std::vector<std::string> Pods(int n, int first = 0) {
  std::vector<std::string> v;
  for (int i = first; i < first + n; ++i) v.push_back("kv-" + std::to_string(i));
  return v;
}
std::map<std::string, std::size_t> Counts(const PlacementResult& r) {
  std::map<std::string, std::size_t> c;
  for (const auto& [id, p] : r.owners) ++c[p];
  return c;
}

TEST(Placement, AssignsEveryRangeOnceWithinTheBound) {
  auto r = Assign(Ids(256), Pods(4), 64, 1.25, {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->owners.size(), 256u);
  EXPECT_EQ(r->bound, 80u);
  EXPECT_EQ(r->moved, 256u);
  for (const auto& [pod, n] : Counts(*r)) EXPECT_LE(n, 80u) << pod;
}

TEST(Placement, DeterministicAndIndependentOfInputOrder) {
  auto pods = Pods(5);
  auto ids = Ids(300);
  auto a = Assign(ids, pods, 32, 1.25, {});
  std::reverse(pods.begin(), pods.end());
  std::reverse(ids.begin(), ids.end());
  auto b = Assign(ids, pods, 32, 1.25, {});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->owners, b->owners);
}

TEST(Placement, StableWhenNothingChanges) {
  auto a = Assign(Ids(512), Pods(7), 64, 1.25, {});
  ASSERT_TRUE(a.ok());
  auto b = Assign(Ids(512), Pods(7), 64, 1.25, a->owners);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->moved, 0u);
  EXPECT_EQ(a->owners, b->owners);
}

TEST(Placement, LoadFactorOneIsPerfectlyBalanced) {
  auto r = Assign(Ids(100), Pods(4), 16, 1.0, {});
  ASSERT_TRUE(r.ok());
  for (const auto& [pod, n] : Counts(*r)) EXPECT_EQ(n, 25u) << pod;
}

// Adding one pod to N moves about R/(N+1) ranges, all of them to the new pod.
TEST(Placement, AddingOnePodMovesAboutItsShare) {
  const uint32_t R = 1024;
  for (int n : {3, 4, 8, 16}) {
    auto before = Assign(Ids(R), Pods(n), 64, 1.25, {});
    ASSERT_TRUE(before.ok());
    auto after = Assign(Ids(R), Pods(n + 1), 64, 1.25, before->owners);
    ASSERT_TRUE(after.ok());
    double ideal = static_cast<double>(R) / (n + 1);
    EXPECT_GE(after->moved, static_cast<std::size_t>(0.6 * ideal)) << "n=" << n;
    EXPECT_LE(after->moved, static_cast<std::size_t>(1.35 * ideal)) << "n=" << n;
    std::string new_pod = "kv-" + std::to_string(n);
    std::size_t to_new = 0;
    for (const auto& [id, p] : after->owners) {
      if (before->owners.at(id) != p && p == new_pod) ++to_new;
    }
    // Most movement goes to the new pod (a few ranges can be re-homed by the tighter bound).
    EXPECT_GE(to_new * 10, after->moved * 8) << "n=" << n;
    for (const auto& [pod, c] : Counts(*after)) EXPECT_LE(c, after->bound);
  }
}

// Removing one pod moves exactly its ranges, nothing else.
TEST(Placement, RemovingOnePodMovesOnlyItsRanges) {
  const uint32_t R = 1024;
  for (int n : {3, 5, 8, 16}) {
    auto before = Assign(Ids(R), Pods(n), 64, 1.25, {});
    ASSERT_TRUE(before.ok());
    for (int gone = 0; gone < n; gone += std::max(1, n / 3)) {
      std::vector<std::string> pods = Pods(n);
      std::string victim = pods[static_cast<std::size_t>(gone)];
      pods.erase(pods.begin() + gone);
      auto after = Assign(Ids(R), pods, 64, 1.25, before->owners);
      ASSERT_TRUE(after.ok());
      std::size_t victim_ranges = Counts(*before)[victim];
      EXPECT_EQ(after->moved, victim_ranges) << "n=" << n << " victim=" << victim;
      for (const auto& [id, p] : after->owners) {
        if (before->owners.at(id) != victim) {
          EXPECT_EQ(p, before->owners.at(id));
        }
      }
    }
  }
}

TEST(Placement, RandomMembershipChangesStayNearMinimal) {
  std::mt19937 rng(7);
  const uint32_t R = 512;
  std::vector<std::string> pods = Pods(6);
  int next = 6;
  auto cur = Assign(Ids(R), pods, 64, 1.25, {});
  ASSERT_TRUE(cur.ok());
  for (int step = 0; step < 40; ++step) {
    bool add = pods.size() < 3 || (pods.size() < 12 && rng() % 2 == 0);
    std::size_t minimum;
    if (add) {
      pods.push_back("kv-" + std::to_string(next++));
      minimum = R / pods.size();
    } else {
      std::size_t i = rng() % pods.size();
      minimum = Counts(*cur)[pods[i]];
      pods.erase(pods.begin() + static_cast<long>(i));
    }
    auto nxt = Assign(Ids(R), pods, 64, 1.25, cur->owners);
    ASSERT_TRUE(nxt.ok());
    EXPECT_EQ(nxt->owners.size(), R);
    for (const auto& [pod, c] : Counts(*nxt)) EXPECT_LE(c, nxt->bound);
    // Removal is exact; addition within 1.6x of the fair share.
    if (add) {
      EXPECT_LE(nxt->moved, static_cast<std::size_t>(1.6 * static_cast<double>(minimum))) << step;
    } else {
      EXPECT_EQ(nxt->moved, minimum) << step;
    }
    cur = std::move(nxt);
  }
}

TEST(Placement, RejectsBadInput) {
  auto a = Assign(Ids(4), {}, 64, 1.25, {});
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message.find("activePods"), std::string::npos);
  auto b = Assign(Ids(4), Pods(2), 0, 1.25, {});
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("virtualNodes"), std::string::npos);
  auto c = Assign(Ids(4), Pods(2), 8, 0.5, {});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("loadFactor"), std::string::npos);
  auto d = Assign({1, 1}, Pods(2), 8, 1.25, {});
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("duplicate"), std::string::npos);
}

TEST(Placement, ScaleInVictimsAndDrain) {
  std::vector<PodLoad> loads = {{"kv-0", 10, 5}, {"kv-1", 5, 5}, {"kv-2", 5, 5}, {"kv-3", 50, 5}};
  // Equal load and ranges: highest ordinal first.
  EXPECT_EQ(PickScaleInVictims(loads, 1), std::vector<std::string>{"kv-2"});
  EXPECT_EQ(PickScaleInVictims(loads, 2), (std::vector<std::string>{"kv-2", "kv-1"}));
  // At or below the mean load (19.25): fewest ranges first, whatever their
  // load; the pod above it comes last, however few ranges it owns.
  std::vector<PodLoad> mixed = {{"kv-0", 10, 2}, {"kv-1", 5, 5}, {"kv-2", 12, 3}, {"kv-3", 50, 1}};
  EXPECT_EQ(PickScaleInVictims(mixed, 4),
            (std::vector<std::string>{"kv-0", "kv-2", "kv-1", "kv-3"}));
  // Not Ready pods (load -1, as the ShardSet controller passes them) stay first.
  std::vector<PodLoad> unready = {{"kv-0", 0, 1}, {"kv-1", -1, 9}, {"kv-2", 0, 4}};
  EXPECT_EQ(PickScaleInVictims(unready, 3), (std::vector<std::string>{"kv-1", "kv-0", "kv-2"}));
  EXPECT_EQ(PodOrdinal("kv-12"), 12);
  EXPECT_EQ(PodOrdinal("kv"), -1);

  auto before = Assign(Ids(256), Pods(4), 64, 1.25, {});
  ASSERT_TRUE(before.ok());
  auto drained = Drain(Ids(256), Pods(4), {"kv-2"}, 64, 1.25, before->owners);
  ASSERT_TRUE(drained.ok());
  for (const auto& [id, p] : drained->owners) {
    EXPECT_NE(p, "kv-2");
    if (before->owners.at(id) != "kv-2") {
      EXPECT_EQ(p, before->owners.at(id));
    }
  }
  EXPECT_FALSE(Drain(Ids(4), Pods(1), {"kv-0"}, 8, 1.25, {}).ok());
}

}  // namespace
}  // namespace shardcast::planner
