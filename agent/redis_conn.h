// The agent's I/O boundary to Redis: one small interface (a synchronous
// connection that runs commands and pipelines), a hiredis implementation,
// and a factory so that tests can substitute a fake (tests/support).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "util/expected.h"

namespace shardcast::agent {

struct Reply {
  enum class Type { kNil, kStatus, kError, kInteger, kString, kArray };
  Type type = Type::kNil;
  std::string str;  // status, error or bulk string
  std::int64_t integer = 0;
  std::vector<Reply> elements;

  bool is_error() const { return type == Type::kError; }
  bool is_nil() const { return type == Type::kNil; }
  static Reply Nil() { return {}; }
  static Reply Status(std::string s) { return {Type::kStatus, std::move(s), 0, {}}; }
  static Reply Err(std::string s) { return {Type::kError, std::move(s), 0, {}}; }
  static Reply Int(std::int64_t v) { return {Type::kInteger, {}, v, {}}; }
  static Reply Str(std::string s) { return {Type::kString, std::move(s), 0, {}}; }
  static Reply Array(std::vector<Reply> e) { return {Type::kArray, {}, 0, std::move(e)}; }
};

using Argv = std::vector<std::string>;

class RedisConn {
 public:
  virtual ~RedisConn() = default;
  // A Redis error reply is a successful Result holding a kError Reply; the
  // Result fails only on connection/protocol errors (then the connection is
  // unusable and the caller makes a new one).
  [[nodiscard]] virtual Result<Reply> Command(const Argv& argv) = 0;
  // Sends every command, then reads every reply (one round trip).
  [[nodiscard]] virtual Result<std::vector<Reply>> Pipeline(const std::vector<Argv>& cmds) = 0;
};

// Connects to "host" / port. The error names the endpoint.
using ConnFactory =
    std::function<Result<std::unique_ptr<RedisConn>>(const std::string& host, int port)>;

// hiredis (synchronous), with connect and command timeouts.
ConnFactory HiredisFactory(std::chrono::milliseconds timeout);

// Helpers over a reply.
[[nodiscard]] Result<void> ExpectOk(const Result<Reply>& r, const std::string& what);
[[nodiscard]] Result<std::int64_t> ExpectInt(const Result<Reply>& r, const std::string& what);

}  // namespace shardcast::agent
