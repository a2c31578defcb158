// shardcast-agent's command line. Pure.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "agent/agent.h"

namespace shardcast::agent {

struct Flags {
  AgentOptions agent;
  std::string listen = ":8081";
  std::string metrics_bind_address = ":9091";  // "0" disables
  bool help = false;
};

std::string Usage();
// Errors name the flag ("--copy-rate: must be a number >= 0").
[[nodiscard]] Result<Flags> ParseFlags(const std::vector<std::string>& args);
// "250ms", "2s", "1500" (milliseconds).
[[nodiscard]] Result<std::chrono::milliseconds> ParseMillis(const std::string& text,
                                                            const std::string& flag);

}  // namespace shardcast::agent
