#include "controllers/forecast/persist.h"

#include <algorithm>
#include <cmath>

#include "controllers/api/resources.h"
#include "predictor/parse.h"

namespace shardcast::forecast {

using Json = nlohmann::json;

std::string HistoryConfigMapName(const std::string& shardset) { return shardset + "-history"; }

namespace {

bool SameResolutions(const predictor::History& h, const std::vector<predictor::Resolution>& r) {
  if (h.levels() != r.size()) return false;
  for (size_t i = 0; i < r.size(); ++i) {
    if (h.resolution(i).step_seconds != r[i].step_seconds ||
        h.resolution(i).capacity != r[i].capacity) {
      return false;
    }
  }
  return true;
}

// Re-adds the buckets of `from` (coarsest level first) into `to`.
void Replay(const predictor::History& from, predictor::History& to) {
  for (size_t l = from.levels(); l-- > 0;) {
    auto s = from.Series(l);
    for (size_t i = 0; i < s.values.size(); ++i) {
      if (std::isfinite(s.values[i]))
        to.Add(s.start + static_cast<int64_t>(i) * s.step, s.values[i]);
    }
  }
}

// A history holding only the newest `keep` buckets (0 = all) of the
// coarsest level of `h`.
std::string CoarseSnapshot(const predictor::History& h, uint32_t keep = 0) {
  predictor::Resolution r = h.resolution(h.levels() - 1);
  if (keep > 0 && keep < r.capacity) r.capacity = keep;
  auto coarse = predictor::History::Create({r});
  if (!coarse) return {};
  auto s = h.Series(h.levels() - 1);
  for (size_t i = 0; i < s.values.size(); ++i) {
    if (std::isfinite(s.values[i]))
      coarse->Add(s.start + static_cast<int64_t>(i) * s.step, s.values[i]);
  }
  return coarse->EncodeSnapshot();
}

bool Empty(const predictor::History& h) { return h.Series(0).values.empty(); }

}  // namespace

Json ForecastConfigMap(const Json& shardset, const std::string& name) {
  const Json md = shardset.value("metadata", Json::object());
  const std::string set = md.value("name", std::string());
  Json owner = {{"apiVersion", api::kShardSets.ApiVersion()},
                {"kind", api::kShardSets.kind},
                {"name", set},
                {"uid", md.value("uid", std::string())},
                {"controller", false},
                {"blockOwnerDeletion", false}};
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata",
           {{"name", name},
            {"namespace", md.value("namespace", std::string())},
            {"labels", {{api::kLabelShardSet, set}}},
            {"ownerReferences", Json::array({owner})}}},
          {"data", Json::object()}};
}

Json BuildHistoryConfigMap(const Json& shardset, const SetState& state, int64_t now, size_t budget,
                           BuildReport* report) {
  const std::string set = shardset.value("metadata", Json::object()).value("name", std::string());
  Json cm = ForecastConfigMap(shardset, HistoryConfigMapName(set));
  BuildReport rep;
  // Leave room for meta.json (at most ~4 KB with a long dropped list cut).
  const size_t limit = budget > 4096 ? budget - 4096 : 0;
  auto add = [&](const std::string& key, std::string snap) {
    if (snap.empty() || rep.bytes + key.size() + snap.size() > limit) {
      rep.dropped.push_back(key);
      return;
    }
    rep.bytes += key.size() + snap.size();
    cm["data"][key] = std::move(snap);
  };
  // Forecast inputs at full resolution (coarsest only when over budget).
  auto put = [&](const std::string& key, const predictor::History& h) {
    if (Empty(h)) return;
    std::string snap = h.EncodeSnapshot();
    if (rep.bytes + key.size() + snap.size() > limit && h.levels() > 1) snap = CoarseSnapshot(h);
    add(key, std::move(snap));
  };
  for (const auto& [pod, ps] : state.pods()) put("cpu." + pod, ps.cpu.hist);
  for (const auto& [pod, ps] : state.pods()) put("rps." + pod, ps.rps.hist);
  // Memory is observed, not forecast: its coarsest level only.
  for (const auto& [pod, ps] : state.pods()) {
    if (!Empty(ps.mem.hist)) add("mem." + pod, CoarseSnapshot(ps.mem.hist));
  }
  // Ranges share what is left equally, at full resolution when that fits
  // (pod forecasts are composed from them); a range that does not fit its
  // share keeps its coarsest level, then only its newest buckets of it.
  size_t left = state.ranges().size();
  for (const auto& [id, s] : state.ranges()) {
    const std::string key = "range." + std::to_string(id);
    size_t share = limit > rep.bytes ? (limit - rep.bytes) / std::max<size_t>(left, 1) : 0;
    --left;
    if (Empty(s.hist)) continue;
    std::string snap = s.hist.EncodeSnapshot();
    if (key.size() + snap.size() > share && s.hist.levels() > 1) snap = CoarseSnapshot(s.hist);
    for (uint32_t keep : {1344u, 672u, 288u, 96u}) {
      if (key.size() + snap.size() <= share) break;
      snap = CoarseSnapshot(s.hist, keep);
      ++rep.trimmed;
    }
    add(key, std::move(snap));
  }
  Json meta = {{"version", 1},
               {"savedAt", now},
               {"bytes", rep.bytes},
               {"trimmed", rep.trimmed},
               {"droppedCount", rep.dropped.size()}};
  Json dropped = Json::array();
  for (size_t i = 0; i < rep.dropped.size() && i < 50; ++i) dropped.push_back(rep.dropped[i]);
  meta["dropped"] = dropped;
  std::string m = meta.dump();
  rep.bytes += m.size() + std::string(kMetaKey).size();
  cm["data"][kMetaKey] = m;
  if (report) *report = rep;
  return cm;
}

size_t LoadHistoryConfigMap(const Json& cm, SetState& state, std::vector<std::string>* errors) {
  auto err = [&](const std::string& e) {
    if (errors) errors->push_back(e);
  };
  if (!cm.is_object() || !cm.contains("data") || !cm["data"].is_object()) return 0;
  size_t loaded = 0;
  for (const auto& [key, value] : cm["data"].items()) {
    if (key == kMetaKey) continue;
    if (!value.is_string()) {
      err("data." + key + ": not a string");
      continue;
    }
    size_t dot = key.find('.');
    if (dot == std::string::npos || dot + 1 >= key.size()) {
      err("data." + key + ": unknown key");
      continue;
    }
    std::string kind = key.substr(0, dot), id = key.substr(dot + 1);
    auto h = predictor::History::DecodeSnapshot(value.get<std::string>());
    if (!h) {
      err("data." + key + ": " + h.error().message);
      continue;
    }
    Series* s = nullptr;
    const std::vector<predictor::Resolution>* want = &state.options().pod_resolutions;
    if (kind == "cpu" || kind == "mem" || kind == "rps") {
      s = &state.PodMetric(id, kind);
    } else if (kind == "range") {
      const std::optional<int> range = ParseRangeId(id);
      if (!range) {
        err("data." + key + ": bad range id");
        continue;
      }
      s = &state.Range(*range);
      want = &state.options().range_resolutions;
    } else {
      err("data." + key + ": unknown series kind '" + kind + "'");
      continue;
    }
    if (SameResolutions(*h, *want)) {
      s->hist = std::move(*h);
    } else {
      Replay(*h, s->hist);
    }
    s->fit.reset();
    ++loaded;
  }
  return loaded;
}

bool IsSeedMetric(const std::string& metric) {
  return metric == "cpu" || metric == "mem" || metric == "rps" || metric == "range";
}

Result<size_t> SeedFromCsv(SetState& state, const std::string& pod, const std::string& metric,
                           const std::string& csv) {
  if (pod.empty()) return unexpected(Error{"pod: must not be empty"});
  if (!IsSeedMetric(metric)) {
    return unexpected(
        Error{std::string("metric: must be ") + kSeedMetrics + ", not '" + metric + "'"});
  }
  const std::optional<int> range = metric == "range" ? ParseRangeId(pod) : std::nullopt;
  if (metric == "range" && !range) {
    return unexpected(Error{"range id: must be a non-negative integer, not '" + pod + "'"});
  }
  auto samples = predictor::ParseCsvSeries(csv);
  if (!samples) return unexpected(Error{"csv: " + samples.error().message});
  std::sort(samples->begin(), samples->end(),
            [](const predictor::Sample& a, const predictor::Sample& b) { return a.t < b.t; });
  Series& s = range ? state.Range(*range) : state.PodMetric(pod, metric);
  size_t n = 0;
  for (const auto& x : *samples) {
    if (!std::isfinite(x.v)) continue;
    s.hist.Add(x.t, x.v);
    s.last = x.v;
    s.last_t = x.t;
    ++n;
  }
  s.fit.reset();
  return n;
}

Result<size_t> BackfillFromCsv(kube::Client& client, const std::string& ns,
                               const std::string& shardset, const std::string& pod,
                               const std::string& metric, const std::string& csv,
                               const StateOptions& options) {
  auto set = client.get(api::kShardSets, ns, shardset);
  if (!set)
    return unexpected(Error{"shardset " + ns + "/" + shardset + ": " + set.error().to_string()});
  SetState state(options);
  const std::string cm_name = HistoryConfigMapName(shardset);
  auto cur = client.get(kube::resources::kConfigMaps, ns, cm_name);
  std::string rv;
  if (cur) {
    std::vector<std::string> errors;
    (void)LoadHistoryConfigMap(*cur, state, &errors);
    rv = cur->value("metadata", Json::object()).value("resourceVersion", std::string());
  } else if (cur.error().kind != kube::ErrorKind::kNotFound) {
    return unexpected(Error{"configmap " + ns + "/" + cm_name + ": " + cur.error().to_string()});
  }
  auto n = SeedFromCsv(state, pod, metric, csv);
  if (!n) return unexpected(n.error());
  int64_t newest = 0;
  for (const auto& [p, ps] : state.pods()) newest = std::max(newest, ps.cpu.last_t);
  for (const auto& [id, rs] : state.ranges()) newest = std::max(newest, rs.last_t);
  Json cm = BuildHistoryConfigMap(*set, state, newest);
  if (rv.empty()) {
    auto r = client.create(kube::resources::kConfigMaps, ns, cm);
    if (!r)
      return unexpected(Error{"configmap " + ns + "/" + cm_name + ": " + r.error().to_string()});
  } else {
    cm["metadata"]["resourceVersion"] = rv;
    auto r = client.update(kube::resources::kConfigMaps, ns, cm);
    if (!r)
      return unexpected(Error{"configmap " + ns + "/" + cm_name + ": " + r.error().to_string()});
  }
  return *n;
}

}  // namespace shardcast::forecast
