// Per-ShardSet forecasting state: the sampled series (per-pod CPU, memory
// and request rate, per-range request rate) in predictor::History ring
// buffers, the last fitted model per pod with cheap re-forecasts between
// refits, online accuracy, and the status entries derived from them.
// No I/O and no clock: callers pass JSON/text and unix seconds in.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "controllers/api/pod_metrics.h"
#include "controllers/forecast/settings.h"
#include "predictor/accuracy.h"
#include "predictor/forecaster.h"
#include "predictor/history.h"
#include "util/expected.h"

namespace shardcast::forecast {

struct StateOptions {
  // Pod series (CPU, memory, request rate): 1 min x 3 days, 15 min x 5
  // weeks. Three days (not the predictor's default two) so that a daily
  // season is usable at 1-min steps (it needs 2 x 1440 + 2 points).
  std::vector<predictor::Resolution> pod_resolutions = {{60, 4320}, {900, 3360}};
  // Per-range request rates: 5 min x 3 days and 15 min x 5 weeks (about a
  // third of a pod series), see the budget in
  // docs/forecasting-in-operator.md. A pod's forecast is composed from the
  // ranges it owns (SetState::ForecastPod), so they need the same seasons.
  std::vector<predictor::Resolution> range_resolutions = {{300, 864}, {900, 3360}};
  int64_t refit_interval_seconds = 600;
  size_t max_fit_points = 4320;   // newest points handed to the forecaster
  double level_correction = 1.0;  // weight of the recent mean error between refits
  predictor::AccuracyConfig accuracy;
};

// One series with its model cache.
struct Series {
  predictor::History hist;
  double last = 0;     // last sample
  int64_t last_t = 0;  // its time (0: never)
  // Model cache (from the last refit).
  std::optional<predictor::ForecastResult> fit;
  int64_t fit_origin = 0;  // start time of the fit's first forecast bucket
  int64_t fit_step = 0;
  int64_t fit_time = 0;  // when it was fitted
  std::string fit_key;   // settings the fit was made with
  predictor::AccuracyTracker accuracy;
  bool accuracy_seeded = false;  // the history backtest ran (once per process)
  struct Pending {
    int64_t bucket;  // start of the forecast bucket
    double p50, lo90, hi90;
  };
  std::vector<Pending> pending;  // one-step forecasts waiting for actuals
  // Live calibration (adaptive conformal): the error scale of published
  // forecasts is multiplied by this; each matured one-step forecast widens
  // it after a miss of the 90% band and narrows it a little after a hit, so
  // that live misses settle near 10% whatever the fit's backtest said.
  double band_scale = 1.0;
};

struct PodSeries {
  Series cpu, mem, rps;
  // The pod's load composed from the series of the ranges it owns (sum of
  // range request rates, in units of the capacity metric), with its own
  // model cache, accuracy and calibration. Rebuilt from scratch, and judged
  // again on the composed history, whenever the owned ranges change.
  Series composed;
  std::vector<int> composition;  // sorted range ids behind `composed`
  // What the previous forecast of the pod published (none yet: nullopt), for
  // PodForecast::trust_changed.
  std::string last_source;  // PodForecast::source
  std::optional<bool> last_trusted = std::nullopt;
  double last_p90 = 0;  // the previous forecast's published p90 (for a debug log)
};

struct PodForecast {
  std::string pod;
  int64_t horizon_seconds = 0;
  double peak = 0, p90 = 0, p99 = 0, prob_exceed = 0;
  bool trusted = false;
  std::string model;  // not in status; for logs
  bool refitted = false;
  // For logs, not in status: the verdict or the series it is about changed
  // since the previous forecast (or is the first), the accuracy behind it,
  // the band scale.
  bool trust_changed = false;
  std::string verdict = "";  // predictor::AccuracyTracker::verdict()
  double band_scale = 1;     // Series::band_scale
  // For logs: "ranges" when composed from the owned ranges' series, "pod"
  // when fitted on the pod's own history.
  std::string source = "pod";
  std::string fallback = "";  // why the ranges were not used, when given
  // Seconds from now to the start of the first forecast step whose p90
  // crosses capacity x the policy's maxUtilization (its scale-up threshold;
  // 0.8 without a policy, the CRD default); nullopt: no crossing within the
  // horizon. 0 when the first step already crosses.
  std::optional<int64_t> time_to_crossing_seconds = std::nullopt;
};

// The ranges of a pod that status.rangeForecasts does not list, summed
// (contract C3, status.forecasts[].rangesRest).
struct RangesRest {
  int count = 0;
  double p50 = 0, p90 = 0;
};

using api::ParsePodMetricsList;
using api::PodUsage;

// A range id as written in counters, history keys and backfill flags: 1 to 9
// decimal digits (so it fits an int). nullopt otherwise.
std::optional<int> ParseRangeId(const std::string& text);

// Range counters (shardcast_range_requests_total{range="<id>"}) from a
// Prometheus text page; the values of one range are summed over other
// labels. Bad lines and bad range labels are reported in `errors`.
std::map<int, double> ParseRangeCounters(const std::string& text, std::vector<std::string>* errors);

// The ranges each pod owns in a routing document (the routing ConfigMap's
// routing.json, parsed by shardset::ParseRoutingDocument), ids sorted.
// Ranges without an owner are skipped; a document the ShardSet controller
// would reject is an error naming the field.
[[nodiscard]] Result<std::map<std::string, std::vector<int>>> RangesByOwner(
    const std::string& routing_json);

class SetState {
 public:
  explicit SetState(StateOptions opts = {});

  const StateOptions& options() const { return opts_; }

  // Sampling.
  void AddPodUsage(const PodUsage& u, int64_t t);
  // Turns one pod's counters into per-second rates against the previous
  // scrape of that pod (a drop is a counter reset) and returns them; the
  // first scrape of a pod yields nothing.
  std::map<int, double> CounterRates(const std::string& pod, const std::map<int, double>& counters,
                                     int64_t t);
  // Records the per-range rates summed over the pods of one round, and each
  // pod's total request rate.
  void AddRates(const std::map<int, double>& range_rates,
                const std::map<std::string, double>& pod_rates, int64_t t);

  // Forecast of one pod's capacity metric. `now` is the current time; the
  // model is refitted when `force_refit`, when the settings changed, when
  // the fit is older than refit_interval, or when its horizon runs out;
  // otherwise the cached fit is re-anchored (cheap). nullopt without data.
  //
  // With `ranges` (the ids the pod owns now), the forecast is of the sum of
  // those ranges' request rates, its published loads converted to the
  // capacity metric with the set's CPU per request (CpuPerRequest), when
  // every one of them was sampled lately and has enough history: a pod's own
  // history still holds the load of ranges it gave away and none of those it
  // received, while the ranges' series follow the load wherever it is
  // routed. Otherwise the pod's own series is used. `cpu_per_request` is
  // CpuPerRequest(now) when the caller computed it once for all the pods of
  // a round (it is the set's, not the pod's); null: computed here.
  std::optional<PodForecast> ForecastPod(const std::string& pod, const SetSettings& set,
                                         const PolicySettings& policy, int64_t now,
                                         bool force_refit, std::string* error,
                                         const std::vector<int>* ranges = nullptr,
                                         const std::optional<double>* cpu_per_request = nullptr);

  // Each range's mean request rate over [now - window, now] (its finest
  // history level; its last sample when that window holds none).
  std::map<int, double> RecentRangeRates(int64_t now, int64_t window) const;

  // Millicores per request per second: over the pods' finest history in
  // [now - window, now], the buckets where both a CPU sample and a request
  // rate landed, summed CPU over summed rates (a CPU sample is paired with
  // the rates of its own moment: the newest CPU sample against the newest
  // rates, which come far more often, rescaled every composed forecast at
  // once). Without such a bucket, the sum of the pods' last CPU over the sum
  // of their last rates; nullopt without request rates.
  std::optional<double> CpuPerRequest(int64_t now, int64_t window = 3600) const;

  // Access for persistence and tests.
  std::map<std::string, PodSeries>& pods() { return pods_; }
  const std::map<std::string, PodSeries>& pods() const { return pods_; }
  std::map<int, Series>& ranges() { return ranges_; }
  const std::map<int, Series>& ranges() const { return ranges_; }
  Series& PodMetric(const std::string& pod, const std::string& metric);  // "cpu" | "mem" | "rps"
  Series& Range(int id);
  // Forgets pods not in `keep` (their series and counters).
  void RetainPods(const std::vector<std::string>& keep);
  // Forgets ranges not in `keep` (merged away; a later split may reuse the
  // id for other keys, which must not inherit this history).
  void RetainRanges(const std::set<int>& keep);
  size_t samples() const { return samples_; }

 private:
  Series NewSeries(const std::vector<predictor::Resolution>& res) const;
  StateOptions opts_;
  std::map<std::string, PodSeries> pods_;
  std::map<int, Series> ranges_;
  std::map<std::pair<std::string, int>, predictor::Sample> last_counter_;
  size_t samples_ = 0;
};

// Seconds from `now` to the start of the first step k of `g` (step k covers
// [origin + k*step, origin + (k+1)*step)) whose p90, times `unit`, is above
// `threshold`; 0 when that step has begun; nullopt when no step crosses.
std::optional<int64_t> TimeToCrossing(const predictor::ForecastResult& g, double unit,
                                      double threshold, int64_t origin, int64_t step, int64_t now);

// Status entries: 2 significant digits for loads, 2 decimals for the
// probability, so that noise does not cause writes.
double RoundSig(double v, int digits = 2);
// With `rest`, a pod found in it gets rangesRest {count, p50, p90}.
nlohmann::json ForecastsToStatus(std::vector<PodForecast> forecasts,
                                 const std::map<std::string, RangesRest>* rest = nullptr);
// Whether two status.forecasts lists differ enough to write: another pod
// set, horizon or trusted flag, probExceed by >= 0.05, a load (peak, p90,
// p99, rangesRest p50/p90) by more than 10% or 2% of `capacity`, whichever
// is larger, timeToCrossingSeconds appearing, disappearing or moving by
// more than max(60 s, 10%), or another rangesRest count.
bool MateriallyDifferent(const nlohmann::json& a, const nlohmann::json& b, double capacity);

}  // namespace shardcast::forecast
