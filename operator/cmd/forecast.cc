#include "operator/cmd/forecast.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
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
#include "util/time.h"

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
  static const std::map<char, double> kUnits = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
  if (auto u = kUnits.find(s.back()); u != kUnits.end()) {
    mult = u->second;
    num.pop_back();
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

std::string Fmt(double v) {
  char b[40];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

template <typename T>
T Check(Result<T> r) {
  if (!r) throw Fail{r.error().message};
  return std::move(r).value();
}

// The command line: every flag but --event by name (last one wins), the
// --event values in order.
struct Options {
  std::map<std::string, std::string> flags;
  std::vector<std::string> events_raw;

  bool Has(const std::string& f) const { return flags.count(f) > 0; }
  const std::string& Get(const std::string& f) const { return flags.at(f); }
  const std::string& Need(const std::string& f) const {
    if (!Has(f)) throw Fail{f + ": required (see --help)"};
    return Get(f);
  }
};

// Empty when -h or --help came before any bad argument.
std::optional<Options> ParseArgs(int argc, char** argv) {
  Options o;
  static const std::vector<std::string> kKnown = {
      "--input", "--horizon",  "--season", "--step",  "--quantiles",   "--actual",
      "--plot",  "--capacity", "--model",  "--event", "--plot-history"};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") return std::nullopt;
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
      o.events_raw.push_back(val);
    else
      o.flags[a] = val;
  }
  return o;
}

pr::ForecastConfig ConfigFromFlags(const Options& o) {
  pr::ForecastConfig cfg;
  cfg.horizon = static_cast<int>(Check(ParseInt("--horizon", o.Need("--horizon"), 1, 10000)));
  if (o.Has("--season"))
    for (const auto& s : Split(o.Get("--season"), ','))
      cfg.seasons.push_back(static_cast<int>(Check(ParseInt("--season", s, 1, 100000))));
  if (o.Has("--quantiles")) {
    cfg.quantiles.clear();
    for (const auto& s : Split(o.Get("--quantiles"), ',')) {
      double q = Check(ParseNum("--quantiles", s));
      if (!(q > 0 && q < 1))
        throw Fail{"--quantiles: each level must be in (0, 1), got '" + s + "'"};
      cfg.quantiles.push_back(q);
    }
  }
  if (o.Has("--model")) {
    auto k = pr::ParseModelKind(o.Get("--model"));
    if (!k) throw Fail{"--model: " + k.error().message};
    cfg.model = *k;
  }
  return cfg;
}

// The input series, bucketized at --step (default: the median sample gap).
struct Input {
  pr::RegularSeries series;
  int64_t step = 0;
};

Input ReadInput(const Options& o, const std::string& input) {
  const std::string text = Check(ReadFile("--input", input));
  auto samples = pr::ParseCsvSeries(text);
  if (!samples) throw Fail{"--input " + input + ": " + samples.error().message};
  int64_t step = InferStep(*samples);
  if (o.Has("--step")) step = Check(ParseInt("--step", o.Get("--step"), 1, 366L * 86400));
  auto series = pr::Bucketize(*samples, step);
  if (!series) throw Fail{"--input " + input + ": " + series.error().message};
  return Input{std::move(series).value(), step};
}

std::vector<pr::LoadEvent> ParseEvents(const std::vector<std::string>& events_raw) {
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
    e.duration = Check(ParseDuration("--event " + parts[0] + ": duration", parts[2]));
    e.multiplier = Check(ParseNum("--event " + parts[0] + ": multiplier", parts[3]));
    events.push_back(e);
  }
  return events;
}

// --actual, bucketized at the input's step: time -> value (finite ones only).
std::map<int64_t, double> ReadActuals(const Options& o, int64_t step) {
  std::map<int64_t, double> actual;
  if (!o.Has("--actual")) return actual;
  const std::string& path = o.Get("--actual");
  const std::string atext = Check(ReadFile("--actual", path));
  auto as = pr::ParseCsvSeries(atext);
  if (!as) throw Fail{"--actual " + path + ": " + as.error().message};
  auto ab = pr::Bucketize(*as, step);
  if (!ab) throw Fail{"--actual " + path + ": " + ab.error().message};
  for (size_t i = 0; i < ab->values.size(); ++i)
    if (std::isfinite(ab->values[i]))
      actual[ab->start + static_cast<int64_t>(i) * step] = ab->values[i];
  return actual;
}

// Everything the table and the plot show.
struct Outcome {
  std::string input;
  pr::ForecastConfig cfg;
  Input in;
  pr::ForecastResult fc;
  int64_t origin = 0;  // time of the first forecast step
  std::vector<pr::LoadEvent> events;
  std::map<int64_t, double> actual;
  std::optional<double> capacity;
};

void PrintTable(const Outcome& r, std::ostream& out) {
  const pr::ForecastResult& fc = r.fc;
  out << "# model=" << fc.model << " step=" << r.in.step << "s points=" << r.in.series.values.size()
      << " cleaned_missing=" << fc.clean.missing_filled
      << " clipped_outliers=" << fc.clean.outliers_clipped << "\n";
  if (!fc.note.empty()) out << "# note: " << fc.note << "\n";
  out << "step,time,p50";
  for (double q : fc.quantiles) out << ",q" << Fmt(q);
  if (!r.actual.empty()) out << ",actual";
  out << "\n";
  double abs_err = 0;
  int n_act = 0;
  for (int k = 0; k < r.cfg.horizon; ++k) {
    const int64_t t = r.origin + static_cast<int64_t>(k) * r.in.step;
    out << (k + 1) << "," << util::FormatRfc3339(t) << "," << Fmt(fc.p50[k]);
    for (size_t qi = 0; qi < fc.quantiles.size(); ++qi) out << "," << Fmt(fc.q[qi][k]);
    if (!r.actual.empty()) {
      auto it = r.actual.find(t);
      out << ",";
      if (it != r.actual.end()) {
        out << Fmt(it->second);
        abs_err += std::fabs(it->second - fc.p50[k]);
        ++n_act;
      }
    }
    out << "\n";
  }
  if (n_act) out << "# actual: MAE " << Fmt(abs_err / n_act) << " over " << n_act << " steps\n";
  if (r.capacity)
    out << "# probExceed(capacity=" << Fmt(*r.capacity) << ", horizon=" << r.cfg.horizon
        << ")=" << Fmt(pr::ProbExceed(fc, *r.capacity)) << "\n";
}

// Bands: widest first, symmetric pairs of requested quantiles around 0.5.
void AddBands(const Outcome& r, const std::vector<double>& fx, plot::Chart* ch) {
  const auto& qs = r.fc.quantiles;
  for (size_t i = 0; i < qs.size(); ++i) {
    if (qs[i] <= 0.5) continue;
    // Lower end: requested 1-q if present, else the computed quantile.
    std::vector<double> lo(r.cfg.horizon), hi = r.fc.q[i];
    for (int k = 0; k < r.cfg.horizon; ++k)
      lo[k] = r.fc.Quantile(1 - qs[i], static_cast<size_t>(k));
    char lbl[64];
    std::snprintf(lbl, sizeof lbl, "%.0f%% band", (2 * qs[i] - 1) * 100);
    ch->bands.insert(
        ch->bands.begin(),
        plot::Band{lbl, fx, lo, hi, "#1f77b4", 0.15 + 0.1 * static_cast<double>(i) / qs.size()});
  }
}

plot::Chart MakeChart(const Options& o, const Outcome& r) {
  plot::Chart ch;
  ch.title = "forecast: " + r.input + " (" + r.fc.model + ")";
  ch.x_label = "time (UTC)";
  ch.y_label = "value";
  ch.x_is_unix_time = true;
  const pr::RegularSeries& series = r.in.series;
  const int64_t step = r.in.step;
  plot::Line hist{"history", {}, {}, "#333333", 1.2, false};
  const size_t n_hist = series.values.size();
  size_t shown = plot::DefaultHistoryWindow(n_hist, r.cfg.horizon, r.cfg.seasons);
  if (o.Has("--plot-history")) {
    const long want = Check(ParseInt("--plot-history", o.Get("--plot-history"), 0, 100000000));
    shown = want == 0 ? n_hist : std::min(n_hist, static_cast<size_t>(want));
  }
  for (size_t i = n_hist - shown; i < n_hist; ++i) {
    hist.x.push_back(static_cast<double>(series.start + static_cast<int64_t>(i) * step));
    hist.y.push_back(series.values[i]);
  }
  std::vector<double> fx;
  for (int k = 0; k < r.cfg.horizon; ++k)
    fx.push_back(static_cast<double>(r.origin + static_cast<int64_t>(k) * step));
  AddBands(r, fx, &ch);
  ch.lines.push_back(hist);
  ch.lines.push_back(plot::Line{"forecast p50", fx, r.fc.p50, "#1f77b4", 2.0, false});
  if (!r.actual.empty()) {
    plot::Line act{"actual", {}, {}, "#2ca02c", 1.2, true};
    for (auto& [t, v] : r.actual) act.x.push_back(static_cast<double>(t)), act.y.push_back(v);
    ch.lines.push_back(act);
  }
  if (r.capacity) ch.hlines.push_back(plot::HLine{"capacity", *r.capacity, "#d62728", true});
  ch.markers.push_back(plot::Marker{"forecast start", static_cast<double>(r.origin), "#7f7f7f"});
  for (const auto& e : r.events) {
    ch.markers.push_back(
        plot::Marker{e.name + " x" + Fmt(e.multiplier), static_cast<double>(e.start), "#ff7f0e"});
    ch.markers.push_back(plot::Marker{"", static_cast<double>(e.start + e.duration), "#ff7f0e"});
  }
  return ch;
}

void WritePlot(const Options& o, const Outcome& r) {
  const std::string svg = plot::RenderSvg(MakeChart(o, r));
  const std::string& path = o.Get("--plot");
  std::ofstream f(path, std::ios::binary);
  if (!f) throw Fail{"--plot: cannot write file '" + path + "'"};
  f << svg;
  if (!f) throw Fail{"--plot: error writing '" + path + "'"};
}

// Stages: flags, configuration, input, events, forecast, actuals, table, plot.
int Run(int argc, char** argv, std::ostream& out) {
  std::optional<Options> o = ParseArgs(argc, argv);
  if (!o) {
    out << kUsage;
    return 0;
  }
  Outcome r;
  r.input = o->Need("--input");
  r.cfg = ConfigFromFlags(*o);
  if (o->Has("--capacity")) r.capacity = Check(ParseNum("--capacity", o->Get("--capacity")));
  r.in = ReadInput(*o, r.input);
  r.events = ParseEvents(o->events_raw);
  auto fc = pr::Forecast(r.in.series.values, r.cfg);
  if (!fc) throw Fail{"--input " + r.input + ": " + fc.error().message};
  r.fc = std::move(fc).value();
  r.origin = r.in.series.start + static_cast<int64_t>(r.in.series.values.size()) * r.in.step;
  if (!r.events.empty()) {
    auto n = pr::ApplyEvents(r.fc, r.origin, r.in.step, r.events);
    if (!n) throw Fail{"--event: " + n.error().message};
  }
  r.actual = ReadActuals(*o, r.in.step);
  PrintTable(r, out);
  if (o->Has("--plot")) WritePlot(*o, r);
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
