#include "operator/runtime/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>

namespace shardcast::runtime {
namespace {

TEST(MetricsTest, CounterAndGaugeExposition) {
  Registry reg;
  auto c =
      reg.counter("shardcast_reconciles_total", "Reconciles by result.", {"shardset", "result"});
  ASSERT_TRUE(c.ok()) << c.error().message;
  (*c)->with({{"shardset", "ns/a"}, {"result", "ok"}})->inc();
  (*c)->with({{"result", "error"}, {"shardset", "ns/a"}})->inc(2);  // any label order
  (*c)->with({{"shardset", "ns/a"}, {"result", "ok"}})->inc(0.5);
  auto g = reg.gauge("shardcast_queue_depth", "Work queue depth.");
  ASSERT_TRUE(g.ok());
  (*g)->with({})->set(3);

  EXPECT_EQ(reg.render(),
            "# HELP shardcast_queue_depth Work queue depth.\n"
            "# TYPE shardcast_queue_depth gauge\n"
            "shardcast_queue_depth 3\n"
            "# HELP shardcast_reconciles_total Reconciles by result.\n"
            "# TYPE shardcast_reconciles_total counter\n"
            "shardcast_reconciles_total{shardset=\"ns/a\",result=\"error\"} 2\n"
            "shardcast_reconciles_total{shardset=\"ns/a\",result=\"ok\"} 1.5\n");
}

TEST(MetricsTest, UnlabelledFamilyIsAlwaysExportedLabelledOnlyWithChildren) {
  Registry reg;
  ASSERT_TRUE(reg.counter("a_total", "A.").ok());
  ASSERT_TRUE(reg.counter("b_total", "B.", {"x"}).ok());
  EXPECT_EQ(reg.render(), "# HELP a_total A.\n# TYPE a_total counter\na_total 0\n");
}

TEST(MetricsTest, EscapesLabelValuesAndHelp) {
  Registry reg;
  auto g = reg.gauge("weird", "Help with \\ backslash\nand newline \"quotes\" kept.", {"v"});
  ASSERT_TRUE(g.ok());
  (*g)->with({{"v", "a\"b\\c\nd"}})->set(-1.25);
  EXPECT_EQ(reg.render(),
            "# HELP weird Help with \\\\ backslash\\nand newline \"quotes\" kept.\n"
            "# TYPE weird gauge\n"
            "weird{v=\"a\\\"b\\\\c\\nd\"} -1.25\n");
}

TEST(MetricsTest, HistogramBucketsSumAndCount) {
  Registry reg;
  auto h = reg.histogram("shardcast_reconcile_seconds", "Reconcile latency.", {"shardset"},
                         {0.25, 0.5, 1});
  ASSERT_TRUE(h.ok()) << h.error().message;
  auto child = (*h)->with({{"shardset", "ns/a"}});
  child->observe(0.25);  // le is inclusive
  child->observe(0.5);
  child->observe(0.75);
  child->observe(2);
  child->observe(std::numeric_limits<double>::quiet_NaN());  // ignored
  EXPECT_EQ(reg.render(),
            "# HELP shardcast_reconcile_seconds Reconcile latency.\n"
            "# TYPE shardcast_reconcile_seconds histogram\n"
            "shardcast_reconcile_seconds_bucket{shardset=\"ns/a\",le=\"0.25\"} 1\n"
            "shardcast_reconcile_seconds_bucket{shardset=\"ns/a\",le=\"0.5\"} 2\n"
            "shardcast_reconcile_seconds_bucket{shardset=\"ns/a\",le=\"1\"} 3\n"
            "shardcast_reconcile_seconds_bucket{shardset=\"ns/a\",le=\"+Inf\"} 4\n"
            "shardcast_reconcile_seconds_sum{shardset=\"ns/a\"} 3.5\n"
            "shardcast_reconcile_seconds_count{shardset=\"ns/a\"} 4\n");
}

TEST(MetricsTest, UnlabelledHistogramWithDefaultBuckets) {
  Registry reg;
  auto h = reg.histogram("lat", "L.", {});
  ASSERT_TRUE(h.ok());
  (*h)->with({})->observe(0.003);
  const std::string out = reg.render();
  EXPECT_NE(out.find("lat_bucket{le=\"0.005\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("lat_bucket{le=\"10\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("lat_bucket{le=\"+Inf\"} 1\nlat_sum 0.003\nlat_count 1\n"), std::string::npos)
      << out;
}

TEST(MetricsTest, RemoveLabelSetAndRemoveMatching) {
  Registry reg;
  auto c = reg.counter("moves_total", "Moves.", {"shardset", "pod"}).value();
  auto g = reg.gauge("pods", "Pods.", {"shardset"}).value();
  c->with({{"shardset", "ns/a"}, {"pod", "a-0"}})->inc();
  c->with({{"shardset", "ns/a"}, {"pod", "a-1"}})->inc();
  c->with({{"shardset", "ns/b"}, {"pod", "b-0"}})->inc();
  g->with({{"shardset", "ns/a"}})->set(2);
  g->with({{"shardset", "ns/b"}})->set(1);

  EXPECT_TRUE(c->remove({{"pod", "a-1"}, {"shardset", "ns/a"}}));
  EXPECT_FALSE(c->remove({{"pod", "a-1"}, {"shardset", "ns/a"}}));
  EXPECT_EQ(reg.RemoveMatching({{"shardset", "ns/a"}}), 2u);
  EXPECT_EQ(reg.render(),
            "# HELP moves_total Moves.\n"
            "# TYPE moves_total counter\n"
            "moves_total{shardset=\"ns/b\",pod=\"b-0\"} 1\n"
            "# HELP pods Pods.\n"
            "# TYPE pods gauge\n"
            "pods{shardset=\"ns/b\"} 1\n");
  // Re-creating after removal starts from zero.
  EXPECT_EQ(c->with({{"shardset", "ns/a"}, {"pod", "a-0"}})->value(), 0);
}

TEST(MetricsTest, LabelMismatchIsAnErrorNotACrash) {
  Registry reg;
  auto c = reg.counter("x_total", "X.", {"shardset"}).value();
  auto r = c->TryWith({{"shardsett", "a"}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("shardsett"), std::string::npos) << r.error().message;
  auto missing = c->TryWith({});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("missing label \"shardset\""), std::string::npos);
  auto twice = c->TryWith({{"shardset", "a"}, {"shardset", "b"}});
  ASSERT_FALSE(twice.ok());

  c->with({{"bogus", "a"}})->inc(5);  // detached child: counted as an error, not exported
  EXPECT_EQ(reg.label_errors(), 1u);
  EXPECT_EQ(reg.render(), "");
}

TEST(MetricsTest, RegistrationErrorsNameTheField) {
  Registry reg;
  auto expect_err = [](const auto& r, const std::string& needle) {
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
  };
  expect_err(reg.counter("1abc", "h"), "metric name \"1abc\"");
  expect_err(reg.counter("a-b", "h"), "metric name");
  expect_err(reg.counter("ok_total", "h", {"__reserved"}), "label name \"__reserved\"");
  expect_err(reg.counter("ok_total", "h", {"bad-label"}), "label name \"bad-label\"");
  expect_err(reg.counter("ok_total", "h", {"a", "a"}), "repeated");
  expect_err(reg.histogram("h1", "h", {"le"}), "\"le\" is reserved");
  expect_err(reg.histogram("h2", "h", {}, {1, 1}), "strictly increasing");
  expect_err(reg.histogram("h3", "h", {}, {std::nan("")}), "buckets[0]");
  expect_err(reg.histogram("h4", "h", {}, {2, 1}), "buckets[1]");

  auto a = reg.counter("dup_total", "h", {"x"});
  auto b = reg.counter("dup_total", "h", {"x"});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);  // identical registration returns the same family
  expect_err(reg.gauge("dup_total", "h", {"x"}), "already registered");
  expect_err(reg.counter("dup_total", "other help", {"x"}), "already registered");

  ASSERT_TRUE(reg.histogram("lat", "h", {}).ok());
  expect_err(reg.counter("lat_count", "h"), "conflicts");
  // A trailing +Inf bucket is accepted and implied.
  EXPECT_TRUE(reg.histogram("inf", "h", {}, {1, std::numeric_limits<double>::infinity()}).ok());
}

TEST(MetricsTest, CounterIgnoresNegativeIncrements) {
  Counter c;
  c.inc(2);
  c.inc(-1);
  c.inc(std::nan(""));
  EXPECT_EQ(c.value(), 2);
}

TEST(MetricsTest, FormatValue) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(42), "42");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(-2.5), "-2.5");
  EXPECT_EQ(FormatValue(1e-9), "1e-09");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
}

TEST(MetricsTest, ExponentialBuckets) {
  auto b = ExponentialBuckets(0.001, 2, 4);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, (std::vector<double>{0.001, 0.002, 0.004, 0.008}));
  EXPECT_FALSE(ExponentialBuckets(0, 2, 4).ok());
  EXPECT_FALSE(ExponentialBuckets(1, 1, 4).ok());
  EXPECT_FALSE(ExponentialBuckets(1, 2, 0).ok());
}

TEST(MetricsTest, ConcurrentUpdatesAreExact) {
  Registry reg;
  auto c = reg.counter("c_total", "C.", {"t"}).value();
  auto h = reg.histogram("h", "H.", {"t"}, {1}).value();
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i) {
    ts.emplace_back([&] {
      for (int j = 0; j < 10000; ++j) {
        c->with({{"t", "x"}})->inc();
        h->with({{"t", "x"}})->observe(0.5);
        if (j % 1000 == 0) (void)reg.render();  // render concurrently with updates
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(c->with({{"t", "x"}})->value(), 40000);
  const auto s = h->with({{"t", "x"}})->snapshot();
  EXPECT_EQ(s.count, 40000u);
  EXPECT_EQ(s.cumulative.front(), 40000u);
  EXPECT_EQ(s.sum, 20000);
}

}  // namespace
}  // namespace shardcast::runtime
