// Forecasting benchmark runner (on demand; see bench/forecast/run.sh).
//   bench_forecast m4 <Hourly-train.csv> <Hourly-test.csv> [--model auto] [--holdout] [--every K]
//     [--first N] [--no-baseline]
//   bench_forecast nab <dir>... [--model auto] [--first N]
// On M4 every run also scores the seasonal naive baseline (m = 24) on the
// same series (unless --no-baseline or --model snaive): point measures
// (sMAPE, MASE, OWA vs Naive2) and interval measures (MSIS of the 90% and
// 95% central bands, M4's scaled interval score with alpha = 0.1 / 0.05,
// and the empirical coverage of the p10-p90, 90%, 95% and 99% bands).
// Prints one result line per dataset/model in a fixed "key=value" format
// that run.sh turns into the markdown table.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "predictor/forecaster.h"
#include "predictor/models.h"
#include "predictor/parse.h"
#include "predictor/series.h"

namespace pr = shardcast::predictor;

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(2);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// M4 wide CSV: "V1","V2",...; first column is the id; cells may be empty.
std::vector<std::vector<double>> ReadM4(const std::string& path) {
  std::vector<std::vector<double>> out;
  std::istringstream in(ReadFile(path));
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    if (header) {
      header = false;
      continue;
    }
    std::vector<double> row;
    std::stringstream ls(line);
    std::string cell;
    bool first = true;
    while (std::getline(ls, cell, ',')) {
      if (first) {
        first = false;
        continue;
      }
      if (!cell.empty() && cell.front() == '"') cell = cell.substr(1, cell.size() - 2);
      if (cell.empty()) continue;
      row.push_back(std::stod(cell));
    }
    out.push_back(std::move(row));
  }
  return out;
}

double Seconds(std::chrono::steady_clock::time_point a) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
}
double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

bool g_clean = true;
int g_every = 1;  // M4: only every K-th series
int g_first = 0;  // M4: then only the first N of those (0 = all)

// The quantile levels every M4 forecast is asked for; Level() finds one.
const std::vector<double> kM4Levels = {0.005, 0.025, 0.05, 0.1, 0.5, 0.9, 0.95, 0.975, 0.995};
size_t Level(double level) {
  for (size_t i = 0; i < kM4Levels.size(); ++i)
    if (std::fabs(kM4Levels[i] - level) < 1e-12) return i;
  std::fprintf(stderr, "level %g not requested\n", level);
  std::exit(2);
}

// Interval score of one point for the central (1 - alpha) band [lo, hi]
// (Gneiting & Raftery 2007; M4's MSIS numerator):
// (hi - lo) + 2/alpha (lo - y) [y < lo] + 2/alpha (y - hi) [y > hi].
double IntervalScore(double y, double lo, double hi, double alpha) {
  double s = hi - lo;
  if (y < lo) s += 2 / alpha * (lo - y);
  if (y > hi) s += 2 / alpha * (y - hi);
  return s;
}

// Sums over series (per-series means) and points, for one model on M4.
struct M4Scores {
  double smape = 0, mase = 0, smape_n2 = 0, mase_n2 = 0;
  double msis90 = 0, msis95 = 0;                      // per-series MSIS, summed
  double cov80 = 0, cov90 = 0, cov95 = 0, cov99 = 0;  // points inside, summed
  double pe_pred[2] = {0, 0}, pe_obs[2] = {0, 0};
  double seconds = 0, cpu = 0;
  long points = 0;
  std::string models;
};

// One series: fit, then score the 48 test points against the forecast and
// Naive2. `scale` is the in-sample seasonal naive MAE (m = 24), M4's MASE
// and MSIS denominator.
bool ScoreM4Series(const std::vector<double>& y, const std::vector<double>& test,
                   pr::ModelKind kind, const std::vector<int>& seasons, size_t i, M4Scores& sc) {
  const int h = 48, m = 24;
  pr::ForecastConfig cfg;
  cfg.horizon = h;
  cfg.seasons = seasons;
  cfg.quantiles = kM4Levels;
  cfg.model = kind;
  cfg.clean = g_clean;
  auto t0 = std::chrono::steady_clock::now();
  const double c0 = CpuSeconds();
  auto f = pr::Forecast(y, cfg);
  sc.seconds += Seconds(t0);
  sc.cpu += CpuSeconds() - c0;
  if (!f.ok()) {
    std::fprintf(stderr, "series %zu: %s\n", i, f.error().message.c_str());
    return false;
  }
  auto n2 = pr::RunNaive2(y, m, h, {});
  double scale = 0;
  for (size_t t = m; t < y.size(); ++t) scale += std::fabs(y[t] - y[t - m]);
  scale /= static_cast<double>(y.size() - m);
  const auto& q = f->q;
  const size_t l005 = Level(0.005), l025 = Level(0.025), l05 = Level(0.05), l10 = Level(0.1),
               l90 = Level(0.9), l95 = Level(0.95), l975 = Level(0.975), l995 = Level(0.995);
  double s = 0, a = 0, s2 = 0, a2 = 0, is90 = 0, is95 = 0;
  for (int k = 0; k < h; ++k) {
    const double act = test[k], fc = f->point[k], fn = n2.forecast[k];
    s += 200 * std::fabs(act - fc) / (std::fabs(act) + std::fabs(fc));
    a += std::fabs(act - fc);
    s2 += 200 * std::fabs(act - fn) / (std::fabs(act) + std::fabs(fn));
    a2 += std::fabs(act - fn);
    is90 += IntervalScore(act, q[l05][k], q[l95][k], 0.1);
    is95 += IntervalScore(act, q[l025][k], q[l975][k], 0.05);
    sc.cov80 += act >= q[l10][k] && act <= q[l90][k];
    sc.cov90 += act >= q[l05][k] && act <= q[l95][k];
    sc.cov95 += act >= q[l025][k] && act <= q[l975][k];
    sc.cov99 += act >= q[l005][k] && act <= q[l995][k];
    ++sc.points;
  }
  double caps[2] = {0, 0};
  for (int k = 0; k < h; ++k)
    caps[0] = std::max(caps[0], f->p50[k]), caps[1] = std::max(caps[1], q[l95][k]);
  for (int j = 0; j < 2; ++j) {
    sc.pe_pred[j] += pr::ProbExceed(*f, caps[j]);
    bool hit = false;
    for (int k = 0; k < h; ++k) hit = hit || test[k] > caps[j];
    sc.pe_obs[j] += hit;
  }
  sc.smape += s / h;
  sc.mase += a / h / scale;
  sc.smape_n2 += s2 / h;
  sc.mase_n2 += a2 / h / scale;
  sc.msis90 += is90 / h / scale;
  sc.msis95 += is95 / h / scale;
  if (i < 3) sc.models += f->model + ";";
  return true;
}

void PrintM4(const std::string& dataset, const std::string& model, size_t n, const M4Scores& sc) {
  const double N = static_cast<double>(n), P = static_cast<double>(sc.points);
  const double smape = sc.smape / N, mase = sc.mase / N;
  const double owa = 0.5 * (smape / (sc.smape_n2 / N) + mase / (sc.mase_n2 / N));
  std::printf(
      "dataset=%s model=%s series=%zu smape=%.3f mase=%.3f owa=%.3f naive2_smape=%.3f "
      "naive2_mase=%.3f msis90=%.3f cov80=%.3f cov90=%.3f msis95=%.3f cov95=%.3f cov99=%.3f "
      "seconds=%.2f cpu_seconds=%.2f\n",
      dataset.c_str(), model.c_str(), n, smape, mase, owa, sc.smape_n2 / N, sc.mase_n2 / N,
      sc.msis90 / N, sc.cov80 / P, sc.cov90 / P, sc.msis95 / N, sc.cov95 / P, sc.cov99 / P,
      sc.seconds, sc.cpu);
  std::fprintf(stderr, "%s first models: %s\n", model.c_str(), sc.models.c_str());
  std::fprintf(stderr,
               "%s probExceed reliability: cap=max p50: predicted %.3f observed %.3f; cap=max "
               "q0.95: predicted %.3f observed %.3f\n",
               model.c_str(), sc.pe_pred[0] / N, sc.pe_obs[0] / N, sc.pe_pred[1] / N,
               sc.pe_obs[1] / N);
}

// Every K-th series (0, K, 2K, ...), then the first N of those.
void SubsetM4(std::vector<std::vector<double>>& train, std::vector<std::vector<double>>& test) {
  if (g_every > 1) {
    size_t j = 0;
    for (size_t i = 0; i < train.size(); i += static_cast<size_t>(g_every), ++j) {
      if (i == j) continue;  // (self-move would empty the vector)
      train[j] = std::move(train[i]);
      test[j] = std::move(test[i]);
    }
    train.resize(j);
    test.resize(j);
  }
  if (g_first > 0 && static_cast<size_t>(g_first) < train.size()) {
    train.resize(static_cast<size_t>(g_first));
    test.resize(static_cast<size_t>(g_first));
  }
}

// Scores `kind` and, unless `no_baseline`, the seasonal naive baseline
// (m = 24, its bands from the same backtest machinery) in the same run.
int RunM4(const std::string& train_path, const std::string& test_path, pr::ModelKind kind,
          bool holdout, bool no_baseline) {
  auto train = ReadM4(train_path);
  auto test = ReadM4(test_path);
  SubsetM4(train, test);
  const int h = 48;
  if (holdout) {
    for (size_t i = 0; i < train.size(); ++i) {
      test[i].assign(train[i].end() - h, train[i].end());
      train[i].resize(train[i].size() - h);
    }
  }
  std::string dataset = std::string("m4-hourly") + (holdout ? "-holdout" : "");
  if (g_every > 1) dataset += "-every" + std::to_string(g_every);
  if (g_first > 0) dataset += "-first" + std::to_string(g_first);
  M4Scores ours, base;
  const bool baseline = !no_baseline && kind != pr::ModelKind::kSeasonalNaive;
  for (size_t i = 0; i < train.size(); ++i) {
    if (!ScoreM4Series(train[i], test[i], kind, {24, 168}, i, ours)) return 1;
    if (baseline &&
        !ScoreM4Series(train[i], test[i], pr::ModelKind::kSeasonalNaive, {24}, i, base)) {
      return 1;
    }
  }
  PrintM4(dataset, "shardcast-" + pr::ModelKindName(kind), train.size(), ours);
  if (baseline) PrintM4(dataset, "baseline-snaive24", train.size(), base);
  return 0;
}

int RunNab(const std::vector<std::string>& dirs, pr::ModelKind kind) {
  const int h = 12, season = 288, history = 2016, stride = 144;
  double mase_sum = 0, cov90 = 0, cov99 = 0, seconds = 0, cpu = 0;
  // Reliability of ProbExceed: capacities at the horizon max of p50 and of
  // q0.95; mean predicted probability vs observed frequency of crossing.
  double pe_pred[2] = {0, 0}, pe_obs[2] = {0, 0};
  long pe_n = 0;
  long forecasts = 0, points = 0, windows = 0;
  for (const auto& dir : dirs) {
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(dir))
      if (e.path().extension() == ".csv") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      auto samples = pr::ParseCsvSeries(ReadFile(file));
      if (!samples) {
        std::fprintf(stderr, "%s: %s\n", file.c_str(), samples.error().message.c_str());
        return 1;
      }
      auto series = pr::Bucketize(*samples, 300);
      if (!series) return 1;
      const auto& v = series->values;
      const int n = static_cast<int>(v.size());
      for (int o = n / 2; o + h <= n; o += stride) {
        // --first N: only the first N windows (in the order baselines.py uses).
        if (g_first > 0 && windows >= g_first) break;
        ++windows;
        std::vector<double> y(v.begin() + std::max(0, o - history), v.begin() + o);
        pr::ForecastConfig cfg;
        cfg.horizon = h;
        cfg.seasons = {season};
        cfg.quantiles = {0.005, 0.05, 0.5, 0.95, 0.995};
        cfg.model = kind;
        cfg.clean = g_clean;
        auto t0 = std::chrono::steady_clock::now();
        const double c0 = CpuSeconds();
        auto f = pr::Forecast(y, cfg);
        seconds += Seconds(t0);
        cpu += CpuSeconds() - c0;
        if (!f.ok()) continue;
        // MASE scale: in-sample one-step naive MAE of the history window.
        double sc = 0;
        int c = 0;
        for (size_t t = 1; t < y.size(); ++t)
          if (std::isfinite(y[t]) && std::isfinite(y[t - 1])) sc += std::fabs(y[t] - y[t - 1]), ++c;
        sc = c ? sc / c : 0;
        double a = 0;
        int ca = 0;
        for (int k = 0; k < h; ++k) {
          const double act = v[o + k];
          if (!std::isfinite(act)) continue;
          a += std::fabs(act - f->point[k]);
          ++ca;
          cov90 += act >= f->q[1][k] && act <= f->q[3][k];
          cov99 += act >= f->q[0][k] && act <= f->q[4][k];
          ++points;
        }
        if (ca && sc > 0) {
          mase_sum += a / ca / sc;
          ++forecasts;
        }
        if (ca == h) {
          double caps[2] = {0, 0};
          for (int k = 0; k < h; ++k)
            caps[0] = std::max(caps[0], f->p50[k]), caps[1] = std::max(caps[1], f->q[3][k]);
          for (int j = 0; j < 2; ++j) {
            pe_pred[j] += pr::ProbExceed(*f, caps[j]);
            bool hit = false;
            for (int k = 0; k < h; ++k) hit = hit || v[o + k] > caps[j];
            pe_obs[j] += hit;
          }
          ++pe_n;
        }
      }
    }
  }
  std::fprintf(stderr,
               "probExceed reliability over %ld forecasts: cap=max p50: predicted %.3f observed "
               "%.3f; cap=max q0.95: predicted %.3f observed %.3f\n",
               pe_n, pe_pred[0] / pe_n, pe_obs[0] / pe_n, pe_pred[1] / pe_n, pe_obs[1] / pe_n);
  const std::string label = g_first > 0 ? "nab-first" + std::to_string(g_first) : "nab";
  std::printf(
      "dataset=%s model=shardcast-%s windows=%ld forecasts=%ld mase=%.3f cov90=%.3f cov99=%.3f "
      "seconds=%.2f cpu_seconds=%.2f\n",
      label.c_str(), pr::ModelKindName(kind).c_str(), windows, forecasts, mase_sum / forecasts,
      cov90 / points, cov99 / points, seconds, cpu);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: bench_forecast m4 TRAIN TEST [--model M] [--holdout] [--every K] [--first "
                 "N] [--no-baseline] | nab DIR... [--model M] [--first N]\n");
    return 2;
  }
  const std::string mode = argv[1];
  std::vector<std::string> pos;
  pr::ModelKind kind = pr::ModelKind::kAuto;
  bool holdout = false, no_baseline = false;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--model" && i + 1 < argc) {
      auto k = pr::ParseModelKind(argv[++i]);
      if (!k) {
        std::fprintf(stderr, "%s\n", k.error().message.c_str());
        return 2;
      }
      kind = *k;
    } else if (a == "--no-clean") {
      g_clean = false;
    } else if (a == "--every" && i + 1 < argc) {
      g_every = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--first" && i + 1 < argc) {
      g_first = std::max(0, std::atoi(argv[++i]));
    } else if (a == "--no-baseline") {
      no_baseline = true;
    } else if (a == "--holdout") {
      holdout = true;
    } else {
      pos.push_back(a);
    }
  }
  if (mode == "m4" && pos.size() == 2) return RunM4(pos[0], pos[1], kind, holdout, no_baseline);
  if (mode == "nab" && !pos.empty()) return RunNab(pos, kind);
  std::fprintf(stderr, "bad arguments\n");
  return 2;
}
