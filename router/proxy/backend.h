// One pipelined connection from a worker thread to one shard (redis-server).
// Requests are appended and flushed once per event-loop turn; replies are
// matched to requests in order. The script is loaded first on every
// (re)connect. A connection error or a reply older than the timeout fails
// every pending request with an error reply and closes the connection (the
// next request reconnects).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "router/proxy/asio.h"
#include "router/resp.h"

namespace shardcast::router::proxy {

struct Reply {
  std::string_view bytes;  // the complete RESP reply (valid during the callback)
  ReplyInfo info;
  bool transport_error = false;  // bytes is then an error reply made by the router
};

using ReplyCallback = std::function<void(const Reply&)>;

struct BackendOptions {
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds request_timeout{5000};
  std::string script;  // loaded with SCRIPT LOAD on connect
};

class Backend : public std::enable_shared_from_this<Backend> {
 public:
  Backend(boost::asio::io_context& io, std::string endpoint, const BackendOptions& options);
  ~Backend();

  // Queues one encoded command; `done` runs exactly once with its reply.
  void Send(std::string_view encoded, ReplyCallback done);
  // As Send, with the command written straight into the output buffer by
  // `encode(std::string&)` (no intermediate copy).
  template <typename Encode>
  void SendEncoded(Encode&& encode, ReplyCallback done) {
    encode(wbuf_);
    Enqueue(std::move(done));
  }
  // Queues SCRIPT LOAD now (after NOSCRIPT); replies are checked internally.
  void LoadScript();
  std::size_t outstanding() const { return pending_.size(); }
  const std::string& endpoint() const { return endpoint_; }
  // Fails requests older than the request timeout (called periodically).
  void CheckTimeouts(std::chrono::steady_clock::time_point now);
  void Close(const std::string& reason);

 private:
  struct Pending {
    ReplyCallback done;
    std::chrono::steady_clock::time_point sent;
  };
  enum class State { kIdle, kConnecting, kConnected };

  void Enqueue(ReplyCallback done);
  void Connect();
  void OnConnected();
  void ScheduleFlush();
  void Flush();
  void Read();
  void OnData(std::size_t n);
  void FailAll(const std::string& reason);

  boost::asio::io_context& io_;
  std::string endpoint_;
  const BackendOptions& options_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::steady_timer connect_timer_;
  State state_ = State::kIdle;
  std::uint64_t generation_ = 0;  // bumps on close; stale handlers ignore themselves
  std::string wbuf_;
  std::string inflight_;
  bool writing_ = false;
  bool flush_scheduled_ = false;
  std::deque<Pending> pending_;
  std::string rbuf_;
  std::size_t rpos_ = 0;
  std::unique_ptr<char[]> chunk_;
};

}  // namespace shardcast::router::proxy
