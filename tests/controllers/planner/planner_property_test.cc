// Property tests on random states (seeded, many iterations).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "controllers/planner/planner.h"
#include "tests/controllers/planner/fixture.h"

namespace shardcast::planner {
namespace {

using testing::Fixture;
using testing::PodName;

// A random ShardSet: random sizes, capacities, loads, forecasts, history and limits.
PlanInput RandomInput(std::mt19937& rng) {
  auto uni = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  auto pick = [&](int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng); };
  int active = pick(2, 12), warm = pick(0, 3);
  Fixture fx(active, pick(1, 12), 0.4, warm);
  PlanInput& in = fx.in;
  in.state.max_replicas = active + pick(0, warm);
  in.state.min_replicas = pick(1, active);
  in.state.warm_pool_size = pick(0, 3);
  for (auto& p : in.state.pods) {
    p.capacity = std::vector<double>{500, 1000, 2000}[static_cast<std::size_t>(pick(0, 2))];
    p.ready = pick(0, 9) != 0;
  }
  std::lognormal_distribution<double> heavy(0, 0.8);
  double pod_scale = uni(0.05, 1.1);
  for (auto& r : in.state.ranges) {
    double load = pod_scale * 60 * heavy(rng);
    fx.SetRange(r.id, load * uni(0.6, 1.0), load);
    auto& f = in.forecasts.ranges[r.id];
    f.trusted = pick(0, 5) != 0;
    f.p99 = f.p90 * uni(1.0, 1.3);
    f.p50 = f.p90 * uni(0.7, 1.0);
    if (pick(0, 3) == 0) r.read_fraction = uni(0, 1);
    if (pick(0, 3) == 0) r.size_bytes = uni(1e3, 1e9);
    if (pick(0, 15) == 0) r.state = RangeState::kMigrating;
    if (pick(0, 10) == 0) in.history.range_last_action[r.id] = in.now - pick(0, 900);
    if (pick(0, 12) == 0 && in.state.pods.size() > 1) {
      std::string e =
          in.state
              .pods[static_cast<std::size_t>(pick(0, static_cast<int>(in.state.pods.size()) - 1))]
              .name;
      if (e != r.owner) r.echoes.push_back(e);
    }
  }
  if (pick(0, 4) == 0) in.forecasts.ranges.erase(in.forecasts.ranges.begin());
  for (int i = 0; i < active; ++i) {
    if (pick(0, 4) == 0) continue;  // no pod forecast
    std::optional<double> ttc;
    if (pick(0, 2) != 0) ttc = uni(0, 3600);
    fx.SetPodForecast(i, uni(0, 1), ttc, pick(0, 5) != 0);
  }
  in.policy.confidence = uni(0.5, 0.99);
  in.policy.max_concurrent_migrations = pick(1, 8);
  in.policy.max_moves_per_hour = pick(1, 40);
  in.history.in_flight_migrations = pick(0, 3);
  for (int i = pick(0, 30); i > 0; --i) in.history.move_times.push_back(in.now - pick(0, 7200));
  if (pick(0, 1)) in.history.low_load_since = in.now - pick(0, 7200);
  if (pick(0, 6) == 0) in.policy.in_window = false;
  return in;
}

std::string Describe(const Plan& p) {
  std::string s;
  for (const auto& a : p.actions) {
    s += std::string(ActionTypeName(a.type)) + "(" + (a.range ? std::to_string(*a.range) : "") +
         " " + a.pod + " " + a.from + "->" + a.to + ") ";
  }
  for (const auto& f : p.blocked) s += "\n  blocked " + f.subject + ": " + f.message;
  for (const auto& f : p.notes) s += "\n  note " + f.subject + ": " + f.message;
  return s;
}

void CheckCoverage(const ShardSetState& s, const std::string& ctx) {
  std::set<uint32_t> ids;
  std::set<std::string> pods;
  for (const auto& p : s.pods) pods.insert(p.name);
  std::vector<std::pair<uint32_t, uint32_t>> spans;
  for (const auto& r : s.ranges) {
    ASSERT_TRUE(ids.insert(r.id).second) << ctx << " duplicate range " << r.id;
    ASSERT_TRUE(pods.count(r.owner))
        << ctx << " range " << r.id << " owned by missing pod " << r.owner;
    spans.push_back({r.start, r.end});
  }
  std::sort(spans.begin(), spans.end());
  ASSERT_EQ(spans.front().first, 0u) << ctx;
  ASSERT_EQ(spans.back().second, UINT32_MAX) << ctx;
  for (std::size_t i = 1; i < spans.size(); ++i) {
    ASSERT_EQ(static_cast<uint64_t>(spans[i - 1].second) + 1, spans[i].first)
        << ctx << " gap/overlap";
  }
}

TEST(PlannerProperty, RandomStatesKeepInvariants) {
  std::mt19937 rng(20261127);
  int with_actions = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    PlanInput in = RandomInput(rng);
    std::string ctx = "iter " + std::to_string(iter);
    auto plan = MakePlan(in);
    ASSERT_TRUE(plan.ok()) << ctx << ": " << plan.error().message;
    with_actions += plan->actions.empty() ? 0 : 1;
    // Same input, same plan.
    auto again = MakePlan(in);
    ASSERT_TRUE(again.ok());
    ASSERT_EQ(plan->id, again->id) << ctx;

    // Limits.
    int recent = 0;
    for (auto t : in.history.move_times) recent += in.now - t < 3600 ? 1 : 0;
    int budget =
        std::max(0, std::min(in.policy.max_concurrent_migrations - in.history.in_flight_migrations,
                             in.policy.max_moves_per_hour - recent));
    int migrations = 0;
    std::map<std::string, const Pod*> pods;
    for (const auto& p : in.state.pods) pods[p.name] = &p;
    int active = 0;
    for (const auto& p : in.state.pods) active += p.role == PodRole::kActive ? 1 : 0;
    for (const auto& a : plan->actions) {
      if (a.type == ActionType::kMove || a.type == ActionType::kAddEcho) ++migrations;
      if (a.type == ActionType::kPromote) ++active;
      if (a.type == ActionType::kDemote || a.type == ActionType::kScaleIn) --active;
      // Nothing targets a pod that is not Ready.
      const std::string& target =
          a.type == ActionType::kMove                                          ? a.to
          : (a.type == ActionType::kPromote || a.type == ActionType::kAddEcho) ? a.pod
                                                                               : "";
      if (!target.empty()) {
        ASSERT_TRUE(pods.count(target)) << ctx;
        ASSERT_TRUE(pods[target]->ready)
            << ctx << " " << ActionTypeName(a.type) << " targets unready " << target;
      }
      ASSERT_FALSE(a.reason.empty()) << ctx;
      if (a.range && in.history.range_last_action.count(*a.range) &&
          a.type != ActionType::kRemoveEcho) {
        ASSERT_GE(in.now - in.history.range_last_action.at(*a.range), in.policy.cooldown_seconds)
            << ctx << " range " << *a.range << " acted on during cooldown";
      }
    }
    ASSERT_LE(migrations, budget) << ctx;
    ASSERT_LE(active, in.state.max_replicas) << ctx;
    ASSERT_GE(active, std::min(in.state.min_replicas, active)) << ctx;
    if (in.policy.in_window && !*in.policy.in_window) {
      ASSERT_TRUE(plan->actions.empty()) << ctx;
    }

    // Every range is assigned exactly once after applying the actions.
    auto after = ApplyPlan(in.state, *plan);
    ASSERT_TRUE(after.ok()) << ctx << ": " << after.error().message;
    CheckCoverage(*after, ctx);
    ctx += " " + Describe(*plan);
    for (const auto& r : after->ranges) {
      for (const auto& e : r.echoes) ASSERT_NE(e, r.owner) << ctx;
    }
    ASSERT_EQ(after->ranges.size(), in.state.ranges.size() +
                                        testing::Count(*plan, ActionType::kSplit) -
                                        testing::Count(*plan, ActionType::kMerge))
        << ctx;
  }
  EXPECT_GT(with_actions, 300);  // the generator exercises the planner
}

// Independent lower bound: for each pod that must be relieved, the fewest of
// its ranges (largest first) covering the excess over target.
std::size_t IndependentLowerBound(const PlanInput& in) {
  std::size_t lb = 0;
  for (const auto& p : in.state.pods) {
    auto f = in.forecasts.pods.find(p.name);
    if (f == in.forecasts.pods.end() || f->second.prob_exceed < in.policy.confidence) continue;
    std::vector<double> loads;
    double total = 0;
    for (const auto& r : in.state.ranges) {
      if (r.owner != p.name) continue;
      double l = QuantileAt(in.forecasts.ranges.at(r.id), in.policy.confidence);
      loads.push_back(l);
      total += l;
    }
    double excess = total - in.policy.target_utilization * p.capacity;
    std::sort(loads.rbegin(), loads.rend());
    for (std::size_t k = 0; excess > 1e-9 && k < loads.size(); ++k) {
      excess -= loads[k];
      ++lb;
    }
  }
  return lb;
}

TEST(PlannerProperty, MovesStayWithinTwelveTenthsOfTheLowerBound) {
  std::mt19937 rng(42);
  int checked = 0;
  for (int iter = 0; iter < 1000; ++iter) {
    auto pick = [&](int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng); };
    auto uni = [&](double a, double b) {
      return std::uniform_real_distribution<double>(a, b)(rng);
    };
    int pods = pick(4, 30), per = pick(6, 24);
    Fixture fx(pods, per, 0.3);
    fx.in.policy.max_concurrent_migrations = 64;
    fx.in.policy.max_moves_per_hour = 10000;
    int hot = std::max(1, pods / 4);
    for (int i = 0; i < pods; ++i) {
      if (i < hot) {
        // Hot: 0.8..1.0 predicted; range loads skewed but each below target.
        double want = uni(0.82, 1.0) * 1000;
        std::vector<double> w(static_cast<std::size_t>(per));
        double sum = 0;
        for (auto& x : w) sum += (x = uni(0.5, 1.0));
        for (int k = 0; k < per; ++k) {
          uint32_t id = static_cast<uint32_t>(i * per + k);
          fx.SetRange(id, want * w[static_cast<std::size_t>(k)] / sum * 0.7,
                      want * w[static_cast<std::size_t>(k)] / sum);
        }
        fx.SetPodForecast(i, uni(0.9, 1.0), 0.0);
      } else {
        fx.SetPodUtil(i, uni(0.05, 0.25));
        fx.SetPodForecast(i, 0.0, std::nullopt);
      }
    }
    auto plan = MakePlan(fx.in);
    ASSERT_TRUE(plan.ok()) << plan.error().message;
    std::size_t lb = IndependentLowerBound(fx.in);
    ASSERT_EQ(plan->moved_lower_bound, lb) << iter;
    ASSERT_LE(static_cast<double>(plan->moves), 1.2 * static_cast<double>(lb)) << iter;
    // And the plan actually relieves every hot pod to target.
    for (int i = 0; i < hot; ++i) {
      ASSERT_LE(testing::Row(*plan, PodName(i)).after, fx.in.policy.target_utilization + 1e-9)
          << iter << " " << Describe(*plan);
    }
    for (const auto& row : plan->pods)
      ASSERT_LE(row.after, fx.in.policy.max_utilization + 1e-9) << iter;
    ++checked;
  }
  EXPECT_EQ(checked, 1000);
}

}  // namespace
}  // namespace shardcast::planner

namespace shardcast::planner {
namespace {

// Timing on random cases: a hot pod is relieved exactly when its time to
// crossing is within the lead time it needs (k moves after those of the pod
// crossing sooner, maxConcurrentMigrations at a time, each the longer of
// perRange and the measured move) plus the margin max(60s, 25%): never late,
// not needlessly early.
TEST(PlannerProperty, ActsExactlyWhenLeadTimeRunsOut) {
  std::mt19937 rng(99);
  int early = 0, due = 0;
  for (int iter = 0; iter < 300; ++iter) {
    auto pick = [&](int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng); };
    auto uni = [&](double a, double b) {
      return std::uniform_real_distribution<double>(a, b)(rng);
    };
    int pods = pick(6, 20), per = pick(6, 16);
    Fixture fx(pods, per, 0.15);
    // Mostly enough concurrency for every move at once; else the budget caps
    // each plan and the lead counts waves.
    const int concurrent = pick(0, 2) == 0 ? pick(1, 3) : 64;
    fx.in.policy.max_concurrent_migrations = concurrent;
    fx.in.policy.max_moves_per_hour = 10000;
    fx.in.policy.per_range_lead_seconds = pick(5, 60);
    if (pick(0, 1) == 1) fx.in.history.move_seconds = pick(0, 90);
    const double per_move =
        std::max(fx.in.policy.per_range_lead_seconds, fx.in.history.move_seconds.value_or(0.0));
    std::vector<double> ttc;
    int hot = pick(1, 2);
    for (int i = 0; i < hot; ++i) {
      fx.SetPodUtil(i, 0.5, uni(0.85, 1.0));
      ttc.push_back(uni(0, 900));
      fx.SetPodForecast(i, 0.99, ttc.back());
    }
    auto plan = MakePlan(fx.in);
    ASSERT_TRUE(plan.ok()) << plan.error().message;
    std::size_t due_k = 0, due_moved = 0;
    // k per pod from an independent largest-first count.
    std::vector<std::size_t> ks;
    for (int i = 0; i < hot; ++i) {
      std::vector<double> loads;
      double total = 0;
      for (const auto& r : fx.in.state.ranges) {
        if (r.owner != PodName(i)) continue;
        loads.push_back(fx.in.forecasts.ranges[r.id].p90);
        total += loads.back();
      }
      std::sort(loads.rbegin(), loads.rend());
      double excess = total - 600;
      std::size_t k = 0;
      while (excess > 1e-9 && k < loads.size()) excess -= loads[k++];
      ks.push_back(k);
    }
    for (int i = 0; i < hot; ++i) {
      const std::size_t k = ks[static_cast<std::size_t>(i)];
      // Its moves queue behind those of the pod crossing sooner.
      std::size_t queued = 0;
      for (int j = 0; j < hot; ++j) {
        if (ttc[static_cast<std::size_t>(j)] < ttc[static_cast<std::size_t>(i)])
          queued += ks[static_cast<std::size_t>(j)];
      }
      const std::size_t c = static_cast<std::size_t>(concurrent);
      double needed = per_move * static_cast<double>((queued + k + c - 1) / c);
      bool should_act = ttc[static_cast<std::size_t>(i)] <= needed + std::max(60.0, 0.25 * needed);
      std::size_t moved_off = 0;
      for (const auto& a : plan->actions)
        moved_off += a.type == ActionType::kMove && a.from == PodName(i) ? 1 : 0;
      if (should_act) {
        ++due;
        due_k += k;
        due_moved += moved_off;
        if (concurrent == 64) {
          EXPECT_EQ(moved_off, k) << iter << " pod " << i << " ttc "
                                  << ttc[static_cast<std::size_t>(i)];
          EXPECT_LE(testing::Row(*plan, PodName(i)).after, 0.6 + 1e-9) << iter;
        }
      } else {
        ++early;
        EXPECT_EQ(moved_off, 0u) << iter << " pod " << i << " ttc "
                                 << ttc[static_cast<std::size_t>(i)];
        EXPECT_TRUE(testing::Mentions(plan->notes, "acting when within")) << iter;
      }
    }
    // The due pods' first wave: as many moves as the budget allows.
    EXPECT_EQ(due_moved, std::min(due_k, static_cast<std::size_t>(concurrent))) << iter;
  }
  EXPECT_GT(due, 50);
  EXPECT_GT(early, 50);
}

}  // namespace
}  // namespace shardcast::planner
