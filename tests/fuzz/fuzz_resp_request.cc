// Fuzzes the router's RESP request parser and reply scanner: never a crash,
// a consumed length within the input, arguments inside the input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "router/resp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shardcast::router;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  RespLimits limits;
  limits.max_request_bytes = 4096;
  limits.max_args = 64;
  limits.max_inline_bytes = 512;
  ParsedRequest req;
  std::string_view rest = in;
  for (int i = 0; i < 64 && !rest.empty(); ++i) {
    if (ParseRequest(rest, limits, req) != ParseStatus::kComplete) break;
    if (req.consumed == 0 || req.consumed > rest.size()) __builtin_trap();
    for (auto a : req.args) {
      if (a.data() < rest.data() || a.data() + a.size() > rest.data() + rest.size()) {
        __builtin_trap();
      }
    }
    rest.remove_prefix(req.consumed);
  }
  ReplyInfo info;
  std::string err;
  if (ScanReply(in, info, &err) == ParseStatus::kComplete && info.length > size) __builtin_trap();
  return 0;
}
