// Command-line flag splitting shared by the `shardcast` subcommands.
#pragma once

#include <string>

namespace shardcast::cli {

struct FlagArg {
  std::string name;   // "--kubeconfig", or the argument as given
  std::string value;  // the part after '=' of "--name=value"
  bool has_value = false;
};

// "--name=value" -> {"--name", "value", true}; anything else -> {arg, "", false}
// (the value, if any, is then the next argument).
inline FlagArg SplitFlag(const std::string& arg) {
  FlagArg f;
  auto eq = arg.find('=');
  if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
    f.name = arg.substr(0, eq);
    f.value = arg.substr(eq + 1);
    f.has_value = true;
  } else {
    f.name = arg;
  }
  return f;
}

}  // namespace shardcast::cli
