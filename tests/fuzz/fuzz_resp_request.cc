// Fuzzes the router's RESP request parser, reply scanner and batch reply
// splitter: never a crash, a consumed length within the input, arguments and
// reply elements inside the input.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "router/batch.h"
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
  std::vector<BatchElement> els;
  std::size_t n = size > 0 ? data[0] % 8 : 0;
  if (SplitBatchReply(in, n, els, &err)) {
    if (els.size() != n) __builtin_trap();
    for (const auto& e : els) {
      if (e.bytes.data() < in.data() || e.bytes.data() + e.bytes.size() > in.data() + size) {
        __builtin_trap();
      }
    }
  }
  return 0;
}
