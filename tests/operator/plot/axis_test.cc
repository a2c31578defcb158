#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "operator/plot/svg_plot.h"

namespace shardcast::plot {
namespace {

std::vector<std::string> Labels(const std::vector<Tick>& ticks) {
  std::vector<std::string> out;
  for (const Tick& t : ticks) out.push_back(t.label);
  return out;
}

TEST(ValueTicksTest, ThousandsReadAsKNeverExponents) {
  auto t = ValueTicks(21000, 52000, 7);
  EXPECT_EQ(Labels(t), (std::vector<std::string>{"25k", "30k", "35k", "40k", "45k", "50k"}));
  for (const Tick& k : ValueTicks(-1e9, 9e9, 7)) {
    EXPECT_EQ(k.label.find('e'), std::string::npos) << k.label;
  }
  EXPECT_EQ(Labels(ValueTicks(0, 3e6, 4)), (std::vector<std::string>{"0", "1M", "2M", "3M"}));
  EXPECT_EQ(Labels(ValueTicks(0, 5e9, 6)),
            (std::vector<std::string>{"0", "1G", "2G", "3G", "4G", "5G"}));
}

TEST(ValueTicksTest, SmallNumbersKeepTheDecimalsTheStepNeeds) {
  EXPECT_EQ(Labels(ValueTicks(0, 1, 5)), (std::vector<std::string>{"0.0", "0.5", "1.0"}));
  EXPECT_EQ(Labels(ValueTicks(0, 1, 6)),
            (std::vector<std::string>{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"}));
  EXPECT_EQ(Labels(ValueTicks(1000, 9000, 5)),
            (std::vector<std::string>{"2,000", "4,000", "6,000", "8,000"}));
  EXPECT_EQ(Labels(ValueTicks(-10, 10, 5)),
            (std::vector<std::string>{"-10", "-5", "0", "5", "10"}));
  EXPECT_EQ(FormatAxisValue(2500, 500, 9000), "2,500");
  EXPECT_EQ(FormatAxisValue(12500, 2500, 40000), "12.5k");
  EXPECT_EQ(FormatAxisValue(0.25, 0.05, 1), "0.25");
  EXPECT_EQ(FormatAxisValue(-1e-12, 0.5, 1), "0.0") << "no negative zero";
}

TEST(ValueTicksTest, NeverMoreThanAskedAndAllInside) {
  for (double hi : {1.0, 7.3, 99.0, 1234.0, 35000.0, 9.9e7}) {
    for (int n : {3, 5, 7, 10}) {
      auto t = ValueTicks(0, hi, n);
      ASSERT_FALSE(t.empty()) << hi;
      EXPECT_LE(static_cast<int>(t.size()), n) << hi << " " << n;
      EXPECT_GE(t.size(), 2u) << hi << " " << n;
      for (const Tick& k : t) {
        EXPECT_GE(k.value, 0);
        EXPECT_LE(k.value, hi * (1 + 1e-12));
      }
    }
  }
  EXPECT_TRUE(ValueTicks(5, 1, 5).empty());
}

constexpr double kMon = 1764547200;  // 2025-12-01T00:00:00Z, a Monday

TEST(TimeTicksTest, RoundStepsAlignedToUtc) {
  // 10:07..16:53 on one day: hourly ticks on the hour.
  auto t = TimeTicks(kMon + 10 * 3600 + 7 * 60 + 13, kMon + 16 * 3600 + 53 * 60, 8);
  EXPECT_EQ(Labels(t),
            (std::vector<std::string>{"11:00", "12:00", "13:00", "14:00", "15:00", "16:00"}));
  // Two days: six-hourly ticks, midnight labelled with the date.
  t = TimeTicks(kMon + 3 * 3600 + 17, kMon + 2 * 86400 + 3600, 8);
  EXPECT_EQ(Labels(t), (std::vector<std::string>{"06:00", "12:00", "18:00", "Dec 02", "06:00",
                                                 "12:00", "18:00", "Dec 03"}));
  // Ninety minutes: quarter hours.
  t = TimeTicks(kMon + 600, kMon + 6000, 8);
  EXPECT_EQ(Labels(t),
            (std::vector<std::string>{"00:15", "00:30", "00:45", "01:00", "01:15", "01:30"}));
  for (const Tick& k : t) EXPECT_EQ(static_cast<long long>(k.value) % 900, 0);
}

TEST(TimeTicksTest, DaysAndWeeks) {
  auto t = TimeTicks(kMon - 3600, kMon + 5 * 86400, 8);
  EXPECT_EQ(Labels(t),
            (std::vector<std::string>{"Dec 01", "Dec 02", "Dec 03", "Dec 04", "Dec 05", "Dec 06"}));
  // Ten weeks: weekly ticks, on Mondays.
  t = TimeTicks(kMon - 3 * 86400, kMon + 70 * 86400, 12);
  ASSERT_GE(t.size(), 10u);
  for (const Tick& k : t) {
    EXPECT_EQ(static_cast<long long>(k.value - kMon) % (7 * 86400), 0) << k.label;
  }
  EXPECT_EQ(t.front().label, "Dec 01");
  EXPECT_LE(t.size(), 12u);
}

TEST(HistoryWindowTest, ShowsAFewSeasonsAndKeepsTheForecastReadable) {
  // Ten weeks of half-hourly data, daily and weekly seasons, a two-day horizon.
  const std::size_t ten_weeks = 10 * 7 * 48;
  EXPECT_EQ(DefaultHistoryWindow(ten_weeks, 96, {48, 336}), 192u);  // four days
  // A daily season with a short horizon: three seasons, capped at four horizons
  // unless one season needs more.
  EXPECT_EQ(DefaultHistoryWindow(ten_weeks, 24, {48}), 96u);
  EXPECT_EQ(DefaultHistoryWindow(ten_weeks, 6, {48}), 48u);
  // No season: two horizons.
  EXPECT_EQ(DefaultHistoryWindow(ten_weeks, 50, {}), 100u);
  // Never more than there is.
  EXPECT_EQ(DefaultHistoryWindow(30, 96, {48}), 30u);
  EXPECT_EQ(DefaultHistoryWindow(0, 96, {48}), 0u);
}

TEST(RenderSvgTest, TimeAxisAndValueAxisUseTheReadableTicks) {
  Chart c;
  c.x_is_unix_time = true;
  Line l;
  for (int i = 0; i < 96; ++i) {
    l.x.push_back(kMon + i * 1800.0);
    l.y.push_back(20000 + 150.0 * i);
  }
  c.lines.push_back(l);
  const std::string svg = RenderSvg(c);
  EXPECT_EQ(svg.find("e+0"), std::string::npos);
  EXPECT_NE(svg.find(">25k<"), std::string::npos) << svg.substr(0, 2000);
  EXPECT_NE(svg.find(">Dec 02<"), std::string::npos);
  EXPECT_NE(svg.find(">12:00<"), std::string::npos);
}

}  // namespace
}  // namespace shardcast::plot
