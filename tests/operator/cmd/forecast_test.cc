// Tests for `shardcast forecast` (operator/cmd/forecast.cc) and operator/plot.
#include "operator/cmd/forecast.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "operator/plot/svg_plot.h"

namespace shardcast {
namespace {

int RunCli(std::vector<std::string> args, std::string* out, std::string* err) {
  args.insert(args.begin(), "forecast");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::ostringstream o, e;
  int rc = cli::ForecastMain(static_cast<int>(argv.size()), argv.data(), o, e);
  *out = o.str();
  *err = e.str();
  return rc;
}

std::string WriteSeries(const std::string& name, int n, int offset = 0) {
  const std::string path = testing::TempDir() + name;
  std::ofstream f(path);
  f << "timestamp,value\n";
  for (int t = offset; t < offset + n; ++t)
    f << 1700000000 + t * 3600 << "," << 100 + 30 * std::sin(2 * M_PI * t / 24) << "\n";
  return path;
}

TEST(ForecastCli, PrintsTableAndWritesPlot) {
  const std::string in = WriteSeries("cli_in.csv", 24 * 10);
  const std::string act = WriteSeries("cli_act.csv", 24, 24 * 10);
  const std::string svg = testing::TempDir() + "cli_out.svg";
  std::string out, err;
  int rc = RunCli({"--input", in, "--horizon", "24", "--season", "24", "--quantiles",
                   "0.5,0.9,0.99", "--actual", act, "--plot", svg, "--capacity", "125", "--event",
                   "sale,2023-11-24T22:00:00Z,2h,2"},
                  &out, &err);
  ASSERT_EQ(rc, 0) << err;
  EXPECT_NE(out.find("step,time,p50,q0.5,q0.9,q0.99,actual"), std::string::npos) << out;
  EXPECT_NE(out.find("# probExceed(capacity=125"), std::string::npos);
  EXPECT_NE(out.find("\n24,"), std::string::npos);
  std::ifstream f(svg);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string s = ss.str();
  EXPECT_EQ(s.rfind("<svg", 0), 0u);
  EXPECT_NE(s.find("<polygon"), std::string::npos);  // band
  EXPECT_NE(s.find("capacity"), std::string::npos);  // capacity line legend
  EXPECT_NE(s.find("sale x2"), std::string::npos);   // event marker
  EXPECT_NE(s.find("</svg>"), std::string::npos);
}

TEST(ForecastCli, BadInputIsOneLineErrorExit2) {
  const std::string in = WriteSeries("cli_in2.csv", 50);
  const std::string bad = testing::TempDir() + "cli_bad.csv";
  std::ofstream(bad) << "timestamp,value\n1,2\n2,oops\n";
  struct Case {
    std::vector<std::string> args;
    std::string needle;
  } cases[] = {
      {{"--horizon", "3"}, "--input"},
      {{"--input", in}, "--horizon"},
      {{"--input", in, "--horizon", "0"}, "--horizon"},
      {{"--input", in, "--horizon", "3", "--quantiles", "0.5,1.5"}, "--quantiles"},
      {{"--input", in, "--horizon", "3", "--model", "nn"}, "--model"},
      {{"--input", in, "--horizon", "3", "--capacity", "x"}, "--capacity"},
      {{"--input", in, "--horizon", "3", "--event", "a,b"}, "--event"},
      {{"--input", testing::TempDir() + "missing.csv", "--horizon", "3"}, "missing.csv"},
      {{"--input", bad, "--horizon", "3"}, "line 3, column 2"},
      {{"--input", in, "--horizon", "3", "--frobnicate"}, "--frobnicate"},
  };
  for (const auto& c : cases) {
    std::string out, err;
    EXPECT_EQ(RunCli(c.args, &out, &err), 2) << c.needle;
    EXPECT_NE(err.find(c.needle), std::string::npos) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  }
}

TEST(SvgPlot, EscapesTextBreaksLinesOnNaNAndSurvivesEmptyData) {
  plot::Chart c;
  c.title = "a<b & \"c\"";
  c.lines.push_back({"l", {0, 1, 2, 3}, {1, NAN, 2, 3}, "#000", 1, false});
  c.bands.push_back({"b", {0, 1}, {0, 0}, {1, 2}, "#00f", 0.2});
  c.hlines.push_back({"cap", 2.5, "#f00", true});
  c.markers.push_back({"evt", 1.5, "#888"});
  const std::string s = plot::RenderSvg(c);
  EXPECT_NE(s.find("a&lt;b &amp; &quot;c&quot;"), std::string::npos);
  // NaN splits the path into two sub-paths (two M commands).
  const auto p = s.find("<path");
  ASSERT_NE(p, std::string::npos);
  const std::string path = s.substr(p, s.find("/>", p) - p);
  EXPECT_EQ(std::count(path.begin(), path.end(), 'M'), 2);
  EXPECT_EQ(s.find("nan"), std::string::npos);
  EXPECT_EQ(s.find("inf"), std::string::npos);
  plot::Chart empty;
  empty.lines.push_back({"x", {0}, {INFINITY}, "#000", 1, false});
  const std::string e = plot::RenderSvg(empty);
  EXPECT_NE(e.find("</svg>"), std::string::npos);
  EXPECT_EQ(e.find("nan"), std::string::npos);
}

}  // namespace
}  // namespace shardcast
