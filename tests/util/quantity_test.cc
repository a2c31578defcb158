#include "util/quantity.h"

#include <gtest/gtest.h>

namespace shardcast::util {
namespace {

TEST(Quantity, CpuSuffixes) {
  EXPECT_DOUBLE_EQ(ParseCpuMillis("300m", "cpu").value(), 300);
  EXPECT_DOUBLE_EQ(ParseCpuMillis("1", "cpu").value(), 1000);
  EXPECT_DOUBLE_EQ(ParseCpuMillis("0.5", "cpu").value(), 500);
  EXPECT_DOUBLE_EQ(ParseCpuMillis("250000u", "cpu").value(), 250);
  EXPECT_NEAR(ParseCpuMillis("1500000n", "cpu").value(), 1.5, 1e-9);
  EXPECT_NEAR(ParseCpuMillis("299873312n", "cpu").value(), 299.873312, 1e-6);
  EXPECT_DOUBLE_EQ(ParseCpuMillis("2e3", "cpu").value(), 2e6);
  EXPECT_DOUBLE_EQ(ParseCpuMillis("0", "cpu").value(), 0);
}

TEST(Quantity, PodMetricsCpu) {  // moved from the MigrationPolicy controller's own parser
  EXPECT_DOUBLE_EQ(*ParseCpuMillis("250m", "cpu"), 250);
  EXPECT_DOUBLE_EQ(*ParseCpuMillis("1", "cpu"), 1000);
  EXPECT_DOUBLE_EQ(*ParseCpuMillis("1500000n", "cpu"), 1.5);
  EXPECT_FALSE(ParseCpuMillis("lots", "cpu"));
}

TEST(Quantity, MetricsServerQuantities) {  // moved from the control-plane smoke test's own parser
  EXPECT_EQ(*ParseCpuMillis("250m", "cpu"), 250);
  EXPECT_NEAR(*ParseCpuMillis("251234567n", "cpu"), 251.234567, 1e-6);
  EXPECT_EQ(*ParseCpuMillis("2", "cpu"), 2000);
  EXPECT_FALSE(ParseCpuMillis("abc", "cpu"));
  EXPECT_EQ(*ParseBytes("64Mi", "memory"), 64.0 * 1024 * 1024);
  EXPECT_EQ(*ParseBytes("65536Ki", "memory"), 64.0 * 1024 * 1024);
  EXPECT_FALSE(ParseBytes("12Xi", "memory"));
}

TEST(Quantity, MemorySuffixes) {
  EXPECT_DOUBLE_EQ(ParseBytes("128Mi", "memory").value(), 128.0 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(ParseBytes("1Gi", "memory").value(), 1073741824.0);
  EXPECT_DOUBLE_EQ(ParseBytes("4Ki", "memory").value(), 4096);
  EXPECT_DOUBLE_EQ(ParseBytes("1.5G", "memory").value(), 1.5e9);
  EXPECT_DOUBLE_EQ(ParseBytes("12k", "memory").value(), 12000);
  EXPECT_DOUBLE_EQ(ParseBytes("1Ti", "memory").value(), 1099511627776.0);
  EXPECT_DOUBLE_EQ(ParseBytes("1000", "memory").value(), 1000);
}

TEST(Quantity, GarbageIsAnErrorNamingTheField) {
  for (const char* bad : {"", "abc", "12x", "--1", "1.2.3", "m", "1e", "1e9999", "1Zi", ".", "1 m",
                          "0x10", "1e+", "NaN", "Inf"}) {
    auto r = ParseCpuMillis(bad, "containers[0].usage.cpu");
    ASSERT_FALSE(r) << "'" << bad << "' parsed as " << r.value();
    EXPECT_NE(r.error().message.find("containers[0].usage.cpu"), std::string::npos)
        << r.error().message;
  }
  auto neg = ParseCpuMillis("-5m", "cpu");
  ASSERT_FALSE(neg);
  EXPECT_NE(neg.error().message.find("negative"), std::string::npos);
  EXPECT_FALSE(ParseBytes("-1Mi", "mem"));
  EXPECT_FALSE(ParseQuantity(std::string(100, '9'), "q"));
}

}  // namespace
}  // namespace shardcast::util
