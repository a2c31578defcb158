// The load model: predicted and observed load per range and per pod, the
// shares an owner and its echoes carry, and the move budget.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "controllers/planner/planner_internal.h"

namespace shardcast::planner {

double QuantileAt(const SeriesForecast& f, double c) {
  double q;
  if (c <= 0.5) {
    q = f.p50;
  } else if (c <= 0.9) {
    q = f.p50 + (f.p90 - f.p50) * (c - 0.5) / 0.4;
  } else if (c < 0.99) {
    q = f.p90 + (f.p99 - f.p90) * (c - 0.9) / 0.09;
  } else {
    q = f.p99;
  }
  return std::max(q, f.observed);
}

namespace internal {

std::string Pct(double u) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f%%", u * 100.0);
  return buf;
}

std::string Secs(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0fs", s);
  return buf;
}

std::string Num(double v, const char* fmt) {
  char buf[48];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

bool Planner::RangeCooling(uint32_t id) const {
  return Cooling(in_.history.range_last_action, id) || Cooling(in_.history.range_last_echo, id);
}

bool Planner::PodCooling(const std::string& name) const {
  return Cooling(in_.history.pod_last_action, name);
}

double Planner::ReadFraction(const Range& r) const {
  if (r.read_fraction) return *r.read_fraction;
  return r.echoes.empty() ? 0.0 : pol_.read_heavy_fraction;
}

// A range's load L with read fraction f and `echoes` echoes: the owner serves
// the writes and its share of the reads, and per echo the log appends and
// the DUMPs the echo's follower reads (half of echoSyncCost per unit of write
// load); each echo serves its share of the reads and applies every logged
// write (echoSyncCost per unit of write load; bench/agent/run-echo.sh).
double Planner::OwnerPart(double L, double f, std::size_t echoes) const {
  const double e = static_cast<double>(echoes);
  return L * (1 - f) * (1 + 0.5 * pol_.echo_sync_cost * e) + L * f / (1 + e);
}

double Planner::EchoPart(double L, double f, std::size_t echoes) const {
  if (echoes == 0) return 0;
  return L * f / static_cast<double>(1 + echoes) + L * (1 - f) * pol_.echo_sync_cost;
}

double Planner::OwnerShare(std::size_t ri, std::size_t echoes) const {
  return OwnerPart(ranges_[ri].load, ReadFraction(st_.ranges[ri]), echoes);
}

double Planner::EchoShare(std::size_t ri, std::size_t echoes) const {
  return EchoPart(ranges_[ri].load, ReadFraction(st_.ranges[ri]), echoes);
}

double Planner::OwnerGainWithoutAnEcho(std::size_t ri) const {
  const std::size_t e = st_.ranges[ri].echoes.size();
  return OwnerShare(ri, e - 1) - OwnerShare(ri, e);
}

void Planner::DropEcho(std::size_t ri, const std::string& pod) {
  auto& echoes = st_.ranges[ri].echoes;
  const std::size_t e = echoes.size();
  const double gain = EchoShare(ri, e - 1) - EchoShare(ri, e);
  for (const auto& other : echoes) {
    if (other != pod) pods_[pod_idx_.at(other)].load += gain;
  }
  echoes.erase(std::remove(echoes.begin(), echoes.end(), pod), echoes.end());
}

void Planner::Index() {
  pods_.assign(st_.pods.size(), PodModel{});
  for (std::size_t i = 0; i < st_.pods.size(); ++i) {
    pod_idx_[st_.pods[i].name] = i;
    if (st_.pods[i].ready)
      max_ready_capacity_ = std::max(max_ready_capacity_, st_.pods[i].capacity);
  }
  ranges_.assign(st_.ranges.size(), RangeModel{});
  range_idx_.reserve(st_.ranges.size());
  for (std::size_t i = 0; i < st_.ranges.size(); ++i) {
    range_idx_[st_.ranges[i].id] = i;
    ranges_[i].initial_owner = pod_idx_.at(st_.ranges[i].owner);
    pods_[ranges_[i].initial_owner].owned.push_back(i);
  }
}

void Planner::LoadPodForecasts() {
  for (std::size_t p = 0; p < st_.pods.size(); ++p) {
    auto f = in_.forecasts.pods.find(st_.pods[p].name);
    if (f != in_.forecasts.pods.end()) {
      pods_[p].forecast = &f->second;
      pods_[p].low_conf =
          f->second.trusted && (f->second.p90 - f->second.p50) > pol_.low_confidence_band * Cap(p);
      pods_[p].trusted = f->second.trusted && !pods_[p].low_conf;
      pods_[p].prob = pods_[p].trusted ? f->second.prob_exceed : 0;
    }
  }
}

void Planner::LoadRangeForecasts(std::vector<bool>& known) {
  for (auto f = in_.forecasts.ranges.begin(); f != in_.forecasts.ranges.end(); ++f) {
    auto ri = range_idx_.find(f->first);
    if (ri == range_idx_.end()) continue;  // a range that no longer exists
    const std::size_t r = ri->second;
    known[r] = true;
    ranges_[r].observed = f->second.observed;
    const PodModel& owner = pods_[ranges_[r].initial_owner];
    bool pod_reactive = owner.forecast && !owner.trusted;
    ranges_[r].load = (f->second.trusted && !pod_reactive) ? QuantileAt(f->second, pol_.confidence)
                                                           : f->second.observed;
  }
}

// Ranges without a forecast share what their pod's forecast leaves over.
void Planner::ShareUnforecastLoad(const std::vector<bool>& known) {
  for (std::size_t p = 0; p < st_.pods.size(); ++p) {
    auto f = in_.forecasts.pods.find(st_.pods[p].name);
    if (f == in_.forecasts.pods.end()) continue;
    double pred = pods_[p].trusted ? QuantileAt(f->second, pol_.confidence) : f->second.observed;
    double known_pred = 0, known_obs = 0;
    std::vector<std::size_t> unknown;
    for (std::size_t r : pods_[p].owned) {
      if (known[r]) {
        known_pred += OwnerShare(r, st_.ranges[r].echoes.size());
        known_obs += ranges_[r].observed;
      } else {
        unknown.push_back(r);
      }
    }
    if (unknown.empty()) continue;
    double n = static_cast<double>(unknown.size());
    for (std::size_t r : unknown) {
      ranges_[r].load = std::max(0.0, pred - known_pred) / n;
      ranges_[r].observed = std::max(0.0, f->second.observed - known_obs) / n;
    }
  }
}

bool Planner::EventScales(const RangeEvent& ev, std::size_t r) const {
  if (!ev.ranges.empty()) return true;
  // Every range: the forecast controller scaled trusted pod forecasts.
  const PodModel& owner = pods_[ranges_[r].initial_owner];
  return !owner.trusted && ev.start > in_.now;
}

// Declared events multiply the loads of the ranges they scale while they
// overlap the horizon; the owners remember the earliest such start.
void Planner::ApplyRangeEvents() {
  const double end = static_cast<double>(in_.now) + in_.forecasts.horizon_seconds;
  for (std::size_t r = 0; r < ranges_.size(); ++r) ranges_[r].base = ranges_[r].load;
  for (const auto& ev : pol_.events) {
    if (static_cast<double>(ev.start) >= end || ev.start + ev.duration_seconds <= in_.now) continue;
    const double ttc = static_cast<double>(std::max<int64_t>(0, ev.start - in_.now));
    std::vector<std::size_t> hit;
    if (ev.ranges.empty()) {
      for (std::size_t r = 0; r < ranges_.size(); ++r) hit.push_back(r);
    }
    for (uint32_t id : ev.ranges) {
      auto ri = range_idx_.find(id);
      if (ri != range_idx_.end()) hit.push_back(ri->second);
    }
    for (std::size_t r : hit) {
      if (EventScales(ev, r)) ranges_[r].load *= ev.multiplier;
      PodModel& owner = pods_[ranges_[r].initial_owner];
      if (ev.multiplier > 1 && (owner.event_ttc < 0 || ttc < owner.event_ttc))
        owner.event_ttc = ttc;
    }
  }
}

// Pod loads: the owner's and the echoes' shares of every range. The observed
// load is the sum of the ranges' observed shares under the current routing
// when the pod owns a range with a range forecast (range observed values
// follow their ranges; the pod's sample still counts the ranges moved off
// since it was taken, which kept it "over maxUtilization now"), else the pod
// forecast's observed value.
void Planner::SumPodLoads(const std::vector<bool>& known) {
  for (std::size_t r = 0; r < st_.ranges.size(); ++r) {
    const auto& rg = st_.ranges[r];
    std::size_t e = rg.echoes.size();
    PodModel& o = pods_[ranges_[r].initial_owner];
    const double obs = ranges_[r].observed;
    o.load += OwnerShare(r, e);
    const double obs_f = e ? ReadFraction(rg) : 0;
    o.observed += OwnerPart(obs, obs_f, e);
    for (const auto& ep : rg.echoes) {
      PodModel& echo = pods_[pod_idx_.at(ep)];
      echo.load += EchoShare(r, e);
      echo.observed += EchoPart(obs, obs_f, e);
    }
  }
  for (std::size_t p = 0; p < st_.pods.size(); ++p) {
    auto f = in_.forecasts.pods.find(st_.pods[p].name);
    if (f == in_.forecasts.pods.end()) continue;
    const auto& owned = pods_[p].owned;
    if (std::none_of(owned.begin(), owned.end(), [&](std::size_t r) { return known[r]; }))
      pods_[p].observed = f->second.observed;
  }
}

void Planner::ComputeLoads() {
  std::vector<bool> known(st_.ranges.size(), false);
  LoadPodForecasts();
  LoadRangeForecasts(known);
  ShareUnforecastLoad(known);
  ApplyRangeEvents();
  SumPodLoads(known);
  double total = 0;
  std::size_t n = 0;
  for (const auto& r : st_.ranges) {
    if (r.size_bytes) {
      total += *r.size_bytes;
      ++n;
    }
  }
  mean_size_ = n && total > 0 ? total / static_cast<double>(n) : 1;
  for (auto& pod : pods_) {
    pod.load_before = pod.load;
    pod.ranges = pod.owned.size();
  }
}

std::size_t Planner::RangeBound() const {
  if (!(st_.load_factor > 0)) return std::numeric_limits<std::size_t>::max();
  std::size_t n = 0;
  for (std::size_t p = 0; p < st_.pods.size(); ++p) n += Active(p) && st_.pods[p].ready ? 1 : 0;
  if (n == 0) return std::numeric_limits<std::size_t>::max();
  return static_cast<std::size_t>(std::ceil(
      st_.load_factor * static_cast<double>(st_.ranges.size()) / static_cast<double>(n) - 1e-9));
}

void Planner::ComputeBudget() {
  int recent = 0;
  for (int64_t t : in_.history.move_times) {
    if (t <= in_.now && in_.now - t < 3600) ++recent;
  }
  int conc = pol_.max_concurrent_migrations - in_.history.in_flight_migrations;
  int hourly = pol_.max_moves_per_hour - recent;
  budget_ = std::max(0, std::min(conc, hourly));
  budget_reason_ =
      conc <= hourly
          ? "limit maxConcurrentMigrations=" + std::to_string(pol_.max_concurrent_migrations) +
                " (" + std::to_string(in_.history.in_flight_migrations) + " in flight)"
          : "limit maxMovesPerHour=" + std::to_string(pol_.max_moves_per_hour) + " (" +
                std::to_string(recent) + " in the last hour)";
}

std::vector<std::size_t> Planner::OwnedRanges(std::size_t p) const {
  std::vector<std::size_t> out;
  for (std::size_t r : pods_[p].owned) {
    if (st_.ranges[r].owner == st_.pods[p].name) out.push_back(r);
  }
  return out;
}

bool Planner::Giant(std::size_t r) const {
  const double share = std::min(pol_.giant_fraction, pol_.target_utilization);
  return OwnerShare(r, st_.ranges[r].echoes.size()) > share * max_ready_capacity_;
}

bool Planner::Movable(std::size_t r) const {
  const auto& rg = st_.ranges[r];
  if (rg.state != RangeState::kStable || Cooling(in_.history.range_last_action, rg.id))
    return false;
  // An echo change cools the range, except for a move to its echo.
  return !Cooling(in_.history.range_last_echo, rg.id) || Prewarmed(r);
}

int Planner::ActiveCount() const {
  int n = 0;
  for (std::size_t p = 0; p < st_.pods.size(); ++p) n += Active(p) ? 1 : 0;
  return n;
}

std::size_t Planner::MinCount(std::vector<double> shares, double excess) {
  std::sort(shares.rbegin(), shares.rend());
  double acc = 0;
  std::size_t k = 0;
  while (acc < excess - 1e-9 && k < shares.size()) acc += shares[k++];
  return k;
}

}  // namespace internal
}  // namespace shardcast::planner
