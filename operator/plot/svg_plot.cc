#include "operator/plot/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iterator>
#include <limits>
#include <sstream>

namespace shardcast::plot {

std::string XmlEscape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      case '\'':
        o += "&apos;";
        break;
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

// "1234567" -> "1,234,567" (digits only; the sign and decimals are kept).
std::string GroupThousands(const std::string& s) {
  std::size_t start = (!s.empty() && s[0] == '-') ? 1 : 0;
  std::size_t end = s.find('.');
  if (end == std::string::npos) end = s.size();
  std::string out = s.substr(0, start);
  for (std::size_t i = start; i < end; ++i) {
    out += s[i];
    const std::size_t left = end - i - 1;
    if (left > 0 && left % 3 == 0) out += ',';
  }
  return out + s.substr(end);
}

std::string Utc(double t, const char* fmt) {
  std::time_t tt = static_cast<std::time_t>(std::llround(t));
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char b[64];
  std::strftime(b, sizeof b, fmt, &tm);
  return b;
}

}  // namespace

std::string FormatAxisValue(double v, double step, double max_abs) {
  if (!std::isfinite(v)) return "";
  step = std::fabs(step);
  if (!(step > 0) || !std::isfinite(step)) step = 1;
  if (std::fabs(v) < step * 1e-9) v = 0;  // no "-0"
  struct Unit {
    double scale;
    const char* suffix;
  };
  static constexpr Unit kUnits[] = {{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e4, "k"}};
  double scale = 1;
  const char* suffix = "";
  for (const Unit& u : kUnits) {
    if (max_abs >= u.scale) {
      scale = u.scale == 1e4 ? 1e3 : u.scale;
      suffix = u.suffix;
      break;
    }
  }
  // Enough decimals to tell neighbouring ticks apart (at most 6).
  int decimals = 0;
  for (double st = step / scale; decimals < 6 && std::fabs(st - std::round(st)) > 1e-6 * st;
       st *= 10) {
    ++decimals;
  }
  if (v == 0 && scale != 1) return "0";  // "0", not "0k"
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, v / scale);
  std::string out = b;
  if (scale == 1) out = GroupThousands(out);
  return out + suffix;
}

std::vector<Tick> ValueTicks(double lo, double hi, int max_ticks) {
  std::vector<Tick> out;
  if (!std::isfinite(lo) || !std::isfinite(hi) || hi < lo || max_ticks < 2) return out;
  // The smallest 1, 2 or 5 x 10^k step that gives at most max_ticks ticks.
  const double range = hi - lo > 0 ? hi - lo : std::max(std::fabs(hi), 1.0);
  const double mag = std::pow(10.0, std::floor(std::log10(range / (max_ticks - 1))));
  double step = 10 * mag;
  for (double m : {1.0, 2.0, 5.0}) {
    const double st = m * mag;
    const double count = std::floor(hi / st + 1e-9) - std::ceil(lo / st - 1e-9) + 1;
    if (count <= max_ticks) {
      step = st;
      break;
    }
  }
  const double max_abs = std::max(std::fabs(lo), std::fabs(hi));
  const double first = std::ceil(lo / step - 1e-9) * step;
  for (int k = 0; k < 100; ++k) {
    const double v = first + k * step;
    if (v > hi + step * 1e-9) break;
    out.push_back(Tick{v, FormatAxisValue(v, step, max_abs)});
  }
  return out;
}

std::vector<Tick> TimeTicks(double t0, double t1, int max_ticks) {
  std::vector<Tick> out;
  if (!std::isfinite(t0) || !std::isfinite(t1) || t1 < t0 || max_ticks < 1) return out;
  static constexpr double kSteps[] = {60,    120,   300,   600,   900,    1800,   3600,    7200,
                                      10800, 21600, 43200, 86400, 172800, 604800, 1209600, 2419200};
  constexpr double kDay = 86400, kMonday = 4 * kDay;  // 1970-01-05 was a Monday
  double step = kSteps[std::size(kSteps) - 1];
  for (double s : kSteps) {
    if ((t1 - t0) / s <= max_ticks) {
      step = s;
      break;
    }
  }
  const double offset = step >= 7 * kDay ? kMonday : 0;
  const double first = std::ceil((t0 - offset) / step) * step + offset;
  for (int k = 0; k < 200; ++k) {
    const double t = first + k * step;
    if (t > t1) break;
    const bool midnight = std::fmod(t, kDay) == 0;
    out.push_back(Tick{t, Utc(t, step >= kDay || midnight ? "%b %d" : "%H:%M")});
  }
  return out;
}

std::size_t DefaultHistoryWindow(std::size_t history, int horizon,
                                 const std::vector<int>& seasons) {
  const std::size_t h = static_cast<std::size_t>(std::max(1, horizon));
  std::size_t shortest = 0;
  for (int s : seasons) {
    if (s > 1 && (shortest == 0 || static_cast<std::size_t>(s) < shortest)) {
      shortest = static_cast<std::size_t>(s);
    }
  }
  std::size_t want = std::max(3 * shortest, 2 * h);
  if (want > 4 * h) want = std::max(4 * h, shortest);
  return std::min(history, want);
}

namespace {

// The canvas, the plot area inside its margins, and the data range it shows.
struct Frame {
  double width, height;                        // canvas
  double ml = 70, mr = 170, mt = 40, mb = 50;  // margins (the legend is on the right)
  double pw, ph;                               // plot area
  double x0, x1, y0, y1;                       // data range
  double X(double x) const { return ml + (x - x0) / (x1 - x0) * pw; }
  double Y(double y) const { return mt + ph - (y - y0) / (y1 - y0) * ph; }
};

// The data range covers every finite point, band, horizontal line and
// marker, padded by 5% vertically; a degenerate range is widened.
Frame MakeFrame(const Chart& c) {
  Frame f;
  f.width = std::clamp(c.width, 200, 10000), f.height = std::clamp(c.height, 150, 10000);
  f.pw = f.width - f.ml - f.mr, f.ph = f.height - f.mt - f.mb;
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
      if (std::isfinite(b.lo[i]) && std::isfinite(b.hi[i]))
        addx(b.x[i]), addy(b.lo[i]), addy(b.hi[i]);
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
  f.x0 = x0, f.x1 = x1, f.y0 = y0, f.y1 = y1;
  return f;
}

// Title, grid, ticks, frame, axis labels, and the clip path of the plot area.
void WriteAxes(const Chart& c, const Frame& f, std::ostream& o) {
  const double ml = f.ml, mt = f.mt, pw = f.pw, ph = f.ph;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << f.width << "\" height=\"" << f.height
    << "\" viewBox=\"0 0 " << f.width << " " << f.height
    << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << f.width / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">"
    << XmlEscape(c.title) << "</text>\n";
  for (const Tick& t : ValueTicks(f.y0, f.y1, 7)) {
    o << "<line x1=\"" << Num(ml) << "\" x2=\"" << Num(ml + pw) << "\" y1=\"" << Num(f.Y(t.value))
      << "\" y2=\"" << Num(f.Y(t.value)) << "\" stroke=\"#e0e0e0\"/>";
    o << "<text x=\"" << Num(ml - 6) << "\" y=\"" << Num(f.Y(t.value) + 4)
      << "\" text-anchor=\"end\">" << XmlEscape(t.label) << "</text>\n";
  }
  const std::vector<Tick> xt = c.x_is_unix_time && std::fabs(f.x1) < 1e12
                                   ? TimeTicks(f.x0, f.x1, std::max(2, static_cast<int>(pw / 90)))
                                   : ValueTicks(f.x0, f.x1, 8);
  for (const Tick& t : xt) {
    o << "<line x1=\"" << Num(f.X(t.value)) << "\" x2=\"" << Num(f.X(t.value)) << "\" y1=\""
      << Num(mt) << "\" y2=\"" << Num(mt + ph) << "\" stroke=\"#f0f0f0\"/>";
    o << "<text x=\"" << Num(f.X(t.value)) << "\" y=\"" << Num(mt + ph + 16)
      << "\" text-anchor=\"middle\">" << XmlEscape(t.label) << "</text>\n";
  }
  o << "<rect x=\"" << Num(ml) << "\" y=\"" << Num(mt) << "\" width=\"" << Num(pw) << "\" height=\""
    << Num(ph) << "\" fill=\"none\" stroke=\"#444\"/>\n";
  o << "<text x=\"" << Num(ml + pw / 2) << "\" y=\"" << Num(f.height - 10)
    << "\" text-anchor=\"middle\">" << XmlEscape(c.x_label) << "</text>\n";
  o << "<text transform=\"translate(16," << Num(mt + ph / 2)
    << ") rotate(-90)\" text-anchor=\"middle\">" << XmlEscape(c.y_label) << "</text>\n";
  o << "<clipPath id=\"plot\"><rect x=\"" << Num(ml) << "\" y=\"" << Num(mt) << "\" width=\""
    << Num(pw) << "\" height=\"" << Num(ph) << "\"/></clipPath>\n<g clip-path=\"url(#plot)\">\n";
}

// Bands: one polygon per run of finite points.
void WriteBands(const Chart& c, const Frame& f, std::ostream& o) {
  for (const auto& b : c.bands) {
    const size_t n = std::min({b.x.size(), b.lo.size(), b.hi.size()});
    size_t i = 0;
    while (i < n) {
      while (i < n && !(std::isfinite(b.lo[i]) && std::isfinite(b.hi[i]) && std::isfinite(b.x[i])))
        ++i;
      size_t j = i;
      while (j < n && std::isfinite(b.lo[j]) && std::isfinite(b.hi[j]) && std::isfinite(b.x[j]))
        ++j;
      if (j > i) {
        o << "<polygon fill=\"" << XmlEscape(b.color) << "\" fill-opacity=\"" << b.opacity
          << "\" stroke=\"none\" points=\"";
        for (size_t k = i; k < j; ++k) o << Num(f.X(b.x[k])) << "," << Num(f.Y(b.hi[k])) << " ";
        for (size_t k = j; k-- > i;) o << Num(f.X(b.x[k])) << "," << Num(f.Y(b.lo[k])) << " ";
        o << "\"/>\n";
      }
      i = j;
    }
  }
}

// Lines (broken at non-finite points), horizontal lines and markers.
void WriteLines(const Chart& c, const Frame& f, std::ostream& o) {
  for (const auto& l : c.lines) {
    const size_t n = std::min(l.x.size(), l.y.size());
    std::string d;
    bool pen = false;
    for (size_t i = 0; i < n; ++i) {
      if (!std::isfinite(l.y[i]) || !std::isfinite(l.x[i])) {
        pen = false;
        continue;
      }
      d += (pen ? "L" : "M") + Num(f.X(l.x[i])) + " " + Num(f.Y(l.y[i])) + " ";
      pen = true;
    }
    if (d.empty()) continue;
    o << "<path fill=\"none\" stroke=\"" << XmlEscape(l.color) << "\" stroke-width=\"" << l.width
      << "\"" << (l.dashed ? " stroke-dasharray=\"5,3\"" : "") << " d=\"" << d << "\"/>\n";
  }
  for (const auto& h : c.hlines) {
    if (!std::isfinite(h.y)) continue;
    o << "<line x1=\"" << Num(f.ml) << "\" x2=\"" << Num(f.ml + f.pw) << "\" y1=\"" << Num(f.Y(h.y))
      << "\" y2=\"" << Num(f.Y(h.y)) << "\" stroke=\"" << XmlEscape(h.color)
      << "\" stroke-width=\"1.5\"" << (h.dashed ? " stroke-dasharray=\"6,4\"" : "") << "/>\n";
  }
  for (const auto& m : c.markers) {
    if (!std::isfinite(m.x)) continue;
    o << "<line x1=\"" << Num(f.X(m.x)) << "\" x2=\"" << Num(f.X(m.x)) << "\" y1=\"" << Num(f.mt)
      << "\" y2=\"" << Num(f.mt + f.ph) << "\" stroke=\"" << XmlEscape(m.color)
      << "\" stroke-dasharray=\"2,3\"/>";
    o << "<text x=\"" << Num(f.X(m.x) + 3) << "\" y=\"" << Num(f.mt + 12) << "\" fill=\""
      << XmlEscape(m.color) << "\">" << XmlEscape(m.label) << "</text>\n";
  }
}

// The legend, right of the plot area: lines, then bands, then horizontal lines.
void WriteLegend(const Chart& c, const Frame& f, std::ostream& o) {
  double ly = f.mt + 8;
  const double lx = f.ml + f.pw + 12;
  auto legend = [&](const std::string& label, const std::string& color, bool box, bool dashed) {
    if (label.empty()) return;
    if (box)
      o << "<rect x=\"" << Num(lx) << "\" y=\"" << Num(ly - 7)
        << "\" width=\"18\" height=\"10\" fill=\"" << XmlEscape(color)
        << "\" fill-opacity=\"0.35\"/>";
    else
      o << "<line x1=\"" << Num(lx) << "\" x2=\"" << Num(lx + 18) << "\" y1=\"" << Num(ly - 2)
        << "\" y2=\"" << Num(ly - 2) << "\" stroke=\"" << XmlEscape(color)
        << "\" stroke-width=\"2\"" << (dashed ? " stroke-dasharray=\"5,3\"" : "") << "/>";
    o << "<text x=\"" << Num(lx + 24) << "\" y=\"" << Num(ly + 2) << "\">" << XmlEscape(label)
      << "</text>\n";
    ly += 16;
  };
  for (const auto& l : c.lines) legend(l.label, l.color, false, l.dashed);
  for (const auto& b : c.bands) legend(b.label, b.color, true, false);
  for (const auto& h : c.hlines) legend(h.label, h.color, false, h.dashed);
}

}  // namespace

std::string RenderSvg(const Chart& c) {
  const Frame f = MakeFrame(c);
  std::ostringstream o;
  WriteAxes(c, f, o);
  WriteBands(c, f, o);
  WriteLines(c, f, o);
  o << "</g>\n";
  WriteLegend(c, f, o);
  o << "</svg>\n";
  return o.str();
}

}  // namespace shardcast::plot
