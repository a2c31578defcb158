// How the router treats each client command: which arguments are keys,
// whether it writes, and the commands it refuses (with the reason). Pure.
#pragma once

#include <string_view>

namespace shardcast::router {

enum class CommandKind {
  kSingleKey,  // argv[1] is the only key
  kMultiKey,   // every argument from argv[1] is a key (MGET, DEL, EXISTS, UNLINK, TOUCH)
  kMset,       // MSET key value [key value ...]
  kLocal,      // answered by the router (PING, ECHO, HELLO, SELECT, ...)
  kRefused,    // cannot be routed correctly: an error naming the reason
};

struct CommandInfo {
  std::string_view name;  // upper case
  CommandKind kind;
  bool write;
  int min_args;              // including the command name
  std::string_view refusal;  // kRefused: why
};

// nullptr for an unknown command (refused as unknown by the proxy).
// `name` is matched case-insensitively.
const CommandInfo* LookupCommand(std::string_view name);
// The table is sorted by name (LookupCommand relies on it); for tests.
bool CommandTableIsSorted();

}  // namespace shardcast::router
