#include "router/proxy/client.h"

#include <algorithm>
#include <cctype>

#include "router/hash.h"
#include "router/proxy/worker.h"
#include "router/script.h"

namespace shardcast::router::proxy {

namespace asio = boost::asio;
constexpr std::size_t kChunk = 64 * 1024;

namespace {

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string ErrorReply(std::string_view text) {
  std::string out;
  AppendError(out, text);
  return out;
}

}  // namespace

Client::Client(Worker& worker, asio::ip::tcp::socket socket)
    : worker_(worker), socket_(std::move(socket)), chunk_(new char[kChunk]) {
  worker_.shared().clients.fetch_add(1);
  worker_.shared().metrics->clients().inc();
}

Client::~Client() {
  worker_.shared().clients.fetch_sub(1);
  worker_.shared().metrics->clients().dec();
}

void Client::Start() {
  boost::system::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
  Read();
}

void Client::Read() {
  if (closed_ || close_after_flush_) return;
  auto self = shared_from_this();
  socket_.async_read_some(asio::buffer(chunk_.get(), kChunk),
                          [this, self](const boost::system::error_code& ec, std::size_t n) {
                            if (ec) return Close();
                            OnData(n);
                            Read();
                          });
}

void Client::OnData(std::size_t n) {
  rbuf_.append(chunk_.get(), n);
  const RespLimits& limits = worker_.shared().options.limits;
  std::size_t pos = 0;
  ParsedRequest req;
  while (pos < rbuf_.size() && !close_after_flush_) {
    auto st = ParseRequest(std::string_view(rbuf_).substr(pos), limits, req);
    if (st == ParseStatus::kNeedMore) break;
    if (st == ParseStatus::kError) {
      worker_.shared().metrics->RejectedRequests("protocol").inc();
      auto slot = std::make_shared<Slot>();
      slot->done = true;
      slot->reply = ErrorReply(req.error);
      slots_.push_back(slot);
      close_after_flush_ = true;
      break;
    }
    pos += req.consumed;
    if (!req.args.empty()) Dispatch(req.args, req.consumed);
  }
  rbuf_.erase(0, pos);
  Complete();
}

void Client::Dispatch(const std::vector<std::string_view>& args, std::size_t bytes) {
  auto slot = std::make_shared<Slot>();
  slots_.push_back(slot);
  Shared& shared = worker_.shared();
  if (waiting_ >= shared.options.max_pipeline) {
    shared.metrics->RejectedRequests("max_pipeline").inc();
    slot->done = true;
    slot->reply =
        ErrorReply("ERR shardcast: more than " + std::to_string(shared.options.max_pipeline) +
                   " pipelined requests waiting; read replies first");
    return;
  }
  const CommandInfo* cmd = LookupCommand(args[0]);
  slot->done = true;
  if (cmd == nullptr) {
    std::string name(args[0].substr(0, 64));
    slot->reply = ErrorReply("ERR unknown command '" + name + "'");
    return;
  }
  if (args.size() < static_cast<std::size_t>(cmd->min_args)) {
    slot->reply =
        ErrorReply("ERR wrong number of arguments for '" + Lower(cmd->name) + "' command");
    return;
  }
  switch (cmd->kind) {
    case CommandKind::kRefused:
      shared.metrics->RejectedRequests("unroutable").inc();
      slot->reply = ErrorReply("ERR shardcast: " + std::string(cmd->name) +
                               " is not supported: " + std::string(cmd->refusal));
      return;
    case CommandKind::kLocal:
      return Local(*cmd, args, *slot);
    case CommandKind::kSingleKey:
    case CommandKind::kMultiKey:
    case CommandKind::kMset:
      break;
  }
  std::size_t step = cmd->kind == CommandKind::kMset ? 2 : 1;
  if (cmd->kind == CommandKind::kMset && args.size() % 2 != 1) {
    slot->reply = ErrorReply("ERR wrong number of arguments for 'mset' command");
    return;
  }
  std::size_t last = cmd->kind == CommandKind::kSingleKey ? 1 : args.size() - 1;
  for (std::size_t i = 1; i <= last; i += step) {
    if (args[i].substr(0, kReservedPrefix.size()) == kReservedPrefix) {
      shared.metrics->RejectedRequests("reserved_key").inc();
      slot->reply = ErrorReply("ERR keys with prefix __shardcast: are reserved");
      return;
    }
  }
  slot->done = false;
  ++waiting_;
  if (cmd->kind == CommandKind::kSingleKey) return Keyed(*cmd, args, bytes, slot);
  MultiKey(*cmd, args, bytes, slot);
}

void Client::Keyed(const CommandInfo& cmd, const std::vector<std::string_view>& args,
                   std::size_t bytes, SlotPtr slot) {
  auto op = std::make_shared<KeyOp>();
  op->key.assign(args[1]);
  AppendBulk(op->encoded_args, cmd.name);  // upper case: the script's GET/SET fast path
  for (std::size_t i = 1; i < args.size(); ++i) AppendBulk(op->encoded_args, args[i]);
  op->argc = args.size();
  op->hash = KeyHash(args[1]);
  op->write = cmd.write;
  op->request_bytes = bytes;
  op->session = &session_;
  auto self = shared_from_this();
  op->done = [this, self, slot](std::string_view reply, const ReplyInfo&) {
    slot->reply.assign(reply.data(), reply.size());
    if (proto_ == 3 && (reply == "$-1\r\n" || reply == "*-1\r\n")) slot->reply = Null();
    slot->done = true;
    --waiting_;
    Complete();
  };
  worker_.Execute(std::move(op));
}

void Client::MultiKey(const CommandInfo& cmd, const std::vector<std::string_view>& args,
                      std::size_t bytes, SlotPtr slot) {
  // One single-key command per key (each through the handoff), merged back.
  struct Merge {
    std::string name;
    std::vector<std::string> replies;
    std::size_t left = 0;
    long long sum = 0;
    std::string error;
  };
  bool mset = cmd.kind == CommandKind::kMset;
  std::size_t n = mset ? (args.size() - 1) / 2 : args.size() - 1;
  auto merge = std::make_shared<Merge>();
  merge->name = std::string(cmd.name);
  merge->replies.resize(n);
  merge->left = n;
  auto self = shared_from_this();
  std::string sub = mset ? "SET" : (cmd.name == "MGET" ? "GET" : std::string(cmd.name));
  for (std::size_t i = 0; i < n; ++i) {
    auto op = std::make_shared<KeyOp>();
    std::string_view key = mset ? args[1 + 2 * i] : args[1 + i];
    op->key.assign(key);
    AppendBulk(op->encoded_args, sub);
    AppendBulk(op->encoded_args, key);
    op->argc = 2;
    if (mset) {
      AppendBulk(op->encoded_args, args[2 + 2 * i]);
      op->argc = 3;
    }
    op->hash = KeyHash(key);
    op->write = cmd.write;
    op->request_bytes = bytes / n;
    op->session = &session_;
    op->done = [this, self, slot, merge, i](std::string_view reply, const ReplyInfo& info) {
      if (info.is_error) {
        bool wrongtype = info.error_text.substr(0, 9) == "WRONGTYPE";
        if (merge->name == "MGET" && wrongtype) {
          merge->replies[i] = Null();
        } else if (merge->error.empty()) {
          merge->error.assign(reply.data(), reply.size());
        }
      } else if (merge->name == "MGET") {
        merge->replies[i] = reply == "$-1\r\n" ? Null() : std::string(reply);
      } else if (info.is_integer) {
        merge->sum += info.integer;
      }
      if (--merge->left > 0) return;
      if (!merge->error.empty()) {
        slot->reply = merge->error;
      } else if (merge->name == "MGET") {
        AppendArrayHeader(slot->reply, merge->replies.size());
        for (const auto& r : merge->replies) slot->reply += r;
      } else if (merge->name == "MSET") {
        AppendSimple(slot->reply, "OK");
      } else {
        AppendInteger(slot->reply, merge->sum);
      }
      slot->done = true;
      --waiting_;
      Complete();
    };
    worker_.Execute(std::move(op));
  }
}

void Client::Local(const CommandInfo& cmd, const std::vector<std::string_view>& args, Slot& slot) {
  std::string& out = slot.reply;
  std::string sub = args.size() > 1 ? Upper(args[1]) : "";
  if (cmd.name == "PING") {
    if (args.size() > 2)
      return AppendError(out, "ERR wrong number of arguments for 'ping' command");
    return args.size() == 2 ? AppendBulk(out, args[1]) : AppendSimple(out, "PONG");
  }
  if (cmd.name == "ECHO") return AppendBulk(out, args[1]);
  if (cmd.name == "QUIT") {
    close_after_flush_ = true;
    return AppendSimple(out, "OK");
  }
  if (cmd.name == "RESET") {
    proto_ = 2;
    name_.clear();
    session_ = Session();
    return AppendSimple(out, "RESET");
  }
  if (cmd.name == "SELECT") {
    if (args[1] == "0") return AppendSimple(out, "OK");
    return AppendError(out, "ERR shardcast: only database 0 is routed");
  }
  if (cmd.name == "HELLO") return Hello(args, slot);
  if (cmd.name == "CLIENT") {
    if (sub == "SETNAME" && args.size() == 3) {
      name_ = std::string(args[2]);
      return AppendSimple(out, "OK");
    }
    if (sub == "GETNAME") return name_.empty() ? void(out = Null()) : AppendBulk(out, name_);
    if (sub == "SETINFO") return AppendSimple(out, "OK");
    return AppendError(out, "ERR shardcast: CLIENT " + sub + " is not supported");
  }
  if (cmd.name == "COMMAND") {
    if (sub == "COUNT") return AppendInteger(out, 0);
    AppendArrayHeader(out, 0);  // COMMAND, COMMAND DOCS, ...: nothing to describe
    return;
  }
  if (cmd.name == "INFO") {
    const Table* t = worker_.CurrentTable();
    std::string body =
        "# Server\r\nredis_version:7.0.0\r\nshardcast_router:1\r\n"
        "# Routing\r\nrouting_epoch:" +
        std::to_string(t ? t->epoch() : 0) +
        "\r\nrouting_ranges:" + std::to_string(t ? t->size() : 0) +
        "\r\n# Clients\r\nconnected_clients:" + std::to_string(worker_.shared().clients.load()) +
        "\r\n";
    return AppendBulk(out, body);
  }
  AppendError(out, "ERR shardcast: " + std::string(cmd.name) + " is not supported");
}

void Client::Hello(const std::vector<std::string_view>& args, Slot& slot) {
  std::string& out = slot.reply;
  int proto = proto_;
  std::size_t i = 1;
  if (args.size() > 1) {
    if (args[1] == "2" || args[1] == "3") {
      proto = args[1][0] - '0';
    } else {
      return AppendError(out, "NOPROTO unsupported protocol version");
    }
    i = 2;
  }
  for (; i < args.size(); ++i) {
    std::string opt = Upper(args[i]);
    if (opt == "SETNAME" && i + 1 < args.size()) {
      name_ = std::string(args[++i]);
    } else if (opt == "AUTH" && i + 2 < args.size()) {
      i += 2;  // the router has no users; shards are reached with its own connection
    } else {
      return AppendError(out, "ERR syntax error in HELLO option '" + std::string(args[i]) + "'");
    }
  }
  proto_ = proto;
  const std::pair<const char*, std::string> fields[] = {
      {"server", "redis"}, {"version", "7.0.0"},   {"proto", ""},
      {"id", ""},          {"mode", "standalone"}, {"role", "master"}};
  out += proto_ == 3 ? "%7\r\n" : "*14\r\n";
  for (const auto& [k, v] : fields) {
    AppendBulk(out, k);
    if (std::string_view(k) == "proto") {
      AppendInteger(out, proto_);
    } else if (std::string_view(k) == "id") {
      AppendInteger(out, 0);
    } else {
      AppendBulk(out, v);
    }
  }
  AppendBulk(out, "modules");
  AppendArrayHeader(out, 0);
}

void Client::Complete() {
  while (!slots_.empty() && slots_.front()->done) {
    wbuf_ += slots_.front()->reply;
    slots_.pop_front();
  }
  ScheduleWrite();
}

void Client::ScheduleWrite() {
  if (write_scheduled_ || writing_ || closed_ || wbuf_.empty()) {
    if (!writing_ && wbuf_.empty() && close_after_flush_ && slots_.empty()) Close();
    return;
  }
  write_scheduled_ = true;
  auto self = shared_from_this();
  asio::post(worker_.io(), [this, self] {
    write_scheduled_ = false;
    Write();
  });
}

void Client::Write() {
  if (writing_ || closed_ || wbuf_.empty()) return;
  writing_ = true;
  inflight_.swap(wbuf_);
  auto self = shared_from_this();
  asio::async_write(socket_, asio::buffer(inflight_),
                    [this, self](const boost::system::error_code& ec, std::size_t) {
                      writing_ = false;
                      inflight_.clear();
                      if (ec) return Close();
                      if (!wbuf_.empty()) return Write();
                      if (close_after_flush_ && slots_.empty()) Close();
                    });
}

void Client::Close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace shardcast::router::proxy
