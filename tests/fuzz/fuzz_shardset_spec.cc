// libFuzzer target: any JSON document given to the one ShardSet parser (both
// uses) is a typed ShardSet or an error naming a field, never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "controllers/api/shardset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto j =
      nlohmann::json::parse(std::string(reinterpret_cast<const char*>(data), size), nullptr, false);
  if (j.is_discarded()) return 0;
  for (auto use : {shardcast::api::ShardSetUse::kWorkload, shardcast::api::ShardSetUse::kLoad}) {
    auto s = shardcast::api::ParseShardSet(j, use);
    if (!s) {
      (void)s.error().message.size();
    } else if (!(s->capacity > 0) || s->min_replicas > s->max_replicas || s->name.empty()) {
      __builtin_trap();  // the parser's own guarantees
    }
  }
  return 0;
}
