// Fuzzes the Prometheus text exposition parser and the query_range parser.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "predictor/parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = shardcast::predictor::ParsePromText(text, 10);
  if (r.errors.size() > 11) __builtin_trap();
  (void)shardcast::predictor::ParsePromQueryRange(text);
  return 0;
}
