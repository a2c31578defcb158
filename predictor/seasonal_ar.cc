// Seasonal autoregression on log(y): the lags it uses and its runner (see
// models.h).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "predictor/models.h"

namespace shardcast::predictor {

std::vector<int> SeasonalArLags(const std::vector<int>& periods_in, int n) {
  std::vector<int> periods;
  for (int p : periods_in)
    if (p > 1) periods.push_back(p);
  std::sort(periods.begin(), periods.end());
  std::vector<int> lags{1, 2, 3};
  for (size_t i = 0; i < periods.size(); ++i) {
    const int p = periods[i];
    for (int l : {p - 1, p, p + 1, 2 * p}) lags.push_back(l);
    if (i == 0) lags.push_back(2 * p - 1);
  }
  std::sort(lags.begin(), lags.end());
  lags.erase(std::unique(lags.begin(), lags.end()), lags.end());
  // Enough rows for the regression: every lag below n/2.
  std::vector<int> out;
  for (int l : lags)
    if (l >= 1 && 2 * l < n) out.push_back(l);
  return out;
}

namespace {
// Solves (A + ridge*I') x = b in place (I' = identity without the intercept
// term 0) by Gaussian elimination with partial pivoting. False if singular.
bool SolveRidge(std::vector<std::vector<double>> a, std::vector<double> b, double ridge,
                std::vector<double>& x) {
  const size_t d = b.size();
  for (size_t i = 1; i < d; ++i) a[i][i] += ridge;
  for (size_t c = 0; c < d; ++c) {
    size_t piv = c;
    for (size_t r = c + 1; r < d; ++r)
      if (std::fabs(a[r][c]) > std::fabs(a[piv][c])) piv = r;
    if (!(std::fabs(a[piv][c]) > 1e-12)) return false;
    std::swap(a[c], a[piv]);
    std::swap(b[c], b[piv]);
    for (size_t r = c + 1; r < d; ++r) {
      const double f = a[r][c] / a[c][c];
      if (f == 0) continue;
      for (size_t k = c; k < d; ++k) a[r][k] -= f * a[c][k];
      b[r] -= f * b[c];
    }
  }
  x.assign(d, 0.0);
  for (size_t i = d; i-- > 0;) {
    double s = b[i];
    for (size_t k = i + 1; k < d; ++k) s -= a[i][k] * x[k];
    x[i] = s / a[i][i];
  }
  return std::all_of(x.begin(), x.end(), [](double v) { return std::isfinite(v); });
}
}  // namespace

ModelRun RunSeasonalAr(const std::vector<double>& y, const std::vector<int>& periods, int h,
                       const std::vector<int>& origins) {
  const int n = static_cast<int>(y.size());
  const std::vector<int> lags = SeasonalArLags(periods, n);
  ModelRun r;
  r.name = "ar";
  // Log transform: multiplicative (level-proportional) seasonality becomes
  // additive; a small shift when the series touches zero.
  double shift = 0;
  if (!std::all_of(y.begin(), y.end(), [](double v) { return v > 0; })) {
    std::vector<double> a;
    for (double v : y) a.push_back(std::fabs(v));
    std::nth_element(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(a.size() / 2), a.end());
    shift = std::max(0.05 * a[a.size() / 2], 1e-9);
    if (std::any_of(y.begin(), y.end(), [&](double v) { return v + shift <= 0; })) shift = -1;
  }
  const size_t d = lags.size() + 1;
  std::vector<double> beta;
  std::vector<double> z(n);
  bool ok = shift >= 0 && !lags.empty();
  if (ok) {
    for (int t = 0; t < n; ++t) z[t] = std::log(y[t] + shift);
    const int L = lags.back();
    std::vector<std::vector<double>> xtx(d, std::vector<double>(d, 0.0));
    std::vector<double> xty(d, 0.0), row(d);
    for (int t = L; t < n; ++t) {
      row[0] = 1;
      for (size_t j = 0; j < lags.size(); ++j) row[j + 1] = z[t - lags[j]];
      for (size_t i = 0; i < d; ++i) {
        xty[i] += row[i] * z[t];
        for (size_t k = i; k < d; ++k) xtx[i][k] += row[i] * row[k];
      }
    }
    for (size_t i = 0; i < d; ++i)
      for (size_t k = 0; k < i; ++k) xtx[i][k] = xtx[k][i];
    ok = n - L >= static_cast<int>(3 * d) && SolveRidge(xtx, xty, 1e-3, beta);
  }
  if (!ok) {
    // Too short or not log-transformable: seasonal naive.
    ModelRun s = RunSeasonalNaive(
        y, periods.empty() ? 1 : *std::min_element(periods.begin(), periods.end()), h, origins);
    s.name = "ar:snaive";
    return s;
  }
  const double zmin = *std::min_element(z.begin(), z.end()) - 1,
               zmax = *std::max_element(z.begin(), z.end()) + 1;
  std::vector<double> buf;
  auto fc_from = [&](int o) {
    buf.assign(z.begin(), z.begin() + o);
    std::vector<double> f(h);
    for (int k = 0; k < h; ++k) {
      const int t = o + k;
      double v = beta[0];
      for (size_t j = 0; j < lags.size(); ++j) {
        const int i = t - lags[j];
        v += beta[j + 1] * buf[std::max(i, 0)];
      }
      v = std::clamp(v, zmin, zmax);
      buf.push_back(v);
      f[k] = std::exp(v) - shift;
    }
    return f;
  };
  r.forecast = fc_from(n);
  for (int o : origins) r.backtest.push_back(fc_from(o));
  return r;
}

}  // namespace shardcast::predictor
