#include "controllers/forecast/http_getter.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

namespace shardcast::forecast {
namespace {

using namespace std::chrono_literals;

// A loopback listener; serve() answers one connection with `reply`
// (or holds it open without answering when reply is empty).
class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(::listen(fd_, 4), 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~Listener() {
    if (t_.joinable()) t_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  void serve(std::string reply, std::string* request) {
    t_ = std::thread([this, reply, request] {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      ssize_t n = ::recv(c, buf, sizeof(buf), 0);
      if (n > 0 && request) request->assign(buf, static_cast<size_t>(n));
      if (!reply.empty()) {
        (void)::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      } else {
        // Hold the connection until the client gives up (its timeout).
        (void)::recv(c, buf, sizeof(buf), 0);
      }
      ::close(c);
    });
  }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread t_;
};

TEST(PlainHttpGetter, ReturnsTheBodyOf200) {
  Listener l;
  std::string req;
  l.serve(
      "HTTP/1.0 200 OK\r\nContent-Type: "
      "text/plain\r\n\r\nshardcast_range_requests_total{range=\"1\"} 5\n",
      &req);
  PlainHttpGetter g;
  auto r = g.get("127.0.0.1", l.port(), "/metrics", 2s);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, "shardcast_range_requests_total{range=\"1\"} 5\n");
  EXPECT_EQ(req.rfind("GET /metrics HTTP/1.0\r\n", 0), 0u) << req;
}

TEST(PlainHttpGetter, Non200IsAnError) {
  Listener l;
  l.serve("HTTP/1.1 503 Service Unavailable\r\n\r\nno", nullptr);
  PlainHttpGetter g;
  auto r = g.get("127.0.0.1", l.port(), "/metrics", 2s);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("503"), std::string::npos) << r.error().message;
}

TEST(PlainHttpGetter, GarbageAndSilenceAreErrorsWithinTheTimeout) {
  {
    Listener l;
    l.serve("\x01\x02 not http", nullptr);
    PlainHttpGetter g;
    auto r = g.get("127.0.0.1", l.port(), "/", 2s);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("not an HTTP response"), std::string::npos);
  }
  Listener silent;
  silent.serve("", nullptr);
  PlainHttpGetter g;
  auto t0 = std::chrono::steady_clock::now();
  auto r = g.get("127.0.0.1", silent.port(), "/metrics", 300ms);
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("timed out"), std::string::npos) << r.error().message;
  EXPECT_LT(took, 3s);
}

TEST(PlainHttpGetter, RefusedAndBadPortAreErrors) {
  int port;
  {
    Listener l;  // bound then closed: nothing listens there any more
    port = l.port();
  }
  PlainHttpGetter g;
  auto r = g.get("127.0.0.1", port, "/metrics", 1s);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("127.0.0.1"), std::string::npos);
  EXPECT_FALSE(g.get("127.0.0.1", 0, "/", 1s));
  EXPECT_FALSE(g.get("no such host.invalid", 80, "/", 1s));
}

}  // namespace
}  // namespace shardcast::forecast
