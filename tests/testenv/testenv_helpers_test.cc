// Unit tests of the fixture helpers (RunCommand, WaitFor); no cluster needed.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

#include "tests/testenv/controlplane.h"

namespace shardcast::testenv {
namespace {

using namespace std::chrono_literals;

TEST(RunCommand, CapturesStdoutStderrAndExitCode) {
  auto r = RunCommand({"bash", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.timed_out);
}

TEST(RunCommand, PassesStdinAndEnvironment) {
  CommandOptions o;
  o.stdin_data = std::string(200000, 'x');  // larger than a pipe buffer
  o.env["TESTENV_PROBE"] = "hello";
  auto r = RunCommand({"bash", "-c", "printf '%s ' \"$TESTENV_PROBE\"; wc -c | tr -d ' '"}, o);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.out, "hello 200000\n");
}

TEST(RunCommand, KillsOnTimeout) {
  CommandOptions o;
  o.timeout = 300ms;
  auto start = std::chrono::steady_clock::now();
  auto r = RunCommand({"bash", "-c", "exec sleep 30"}, o);
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

TEST(RunCommand, PassthroughKeepsExitCodeAndTimeout) {
  CommandOptions o;
  o.passthrough = true;
  auto r = RunCommand({"bash", "-c", "echo visible-progress >&2; exit 4"}, o);
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_TRUE(r.out.empty());
  o.timeout = 300ms;
  auto slow = RunCommand({"bash", "-c", "exec sleep 30"}, o);
  EXPECT_TRUE(slow.timed_out);
}

TEST(RunCommand, MissingBinaryFails) {
  auto r = RunCommand({"/nonexistent/shardcast-binary"});
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_NE(r.err.find("exec failed"), std::string::npos);
}

TEST(WaitFor, SucceedsOnceThePredicateHolds) {
  std::atomic<int> calls{0};
  EXPECT_TRUE(WaitFor([&] { return ++calls >= 3; }, 5s, "three calls", 1ms));
  EXPECT_EQ(calls.load(), 3);
}

TEST(WaitFor, TimesOutNamingTheCondition) {
  auto r = WaitFor([] { return false; }, 50ms, "the impossible", 5ms);
  EXPECT_FALSE(r);
  EXPECT_NE(std::string(r.message()).find("the impossible"), std::string::npos);
}

}  // namespace
}  // namespace shardcast::testenv
