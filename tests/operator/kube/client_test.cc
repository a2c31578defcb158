// Pure parts of the client: paths, query strings, watch-event decoding and
// line splitting, list pruning. Behaviour against a server is in the
// integration tests.
#include "operator/kube/client.h"

#include <gtest/gtest.h>

#include "operator/kube/informer.h"

namespace shardcast::kube {
namespace {

// A transport that answers every GET with one canned list body.
class CannedList : public Transport {
 public:
  explicit CannedList(std::string body) : body_(std::move(body)) {}
  ApiResult<HttpResponse> send(const HttpRequest&) override { return HttpResponse{200, body_, ""}; }
  ApiResult<std::unique_ptr<LineStream>> stream(const HttpRequest&, std::chrono::seconds) override {
    return MakeApiError(ErrorKind::kUnavailable, "no streams");
  }
  std::string server() const override { return "https://canned"; }

 private:
  std::string body_;
};

TEST(ClientListTest, ItemsArePrunedWhileParsed) {
  const std::string body =
      R"({"kind":"PodList","metadata":{"resourceVersion":"42","managedFields":"list-level, kept"},
    "items":[
      {"metadata":{"name":"a","managedFields":[{"manager":"x"}],"labels":{"l":"1"}},
       "spec":{"nodeName":"n1","containers":[{"name":"c","image":"i"}],"volumes":[]},
       "status":{"phase":"Running","podIP":"10.0.0.1","containerStatuses":[{"name":"c"}],
                 "conditions":[{"type":"Ready","status":"True"}]}},
      {"metadata":{"name":"b"},"spec":{"containers":[]},"status":{"phase":"Pending"}}]})";
  Client c(std::make_shared<CannedList>(body));
  ListOptions o;
  o.prune.drop_managed_fields = true;
  o.prune.keep_spec = std::set<std::string>{"nodeName"};
  o.prune.keep_status = std::set<std::string>{"phase", "podIP", "conditions"};
  auto l = c.ListAll(resources::kPods, "ns", o);
  ASSERT_TRUE(l) << l.error().to_string();
  ASSERT_EQ(l->items.size(), 2u);
  EXPECT_EQ(l->resource_version, "42");
  const Json& a = l->items[0];
  EXPECT_FALSE(a["metadata"].contains("managedFields"));
  EXPECT_EQ(a["metadata"]["labels"]["l"], "1");
  EXPECT_EQ(a["spec"], Json({{"nodeName", "n1"}}));
  EXPECT_EQ(a["status"]["phase"], "Running");
  EXPECT_EQ(a["status"]["podIP"], "10.0.0.1");
  EXPECT_FALSE(a["status"].contains("containerStatuses"));
  EXPECT_EQ(a["status"]["conditions"][0]["type"], "Ready");
  EXPECT_EQ(l->items[1]["spec"], Json::object());
  // Without pruning everything stays.
  auto full = c.list(resources::kPods, "ns", ListOptions{});
  ASSERT_TRUE(full);
  EXPECT_TRUE((*full)["items"][0]["spec"].contains("containers"));
  EXPECT_TRUE((*full)["items"][0]["metadata"].contains("managedFields"));
  // The same selection as the informer's transform.
  Json pod = (*full)["items"][0];
  PrunePodForCache(pod);
  pod["metadata"].erase("managedFields");
  EXPECT_EQ(pod, a);
}

TEST(ClientPathTest, CoreAndGroupPaths) {
  EXPECT_EQ(Client::Path(resources::kPods, "ns"), "/api/v1/namespaces/ns/pods");
  EXPECT_EQ(Client::Path(resources::kPods, "ns", "p", "status"),
            "/api/v1/namespaces/ns/pods/p/status");
  EXPECT_EQ(Client::Path(resources::kPods, ""), "/api/v1/pods");
  EXPECT_EQ(Client::Path(resources::kNodes, "ignored", "n1"), "/api/v1/nodes/n1");
  EXPECT_EQ(Client::Path(resources::kLeases, "kube-system", "l"),
            "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l");
}

TEST(ClientPathTest, QueryStringEncodes) {
  EXPECT_EQ(QueryString({}), "");
  EXPECT_EQ(QueryString({{"labelSelector", "a=b,c in (d)"}, {"limit", "5"}}),
            "?labelSelector=a%3Db%2Cc%20in%20%28d%29&limit=5");
}

TEST(WatchEventTest, ParsesTypes) {
  auto a = ParseWatchEvent(R"({"type":"ADDED","object":{"metadata":{"name":"x"}}})");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->type, WatchEventType::kAdded);
  EXPECT_EQ(a->object["metadata"]["name"], "x");
  auto b = ParseWatchEvent(R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}})");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->type, WatchEventType::kBookmark);
}

TEST(WatchEventTest, ErrorEventWith410IsGone) {
  auto e = ParseWatchEvent(
      R"json({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old resource version: 1 (2)"}})json");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().kind, ErrorKind::kGone);
}

TEST(WatchEventTest, GarbageIsDecodeError) {
  for (const char* line : {"", "{", "[]", R"({"type":"ADDED"})", R"({"type":1,"object":{}})",
                           R"({"type":"WAT","object":{}})", R"({"type":"ADDED","object":[]})"}) {
    auto e = ParseWatchEvent(line);
    ASSERT_FALSE(e) << line;
    EXPECT_EQ(e.error().kind, ErrorKind::kDecode) << line;
  }
}

TEST(LineSplitterTest, SplitsAcrossChunksWithoutPadding) {
  LineSplitter s;
  auto feed = [&s](const std::string& chunk) { s.feed(chunk.data(), chunk.size()); };
  feed("{\"a\":");
  EXPECT_FALSE(s.pop());
  feed("1}\n{\"b\":2}\r\n{\"c\"");
  EXPECT_EQ(s.pop(), std::optional<std::string>("{\"a\":1}"));
  EXPECT_EQ(s.pop(), std::optional<std::string>("{\"b\":2}"));
  EXPECT_FALSE(s.pop());
  EXPECT_TRUE(s.has_partial());
  feed(":3}\n");
  auto last = s.pop();
  ASSERT_TRUE(last);
  EXPECT_EQ(*last, "{\"c\":3}");
  EXPECT_EQ(last->find('\0'), std::string::npos);
}

}  // namespace
}  // namespace shardcast::kube
