#include "router/proxy/source.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>

#include "router/proxy/loads.h"
#include "tests/router/test_docs.h"

namespace shardcast::router::proxy {
namespace {

using kube::ApiResult;
using kube::HttpRequest;
using kube::HttpResponse;
using nlohmann::json;

// Lines pushed by the test; NextLine() blocks until one arrives or cancel().
class QueueStream : public kube::LineStream {
 public:
  explicit QueueStream(std::shared_ptr<struct Lines> lines) : lines_(std::move(lines)) {}
  ApiResult<std::optional<std::string>> NextLine() override;
  void cancel() override;

 private:
  std::shared_ptr<struct Lines> lines_;
};

struct Lines {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> q;
  bool cancelled = false;
  std::vector<std::string> paths;
  void Push(const std::string& line) {
    std::lock_guard lock(mu);
    q.push_back(line);
    cv.notify_all();
  }
};

ApiResult<std::optional<std::string>> QueueStream::NextLine() {
  std::unique_lock lock(lines_->mu);
  lines_->cv.wait(lock, [&] { return lines_->cancelled || !lines_->q.empty(); });
  if (lines_->cancelled) return kube::MakeApiError(kube::ErrorKind::kUnavailable, "cancelled");
  std::string l = lines_->q.front();
  lines_->q.pop_front();
  return std::optional<std::string>(l);
}

void QueueStream::cancel() {
  std::lock_guard lock(lines_->mu);
  lines_->cancelled = true;
  lines_->cv.notify_all();
}

json ConfigMap(const std::string& routing, const std::string& rv) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", "kv-routing"}, {"namespace", "ns"}, {"resourceVersion", rv}}},
          {"data", {{"routing.json", routing}}}};
}

class FakeApi : public kube::Transport {
 public:
  explicit FakeApi(std::shared_ptr<Lines> lines,
                   json answer = ConfigMap(SerializeDocument(testing::EvenDocument(4, 2, 1)), "5"))
      : lines_(std::move(lines)), answer_(std::move(answer)) {}
  ApiResult<HttpResponse> send(const HttpRequest& req) override {
    std::lock_guard lock(lines_->mu);
    lines_->paths.push_back(req.path_and_query);
    return HttpResponse{200, answer_.dump(), ""};
  }
  ApiResult<std::unique_ptr<kube::LineStream>> stream(const HttpRequest& req,
                                                      std::chrono::seconds) override {
    {
      std::lock_guard lock(lines_->mu);
      lines_->paths.push_back(req.path_and_query);
    }
    return std::unique_ptr<kube::LineStream>(new QueueStream(lines_));
  }
  std::string server() const override { return "https://fake"; }

 private:
  std::shared_ptr<Lines> lines_;
  json answer_;
};

template <typename F>
bool WaitFor(F cond) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

std::string Event(const std::string& type, const std::string& routing, const std::string& rv) {
  return json{{"type", type}, {"object", ConfigMap(routing, rv)}}.dump();
}

TEST(ConfigMapSource, FollowsTheWatchAndKeepsTheLastGoodDocument) {
  auto lines = std::make_shared<Lines>();
  auto client = std::make_shared<kube::Client>(std::make_shared<FakeApi>(lines));
  TableHolder holder;
  std::mutex mu;
  std::vector<UpdateOutcome> outcomes;
  ConfigMapSource src("ns", "kv-routing", client, &holder,
                      [&](const UpdateResult& r, const std::string&) {
                        std::lock_guard lock(mu);
                        outcomes.push_back(r.outcome);
                      });
  src.Start();
  ASSERT_TRUE(WaitFor([&] { return holder.Get() && holder.Get()->epoch() == 1; }));
  lines->Push(Event("MODIFIED", SerializeDocument(testing::EvenDocument(4, 3, 2)), "6"));
  ASSERT_TRUE(WaitFor([&] { return holder.Get()->epoch() == 2; }));
  EXPECT_EQ(holder.Get()->at(2).owner, "kv-2");
  lines->Push(Event("MODIFIED", "{\"schemaVersion\": 1}", "7"));
  lines->Push(Event("MODIFIED", SerializeDocument(testing::EvenDocument(4, 2, 1)), "8"));
  ASSERT_TRUE(WaitFor([&] { return holder.ignored() == 1; }));
  EXPECT_EQ(holder.rejected(), 1u);
  EXPECT_EQ(holder.Get()->epoch(), 2u);
  src.Stop();  // cancels the open watch: returns promptly
  std::lock_guard lock(lines->mu);
  ASSERT_GE(lines->paths.size(), 2u);
  EXPECT_EQ(lines->paths[0], "/api/v1/namespaces/ns/configmaps/kv-routing");
  EXPECT_NE(lines->paths[1].find("fieldSelector=metadata.name%3Dkv-routing"), std::string::npos)
      << lines->paths[1];
  EXPECT_NE(lines->paths[1].find("resourceVersion=5"), std::string::npos);
  std::lock_guard lock2(mu);
  EXPECT_EQ(outcomes, (std::vector<UpdateOutcome>{UpdateOutcome::kApplied, UpdateOutcome::kApplied,
                                                  UpdateOutcome::kRejectedInvalid,
                                                  UpdateOutcome::kIgnoredNotNewer}));
}

// The same watch code feeds the load factors from data["loads.json"].
TEST(ConfigMapSource, FeedsLoadFactorsFromTheirKey) {
  auto lines = std::make_shared<Lines>();
  json cm = {{"metadata", {{"name", "kv-routing-loads"}, {"resourceVersion", "3"}}},
             {"data", {{"loads.json", R"({"pods": {"kv-0": 4}})"}}}};
  auto client = std::make_shared<kube::Client>(std::make_shared<FakeApi>(lines, cm));
  LoadFactorsHolder loads;
  std::mutex mu;
  std::vector<std::string> errors;
  ConfigMapSource src(
      "ns", "kv-routing-loads", "loads.json", client,
      [&](const std::string& text) { return loads.Update(text); },
      [&](const UpdateResult& r, const std::string&) {
        std::lock_guard lock(mu);
        errors.push_back(r.error);
      });
  src.Start();
  ASSERT_TRUE(WaitFor([&] { return loads.version() == 1; }));
  EXPECT_EQ(loads.Get(), (LoadFactors{{"kv-0", 4.0}}));
  cm["data"]["loads.json"] = R"({"pods": {"kv-0": "high"}})";
  lines->Push(json{{"type", "MODIFIED"}, {"object", cm}}.dump());
  cm["data"] = json::object();
  lines->Push(json{{"type", "MODIFIED"}, {"object", cm}}.dump());
  cm["data"]["loads.json"] = R"({"pods": {"kv-0": 0.5, "kv-1": 2}})";
  lines->Push(json{{"type", "MODIFIED"}, {"object", cm}}.dump());
  ASSERT_TRUE(WaitFor([&] { return loads.version() == 2; }));
  EXPECT_EQ(loads.Get(), (LoadFactors{{"kv-0", 0.5}, {"kv-1", 2.0}}));
  src.Stop();
  std::lock_guard lock(mu);
  EXPECT_EQ(errors, (std::vector<std::string>{"", "pods[\"kv-0\"]: must be a number",
                                              "data.loads.json: missing", ""}));
  std::lock_guard lock2(lines->mu);
  EXPECT_EQ(lines->paths[0], "/api/v1/namespaces/ns/configmaps/kv-routing-loads");
}

TEST(FileSource, RereadsTheFileWhenItChanges) {
  std::string path = ::testing::TempDir() + "/routing-source-test.json";
  auto write = [&](const std::string& text) {
    std::string tmp = path + ".tmp";
    std::ofstream(tmp) << text;
    std::rename(tmp.c_str(), path.c_str());
  };
  write(SerializeDocument(testing::EvenDocument(4, 2, 3)));
  TableHolder holder;
  FileSource src(
      path, &holder, [](const UpdateResult&, const std::string&) {}, std::chrono::milliseconds(10));
  src.Start();
  ASSERT_TRUE(holder.Get());
  EXPECT_EQ(holder.Get()->epoch(), 3u);
  write("not json");
  ASSERT_TRUE(WaitFor([&] { return holder.rejected() == 1; }));
  write(SerializeDocument(testing::EvenDocument(4, 3, 4)));
  ASSERT_TRUE(WaitFor([&] { return holder.Get()->epoch() == 4; }));
  src.Stop();
  std::remove(path.c_str());
}

}  // namespace
}  // namespace shardcast::router::proxy
