// Hook requests (docs/dataplane-protocol.md, "A move, step by step"): the
// JSON body every hook POST carries, parsed and validated. Pure.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "util/expected.h"

namespace shardcast::agent {

// The hooks the agent serves under /shardcast/<name>.
enum class Hook { kPrepare, kCopy, kCutover, kRelease, kAbort, kEchoAdd, kEchoRemove };

// "prepare", "copy", ... "echo-add", "echo-remove"; nullopt-like error for others.
[[nodiscard]] Result<Hook> ParseHookName(std::string_view name);
std::string HookName(Hook hook);

struct Endpoint {
  std::string host;  // without brackets for IPv6
  int port = 0;
  std::string text;  // as given: "host:port" or "[v6]:port"
};
// Parses "host:port" or "[v6]:port"; the error names `field`.
[[nodiscard]] Result<Endpoint> ParseEndpoint(const std::string& text, const std::string& field);

struct HookRequest {
  std::string shard_set;
  std::string action;
  std::uint32_t range = 0;
  std::uint32_t start = 0;
  std::uint32_t end = 0;
  std::string source;  // pod names (for echoes: source = owner, target = echo)
  std::string target;
  Endpoint source_endpoint;
  Endpoint target_endpoint;
  std::int64_t epoch = 0;
  std::int64_t fencing_token = 0;
};

// Parses and validates a hook body. Every field is required; an error names
// the first missing or invalid field ("range: must be an integer in
// [0, 4294967295]", "end: must be >= start", ...).
[[nodiscard]] Result<HookRequest> ParseHookRequest(std::string_view body);

// The request as JSON (the same field names), used to persist jobs.
std::string HookRequestJson(const HookRequest& r);

// A fingerprint of what the request asks for (everything except the
// fencing token): a repeated action id must ask for the same thing.
std::string Fingerprint(Hook hook, const HookRequest& r);

// "a=1&b=x%20y" -> {a: "1", b: "x y"}.
std::map<std::string, std::string> ParseQuery(std::string_view query);

}  // namespace shardcast::agent
