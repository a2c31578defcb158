// ShardSet controller on the real local control plane, issue 12: one path
// for every ownership change (fixture: integration_fixture.h).
#include "integration_fixture.h"

namespace shardcast::testenv::shardset_it {
namespace {

// Test 3 (issue 12): an active pod deleted in a set without
// volumeClaimTemplates is gone with its data. Its ranges are published as
// OwnerGone (DataLost, Warning Event), a warm pod is promoted owning nothing,
// and the routing document does not change until the executor (here the
// test) reassigns them.
TEST_F(ShardSetIT, DeletedActivePodIsReportedAsOwnerGoneAndThePromotedPodOwnsNothing) {
  ApplyExample();
  StartOperator();
  ASSERT_TRUE(WaitConverged(3, 2));
  RoutingView before = Routing();
  std::string victim = before.owners.begin()->second;
  std::string victim_uid;
  for (const auto& p : Pods()) {
    if (p.name == victim) victim_uid = p.uid;
  }
  ASSERT_FALSE(victim_uid.empty());
  std::set<uint32_t> victim_ranges;
  for (const auto& [id, o] : before.owners) {
    if (o == victim) victim_ranges.insert(id);
  }
  auto t_delete = Clock::now();
  auto r = Kubectl({"delete", "pod", victim, "-n", ns_, "--wait=false"});
  ASSERT_TRUE(r.ok()) << r.describe();
  ASSERT_TRUE(WaitFor(
      [&] {
        std::set<uint32_t> gone;
        for (const auto& q : Requests()) {
          if (q.value("reason", "") == "OwnerGone" && q.value("owner", "") == victim) {
            gone.insert(q["range"].get<uint32_t>());
          }
        }
        return gone == victim_ranges;
      },
      30s, "the victim's ranges are published as OwnerGone", 50ms));
  std::cout
      << "[measure] OwnerGone published "
      << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t_delete).count()
      << " ms after `kubectl delete`" << std::endl;
  Json lost = Condition("DataLost");
  EXPECT_EQ(lost.value("status", ""), "True") << lost.dump();
  EXPECT_EQ(lost.value("reason", ""), "OwnerGone");
  EXPECT_NE(lost.value("message", "").find("(" + victim + ")"), std::string::npos) << lost.dump();
  ASSERT_TRUE(WaitFor(
      [&] {
        auto ev = Kubectl({"get", "events", "-n", ns_, "--field-selector",
                           "reason=RangeDataLost,type=Warning", "-o", "name"});
        return ev.ok() && !ev.out.empty();
      },
      30s, "a Warning Event RangeDataLost"));
  // The pool refills (a warm pod promoted, owning nothing); the victim's
  // name is not handed to a new pod while the document names it.
  std::string promoted;
  ASSERT_TRUE(WaitFor(
      [&] {
        int active = 0, warm = 0;
        for (const auto& p : Pods()) {
          if (p.name == victim || !p.ready || p.terminating) continue;
          (p.role == "active" ? active : warm)++;
          if (p.role == "active" && !PerOwner(before.owners).count(p.name)) promoted = p.name;
        }
        return active == 3 && warm == 2;
      },
      90s, "3 active (one promoted) + 2 warm"));
  for (const auto& p : Pods()) EXPECT_NE(p.name, victim) << "the lost owner's name is kept free";
  RoutingView now = Routing();
  EXPECT_EQ(now.epoch, before.epoch) << "the ShardSet controller never rewrites routing";
  EXPECT_EQ(now.owners, before.owners);
  EXPECT_EQ(PerOwner(now.owners).count(promoted), 0u) << promoted << " owns nothing yet";
  Json progressing = Condition("Progressing");
  EXPECT_EQ(progressing.value("reason", ""), "WaitingForMigrationPolicy") << progressing.dump();
  EXPECT_NE(progressing.value("message", "").find("waiting for a MigrationPolicy to move ranges"),
            std::string::npos);

  // The executor's stand-in reassigns the ranges: the requests go, DataLost
  // clears, and the set converges.
  std::map<uint32_t, std::string> moves;
  for (uint32_t id : victim_ranges) moves[id] = promoted;
  ASSERT_TRUE(ApplyMoves(moves));
  ASSERT_TRUE(WaitFor([&] { return Requests().empty(); }, 30s, "the requests disappear"));
  ASSERT_TRUE(WaitConverged(3, 2));
  EXPECT_EQ(Condition("DataLost").value("status", ""), "False");
}

// Test 4 (issue 12): scaling publishes Shedding / ScaleIn requests and
// moves nothing by itself; a scale-in victim goes only once the document
// no longer names it.
TEST_F(ShardSetIT, ScaleUpThenDownPublishesRequestsAndNeverDeletesAnOwner) {
  ApplyExample();
  StartOperator();
  ASSERT_TRUE(WaitConverged(3, 2));
  RoutingView at3 = Routing();
  auto r = Kubectl({"scale", "shardset", "kv", "-n", ns_, "--replicas=5"});
  ASSERT_TRUE(r.ok()) << r.describe();
  ASSERT_TRUE(WaitConverged(5, 2));
  // Bounded load over 5 pods: ceil(1.25 * 64 / 5) = 16; the 3 old owners
  // hold more, the 2 promoted pods nothing. Exactly the excess is requested.
  const size_t bound5 = static_cast<size_t>(std::ceil(1.25 * kRanges / 5));
  size_t excess = 0;
  for (const auto& [pod, n] : PerOwner(at3.owners)) {
    excess += static_cast<size_t>(n) > bound5 ? static_cast<size_t>(n) - bound5 : 0;
  }
  ASSERT_TRUE(WaitFor([&] { return Requests().size() == excess; }, 30s, "Shedding requests"));
  std::map<uint32_t, std::string> moves;
  std::vector<std::string> fresh;
  for (const auto& p : Pods()) {
    if (p.role == "active" && !PerOwner(at3.owners).count(p.name)) fresh.push_back(p.name);
  }
  ASSERT_EQ(fresh.size(), 2u);
  for (const auto& q : Requests()) {
    EXPECT_EQ(q.value("reason", ""), "Shedding") << q.dump();
    moves[q["range"].get<uint32_t>()] = fresh[moves.size() % 2];
  }
  EXPECT_EQ(Routing().owners, at3.owners) << "nothing moved by the ShardSet controller";
  std::cout << "[measure] scale 3->5: " << excess << " of " << kRanges
            << " ranges requested (Shedding)" << std::endl;
  ASSERT_TRUE(ApplyMoves(moves));
  ASSERT_TRUE(WaitFor([&] { return Requests().empty(); }, 30s, "Shedding requests done"));
  RoutingView at5 = Routing();

  r = Kubectl({"scale", "shardset", "kv", "-n", ns_, "--replicas=2"});
  ASSERT_TRUE(r.ok()) << r.describe();
  // The ScaleIn requests name the 3 victims' ranges; nothing is deleted
  // while they are named.
  std::set<std::string> victims;
  ASSERT_TRUE(WaitFor(
      [&] {
        victims.clear();
        size_t n = 0;
        for (const auto& q : Requests()) {
          if (q.value("reason", "") != "ScaleIn") continue;
          victims.insert(q.value("owner", ""));
          ++n;
        }
        size_t want = 0;
        for (const auto& v : victims) want += PerOwner(at5.owners)[v];
        return victims.size() == 3 && n == want;
      },
      30s, "ScaleIn requests for 3 victims"));
  for (const auto& p : Pods()) {
    if (victims.count(p.name)) {
      EXPECT_FALSE(p.terminating) << p.name << " is still named";
    }
  }
  std::vector<std::string> stay;
  for (const auto& [pod, n] : PerOwner(at5.owners)) {
    if (!victims.count(pod)) stay.push_back(pod);
  }
  ASSERT_EQ(stay.size(), 2u);
  moves.clear();
  for (const auto& [id, o] : at5.owners) {
    if (victims.count(o)) moves[id] = stay[moves.size() % 2];
  }
  ASSERT_TRUE(ApplyMoves(moves));
  std::string why;
  ASSERT_TRUE(WaitFor([&] { return Converged(2, 2, &why); }, 120s, "scale-in to 2")) << why;
  EXPECT_TRUE(Requests().empty());
}

// Test 5.
TEST_F(ShardSetIT, OperatorKilledMidScaleUpConvergesAfterRestart) {
  ApplyExample();
  StartOperator();
  ASSERT_TRUE(WaitConverged(3, 2));
  auto r = Kubectl({"scale", "shardset", "kv", "-n", ns_, "--replicas=7"});
  ASSERT_TRUE(r.ok()) << r.describe();
  // Kill the operator as soon as it logs its first step of the scale-up
  // (the first promotion): pods promoted, the pool not refilled.
  const std::string log = op_->log();
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = RunCommand({"grep", "-c", "promoted", log});
        return r.ok() && r.out != "0\n";
      },
      30s, "the scale-up starts", 5ms));
  op_->KillHard();
  std::string why;
  bool early = Converged(7, 2, &why);
  std::cout << "[measure] state when killed: " << (early ? "already converged" : why) << std::endl;
  StartOperator();
  ASSERT_TRUE(WaitConverged(7, 2));
  auto pods = Pods();
  std::set<std::string> names;
  for (const auto& p : pods) EXPECT_TRUE(names.insert(p.name).second) << p.name;
  EXPECT_EQ(pods.size(), 9u);
  for (int i = 0; i < 9; ++i) EXPECT_TRUE(names.count("kv-" + std::to_string(i))) << i;
  RoutingView v = Routing();
  EXPECT_TRUE(v.valid) << v.error;
  EXPECT_EQ(v.owners.size(), static_cast<size_t>(kRanges));
  EXPECT_EQ(PerOwner(v.owners).size(), 3u) << "promoted pods own nothing until the executor acts";
  ASSERT_TRUE(WaitFor([&] { return !Requests().empty(); }, 30s, "Shedding requests"));
  for (const auto& q : Requests()) EXPECT_EQ(q.value("reason", ""), "Shedding") << q.dump();
}

// Test 6 (issue 12): a corrupt routing document is never rebuilt. The
// controller reports Degraded with the command that restores the last good
// copy, requests nothing and deletes nothing meanwhile; running that exact
// command brings the set back.
TEST_F(ShardSetIT, CorruptDocumentIsKeptAndTheReportedCommandRestoresIt) {
  ApplyExample();
  StartOperator();
  ASSERT_TRUE(WaitConverged(3, 2));
  RoutingView good = Routing();
  auto cm = GetJson({"get", "configmap", "kv-routing"});
  ASSERT_TRUE(cm);
  Json doc = Json::parse((*cm)["data"]["routing.json"].get<std::string>());
  doc["ranges"][5]["owner"] = "";
  (*cm)["data"]["routing.json"] = doc.dump();
  auto r = Kubectl({"replace", "-n", ns_, "-f", "-"}, cm->dump());
  ASSERT_TRUE(r.ok()) << r.describe();
  std::string message;
  ASSERT_TRUE(WaitFor(
      [&] {
        Json c = Condition("Degraded");
        message = c.value("message", "");
        return c.value("reason", "") == "RoutingDocumentInvalid";
      },
      30s, "Degraded RoutingDocumentInvalid"));
  EXPECT_NE(message.find("ranges[5].owner"), std::string::npos) << message;
  // While invalid: scale in; no request, no deletion, no rewrite.
  r = Kubectl({"scale", "shardset", "kv", "-n", ns_, "--replicas=2"});
  ASSERT_TRUE(r.ok()) << r.describe();
  ASSERT_TRUE(WaitFor([&] { return Status().value("desiredReplicas", 0) == 2; }, 30s,
                      "the scale is observed"));
  auto changed = WaitFor(
      [&] {
        for (const auto& p : Pods()) {
          if (p.terminating) return true;
        }
        return !Requests().empty();
      },
      5s, "a deletion or a request while the document is invalid", 200ms);
  EXPECT_FALSE(changed);
  auto still = GetJson({"get", "configmap", "kv-routing"});
  ASSERT_TRUE(still);
  EXPECT_EQ((*still)["data"]["routing.json"], doc.dump()) << "never rebuilt";

  // Run the command from the message, exactly.
  const std::string marker = "copy it back with: ";
  auto at = message.find(marker);
  ASSERT_NE(at, std::string::npos) << message;
  std::string command = message.substr(at + marker.size());
  std::string dir = RunCommand({"mktemp", "-d", "/tmp/shardset-restore.XXXX"}).out;
  dir.erase(dir.find_last_not_of("\n") + 1);
  CommandOptions opts;
  opts.env["KUBECONFIG"] = ControlPlane::Shared().kubeconfig_path();
  auto restored = RunCommand({"sh", "-c", "cd " + dir + " && " + command}, opts);
  ASSERT_TRUE(restored.ok()) << command << "\n" << restored.describe();
  ASSERT_TRUE(WaitFor([&] { return Condition("Degraded").value("status", "") == "False"; }, 30s,
                      "Degraded clears"));
  RoutingView back = Routing();
  EXPECT_EQ(back.epoch, good.epoch);
  EXPECT_EQ(back.owners, good.owners);
  ASSERT_TRUE(WaitFor([&] { return !Requests().empty(); }, 30s, "ScaleIn requests once valid"));
  (void)RunCommand({"rm", "-rf", dir});
}

}  // namespace
}  // namespace shardcast::testenv::shardset_it
