// Generic, dependency-free SVG line charts: time series, shaded bands,
// horizontal lines (e.g. capacity) and labelled vertical markers (events,
// actions). Used by `shardcast forecast --plot` and the demo timeline.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace shardcast::plot {

struct Line {
  std::string label;
  std::vector<double> x, y;  // NaN in y breaks the line
  std::string color = "#1f77b4";
  double width = 1.5;
  bool dashed = false;
};

struct Band {
  std::string label;
  std::vector<double> x, lo, hi;
  std::string color = "#1f77b4";
  double opacity = 0.2;
};

struct HLine {
  std::string label;
  double y = 0;
  std::string color = "#d62728";
  bool dashed = true;
};

struct Marker {
  std::string label;
  double x = 0;
  std::string color = "#7f7f7f";
};

struct Chart {
  std::string title;
  std::string x_label;
  std::string y_label;
  int width = 960;
  int height = 420;
  bool x_is_unix_time = false;  // format x ticks as UTC date/time
  std::vector<Band> bands;      // drawn first (under the lines)
  std::vector<Line> lines;
  std::vector<HLine> hlines;
  std::vector<Marker> markers;
};

// Renders a complete standalone SVG document. Never fails: empty or
// non-finite data produce an empty plot area with the title.
std::string RenderSvg(const Chart& chart);

// Escapes &, <, >, " and ' for XML text/attributes (exposed for tests).
std::string XmlEscape(const std::string& s);

// ---- Axis helpers (pure; exposed for tests) --------------------------------

struct Tick {
  double value = 0;
  std::string label;
};

// Ticks at round UTC times within [t0, t1] (unix seconds): the smallest step
// of 1, 2, 5, 10, 15, 30 minutes, 1, 2, 3, 6, 12 hours, 1, 2, 7, 14, 28 days
// that gives at most `max_ticks`. Labels: "HH:MM", or "Mon DD" at midnight
// and for steps of a day or more (weeks start on Monday).
std::vector<Tick> TimeTicks(double t0, double t1, int max_ticks = 8);

// Ticks at 1, 2 or 5 x 10^k within [lo, hi], labelled in readable units:
// "2,500", "35k", "1.5M", "2G", "0.25" (never "3.5e+04").
std::vector<Tick> ValueTicks(double lo, double hi, int max_ticks = 7);

// `v` in the unit that suits an axis reaching `max_abs` with ticks `step`
// apart (the same unit and decimals for every tick of one axis).
std::string FormatAxisValue(double v, double step, double max_abs);

// How many of the last `history` points to plot before a forecast of
// `horizon` steps so the forecast and its band stay readable: a few of the
// shortest season (3), at least twice the horizon, at most four horizons
// unless one season needs more; never more than `history`.
std::size_t DefaultHistoryWindow(std::size_t history, int horizon, const std::vector<int>& seasons);

}  // namespace shardcast::plot
