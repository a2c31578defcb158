// libFuzzer target: status.actions entries and status.proposal objects, as
// read back by the MigrationPolicy controller, give records or errors naming
// the field, never a crash; a record read back serializes and reads again
// to the same record.
#include <cstddef>
#include <cstdint>
#include <string>

#include "controllers/migrationpolicy/migrationpolicy.h"

using shardcast::migrationpolicy::ActionFromJson;
using shardcast::migrationpolicy::ActionToJson;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto j =
      nlohmann::json::parse(std::string(reinterpret_cast<const char*>(data), size), nullptr, false);
  if (j.is_discarded()) return 0;
  auto a = ActionFromJson(j, "status.actions[0]");
  if (a) {
    auto again = ActionFromJson(ActionToJson(*a), "status.actions[0]");
    if (!again || again->id != a->id || again->type != a->type || again->phase != a->phase)
      __builtin_trap();
  }
  auto acts = shardcast::migrationpolicy::ActionsFromProposal(j);
  if (!acts) (void)acts.error().message.size();
  (void)shardcast::migrationpolicy::JudgeProposal(j, "x", 1795320000);
  return 0;
}
