// The manager hands out one informer per resource and one clock.
#include "operator/manager/manager.h"

#include <gtest/gtest.h>

#include <atomic>

#include "tests/support/fake_transport.h"

namespace shardcast::manager {
namespace {

const kube::Resource kPods{"", "v1", "pods", "Pod", true};

ManagerOptions Quiet() {
  ManagerOptions o;
  o.metrics_address = "";
  o.health_address = "";
  return o;
}

TEST(ManagerInformer, SameOptionsShareOneInformer) {
  Manager mgr(std::make_shared<kube::Client>(std::make_shared<testing::FakeTransport>()), Quiet());
  kube::InformerOptions o;
  o.label_selector = "app";
  o.transform = kube::PrunePodForCache;
  kube::Informer& a = mgr.informer(kPods, o);
  kube::Informer& b = mgr.informer(kPods, o);
  EXPECT_EQ(&a, &b);
  EXPECT_TRUE(mgr.informer_errors().empty());
}

TEST(ManagerInformer, DifferentOptionsAreAnErrorNotASilentChoice) {
  Manager mgr(std::make_shared<kube::Client>(std::make_shared<testing::FakeTransport>()), Quiet());
  kube::InformerOptions pruned;
  pruned.label_selector = "app";
  pruned.transform = kube::PrunePodForCache;
  pruned.list_prune = kube::PodCacheListPrune();
  mgr.informer(kPods, pruned);
  kube::InformerOptions plain;
  plain.label_selector = "app";  // same selector, no pruning
  mgr.informer(kPods, plain);
  ASSERT_EQ(mgr.informer_errors().size(), 1u);
  EXPECT_NE(mgr.informer_errors()[0].find("pods"), std::string::npos) << mgr.informer_errors()[0];
  kube::InformerOptions other = pruned;
  other.label_selector = "tier";
  mgr.informer(kPods, other);
  EXPECT_EQ(mgr.informer_errors().size(), 2u);
  std::atomic<bool> stop{true};
  auto r = mgr.run(stop);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("different options"), std::string::npos) << r.error().message;
}

TEST(ManagerClock, DomainTimeIsTheWallTimeOfTheOneClock) {
  ManagerOptions o = Quiet();
  const double real =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  o.domain_time = DomainTime{60, 1e9, real};  // a minute per second, from 2001-09-09
  Manager mgr(std::make_shared<kube::Client>(std::make_shared<testing::FakeTransport>()), o);
  EXPECT_DOUBLE_EQ(mgr.time_scale(), 60);
  const double domain =
      std::chrono::duration<double>(mgr.clock().SystemNow().time_since_epoch()).count();
  EXPECT_GE(domain, 1e9);
  EXPECT_LT(domain, 1e9 + 60 * 60);  // less than a real minute has passed
  Manager plain(std::make_shared<kube::Client>(std::make_shared<testing::FakeTransport>()),
                Quiet());
  EXPECT_DOUBLE_EQ(plain.time_scale(), 1);
  EXPECT_GT(std::chrono::duration<double>(plain.clock().SystemNow().time_since_epoch()).count(),
            real - 1);
}

// A real timestamp (a PodMetrics sample's) maps onto the domain clock as its
// wall time does: 10 real seconds before the anchor are 10 domain minutes
// before the origin at 60x.
TEST(ManagerClock, RealTimesMapOntoTheDomainClock) {
  const DomainTime t{60, 1e9, 2e9};
  EXPECT_DOUBLE_EQ(t.ToDomain(2e9), 1e9);
  EXPECT_DOUBLE_EQ(t.ToDomain(2e9 - 10), 1e9 - 600);
  EXPECT_DOUBLE_EQ(t.ToDomain(2e9 + 1), 1e9 + 60);
}

}  // namespace
}  // namespace shardcast::manager
