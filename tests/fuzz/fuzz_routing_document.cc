// Fuzzes the routing document parser: never a crash; what it accepts
// serializes and parses back to the same document.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "router/document.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shardcast::router;
  auto doc = ParseDocument(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!doc) return 0;
  auto again = ParseDocument(SerializeDocument(*doc));
  if (!again || !(*again == *doc)) __builtin_trap();
  return 0;
}
