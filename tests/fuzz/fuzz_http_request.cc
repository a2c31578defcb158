// libFuzzer target: the request line of the operator's HTTP endpoints
// (/metrics, /healthz, /readyz) gives a method and path or an error, never a
// crash; the path never carries the query.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "operator/runtime/http_server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto line = shardcast::runtime::ParseRequestLine(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (line && line->path.find('?') != std::string::npos) __builtin_trap();
  return 0;
}
