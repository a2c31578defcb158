#include "operator/runtime/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <stdexcept>

namespace shardcast::runtime {
namespace {

using namespace std::chrono_literals;

struct Reply {
  int status = 0;
  std::string head;
  std::string body;
};

int ConnectLoopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  timeval tv{5, 0};  // a hung server fails the test instead of hanging it
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends a raw request and reads the reply until the server closes.
Reply RawRequest(std::uint16_t port, const std::string& request) {
  Reply r;
  const int fd = ConnectLoopback(port);
  if (fd < 0) return r;
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string data;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  const auto sep = data.find("\r\n\r\n");
  if (sep == std::string::npos || data.compare(0, 9, "HTTP/1.1 ") != 0) return r;
  r.status = std::stoi(data.substr(9, 3));
  r.head = data.substr(0, sep);
  r.body = data.substr(sep + 4);
  return r;
}

Reply get(std::uint16_t port, const std::string& path, const std::string& method = "GET") {
  return RawRequest(port, method + " " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = registry_.counter("shardcast_test_total", "Test counter.", {"shardset"});
    ASSERT_TRUE(c.ok());
    (*c)->with({{"shardset", "ns/a"}})->inc(3);
    server_ = std::make_unique<HttpServer>(
        HttpServerOptions{.address = "127.0.0.1:0", .io_timeout = 2s}, &registry_, [this] {
          if (throw_.load()) throw std::runtime_error("boom");
          return ready_.load() ? ReadyStatus{true, ""} : ReadyStatus{false, "informers not synced"};
        });
    auto r = server_->start();
    ASSERT_TRUE(r.ok()) << r.error().message;
    port_ = server_->port();
    ASSERT_NE(port_, 0);
  }
  void TearDown() override {
    if (server_) server_->stop();
  }

  Registry registry_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> throw_{false};
  std::unique_ptr<HttpServer> server_;
  std::uint16_t port_ = 0;
};

TEST_F(HttpServerTest, ServesMetrics) {
  auto r = get(port_, "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.head.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << r.head;
  EXPECT_EQ(r.body, registry_.render());
  EXPECT_NE(r.body.find("shardcast_test_total{shardset=\"ns/a\"} 3\n"), std::string::npos);
  // Query strings are ignored for routing.
  EXPECT_EQ(get(port_, "/metrics?x=1").status, 200);
}

TEST_F(HttpServerTest, HealthzIsOkUntilShutdown) {
  auto r = get(port_, "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
  server_->BeginShutdown();
  EXPECT_EQ(get(port_, "/healthz").status, 503);
  EXPECT_EQ(get(port_, "/readyz").status, 503);
  EXPECT_EQ(get(port_, "/metrics").status, 200);  // still scrapeable while stopping
}

TEST_F(HttpServerTest, ReadyzFollowsTheCallback) {
  auto r = get(port_, "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "not ready: informers not synced\n");
  ready_ = true;
  EXPECT_EQ(get(port_, "/readyz").status, 200);
  ready_ = false;
  EXPECT_EQ(get(port_, "/readyz").status, 503);
  throw_ = true;  // a throwing callback is a 500, not a crash
  EXPECT_EQ(get(port_, "/readyz").status, 500);
}

TEST_F(HttpServerTest, UnknownPathMethodAndGarbage) {
  EXPECT_EQ(get(port_, "/nope").status, 404);
  auto post = get(port_, "/metrics", "POST");
  EXPECT_EQ(post.status, 405);
  EXPECT_NE(post.head.find("Allow: GET, HEAD"), std::string::npos);
  auto head = get(port_, "/healthz", "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  EXPECT_NE(head.head.find("Content-Length: 3"), std::string::npos);
  EXPECT_EQ(RawRequest(port_, "garbage\r\n\r\n").status, 400);
  EXPECT_EQ(RawRequest(port_, "GET /" + std::string(20000, 'a') + " HTTP/1.1\r\n").status, 431);
}

TEST_F(HttpServerTest, PostWithBodyGets405NotAReset) {
  const std::string body(200000, 'x');  // larger than socket buffers
  auto r = RawRequest(port_, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                 std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_EQ(r.status, 405);
}

TEST_F(HttpServerTest, StalledClientGetsTimeoutAndDoesNotBlockOthers) {
  const int stalled = ConnectLoopback(port_);
  ASSERT_GE(stalled, 0);
  ::send(stalled, "GET /metr", 9, MSG_NOSIGNAL);  // never finishes the request
  EXPECT_EQ(get(port_, "/healthz").status, 200);  // served meanwhile
  char buf[256];
  const ssize_t n = ::recv(stalled, buf, sizeof(buf), 0);  // waits for io_timeout (2 s)
  ASSERT_GT(n, 12);
  EXPECT_EQ(std::string(buf, 12), "HTTP/1.1 408");
  ::close(stalled);
}

TEST_F(HttpServerTest, StopIsPromptWithOpenConnectionsAndIdempotent) {
  const int idle = ConnectLoopback(port_);
  ASSERT_GE(idle, 0);
  const auto start = std::chrono::steady_clock::now();
  server_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);  // not the 2 s io_timeout
  server_->stop();
  ::close(idle);
  EXPECT_LT(ConnectLoopback(port_), 0);  // nothing listens any more
}

TEST(HttpServerConfigTest, BadAddressesNameTheField) {
  for (const std::string addr :
       {"nonsense", "127.0.0.1:99999", "127.0.0.1:", "1.2.3.4:80x", "::1:80", "[::1"}) {
    HttpServer s({.address = addr}, nullptr, {});
    auto r = s.start();
    ASSERT_FALSE(r.ok()) << addr;
    EXPECT_NE(r.error().message.find("address"), std::string::npos) << r.error().message;
  }
  auto p = ParseListenAddress(":8080");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->host, "");
  EXPECT_EQ(p->port, 8080);
  auto v6 = ParseListenAddress("[::1]:0");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
}

TEST(HttpServerConfigTest, PortInUseIsAnError) {
  HttpServer a({.address = "127.0.0.1:0"}, nullptr, {});
  ASSERT_TRUE(a.start().ok());
  HttpServer b({.address = "127.0.0.1:" + std::to_string(a.port())}, nullptr, {});
  auto r = b.start();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("bind"), std::string::npos) << r.error().message;
}

TEST(HttpServerConfigTest, AllInterfacesAndNoReadinessCallback) {
  HttpServer s({.address = ":0"}, nullptr, {});
  auto r = s.start();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(get(s.port(), "/readyz").status, 200);  // reachable over IPv4 loopback
  EXPECT_EQ(get(s.port(), "/metrics").body, "");
}

TEST(HttpServerConfigTest, ExtraHandlers) {
  HttpServer s({.address = "127.0.0.1:0"}, nullptr, {});
  s.handle("/debug/x", [] { return HttpResponse{200, "application/json", "{}"}; });
  ASSERT_TRUE(s.start().ok());
  auto r = get(s.port(), "/debug/x");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{}");
}

TEST(HttpServerConfigTest, RequestHandlersGetMethodQueryAndBody) {
  HttpServer s({.address = "127.0.0.1:0", .io_timeout = 2s, .max_body_bytes = 300000}, nullptr, {});
  auto echo = [](const HttpRequest& r) {
    return HttpResponse{r.method == "PUT" ? 409 : 202, "application/json",
                        r.method + " " + r.path + " ?" + r.query + " " +
                            std::to_string(r.body.size()) + ":" + r.body.substr(0, 5)};
  };
  s.HandleRequests("/hooks/", echo);
  s.HandleRequests("/healthz", echo);  // overrides the own route
  ASSERT_TRUE(s.start().ok());
  const std::string body(250000, 'b');  // larger than socket buffers
  auto r = RawRequest(s.port(), "POST /hooks/copy?a=1 HTTP/1.1\r\ncontent-length: " +
                                    std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_EQ(r.status, 202);
  EXPECT_NE(r.head.find("202 Accepted"), std::string::npos) << r.head;
  EXPECT_EQ(r.body, "POST /hooks/copy ?a=1 250000:bbbbb");
  r = RawRequest(s.port(), "PUT /hooks/x HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, "PUT /hooks/x ? 2:hi");
  EXPECT_EQ(get(s.port(), "/healthz").body, "GET /healthz ? 0:");
  EXPECT_EQ(get(s.port(), "/hooks").status, 404);     // not under /hooks/
  EXPECT_EQ(get(s.port(), "/healthzz").status, 404);  // exact path only
  EXPECT_EQ(get(s.port(), "/metrics").status, 200);   // own routes still served
  r = RawRequest(s.port(), "POST /hooks/x HTTP/1.1\r\nContent-Length: 300001\r\n\r\n");
  EXPECT_EQ(r.status, 413);
  r = RawRequest(s.port(), "POST /hooks/x HTTP/1.1\r\nContent-Length: ten\r\n\r\n");
  EXPECT_EQ(r.status, 400);
  // A body that never arrives times out.
  const int stalled = ConnectLoopback(s.port());
  const std::string head = "POST /hooks/x HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc";
  ::send(stalled, head.data(), head.size(), MSG_NOSIGNAL);
  char buf[64];
  const ssize_t n = ::recv(stalled, buf, sizeof(buf), 0);
  ASSERT_GT(n, 12);
  EXPECT_EQ(std::string(buf, 12), "HTTP/1.1 408");
  ::close(stalled);
}

TEST(HttpServerConfigTest, ContentLengthParsing) {
  EXPECT_EQ(*ParseContentLength("POST / HTTP/1.1\r\nHost: x\r\n\r\n"), 0u);
  EXPECT_EQ(*ParseContentLength("POST / HTTP/1.1\r\nCONTENT-LENGTH:  12 \r\n\r\n"), 12u);
  EXPECT_FALSE(ParseContentLength("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"));
  EXPECT_FALSE(ParseContentLength("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n"));
  auto line = ParseRequestLine("GET /p?x=1&y HTTP/1.1\r\n");
  ASSERT_TRUE(line);
  EXPECT_EQ(line->path, "/p");
  EXPECT_EQ(line->query, "x=1&y");
}

TEST(HttpServerLivenessTest, HealthzFollowsTheLivenessCallback) {
  std::atomic<bool> alive{true};
  HttpServer s({.address = "127.0.0.1:0"}, nullptr, {});
  s.set_liveness([&]() -> ReadyStatus {
    if (alive.load()) return {true, ""};
    return {false, "worker shardset/0 stuck 301s on key ns/a"};
  });
  ASSERT_TRUE(s.start().ok());
  EXPECT_EQ(get(s.port(), "/healthz").status, 200);
  alive = false;
  auto r = get(s.port(), "/healthz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "unhealthy: worker shardset/0 stuck 301s on key ns/a\n");
  EXPECT_EQ(get(s.port(), "/readyz").status, 200) << "readiness is a separate question";
  alive = true;
  EXPECT_EQ(get(s.port(), "/healthz").status, 200);
  s.stop();
}

}  // namespace
}  // namespace shardcast::runtime
