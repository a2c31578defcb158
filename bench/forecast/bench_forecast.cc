// Forecasting benchmark runner (on demand; see bench/forecast/run.sh).
//   bench_forecast m4 <Hourly-train.csv> <Hourly-test.csv> [--model auto] [--holdout] [--every K]
//   [--first N] bench_forecast nab <dir>... [--model auto] [--first N]
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

// One Forecast() of `y` with the benchmark's quantiles (0.5%..99.5%); adds
// its wall and CPU seconds to `*wall` and `*cpu`.
shardcast::Result<pr::ForecastResult> TimedForecast(const std::vector<double>& y, int horizon,
                                                    std::vector<int> seasons, pr::ModelKind kind,
                                                    double* wall, double* cpu) {
  pr::ForecastConfig cfg;
  cfg.horizon = horizon;
  cfg.seasons = std::move(seasons);
  cfg.quantiles = {0.005, 0.05, 0.5, 0.95, 0.995};
  cfg.model = kind;
  cfg.clean = g_clean;
  auto t0 = std::chrono::steady_clock::now();
  const double c0 = CpuSeconds();
  auto f = pr::Forecast(y, cfg);
  *wall += Seconds(t0);
  *cpu += CpuSeconds() - c0;
  return f;
}

// probExceed reliability: for two caps (the forecast's max p50 and max q0.95
// over the `h` steps) adds the predicted P(exceed) to `pe_pred` and whether
// `actual[0..h)` exceeded the cap to `pe_obs`.
void AddExceedance(const pr::ForecastResult& f, int h, const double* actual, double pe_pred[2],
                   double pe_obs[2]) {
  double caps[2] = {0, 0};
  for (int k = 0; k < h; ++k)
    caps[0] = std::max(caps[0], f.p50[k]), caps[1] = std::max(caps[1], f.q[3][k]);
  for (int j = 0; j < 2; ++j) {
    pe_pred[j] += pr::ProbExceed(f, caps[j]);
    bool hit = false;
    for (int k = 0; k < h; ++k) hit = hit || actual[k] > caps[j];
    pe_obs[j] += hit;
  }
}

int RunM4(const std::string& train_path, const std::string& test_path, pr::ModelKind kind,
          bool holdout) {
  auto train = ReadM4(train_path);
  auto test = ReadM4(test_path);
  if (g_every > 1) {
    // Every K-th series (0, K, 2K, ...): the subset the slow baselines run on.
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
  const int h = 48, m = 24;
  if (holdout) {
    for (size_t i = 0; i < train.size(); ++i) {
      test[i].assign(train[i].end() - h, train[i].end());
      train[i].resize(train[i].size() - h);
    }
  }
  double smape = 0, mase = 0, smape_n2 = 0, mase_n2 = 0, cov90 = 0, cov99 = 0, fit_seconds = 0,
         cpu = 0;
  long cnt = 0;
  std::string models;
  double pe_pred[2] = {0, 0}, pe_obs[2] = {0, 0};
  for (size_t i = 0; i < train.size(); ++i) {
    const auto& y = train[i];
    auto f = TimedForecast(y, h, {m, 168}, kind, &fit_seconds, &cpu);
    if (!f.ok()) {
      std::fprintf(stderr, "series %zu: %s\n", i, f.error().message.c_str());
      return 1;
    }
    auto n2 = pr::RunNaive2(y, m, h, {});
    double scale = 0;
    for (size_t t = m; t < y.size(); ++t) scale += std::fabs(y[t] - y[t - m]);
    scale /= static_cast<double>(y.size() - m);
    double s = 0, a = 0, s2 = 0, a2 = 0;
    for (int k = 0; k < h; ++k) {
      const double act = test[i][k], fc = f->point[k], fn = n2.forecast[k];
      s += 200 * std::fabs(act - fc) / (std::fabs(act) + std::fabs(fc));
      a += std::fabs(act - fc);
      s2 += 200 * std::fabs(act - fn) / (std::fabs(act) + std::fabs(fn));
      a2 += std::fabs(act - fn);
      cov90 += act >= f->q[1][k] && act <= f->q[3][k];
      cov99 += act >= f->q[0][k] && act <= f->q[4][k];
      ++cnt;
    }
    AddExceedance(*f, h, test[i].data(), pe_pred, pe_obs);
    smape += s / h;
    mase += a / h / scale;
    smape_n2 += s2 / h;
    mase_n2 += a2 / h / scale;
    if (i < 3) models += f->model + ";";
  }
  const double N = static_cast<double>(train.size());
  smape /= N, mase /= N, smape_n2 /= N, mase_n2 /= N;
  const double owa = 0.5 * (smape / smape_n2 + mase / mase_n2);
  std::string subset;
  if (g_every > 1) subset += "-every" + std::to_string(g_every);
  if (g_first > 0) subset += "-first" + std::to_string(g_first);
  std::printf(
      "dataset=m4-hourly%s%s model=shardcast-%s series=%zu smape=%.3f mase=%.3f owa=%.3f "
      "naive2_smape=%.3f "
      "naive2_mase=%.3f cov90=%.3f cov99=%.3f seconds=%.2f cpu_seconds=%.2f\n",
      holdout ? "-holdout" : "", subset.c_str(), pr::ModelKindName(kind).c_str(), train.size(),
      smape, mase, owa, smape_n2, mase_n2, cov90 / cnt, cov99 / cnt, fit_seconds, cpu);
  std::fprintf(stderr, "first models: %s\n", models.c_str());
  std::fprintf(stderr,
               "probExceed reliability: cap=max p50: predicted %.3f observed %.3f; cap=max q0.95: "
               "predicted %.3f observed %.3f\n",
               pe_pred[0] / N, pe_obs[0] / N, pe_pred[1] / N, pe_obs[1] / N);
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
        auto f = TimedForecast(y, h, {season}, kind, &seconds, &cpu);
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
          AddExceedance(*f, h, v.data() + o, pe_pred, pe_obs);
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
                 "N] | nab DIR... [--model M] [--first N]\n");
    return 2;
  }
  const std::string mode = argv[1];
  std::vector<std::string> pos;
  pr::ModelKind kind = pr::ModelKind::kAuto;
  bool holdout = false;
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
    } else if (a == "--holdout") {
      holdout = true;
    } else {
      pos.push_back(a);
    }
  }
  if (mode == "m4" && pos.size() == 2) return RunM4(pos[0], pos[1], kind, holdout);
  if (mode == "nab" && !pos.empty()) return RunNab(pos, kind);
  std::fprintf(stderr, "bad arguments\n");
  return 2;
}
