// libFuzzer target: any JSON document given to the one MigrationPolicy
// parser is a typed policy or an error naming a field, never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "controllers/api/migration_policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto j =
      nlohmann::json::parse(std::string(reinterpret_cast<const char*>(data), size), nullptr, false);
  if (j.is_discarded()) return 0;
  auto p = shardcast::api::ParseMigrationPolicy(j);
  if (p) {
    if (!(p->scale_in_utilization < p->target_utilization &&
          p->target_utilization < p->max_utilization) ||
        p->step_seconds < 1 || p->horizon_seconds < p->step_seconds) {
      __builtin_trap();  // the parser's own guarantees
    }
    (void)p->selector.Matches({{"app", "kv"}});
  }
  auto sel = shardcast::api::ShardSetSelectorOf(j);
  if (sel) (void)sel->Matches({});
  return 0;
}
