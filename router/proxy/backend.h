// One pipelined connection from a worker thread to one shard (redis-server).
// Keyed commands queued during an event-loop turn (or while the previous
// write is in flight) go out as one EVALSHA of the shard script per batch
// (router/batch.h); other requests are appended as they are. Replies are
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
#include <vector>

#include "router/batch.h"
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
  std::string script;           // loaded with SCRIPT LOAD on connect
  std::string script_sha_bulk;  // "$40\r\n<sha>\r\n" of `script`
};

class Backend : public std::enable_shared_from_this<Backend> {
 public:
  Backend(boost::asio::io_context& io, std::string endpoint, const BackendOptions& options);
  ~Backend();

  // Queues one encoded command; `done` runs exactly once with its reply.
  void Send(std::string_view encoded, ReplyCallback done);
  // Queues one keyed command for the shard script: `args` holds `argc` RESP
  // bulk strings (name, key, rest); flags are router/batch.h's. `done` runs
  // exactly once with this command's own reply.
  void SendKeyed(std::uint32_t range_id, std::uint8_t flags, std::string_view args,
                 std::size_t argc, ReplyCallback done);
  // Queues SCRIPT LOAD now (after NOSCRIPT) unless one is already on its way;
  // replies are checked internally.
  void LoadScript();
  // Requests (keyed commands counted one by one) not yet answered.
  std::size_t outstanding() const { return outstanding_; }
  const std::string& endpoint() const { return endpoint_; }
  // Fails requests older than the request timeout (called periodically).
  void CheckTimeouts(std::chrono::steady_clock::time_point now);
  void Close(const std::string& reason);

 private:
  struct Pending {
    ReplyCallback done;                // a single request
    std::vector<ReplyCallback> batch;  // or a batch: one callback per command
    std::chrono::steady_clock::time_point sent;
  };
  enum class State { kIdle, kConnecting, kConnected };

  void Enqueue(ReplyCallback done);
  void Kick();
  void SealBatch();
  void Deliver(Pending& p, const Reply& reply);
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
  BatchEncoder batch_;
  std::vector<ReplyCallback> batch_done_;
  std::vector<BatchElement> elements_;
  std::size_t outstanding_ = 0;
  bool script_loading_ = false;
};

}  // namespace shardcast::router::proxy
