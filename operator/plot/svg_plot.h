// Generic, dependency-free SVG line charts: time series, shaded bands,
// horizontal lines (e.g. capacity) and labelled vertical markers (events,
// actions). Used by `shardcast forecast --plot` and the demo timeline.
#pragma once

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

}  // namespace shardcast::plot
