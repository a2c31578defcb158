// Planner benchmark (on demand, not in ctest).
//  1. Latency of MakePlan for 1,000 pods x 64 ranges (target <= 100 ms).
//  2. Moved ranges / lower bound over 1,000 random scenarios, next to a naive
//     greedy baseline (move the hot pod's ranges in key order to the currently
//     least-loaded pod until it is at target) in the same run.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "controllers/planner/placement.h"
#include "controllers/planner/planner.h"

namespace pl = shardcast::planner;

namespace {

struct Scenario {
  pl::PlanInput in;
  int hot = 0;
};

// `pods` active pods with `per` ranges each; `hotFraction` of them forecast
// to peak at 82..100% with skewed range loads, the rest at 5..30%.
Scenario Make(std::mt19937& rng, int pods, int per, double hot_fraction) {
  auto uni = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  Scenario sc;
  auto& in = sc.in;
  in.now = 1795766400;
  in.state.name = "bench";
  in.state.min_replicas = 1;
  in.state.max_replicas = pods;
  in.state.warm_pool_size = 0;
  // Limits out of the way (the CRD caps them at 64 and 10000; the planner
  // accepts more) so the benchmark measures the choice of moves.
  in.policy.max_concurrent_migrations = 1 << 20;
  in.policy.max_moves_per_hour = 1 << 20;
  for (int i = 0; i < pods; ++i)
    in.state.pods.push_back({"p-" + std::to_string(i), pl::PodRole::kActive, true, 1000});
  const uint64_t total = uint64_t{1} << 32;
  const int n = pods * per;
  std::lognormal_distribution<double> skew(0, 0.6);
  for (int p = 0; p < pods; ++p) {
    bool hot = uni(0, 1) < hot_fraction;
    sc.hot += hot ? 1 : 0;
    double util = hot ? uni(0.82, 1.0) : uni(0.05, 0.3);
    std::vector<double> w(static_cast<std::size_t>(per));
    double sum = 0;
    for (auto& x : w) sum += (x = std::min(skew(rng), 4.0));
    double pod_peak = 0, pod_obs = 0;
    for (int k = 0; k < per; ++k) {
      int i = p * per + k;
      pl::Range r;
      r.id = static_cast<uint32_t>(i);
      r.start = static_cast<uint32_t>(total * static_cast<uint64_t>(i) / static_cast<uint64_t>(n));
      r.end = static_cast<uint32_t>(
          total * static_cast<uint64_t>(i + 1) / static_cast<uint64_t>(n) - 1);
      r.owner = in.state.pods[static_cast<std::size_t>(p)].name;
      r.size_bytes = uni(1e6, 1e8);
      in.state.ranges.push_back(r);
      double peak = util * 1000 * w[static_cast<std::size_t>(k)] / sum;
      pl::SeriesForecast f;
      f.observed = peak * 0.7;
      f.p50 = peak * 0.9;
      f.p90 = peak;
      f.p99 = peak * 1.1;
      f.trusted = true;
      in.forecasts.ranges[r.id] = f;
      pod_peak += peak;
      pod_obs += f.observed;
    }
    pl::SeriesForecast pf;
    pf.observed = pod_obs;
    pf.p50 = pod_peak * 0.9;
    pf.p90 = pod_peak;
    pf.p99 = pod_peak * 1.1;
    pf.prob_exceed = hot ? uni(0.9, 1.0) : 0.0;
    pf.time_to_crossing_seconds = 0;
    pf.trusted = true;
    in.forecasts.pods[in.state.pods[static_cast<std::size_t>(p)].name] = pf;
  }
  in.state.configured_ranges = n;
  return sc;
}

struct BaselineResult {
  std::size_t moves = 0;
  int relieved = 0;
};

// Naive greedy: hot pods in name order; ranges in key order; each to the
// least-loaded pod (any pod below target after receiving it).
BaselineResult NaiveGreedy(const pl::PlanInput& in) {
  const double target = in.policy.target_utilization;
  std::map<std::string, std::size_t> idx;
  for (std::size_t i = 0; i < in.state.pods.size(); ++i) idx[in.state.pods[i].name] = i;
  std::vector<double> load(in.state.pods.size(), 0);
  std::vector<std::vector<double>> owned(in.state.pods.size());
  std::vector<bool> hot(in.state.pods.size());
  for (std::size_t i = 0; i < in.state.pods.size(); ++i) {
    hot[i] = in.forecasts.pods.at(in.state.pods[i].name).prob_exceed >= in.policy.confidence;
  }
  for (const auto& r : in.state.ranges) {
    double l = pl::QuantileAt(in.forecasts.ranges.at(r.id), in.policy.confidence);
    std::size_t o = idx[r.owner];
    load[o] += l;
    owned[o].push_back(l);
  }
  BaselineResult out;
  for (std::size_t p = 0; p < in.state.pods.size(); ++p) {
    if (!hot[p]) continue;
    const double cap = in.state.pods[p].capacity;
    for (double l : owned[p]) {
      if (load[p] <= target * cap) break;
      long best = -1;
      for (std::size_t q = 0; q < load.size(); ++q) {
        if (q != p && !hot[q] && (best < 0 || load[q] < load[static_cast<std::size_t>(best)]))
          best = static_cast<long>(q);
      }
      if (best < 0) break;
      auto b = static_cast<std::size_t>(best);
      if (load[b] + l > target * in.state.pods[b].capacity) continue;
      load[p] -= l;
      load[b] += l;
      ++out.moves;
    }
    out.relieved += load[p] <= target * cap + 1e-9 ? 1 : 0;
  }
  return out;
}

// Everything a plan says (actions with reasons and effects, findings, the pod
// table), printed exactly, so two builds' plans can be compared by one number.
std::string Canon(const pl::Plan& p) {
  std::string s = p.id;
  char buf[64];
  auto num = [&](double v) {
    std::snprintf(buf, sizeof buf, "|%.17g", v);
    s += buf;
  };
  for (const auto& a : p.actions) {
    s += "|" + std::string(pl::ActionTypeName(a.type)) + ":" +
         (a.range ? std::to_string(*a.range) : "") + ":" +
         (a.other ? std::to_string(*a.other) : "") + ":" + a.pod + ":" + a.from + ":" + a.to + ":" +
         (a.split_at ? std::to_string(*a.split_at) : "") + ":" + a.reason;
    num(a.score);
    for (const auto& e : a.effect) {
      s += "|" + e.pod;
      num(e.before);
      num(e.after);
    }
  }
  for (const auto& f : p.blocked) s += "|B:" + f.subject + ":" + f.message;
  for (const auto& f : p.notes) s += "|N:" + f.subject + ":" + f.message;
  for (const auto& r : p.pods) {
    s += "|R:" + r.pod + (r.role == pl::PodRole::kActive ? "A" : "W") + (r.ready ? "1" : "0");
    for (double v : {r.capacity, r.observed, r.before, r.after, r.imbalance}) num(v);
    s += ":" + std::to_string(r.ranges_before) + ":" + std::to_string(r.ranges_after);
  }
  s += ":" + std::to_string(p.moved_lower_bound) + ":" + std::to_string(p.moves);
  return s;
}

double Ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

}  // namespace

int main(int argc, char** argv) {
  int scenarios = argc > 1 ? std::atoi(argv[1]) : 1000;
  std::mt19937 rng(1);

  // 1. Latency at 1,000 pods x 64 ranges.
  Scenario big = Make(rng, 1000, 64, 0.1);
  std::vector<double> plan_ms, naive_ms, plan_cpu_ms;
  pl::Plan last;
  for (int i = 0; i < 7; ++i) {
    std::clock_t c0 = std::clock();
    auto t0 = std::chrono::steady_clock::now();
    auto plan = pl::MakePlan(big.in);
    auto t1 = std::chrono::steady_clock::now();
    plan_cpu_ms.push_back(1000.0 * static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC);
    if (!plan) {
      std::fprintf(stderr, "plan failed: %s\n", plan.error().message.c_str());
      return 1;
    }
    last = std::move(plan).value();
    plan_ms.push_back(Ms(t1 - t0));
    t0 = std::chrono::steady_clock::now();
    auto base = NaiveGreedy(big.in);
    t1 = std::chrono::steady_clock::now();
    naive_ms.push_back(Ms(t1 - t0));
    (void)base;
  }
  std::sort(plan_ms.begin(), plan_ms.end());
  std::sort(naive_ms.begin(), naive_ms.end());
  std::sort(plan_cpu_ms.begin(), plan_cpu_ms.end());
  std::printf("Planner latency, 1000 pods x 64 ranges (64000 ranges, %d hot pods), 7 runs:\n",
              big.hot);
  std::printf(
      "  planner       median %8.1f ms  max %8.1f ms  cpu median %8.1f ms  (%zu moves, lower bound "
      "%zu)"
      "  target <= 100 ms: %s\n",
      plan_ms[3], plan_ms.back(), plan_cpu_ms[3], last.moves, last.moved_lower_bound,
      plan_ms[3] <= 100 ? "PASS" : "FAIL");
  std::printf("  naive greedy  median %8.1f ms  max %8.1f ms\n", naive_ms[3], naive_ms.back());

  // 2. Movement quality over random scenarios.
  std::size_t plan_moves = 0, naive_moves = 0, lb = 0;
  uint64_t digest = pl::Fnv1a64(Canon(last));
  double worst_plan = 0, worst_naive = 0;
  int hot_total = 0, plan_relieved = 0, naive_relieved = 0, within_bound = 0, counted = 0;
  for (int s = 0; s < scenarios; ++s) {
    std::uniform_int_distribution<int> pods_d(10, 200), per_d(8, 64);
    Scenario sc = Make(rng, pods_d(rng), per_d(rng), 0.15);
    auto plan = pl::MakePlan(sc.in);
    if (!plan) {
      std::fprintf(stderr, "scenario %d: %s\n", s, plan.error().message.c_str());
      return 1;
    }
    digest = pl::Fnv1a64(std::to_string(digest) + Canon(*plan));
    auto base = NaiveGreedy(sc.in);
    hot_total += sc.hot;
    for (const auto& row : plan->pods) {
      const auto& f = sc.in.forecasts.pods.at(row.pod);
      if (f.prob_exceed >= sc.in.policy.confidence)
        plan_relieved += row.after <= sc.in.policy.target_utilization + 1e-9 ? 1 : 0;
    }
    naive_relieved += base.relieved;
    if (plan->moved_lower_bound == 0) continue;
    ++counted;
    double lbd = static_cast<double>(plan->moved_lower_bound);
    plan_moves += plan->moves;
    naive_moves += base.moves;
    lb += plan->moved_lower_bound;
    worst_plan = std::max(worst_plan, static_cast<double>(plan->moves) / lbd);
    worst_naive = std::max(worst_naive, static_cast<double>(base.moves) / lbd);
    within_bound += static_cast<double>(plan->moves) <= 1.2 * lbd ? 1 : 0;
  }
  std::printf(
      "\nMoved ranges / lower bound over %d random scenarios (10-200 pods, 8-64 ranges each, 15%% "
      "hot):\n",
      scenarios);
  std::printf("  %-13s %10s %10s %10s %12s\n", "", "moves", "ratio", "worst", "hot relieved");
  std::printf("  %-13s %10zu %10.3f %10.3f %7d/%d\n", "planner", plan_moves,
              static_cast<double>(plan_moves) / static_cast<double>(lb), worst_plan, plan_relieved,
              hot_total);
  std::printf("  %-13s %10zu %10.3f %10.3f %7d/%d\n", "naive greedy", naive_moves,
              static_cast<double>(naive_moves) / static_cast<double>(lb), worst_naive,
              naive_relieved, hot_total);
  std::printf("  lower bound   %10zu   scenarios within 1.2x: %d/%d\n", lb, within_bound, counted);
  std::printf(
      "  plan digest   %016llx  (every plan's actions, reasons, effects, findings and pod table)\n",
      static_cast<unsigned long long>(digest));
  return 0;
}
