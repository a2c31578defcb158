#include "router/proxy/worker.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include "router/batch.h"
#include "router/proxy/client.h"

namespace shardcast::router::proxy {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}
}  // namespace

void ShadowPair::Arrive(int side, std::string_view bytes, bool error, double seconds) {
  replies[side] = std::string(bytes);
  errors[side] = error;
  (side == 0 ? metrics->shadow_owner_latency : metrics->shadow_target_latency)->observe(seconds);
  if (++arrived < 2) return;
  if (errors[0] || errors[1]) {
    metrics->shadow_error->inc();
  } else if (replies[0] == replies[1]) {
    metrics->shadow_match->inc();
  } else {
    metrics->shadow_mismatch->inc();
  }
}

Worker::Worker(Shared& shared, int index)
    : shared_(shared), index_(index), acceptor_(io_), tick_(io_) {}

Result<std::uint16_t> Worker::Listen(const std::string& host, std::uint16_t port) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) return unexpected(Error{"--listen: bad address \"" + host + "\": " + ec.message()});
  tcp::endpoint ep(addr, port);
  acceptor_.open(ep.protocol(), ec);
  if (ec) return unexpected(Error{"--listen: socket: " + ec.message()});
  acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  acceptor_.set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true), ec);
  acceptor_.bind(ep, ec);
  if (ec)
    return unexpected(
        Error{"--listen: bind " + host + ":" + std::to_string(port) + ": " + ec.message()});
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return unexpected(Error{"--listen: listen: " + ec.message()});
  return acceptor_.local_endpoint().port();
}

void Worker::Run() {
  Accept();
  Tick();
  io_.run();
}

void Worker::Stop() { io_.stop(); }

void Worker::Accept() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      if (shared_.clients.load() >= shared_.options.max_clients) {
        shared_.metrics->RejectedRequests("max_clients").inc();
        std::string msg;
        AppendError(msg, "ERR max number of clients reached");
        boost::system::error_code ignored;
        asio::write(socket, asio::buffer(msg), ignored);
        socket.close(ignored);
      } else {
        std::make_shared<Client>(*this, std::move(socket))->Start();
      }
    }
    Accept();
  });
}

void Worker::Tick() {
  auto now = std::chrono::steady_clock::now();
  for (auto& [ep, entry] : backends_) entry.backend->CheckTimeouts(now);
  tick_.expires_after(std::chrono::milliseconds(100));
  tick_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) Tick();
  });
}

const Table* Worker::CurrentTable() {
  std::uint64_t v = shared_.holder->version();
  if (v != table_version_) {
    table_ = shared_.holder->Get();
    table_version_ = v;
    disabled_echoes_.clear();
  }
  if (std::uint64_t lv = shared_.loads.version(); lv != load_refresh_) {
    load_factors_ = shared_.loads.Get();
    load_refresh_ = lv;
  }
  return table_.get();
}

Worker::BackendEntry& Worker::BackendFor(const std::string& endpoint) {
  auto it = backends_.find(endpoint);
  if (it != backends_.end()) return it->second;
  BackendEntry e{std::make_shared<Backend>(io_, endpoint, shared_.options.backend),
                 shared_.metrics->Outstanding(endpoint)};
  return backends_.emplace(endpoint, std::move(e)).first->second;
}

namespace {
std::uint8_t FlagsOf(const Attempt& a, bool write) {
  return static_cast<std::uint8_t>((a.asking ? kFlagAsk : 0) | (write ? kFlagWrite : 0) |
                                   (a.echo ? kFlagEcho : 0));
}
}  // namespace

void Worker::Execute(std::shared_ptr<KeyOp> op) {
  const Table* table = CurrentTable();
  if (table == nullptr) return FinishError(op, "TRYAGAIN shardcast: no routing document yet");
  op->start = std::chrono::steady_clock::now();
  const Range& r = table->RangeOfHash(op->hash);
  op->range_id = r.id;
  Destination d;
  if (op->write) {
    d = WriteDestination(r);
    if (op->session != nullptr) op->session->NoteWrite(r.id);
  } else {
    LoadView view{[this](const std::string& ep) {
                    auto it = backends_.find(ep);
                    return it == backends_.end() ? std::uint64_t{0}
                                                 : std::uint64_t{it->second.backend->outstanding()};
                  },
                  [this](const std::string& pod) {
                    auto it = load_factors_.find(pod);
                    return it == load_factors_.end() ? 1.0 : it->second;
                  },
                  &disabled_echoes_};
    d = ReadDestination(r, op->session, view);
    if (ShouldShadow(r, read_sequence_++)) Shadow(*op, r);
  }
  if (d.endpoint.empty()) {
    return FinishError(
        op, "TRYAGAIN shardcast: range " + std::to_string(r.id) + " has no endpoint yet");
  }
  op->handoff = Handoff({d.endpoint, false, d.echo}, op->write);
  SendAttempt(std::move(op));
}

void Worker::Shadow(KeyOp& op, const Range& r) {
  auto pair = std::make_shared<ShadowPair>();
  pair->metrics = &shared_.metrics->Range(r.id);
  op.shadow = pair;
  auto start = std::chrono::steady_clock::now();
  BackendFor(*r.target_endpoint)
      .backend->SendKeyed(r.id, kFlagAsk, op.encoded_args, op.argc,
                          [pair, start](const Reply& reply) {
                            pair->Arrive(1, reply.bytes, reply.info.is_error, Seconds(start));
                          });
}

void Worker::SendAttempt(std::shared_ptr<KeyOp> op) {
  BackendEntry& b = BackendFor(op->handoff.current().endpoint);
  b.outstanding->inc();
  auto gauge = b.outstanding;
  KeyOp* raw = op.get();
  b.backend->SendKeyed(raw->range_id, FlagsOf(raw->handoff.current(), raw->write),
                       raw->encoded_args, raw->argc,
                       [this, op = std::move(op), gauge](const Reply& reply) {
                         gauge->dec();
                         OnReply(op, reply);
                       });
}

void Worker::OnReply(const std::shared_ptr<KeyOp>& op, const Reply& reply) {
  if (!reply.info.is_error || reply.transport_error) return Finish(op, reply.bytes, reply.info);
  std::string_view text = reply.info.error_text;
  if (text.substr(0, 8) == "NOSCRIPT" && op->noscript_retries++ < 2) {
    BackendFor(op->handoff.current().endpoint).backend->LoadScript();
    return SendAttempt(op);
  }
  Step step = op->handoff.OnAnswer(ClassifyAnswer(text));
  switch (step.action) {
    case Action::kReturn:
      return Finish(op, reply.bytes, reply.info);
    case Action::kSend:
      return SendAttempt(op);
    case Action::kSplit:
      return FinishError(op, "TRYAGAIN shardcast: keys of the command are moving, retry");
    case Action::kFail:
      return FinishError(op, step.error);
    case Action::kReload:
      break;
  }
  if (!step.disabled_echo.empty()) disabled_echoes_.insert(step.disabled_echo);
  if (shared_.reload) shared_.reload();
  const Table* table = CurrentTable();
  if (!step.disabled_echo.empty()) disabled_echoes_.insert(step.disabled_echo);
  if (table == nullptr) return FinishError(op, "TRYAGAIN shardcast: no routing document");
  Step next = op->handoff.Resolve(*table, op->hash);
  if (next.action != Action::kSend) return FinishError(op, next.error);
  SendAttempt(op);
}

void Worker::Finish(const std::shared_ptr<KeyOp>& op, std::string_view bytes,
                    const ReplyInfo& info) {
  RangeMetrics& m = shared_.metrics->Range(op->range_id);
  double s = Seconds(op->start);
  (op->write ? m.writes : m.reads)->inc();
  m.bytes_in->inc(static_cast<double>(op->request_bytes));
  m.bytes_out->inc(static_cast<double>(bytes.size()));
  if (info.is_error) m.errors->inc();
  m.latency->observe(s);
  if (op->shadow) op->shadow->Arrive(0, bytes, info.is_error, s);
  op->done(bytes, info);
}

void Worker::FinishError(const std::shared_ptr<KeyOp>& op, const std::string& text) {
  std::string bytes;
  AppendError(bytes, text);
  ReplyInfo info;
  info.is_error = true;
  info.length = bytes.size();
  info.error_text = std::string_view(bytes).substr(1, bytes.size() - 3);
  Finish(op, bytes, info);
}

}  // namespace shardcast::router::proxy
