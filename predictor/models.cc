#include "predictor/models.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>

namespace shardcast::predictor {

namespace {
constexpr double kHuge = 1e300;
constexpr size_t kFitWindow = 600;  // parameters are fitted on at most the last 600 points

std::vector<double> Tail(const std::vector<double>& y, size_t n) {
  if (y.size() <= n) return y;
  return std::vector<double>(y.end() - static_cast<std::ptrdiff_t>(n), y.end());
}

// Centred moving average of length p (2xp when p is even). Where the
// window does not fit (the first and last p/2 points) the MA is linearly
// extrapolated from the nearest full windows (slope over one period).
std::vector<double> CenteredMA(const std::vector<double>& x, int p) {
  const int n = static_cast<int>(x.size());
  std::vector<double> pre(x.size() + 1, 0.0);
  for (int i = 0; i < n; ++i) pre[i + 1] = pre[i] + x[i];
  std::vector<double> out(x.size());
  const int half = p / 2;
  const int lo = half, hi = n - 1 - half;  // full windows for t in [lo, hi]
  if (hi < lo) {
    const double mean = n ? pre[n] / n : 0.0;
    std::fill(out.begin(), out.end(), mean);
    return out;
  }
  for (int t = lo; t <= hi; ++t) {
    const int a = t - half, b = t + half;
    double s = pre[b + 1] - pre[a];
    if (p % 2 == 0) s -= 0.5 * (x[a] + x[b]);
    out[t] = s / p;
  }
  const int span = std::min(p, hi - lo);
  const double slope_hi = span > 0 ? (out[hi] - out[hi - span]) / span : 0.0;
  const double slope_lo = span > 0 ? (out[lo + span] - out[lo]) / span : 0.0;
  for (int t = hi + 1; t < n; ++t) out[t] = out[hi] + slope_hi * (t - hi);
  for (int t = 0; t < lo; ++t) out[t] = out[lo] - slope_lo * (lo - t);
  return out;
}
}  // namespace

std::vector<double> NelderMead(const std::function<double(const std::vector<double>&)>& f,
                               std::vector<double> x0, double step, int max_evals, double tol) {
  const size_t d = x0.size();
  std::vector<std::vector<double>> p(d + 1, x0);
  std::vector<double> fv(d + 1);
  for (size_t i = 0; i < d; ++i) p[i + 1][i] += step;
  int evals = 0;
  for (size_t i = 0; i <= d; ++i) fv[i] = f(p[i]), ++evals;
  std::vector<size_t> idx(d + 1);
  while (evals < max_evals) {
    std::iota(idx.begin(), idx.end(), 0);
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return fv[a] < fv[b]; });
    const size_t best = idx[0], worst = idx[d], second = idx[d - 1];
    if (std::fabs(fv[worst] - fv[best]) <= tol * (std::fabs(fv[best]) + 1e-30)) break;
    std::vector<double> c(d, 0.0);
    for (size_t i = 0; i <= d; ++i)
      if (i != worst)
        for (size_t k = 0; k < d; ++k) c[k] += p[i][k] / d;
    auto along = [&](double t) {
      std::vector<double> x(d);
      for (size_t k = 0; k < d; ++k) x[k] = c[k] + t * (p[worst][k] - c[k]);
      return x;
    };
    auto xr = along(-1.0);
    double fr = f(xr);
    ++evals;
    if (fr < fv[best]) {
      auto xe = along(-2.0);
      double fe = f(xe);
      ++evals;
      if (fe < fr)
        p[worst] = xe, fv[worst] = fe;
      else
        p[worst] = xr, fv[worst] = fr;
    } else if (fr < fv[second]) {
      p[worst] = xr, fv[worst] = fr;
    } else {
      auto xc = fr < fv[worst] ? along(-0.5) : along(0.5);
      double fc = f(xc);
      ++evals;
      if (fc < std::min(fr, fv[worst])) {
        p[worst] = xc, fv[worst] = fc;
      } else {
        for (size_t i = 0; i <= d; ++i) {
          if (i == best) continue;
          for (size_t k = 0; k < d; ++k) p[i][k] = p[best][k] + 0.5 * (p[i][k] - p[best][k]);
          fv[i] = f(p[i]);
          ++evals;
        }
      }
    }
  }
  size_t b = static_cast<size_t>(std::min_element(fv.begin(), fv.end()) - fv.begin());
  return p[b];
}

bool SeasonalityTest(const std::vector<double>& y, int m) {
  const int n = static_cast<int>(y.size());
  if (m <= 1 || n < 3 * m) return false;
  const double mean = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double den = 0;
  for (double v : y) den += (v - mean) * (v - mean);
  if (den <= 0) return false;
  auto acf = [&](int k) {
    double s = 0;
    for (int t = k; t < n; ++t) s += (y[t] - mean) * (y[t - k] - mean);
    return s / den;
  };
  double sum2 = 0;
  for (int k = 1; k < m; ++k) {
    double a = acf(k);
    sum2 += a * a;
  }
  const double limit = 1.645 * std::sqrt((1 + 2 * sum2) / n);
  return std::fabs(acf(m)) > limit;
}

std::vector<double> ClassicalIndices(const std::vector<double>& y, int m) {
  std::vector<double> idx(static_cast<size_t>(std::max(m, 1)), 1.0);
  const int n = static_cast<int>(y.size());
  if (m <= 1 || n < 2 * m) return idx;
  for (double v : y)
    if (!(v > 0)) return idx;
  const int half = m / 2;
  std::vector<double> sum(m, 0.0);
  std::vector<int> cnt(m, 0);
  for (int t = half; t + half < n; ++t) {
    double ma = 0;
    if (m % 2 == 0) {
      for (int k = -half; k <= half; ++k) ma += y[t + k] * ((k == -half || k == half) ? 0.5 : 1.0);
      ma /= m;
    } else {
      for (int k = -half; k <= half; ++k) ma += y[t + k];
      ma /= m;
    }
    if (ma > 0) {
      sum[t % m] += y[t] / ma;
      cnt[t % m]++;
    }
  }
  double mean = 0;
  for (int i = 0; i < m; ++i) {
    idx[i] = cnt[i] ? sum[i] / cnt[i] : 1.0;
    mean += idx[i] / m;
  }
  for (auto& v : idx) v /= mean;
  return idx;
}

ModelRun RunSeasonalNaive(const std::vector<double>& y, int m, int h,
                          const std::vector<int>& origins) {
  ModelRun r;
  r.name = "snaive";
  auto fc = [&](int o) {
    std::vector<double> f(h);
    for (int k = 1; k <= h; ++k) {
      if (m > 1 && o >= m) {
        int j = o + k - 1 - m * ((k + m - 1) / m);
        f[k - 1] = y[j];
      } else {
        f[k - 1] = y[o - 1];
      }
    }
    return f;
  };
  r.forecast = fc(static_cast<int>(y.size()));
  for (int o : origins) r.backtest.push_back(fc(o));
  return r;
}

ModelRun RunNaive2(const std::vector<double>& y, int m, int h, const std::vector<int>& origins) {
  ModelRun r;
  r.name = "naive2";
  std::vector<double> idx(std::max(m, 1), 1.0);
  if (m > 1 && SeasonalityTest(y, m)) idx = ClassicalIndices(y, m);
  const int mm = std::max(m, 1);
  auto fc = [&](int o) {
    std::vector<double> f(h);
    const double last = y[o - 1] / idx[(o - 1) % mm];
    for (int k = 1; k <= h; ++k) f[k - 1] = last * idx[(o + k - 1) % mm];
    return f;
  };
  r.forecast = fc(static_cast<int>(y.size()));
  for (int o : origins) r.backtest.push_back(fc(o));
  return r;
}

// ---------------- ETS ----------------
namespace {

struct EtsSpec {
  int m = 1;
  EtsTrend trend = EtsTrend::kNone;
  EtsSeason season = EtsSeason::kNone;
};

struct EtsInit {
  double l = 0, b = 0;
  std::vector<double> s;
};

EtsInit InitStates(const std::vector<double>& y, const EtsSpec& sp) {
  EtsInit in;
  const int n = static_cast<int>(y.size());
  if (sp.season != EtsSeason::kNone) {
    const int m = sp.m;
    double m1 = 0, m2 = 0;
    for (int i = 0; i < m; ++i) m1 += y[i] / m;
    if (n >= 2 * m) {
      for (int i = m; i < 2 * m; ++i) m2 += y[i] / m;
      if (sp.trend != EtsTrend::kNone) in.b = (m2 - m1) / m;
    }
    in.l = m1;
    in.s.assign(m, 0.0);
    // Seasonal states: average over up to 3 first cycles of the deviation
    // from each cycle's mean (ratio for multiplicative), normalised.
    const int cycles = std::max(1, std::min(3, n / m));
    for (int c = 0; c < cycles; ++c) {
      double cm = 0;
      for (int i = 0; i < m; ++i) cm += y[c * m + i] / m;
      for (int i = 0; i < m; ++i) {
        const double v = y[c * m + i];
        in.s[i] += (sp.season == EtsSeason::kAdditive ? v - cm : (cm != 0 ? v / cm : 1.0)) / cycles;
      }
    }
    double smean = 0;
    for (double v : in.s) smean += v / m;
    for (auto& v : in.s)
      v = sp.season == EtsSeason::kAdditive ? v - smean : (smean != 0 ? v / smean : 1.0);
    // Level at "time -1" so that the first step predicts y[0].
    in.l = m1 - in.b * ((m - 1) / 2.0 + 1);
  } else {
    in.l = y[0];
    if (sp.trend != EtsTrend::kNone && n >= 4) in.b = (y[3] - y[0]) / 3.0;
    in.l -= in.b;
  }
  return in;
}

// Runs the filter; returns SSE. p = {alpha, beta, gamma, phi}.
double EtsFilter(const std::vector<double>& y, const EtsSpec& sp, const double* p,
                 const EtsInit& in, const std::vector<int>* origins, int h,
                 std::vector<std::vector<double>>* bt, std::vector<double>* final_fc) {
  const double alpha = p[0];
  const double beta = sp.trend != EtsTrend::kNone ? p[1] : 0.0;
  const double gamma = sp.season != EtsSeason::kNone ? p[2] : 0.0;
  const double phi = sp.trend != EtsTrend::kNone ? p[3] : 0.0;
  const int m = sp.m;
  const bool seas = sp.season != EtsSeason::kNone;
  const bool mul = sp.season == EtsSeason::kMultiplicative;
  double l = in.l, b = in.b;
  std::vector<double> s = in.s;
  const int n = static_cast<int>(y.size());
  double sse = 0;
  size_t next_origin = 0;
  auto forecast_from = [&](int o) {
    std::vector<double> f(h);
    double damp = 0, pw = 1;
    for (int k = 1; k <= h; ++k) {
      pw *= phi;
      damp += pw;
      double base = l + damp * b;
      if (seas) {
        const double sv = s[(o + k - 1) % m];
        base = mul ? base * sv : base + sv;
      }
      f[k - 1] = base;
    }
    return f;
  };
  for (int t = 0; t <= n; ++t) {
    if (origins)
      while (next_origin < origins->size() && (*origins)[next_origin] == t) {
        bt->push_back(forecast_from(t));
        ++next_origin;
      }
    if (t == n) break;
    const double lb = l + phi * b;
    double sv = seas ? s[t % m] : (mul ? 1.0 : 0.0);
    double yhat = mul ? lb * sv : lb + sv;
    const double e = y[t] - yhat;
    sse += e * e;
    if (mul) {
      if (std::fabs(sv) < 1e-8 || std::fabs(lb) < 1e-12) return kHuge;
      l = lb + alpha * e / sv;
      b = phi * b + beta * e / sv;
      s[t % m] = sv + gamma * e / lb;
    } else {
      l = lb + alpha * e;
      b = phi * b + beta * e;
      if (seas) s[t % m] = sv + gamma * e;
    }
    if (!std::isfinite(l) || !std::isfinite(sse)) return kHuge;
  }
  if (final_fc) *final_fc = forecast_from(n);
  return sse;
}

}  // namespace

ModelRun RunEts(const std::vector<double>& y, int m, EtsTrend trend, EtsSeason season, int h,
                const std::vector<int>& origins) {
  EtsSpec sp;
  sp.trend = trend;
  sp.season = season;
  sp.m = season == EtsSeason::kNone ? 1 : m;
  const std::vector<double> fit = Tail(y, kFitWindow);
  const EtsInit fin = InitStates(fit, sp);
  auto unpack = [&](const std::vector<double>& x) {
    std::array<double, 4> p{x[0], 0.0, 0.0, 0.98};
    size_t i = 1;
    if (trend != EtsTrend::kNone) p[1] = x[i++];
    if (season != EtsSeason::kNone) p[2] = x[i++];
    if (trend != EtsTrend::kNone) p[3] = x[i++];
    return p;
  };
  auto valid = [&](const std::array<double, 4>& p) {
    if (p[0] < 1e-4 || p[0] > 0.9999) return false;
    if (trend != EtsTrend::kNone && (p[1] < 1e-4 || p[1] > p[0] || p[3] < 0.8 || p[3] > 0.98))
      return false;
    if (season != EtsSeason::kNone && (p[2] < 1e-4 || p[2] > 1 - p[0])) return false;
    return true;
  };
  auto obj = [&](const std::vector<double>& x) {
    auto p = unpack(x);
    if (!valid(p)) return kHuge;
    return EtsFilter(fit, sp, p.data(), fin, nullptr, 0, nullptr, nullptr);
  };
  std::vector<double> x0{season != EtsSeason::kNone ? 0.2 : 0.5};
  if (trend != EtsTrend::kNone) x0.push_back(0.02);
  if (season != EtsSeason::kNone) x0.push_back(0.05);
  if (trend != EtsTrend::kNone) x0.push_back(0.95);
  auto x = NelderMead(obj, x0, 0.05, 80 * static_cast<int>(x0.size() + 1));
  auto p = unpack(x);
  if (!valid(p)) p = unpack(x0);
  const double sse_fit = EtsFilter(fit, sp, p.data(), fin, nullptr, 0, nullptr, nullptr);
  ModelRun r;
  r.name = std::string("ets(A,") + (trend == EtsTrend::kNone ? "N" : "Ad") + "," +
           (season == EtsSeason::kNone       ? "N"
            : season == EtsSeason::kAdditive ? "A"
                                             : "M") +
           ")";
  const double nf = static_cast<double>(fit.size());
  const double k = static_cast<double>(x0.size() + 1 + (trend != EtsTrend::kNone) +
                                       (season != EtsSeason::kNone ? sp.m - 1 : 0));
  r.aic = nf * std::log(std::max(sse_fit, 1e-300) / nf) + 2 * k +
          (nf - k - 1 > 0 ? 2 * k * (k + 1) / (nf - k - 1) : 1e9);
  if (sse_fit >= kHuge) r.aic = kHuge;
  // Re-run over the whole series with the fitted parameters.
  const EtsInit full_init = InitStates(y, sp);
  EtsFilter(y, sp, p.data(), full_init, &origins, h, &r.backtest, &r.forecast);
  if (r.forecast.empty() || r.backtest.size() != origins.size()) {
    r.aic = kHuge;
    r.forecast.assign(h, y.back());
    r.backtest.assign(origins.size(), std::vector<double>(h, y.back()));
  }
  return r;
}

ModelRun RunAutoEts(const std::vector<double>& y, int m, int h, const std::vector<int>& origins) {
  const int n = static_cast<int>(y.size());
  bool positive = std::all_of(y.begin(), y.end(), [](double v) { return v > 0; });
  // One-step likelihood favours non-seasonal, high-alpha models on smooth
  // seasonal data although they extrapolate badly; so when the 90%
  // seasonality test passes only seasonal variants compete (as in M4's
  // benchmarks), otherwise only non-seasonal ones.
  std::vector<EtsSeason> seasons{EtsSeason::kNone};
  if (m > 1 && n >= 2 * m + 2 && SeasonalityTest(Tail(y, kFitWindow), m)) {
    seasons = {EtsSeason::kAdditive};
    if (positive) seasons.push_back(EtsSeason::kMultiplicative);
  }
  ModelRun best;
  best.aic = std::numeric_limits<double>::infinity();
  for (EtsTrend tr : {EtsTrend::kNone, EtsTrend::kDamped}) {
    if (tr == EtsTrend::kDamped && n < 8) continue;
    for (EtsSeason se : seasons) {
      ModelRun r = RunEts(y, m, tr, se, h, origins);
      if (r.aic < best.aic || best.forecast.empty()) best = std::move(r);
    }
  }
  return best;
}

ModelRun RunMstl(const std::vector<double>& y, const std::vector<int>& periods_in, bool log, int h,
                 const std::vector<int>& origins) {
  const int n = static_cast<int>(y.size());
  std::vector<int> periods;
  for (int p : periods_in)
    if (p > 1 && n >= 2 * p) periods.push_back(p);
  std::sort(periods.begin(), periods.end());
  periods.erase(std::unique(periods.begin(), periods.end()), periods.end());
  std::vector<double> z(y);
  if (log)
    for (auto& v : z) v = std::log(v);
  std::vector<std::vector<double>> seas(periods.size(), std::vector<double>(n, 0.0));
  for (int iter = 0; iter < 2; ++iter) {
    for (size_t pi = 0; pi < periods.size(); ++pi) {
      const int p = periods[pi];
      std::vector<double> x(z);
      for (size_t q = 0; q < periods.size(); ++q)
        if (q != pi)
          for (int t = 0; t < n; ++t) x[t] -= seas[q][t];
      const auto trend = CenteredMA(x, p);
      std::vector<double> d(n);
      for (int t = 0; t < n; ++t) d[t] = x[t] - trend[t];
      // Causal cycle-subseries smoothing: the same phase in this and the K
      // previous cycles (triangular weights), so a forecast from any origin
      // uses only seasonal estimates built from cycles before it.
      const int K = p <= 48 ? 5 : 2;
      std::vector<double> s(n);
      for (int t = 0; t < n; ++t) {
        double sw = 0, sv = 0;
        for (int k = -K; k <= 0; ++k) {
          const int j = t + k * p;
          if (j < 0 || j >= n) continue;
          const double w = K + 1 - std::abs(k);
          sw += w;
          sv += w * d[j];
        }
        s[t] = sv / sw;
      }
      const auto smean = CenteredMA(s, p);
      for (int t = 0; t < n; ++t) seas[pi][t] = s[t] - smean[t];
    }
  }
  std::vector<double> adj(z);
  for (const auto& s : seas)
    for (int t = 0; t < n; ++t) adj[t] -= s[t];
  ModelRun base = RunAutoEts(adj, 1, h, origins);
  auto add_seasonal = [&](std::vector<double>& f, int o) {
    for (int k = 1; k <= h; ++k) {
      double sv = 0;
      for (size_t pi = 0; pi < periods.size(); ++pi) {
        const int p = periods[pi];
        const int j = o + k - 1 - p * ((k + p - 1) / p);
        if (j >= 0) sv += seas[pi][j];
      }
      f[k - 1] += sv;
      if (log) f[k - 1] = std::exp(std::min(f[k - 1], 700.0));
    }
  };
  ModelRun r;
  std::string ps;
  for (int p : periods) {
    // (not `(cond ? "" : ",") + to_string`: GCC 12 -O3 flags that with a false -Wrestrict)
    if (!ps.empty()) ps += ',';
    ps += std::to_string(p);
  }
  r.name = std::string(log ? "mstl-log" : "mstl") + "(" + ps + ")[" + base.name + "]";
  r.forecast = base.forecast;
  add_seasonal(r.forecast, n);
  r.backtest = base.backtest;
  for (size_t i = 0; i < origins.size(); ++i) add_seasonal(r.backtest[i], origins[i]);
  r.aic = base.aic;
  return r;
}

ModelRun RunTheta(const std::vector<double>& y, int m, int h, const std::vector<int>& origins) {
  const int n = static_cast<int>(y.size());
  const int mm = std::max(m, 1);
  std::vector<double> idx(mm, 1.0);
  if (m > 1 && SeasonalityTest(y, m)) idx = ClassicalIndices(y, m);
  std::vector<double> x(n);
  for (int t = 0; t < n; ++t) x[t] = y[t] / idx[t % mm];
  const std::vector<double> fit = Tail(x, kFitWindow);
  auto sse = [&](double a) {
    double l = fit[0], s = 0;
    for (size_t t = 1; t < fit.size(); ++t) {
      const double e = fit[t] - l;
      s += e * e;
      l += a * e;
    }
    return s;
  };
  // Golden-section search for alpha on [0.01, 0.99].
  double lo = 0.01, hi = 0.99;
  const double g = (std::sqrt(5.0) - 1) / 2;
  double c = hi - g * (hi - lo), d = lo + g * (hi - lo);
  double fc = sse(c), fd = sse(d);
  for (int it = 0; it < 40; ++it) {
    if (fc < fd) {
      hi = d, d = c, fd = fc;
      c = hi - g * (hi - lo), fc = sse(c);
    } else {
      lo = c, c = d, fc = fd;
      d = lo + g * (hi - lo), fd = sse(d);
    }
  }
  const double alpha = (lo + hi) / 2;
  // Forward pass: SES level and running regression sums.
  ModelRun r;
  r.name = "theta";
  double l = x[0], St = 0, Sx = 0, Stt = 0, Stx = 0;
  size_t next = 0;
  auto fc_from = [&](int o) {
    const double on = o;
    const double den = on * Stt - St * St;
    const double b = den > 0 ? (on * Stx - St * Sx) / den : 0.0;
    std::vector<double> f(h);
    const double corr = (1 - std::pow(1 - alpha, on)) / alpha;
    for (int k = 1; k <= h; ++k)
      f[k - 1] = (l + 0.5 * b * ((k - 1) + corr)) * idx[(o + k - 1) % mm];
    return f;
  };
  for (int t = 0; t <= n; ++t) {
    while (next < origins.size() && origins[next] == t) {
      r.backtest.push_back(fc_from(t));
      ++next;
    }
    if (t == n) break;
    if (t > 0) l += alpha * (x[t] - l);
    St += t;
    Sx += x[t];
    Stt += static_cast<double>(t) * t;
    Stx += t * x[t];
  }
  r.forecast = fc_from(n);
  return r;
}

}  // namespace shardcast::predictor
