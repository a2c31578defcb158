// libFuzzer target: the request head of the operator's HTTP endpoints
// (/metrics, /healthz, /readyz): the request line gives a method and path or
// an error, never a crash, and the path never carries the query; the
// Content-Length header gives a length of at most 15 digits or an error.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "operator/runtime/http_server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto line = shardcast::runtime::ParseRequestLine(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (line && line->path.find('?') != std::string::npos) __builtin_trap();
  auto length = shardcast::runtime::ParseContentLength(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (length && *length >= 1'000'000'000'000'000ULL) __builtin_trap();
  return 0;
}
