// One EVALSHA of the shard script carrying many keyed commands for one shard
// (docs/dataplane-protocol.md, "The shard script"), and the split of its
// array reply back into one reply per command. Pure.
//
//   BatchEncoder b;
//   b.Add(range_id, kFlagWrite, "$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", 3);
//   b.EncodeTo(wbuf, sha_bulk);            // EVALSHA <sha> 2R <markers> <logs> R ...
//   SplitBatchReply(reply, n, elements);   // one element per Add, in order
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "router/resp.h"

namespace shardcast::router {

// Per-command flags of the script (the header's low three bits).
inline constexpr std::uint8_t kFlagAsk = 1;    // an ASK retry
inline constexpr std::uint8_t kFlagWrite = 2;  // the command writes
inline constexpr std::uint8_t kFlagEcho = 4;   // an echo read

// A batch is sealed once it holds this many commands or bytes; a command
// with more arguments than kMaxBatchedArgs travels in a batch of its own
// (Lua's unpack() limit then fails that command alone).
inline constexpr std::size_t kMaxBatchCommands = 256;
inline constexpr std::size_t kMaxBatchBytes = 1024 * 1024;
inline constexpr std::size_t kMaxBatchedArgs = 1000;

// The header argument of one command: argc * 65536 + range_index * 8 + flags
// (range_index is 1-based into the batch's ranges).
std::uint64_t BatchHeader(std::size_t argc, std::size_t range_index, std::uint8_t flags);

class BatchEncoder {
 public:
  BatchEncoder();
  // `args` holds `argc` RESP bulk strings: the command name (upper case for
  // the script's GET/SET fast path), then its one key, then the rest.
  void Add(std::uint32_t range_id, std::uint8_t flags, std::string_view args, std::size_t argc);
  std::size_t size() const { return commands_; }
  bool empty() const { return commands_ == 0; }
  std::size_t bytes() const { return body_.size(); }
  // Whether a command of `argc` arguments must start a batch of its own.
  static bool TravelsAlone(std::size_t argc) { return argc > kMaxBatchedArgs; }
  bool Full() const { return commands_ >= kMaxBatchCommands || body_.size() >= kMaxBatchBytes; }
  // Appends the EVALSHA (sha_bulk: "$40\r\n<sha>\r\n") to `out` and empties
  // the encoder. Does nothing when empty.
  void EncodeTo(std::string& out, std::string_view sha_bulk);

 private:
  std::vector<std::uint32_t> ranges_;  // range ids in first-use order
  std::vector<std::uint16_t> index_;   // range id -> 1-based index (0: not in batch)
  std::string body_;                   // the commands' ARGV entries
  std::size_t commands_ = 0;
  std::size_t args_ = 0;  // bulk strings in body_
};

struct BatchElement {
  std::string_view bytes;  // one complete RESP reply
  ReplyInfo info;
};

// Splits the script's reply `reply` (an array of `n` replies) into `out`.
// False (with `error`) when it is not an array of exactly `n` replies.
bool SplitBatchReply(std::string_view reply, std::size_t n, std::vector<BatchElement>& out,
                     std::string* error);

}  // namespace shardcast::router
