#include "operator/plot/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <sstream>

namespace shardcast::plot {

std::string XmlEscape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t') o += c;
    }
  }
  return o;
}

namespace {

std::string Num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}

std::string TickLabel(double v, bool time) {
  char b[64];
  if (time && std::fabs(v) < 1e12) {
    std::time_t t = static_cast<std::time_t>(v);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(b, sizeof b, "%m-%d %H:%M", &tm);
  } else {
    std::snprintf(b, sizeof b, "%.4g", v);
  }
  return b;
}

// "Nice" tick step for a range (1, 2, 5 x 10^k).
double NiceStep(double range, int target) {
  if (!(range > 0) || !std::isfinite(range)) return 1;
  const double raw = range / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / mag;
  return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
}

}  // namespace

std::string RenderSvg(const Chart& c) {
  const double W = std::clamp(c.width, 200, 10000), H = std::clamp(c.height, 150, 10000);
  const double ml = 70, mr = 170, mt = 40, mb = 50;
  const double pw = W - ml - mr, ph = H - mt - mb;
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  auto addx = [&](double x) {
    if (std::isfinite(x)) x0 = std::min(x0, x), x1 = std::max(x1, x);
  };
  auto addy = [&](double y) {
    if (std::isfinite(y)) y0 = std::min(y0, y), y1 = std::max(y1, y);
  };
  for (const auto& l : c.lines)
    for (size_t i = 0; i < l.x.size() && i < l.y.size(); ++i)
      if (std::isfinite(l.y[i])) addx(l.x[i]), addy(l.y[i]);
  for (const auto& b : c.bands)
    for (size_t i = 0; i < b.x.size() && i < b.lo.size() && i < b.hi.size(); ++i)
      if (std::isfinite(b.lo[i]) && std::isfinite(b.hi[i])) addx(b.x[i]), addy(b.lo[i]), addy(b.hi[i]);
  for (const auto& h : c.hlines) addy(h.y);
  for (const auto& m : c.markers) addx(m.x);
  const bool have = x0 <= x1 && y0 <= y1;
  if (!have) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x1 - x0 <= 0 || !std::isfinite(x1 - x0)) x1 = x0 + 1;
  if (y1 - y0 <= 0 || !std::isfinite(y1 - y0)) {
    const double pad = std::fabs(y0) > 0 ? std::fabs(y0) * 0.1 : 1;
    y0 -= pad, y1 += pad;
  }
  const double ypad = (y1 - y0) * 0.05;
  y0 -= ypad, y1 += ypad;
  if (!std::isfinite(y1 - y0)) y0 = -1e307, y1 = 1e307;
  auto X = [&](double x) { return ml + (x - x0) / (x1 - x0) * pw; };
  auto Y = [&](double y) { return mt + ph - (y - y0) / (y1 - y0) * ph; };

  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" viewBox=\"0 0 " << W
    << " " << H << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << W / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" << XmlEscape(c.title)
    << "</text>\n";
  // Grid and ticks.
  const double ys = NiceStep(y1 - y0, 6);
  for (double v = std::ceil(y0 / ys) * ys, k = 0; v <= y1 && k < 50; v += ys, ++k) {
    o << "<line x1=\"" << Num(ml) << "\" x2=\"" << Num(ml + pw) << "\" y1=\"" << Num(Y(v)) << "\" y2=\"" << Num(Y(v))
      << "\" stroke=\"#e0e0e0\"/>";
    o << "<text x=\"" << Num(ml - 6) << "\" y=\"" << Num(Y(v) + 4) << "\" text-anchor=\"end\">"
      << XmlEscape(TickLabel(v, false)) << "</text>\n";
  }
  const double xs = NiceStep(x1 - x0, 7);
  for (double v = std::ceil(x0 / xs) * xs, k = 0; v <= x1 && k < 50; v += xs, ++k) {
    o << "<line x1=\"" << Num(X(v)) << "\" x2=\"" << Num(X(v)) << "\" y1=\"" << Num(mt) << "\" y2=\"" << Num(mt + ph)
      << "\" stroke=\"#f0f0f0\"/>";
    o << "<text x=\"" << Num(X(v)) << "\" y=\"" << Num(mt + ph + 16) << "\" text-anchor=\"middle\">"
      << XmlEscape(TickLabel(v, c.x_is_unix_time)) << "</text>\n";
  }
  o << "<rect x=\"" << Num(ml) << "\" y=\"" << Num(mt) << "\" width=\"" << Num(pw) << "\" height=\"" << Num(ph)
    << "\" fill=\"none\" stroke=\"#444\"/>\n";
  o << "<text x=\"" << Num(ml + pw / 2) << "\" y=\"" << Num(H - 10) << "\" text-anchor=\"middle\">"
    << XmlEscape(c.x_label) << "</text>\n";
  o << "<text transform=\"translate(16," << Num(mt + ph / 2) << ") rotate(-90)\" text-anchor=\"middle\">"
    << XmlEscape(c.y_label) << "</text>\n";
  o << "<clipPath id=\"plot\"><rect x=\"" << Num(ml) << "\" y=\"" << Num(mt) << "\" width=\"" << Num(pw)
    << "\" height=\"" << Num(ph) << "\"/></clipPath>\n<g clip-path=\"url(#plot)\">\n";
  // Bands: one polygon per run of finite points.
  for (const auto& b : c.bands) {
    const size_t n = std::min({b.x.size(), b.lo.size(), b.hi.size()});
    size_t i = 0;
    while (i < n) {
      while (i < n && !(std::isfinite(b.lo[i]) && std::isfinite(b.hi[i]) && std::isfinite(b.x[i]))) ++i;
      size_t j = i;
      while (j < n && std::isfinite(b.lo[j]) && std::isfinite(b.hi[j]) && std::isfinite(b.x[j])) ++j;
      if (j > i) {
        o << "<polygon fill=\"" << XmlEscape(b.color) << "\" fill-opacity=\"" << b.opacity << "\" stroke=\"none\" points=\"";
        for (size_t k = i; k < j; ++k) o << Num(X(b.x[k])) << "," << Num(Y(b.hi[k])) << " ";
        for (size_t k = j; k-- > i;) o << Num(X(b.x[k])) << "," << Num(Y(b.lo[k])) << " ";
        o << "\"/>\n";
      }
      i = j;
    }
  }
  for (const auto& l : c.lines) {
    const size_t n = std::min(l.x.size(), l.y.size());
    std::string d;
    bool pen = false;
    for (size_t i = 0; i < n; ++i) {
      if (!std::isfinite(l.y[i]) || !std::isfinite(l.x[i])) {
        pen = false;
        continue;
      }
      d += (pen ? "L" : "M") + Num(X(l.x[i])) + " " + Num(Y(l.y[i])) + " ";
      pen = true;
    }
    if (d.empty()) continue;
    o << "<path fill=\"none\" stroke=\"" << XmlEscape(l.color) << "\" stroke-width=\"" << l.width << "\""
      << (l.dashed ? " stroke-dasharray=\"5,3\"" : "") << " d=\"" << d << "\"/>\n";
  }
  for (const auto& h : c.hlines) {
    if (!std::isfinite(h.y)) continue;
    o << "<line x1=\"" << Num(ml) << "\" x2=\"" << Num(ml + pw) << "\" y1=\"" << Num(Y(h.y)) << "\" y2=\""
      << Num(Y(h.y)) << "\" stroke=\"" << XmlEscape(h.color) << "\" stroke-width=\"1.5\""
      << (h.dashed ? " stroke-dasharray=\"6,4\"" : "") << "/>\n";
  }
  for (const auto& m : c.markers) {
    if (!std::isfinite(m.x)) continue;
    o << "<line x1=\"" << Num(X(m.x)) << "\" x2=\"" << Num(X(m.x)) << "\" y1=\"" << Num(mt) << "\" y2=\""
      << Num(mt + ph) << "\" stroke=\"" << XmlEscape(m.color) << "\" stroke-dasharray=\"2,3\"/>";
    o << "<text x=\"" << Num(X(m.x) + 3) << "\" y=\"" << Num(mt + 12) << "\" fill=\"" << XmlEscape(m.color) << "\">"
      << XmlEscape(m.label) << "</text>\n";
  }
  o << "</g>\n";
  // Legend.
  double ly = mt + 8;
  const double lx = ml + pw + 12;
  auto legend = [&](const std::string& label, const std::string& color, bool box, bool dashed) {
    if (label.empty()) return;
    if (box)
      o << "<rect x=\"" << Num(lx) << "\" y=\"" << Num(ly - 7) << "\" width=\"18\" height=\"10\" fill=\""
        << XmlEscape(color) << "\" fill-opacity=\"0.35\"/>";
    else
      o << "<line x1=\"" << Num(lx) << "\" x2=\"" << Num(lx + 18) << "\" y1=\"" << Num(ly - 2) << "\" y2=\""
        << Num(ly - 2) << "\" stroke=\"" << XmlEscape(color) << "\" stroke-width=\"2\""
        << (dashed ? " stroke-dasharray=\"5,3\"" : "") << "/>";
    o << "<text x=\"" << Num(lx + 24) << "\" y=\"" << Num(ly + 2) << "\">" << XmlEscape(label) << "</text>\n";
    ly += 16;
  };
  for (const auto& l : c.lines) legend(l.label, l.color, false, l.dashed);
  for (const auto& b : c.bands) legend(b.label, b.color, true, false);
  for (const auto& h : c.hlines) legend(h.label, h.color, false, h.dashed);
  o << "</svg>\n";
  return o.str();
}

}  // namespace shardcast::plot
