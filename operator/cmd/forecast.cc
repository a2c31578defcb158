#include "operator/cmd/forecast.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "operator/plot/svg_plot.h"
#include "predictor/forecaster.h"
#include "predictor/parse.h"
#include "predictor/series.h"

namespace shardcast::cli {

namespace pr = shardcast::predictor;

namespace {

constexpr const char* kUsage =
    "usage: shardcast forecast --input series.csv --horizon N [--season 24[,168]] [--step "
    "SECONDS]\n"
    "         [--quantiles 0.5,0.9,0.99] [--actual actual.csv] [--plot out.svg] [--capacity X]\n"
    "         [--model auto|snaive|ets|mstl|theta|naive2] [--event "
    "NAME,START,DURATION,MULTIPLIER]...\n"
    "         [--plot-history N]\n"
    "  CSV: header then 'timestamp,value' (RFC3339 or unix seconds). --horizon and --season are in "
    "steps.\n"
    "  --plot-history: history steps drawn before the forecast; 0 = all; default: three of the\n"
    "    shortest season and two to four horizons, so the forecast band stays readable.\n";

struct Fail {
  std::string msg;
};

Result<std::string> ReadFile(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return unexpected(Error{flag + ": cannot read file '" + path + "'"});
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return unexpected(Error{flag + ": error reading '" + path + "'"});
  return ss.str();
}

Result<long> ParseInt(const std::string& flag, const std::string& s, long lo, long hi) {
  auto d = pr::ParseDouble(s);
  if (!d || !std::isfinite(*d) || *d != std::floor(*d) || *d < lo || *d > hi)
    return unexpected(Error{flag + ": expected an integer in " + std::to_string(lo) + ".." +
                            std::to_string(hi) + ", got '" + s + "'"});
  return static_cast<long>(*d);
}

Result<double> ParseNum(const std::string& flag, const std::string& s) {
  auto d = pr::ParseDouble(s);
  if (!d || !std::isfinite(*d))
    return unexpected(Error{flag + ": expected a finite number, got '" + s + "'"});
  return *d;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

// "90", "90s", "30m", "6h", "2d" -> seconds.
Result<int64_t> ParseDuration(const std::string& flag, const std::string& s) {
  if (s.empty()) return unexpected(Error{flag + ": empty duration"});
  double mult = 1;
  std::string num = s;
  switch (s.back()) {
    case 's':
      mult = 1, num.pop_back();
      break;
    case 'm':
      mult = 60, num.pop_back();
      break;
    case 'h':
      mult = 3600, num.pop_back();
      break;
    case 'd':
      mult = 86400, num.pop_back();
      break;
    default:
      break;
  }
  auto d = pr::ParseDouble(num);
  if (!d || !std::isfinite(*d) || *d <= 0 || *d * mult > 1e10)
    return unexpected(Error{flag + ": invalid duration '" + s + "' (e.g. 90s, 30m, 6h, 2d)"});
  return static_cast<int64_t>(*d * mult);
}

// Step of a sample set: the median positive gap between sorted timestamps.
int64_t InferStep(std::vector<pr::Sample> s) {
  std::sort(s.begin(), s.end(), [](const pr::Sample& a, const pr::Sample& b) { return a.t < b.t; });
  std::vector<int64_t> gaps;
  for (size_t i = 1; i < s.size(); ++i)
    if (s[i].t > s[i - 1].t) gaps.push_back(s[i].t - s[i - 1].t);
  if (gaps.empty()) return 60;
  std::nth_element(gaps.begin(), gaps.begin() + static_cast<std::ptrdiff_t>(gaps.size() / 2),
                   gaps.end());
  return gaps[gaps.size() / 2];
}

std::string Iso(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return b;
}

std::string Fmt(double v) {
  char b[40];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

int Run(int argc, char** argv, std::ostream& out) {
  std::map<std::string, std::string> flags;
  std::vector<std::string> events_raw;
  static const std::vector<std::string> kKnown = {
      "--input", "--horizon",  "--season", "--step",  "--quantiles",   "--actual",
      "--plot",  "--capacity", "--model",  "--event", "--plot-history"};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      out << kUsage;
      return 0;
    }
    std::string val;
    bool has_val = false;
    if (auto eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) == 0) {
      val = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_val = true;
    }
    if (std::find(kKnown.begin(), kKnown.end(), a) == kKnown.end())
      throw Fail{"unknown argument '" + a + "' (see --help)"};
    if (!has_val) {
      if (i + 1 >= argc) throw Fail{a + ": missing value"};
      val = argv[++i];
    }
    if (a == "--event")
      events_raw.push_back(val);
    else
      flags[a] = val;
  }
  auto need = [&](const std::string& f) {
    if (!flags.count(f)) throw Fail{f + ": required (see --help)"};
    return flags[f];
  };
  auto check = [](auto r) {
    if (!r) throw Fail{r.error().message};
    return std::move(r).value();
  };
  const std::string input = need("--input");
  pr::ForecastConfig cfg;
  cfg.horizon = static_cast<int>(check(ParseInt("--horizon", need("--horizon"), 1, 10000)));
  if (flags.count("--season"))
    for (const auto& s : Split(flags["--season"], ','))
      cfg.seasons.push_back(static_cast<int>(check(ParseInt("--season", s, 1, 100000))));
  if (flags.count("--quantiles")) {
    cfg.quantiles.clear();
    for (const auto& s : Split(flags["--quantiles"], ',')) {
      double q = check(ParseNum("--quantiles", s));
      if (!(q > 0 && q < 1))
        throw Fail{"--quantiles: each level must be in (0, 1), got '" + s + "'"};
      cfg.quantiles.push_back(q);
    }
  }
  if (flags.count("--model")) {
    auto k = pr::ParseModelKind(flags["--model"]);
    if (!k) throw Fail{"--model: " + k.error().message};
    cfg.model = *k;
  }
  std::optional<double> capacity;
  if (flags.count("--capacity")) capacity = check(ParseNum("--capacity", flags["--capacity"]));

  // Input series.
  const std::string text = check(ReadFile("--input", input));
  auto samples = pr::ParseCsvSeries(text);
  if (!samples) throw Fail{"--input " + input + ": " + samples.error().message};
  int64_t step = InferStep(*samples);
  if (flags.count("--step")) step = check(ParseInt("--step", flags["--step"], 1, 366L * 86400));
  auto series = pr::Bucketize(*samples, step);
  if (!series) throw Fail{"--input " + input + ": " + series.error().message};

  std::vector<pr::LoadEvent> events;
  for (const auto& raw : events_raw) {
    auto parts = Split(raw, ',');
    if (parts.size() != 4)
      throw Fail{"--event: expected NAME,START,DURATION,MULTIPLIER, got '" + raw + "'"};
    pr::LoadEvent e;
    e.name = parts[0];
    auto start = pr::ParseTimestamp(parts[1]);
    if (!start) throw Fail{"--event " + parts[0] + ": start: " + start.error().message};
    e.start = *start;
    e.duration = check(ParseDuration("--event " + parts[0] + ": duration", parts[2]));
    e.multiplier = check(ParseNum("--event " + parts[0] + ": multiplier", parts[3]));
    events.push_back(e);
  }

  auto fc = pr::Forecast(series->values, cfg);
  if (!fc) throw Fail{"--input " + input + ": " + fc.error().message};
  const int64_t origin = series->start + static_cast<int64_t>(series->values.size()) * step;
  if (!events.empty()) {
    auto n = pr::ApplyEvents(*fc, origin, step, events);
    if (!n) throw Fail{"--event: " + n.error().message};
  }

  // Actuals (optional).
  std::map<int64_t, double> actual;
  if (flags.count("--actual")) {
    const std::string atext = check(ReadFile("--actual", flags["--actual"]));
    auto as = pr::ParseCsvSeries(atext);
    if (!as) throw Fail{"--actual " + flags["--actual"] + ": " + as.error().message};
    auto ab = pr::Bucketize(*as, step);
    if (!ab) throw Fail{"--actual " + flags["--actual"] + ": " + ab.error().message};
    for (size_t i = 0; i < ab->values.size(); ++i)
      if (std::isfinite(ab->values[i]))
        actual[ab->start + static_cast<int64_t>(i) * step] = ab->values[i];
  }

  // Table.
  out << "# model=" << fc->model << " step=" << step << "s points=" << series->values.size()
      << " cleaned_missing=" << fc->clean.missing_filled
      << " clipped_outliers=" << fc->clean.outliers_clipped << "\n";
  if (!fc->note.empty()) out << "# note: " << fc->note << "\n";
  out << "step,time,p50";
  for (double q : fc->quantiles) out << ",q" << Fmt(q);
  if (!actual.empty()) out << ",actual";
  out << "\n";
  double abs_err = 0;
  int n_act = 0;
  for (int k = 0; k < cfg.horizon; ++k) {
    const int64_t t = origin + static_cast<int64_t>(k) * step;
    out << (k + 1) << "," << Iso(t) << "," << Fmt(fc->p50[k]);
    for (size_t qi = 0; qi < fc->quantiles.size(); ++qi) out << "," << Fmt(fc->q[qi][k]);
    if (!actual.empty()) {
      auto it = actual.find(t);
      out << ",";
      if (it != actual.end()) {
        out << Fmt(it->second);
        abs_err += std::fabs(it->second - fc->p50[k]);
        ++n_act;
      }
    }
    out << "\n";
  }
  if (n_act) out << "# actual: MAE " << Fmt(abs_err / n_act) << " over " << n_act << " steps\n";
  if (capacity)
    out << "# probExceed(capacity=" << Fmt(*capacity) << ", horizon=" << cfg.horizon
        << ")=" << Fmt(pr::ProbExceed(*fc, *capacity)) << "\n";

  if (flags.count("--plot")) {
    plot::Chart ch;
    ch.title = "forecast: " + input + " (" + fc->model + ")";
    ch.x_label = "time (UTC)";
    ch.y_label = "value";
    ch.x_is_unix_time = true;
    plot::Line hist{"history", {}, {}, "#333333", 1.2, false};
    const size_t n_hist = series->values.size();
    size_t shown = plot::DefaultHistoryWindow(n_hist, cfg.horizon, cfg.seasons);
    if (flags.count("--plot-history")) {
      const long want = check(ParseInt("--plot-history", flags["--plot-history"], 0, 100000000));
      shown = want == 0 ? n_hist : std::min(n_hist, static_cast<size_t>(want));
    }
    for (size_t i = n_hist - shown; i < n_hist; ++i) {
      hist.x.push_back(static_cast<double>(series->start + static_cast<int64_t>(i) * step));
      hist.y.push_back(series->values[i]);
    }
    std::vector<double> fx;
    for (int k = 0; k < cfg.horizon; ++k)
      fx.push_back(static_cast<double>(origin + static_cast<int64_t>(k) * step));
    // Bands: widest first, symmetric pairs of requested quantiles around 0.5.
    const auto& qs = fc->quantiles;
    for (size_t i = 0; i < qs.size(); ++i) {
      if (qs[i] <= 0.5) continue;
      // Lower end: requested 1-q if present, else the computed quantile.
      std::vector<double> lo(cfg.horizon), hi = fc->q[i];
      for (int k = 0; k < cfg.horizon; ++k) lo[k] = fc->Quantile(1 - qs[i], static_cast<size_t>(k));
      char lbl[64];
      std::snprintf(lbl, sizeof lbl, "%.0f%% band", (2 * qs[i] - 1) * 100);
      ch.bands.insert(
          ch.bands.begin(),
          plot::Band{lbl, fx, lo, hi, "#1f77b4", 0.15 + 0.1 * static_cast<double>(i) / qs.size()});
    }
    ch.lines.push_back(hist);
    ch.lines.push_back(plot::Line{"forecast p50", fx, fc->p50, "#1f77b4", 2.0, false});
    if (!actual.empty()) {
      plot::Line act{"actual", {}, {}, "#2ca02c", 1.2, true};
      for (auto& [t, v] : actual) act.x.push_back(static_cast<double>(t)), act.y.push_back(v);
      ch.lines.push_back(act);
    }
    if (capacity) ch.hlines.push_back(plot::HLine{"capacity", *capacity, "#d62728", true});
    ch.markers.push_back(plot::Marker{"forecast start", static_cast<double>(origin), "#7f7f7f"});
    for (const auto& e : events) {
      ch.markers.push_back(
          plot::Marker{e.name + " x" + Fmt(e.multiplier), static_cast<double>(e.start), "#ff7f0e"});
      ch.markers.push_back(plot::Marker{"", static_cast<double>(e.start + e.duration), "#ff7f0e"});
    }
    std::ofstream f(flags["--plot"], std::ios::binary);
    if (!f) throw Fail{"--plot: cannot write file '" + flags["--plot"] + "'"};
    f << plot::RenderSvg(ch);
    if (!f) throw Fail{"--plot: error writing '" + flags["--plot"] + "'"};
  }
  return 0;
}

}  // namespace

int ForecastMain(int argc, char** argv, std::ostream& out, std::ostream& err) {
  try {
    return Run(argc, argv, out);
  } catch (const Fail& f) {
    err << "shardcast forecast: " << f.msg << "\n";
    return 2;
  } catch (const std::exception& e) {
    err << "shardcast forecast: " << e.what() << "\n";
    return 2;
  }
}

int ForecastMain(int argc, char** argv) { return ForecastMain(argc, argv, std::cout, std::cerr); }

}  // namespace shardcast::cli
