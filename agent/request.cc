#include "agent/request.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <nlohmann/json.hpp>

namespace shardcast::agent {
namespace {

using Json = nlohmann::json;

constexpr std::pair<Hook, std::string_view> kHooks[] = {
    {Hook::kPrepare, "prepare"},        {Hook::kCopy, "copy"},   {Hook::kCutover, "cutover"},
    {Hook::kRelease, "release"},        {Hook::kAbort, "abort"}, {Hook::kEchoAdd, "echo-add"},
    {Hook::kEchoRemove, "echo-remove"},
};

Result<std::string> StringField(const Json& j, const char* name) {
  if (!j.contains(name)) return unexpected(Error{std::string(name) + ": required"});
  const Json& v = j[name];
  if (!v.is_string()) return unexpected(Error{std::string(name) + ": must be a string"});
  std::string s = v.get<std::string>();
  if (s.empty()) return unexpected(Error{std::string(name) + ": must not be empty"});
  return s;
}

Result<std::int64_t> IntField(const Json& j, const char* name, std::int64_t lo, std::int64_t hi) {
  const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  if (!j.contains(name)) return unexpected(Error{std::string(name) + ": required"});
  const Json& v = j[name];
  std::int64_t x = 0;
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(hi)) {
      return unexpected(Error{std::string(name) + ": must be an integer in " + range});
    }
    x = static_cast<std::int64_t>(u);
  } else if (v.is_number_integer()) {
    x = v.get<std::int64_t>();
  } else {
    return unexpected(Error{std::string(name) + ": must be an integer in " + range});
  }
  if (x < lo || x > hi)
    return unexpected(Error{std::string(name) + ": must be an integer in " + range});
  return x;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
               HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

Result<Hook> ParseHookName(std::string_view name) {
  for (const auto& [hook, n] : kHooks) {
    if (n == name) return hook;
  }
  return unexpected(Error{"hook: unknown hook \"" + std::string(name) + "\""});
}

std::string HookName(Hook hook) {
  for (const auto& [h, n] : kHooks) {
    if (h == hook) return std::string(n);
  }
  return "unknown";
}

Result<Endpoint> ParseEndpoint(const std::string& text, const std::string& field) {
  Endpoint ep;
  ep.text = text;
  std::string port;
  if (!text.empty() && text[0] == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return unexpected(Error{field + ": must be [v6addr]:port, got \"" + text + "\""});
    }
    ep.host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) {
      return unexpected(Error{field + ": must be host:port, got \"" + text + "\""});
    }
    ep.host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (ep.host.empty()) return unexpected(Error{field + ": host is empty in \"" + text + "\""});
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return std::isdigit(c); })) {
    return unexpected(Error{field + ": port must be 1..65535 in \"" + text + "\""});
  }
  ep.port = std::stoi(port);
  if (ep.port < 1 || ep.port > 65535) {
    return unexpected(Error{field + ": port must be 1..65535 in \"" + text + "\""});
  }
  return ep;
}

Result<HookRequest> ParseHookRequest(std::string_view body) {
  const Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return unexpected(Error{"body: must be a JSON object"});
  HookRequest r;
  constexpr std::int64_t kU32 = std::numeric_limits<std::uint32_t>::max();
  constexpr std::int64_t kI64 = std::numeric_limits<std::int64_t>::max();
  auto shard_set = StringField(j, "shardSet");
  if (!shard_set) return unexpected(shard_set.error());
  r.shard_set = *shard_set;
  auto action = StringField(j, "action");
  if (!action) return unexpected(action.error());
  r.action = *action;
  if (r.action.size() > 253 || r.action.find_first_of("/ \r\n") != std::string::npos) {
    return unexpected(Error{"action: at most 253 characters, no '/', spaces or newlines"});
  }
  auto range = IntField(j, "range", 0, kU32);
  if (!range) return unexpected(range.error());
  auto start = IntField(j, "start", 0, kU32);
  if (!start) return unexpected(start.error());
  auto end = IntField(j, "end", 0, kU32);
  if (!end) return unexpected(end.error());
  if (*end < *start) return unexpected(Error{"end: must be >= start"});
  r.range = static_cast<std::uint32_t>(*range);
  r.start = static_cast<std::uint32_t>(*start);
  r.end = static_cast<std::uint32_t>(*end);
  auto source = StringField(j, "source");
  if (!source) return unexpected(source.error());
  r.source = *source;
  auto target = StringField(j, "target");
  if (!target) return unexpected(target.error());
  r.target = *target;
  auto sep = StringField(j, "sourceEndpoint");
  if (!sep) return unexpected(sep.error());
  auto sep_parsed = ParseEndpoint(*sep, "sourceEndpoint");
  if (!sep_parsed) return unexpected(sep_parsed.error());
  r.source_endpoint = *sep_parsed;
  auto tep = StringField(j, "targetEndpoint");
  if (!tep) return unexpected(tep.error());
  auto tep_parsed = ParseEndpoint(*tep, "targetEndpoint");
  if (!tep_parsed) return unexpected(tep_parsed.error());
  r.target_endpoint = *tep_parsed;
  if (r.source_endpoint.text == r.target_endpoint.text) {
    return unexpected(Error{"targetEndpoint: must differ from sourceEndpoint"});
  }
  auto epoch = IntField(j, "epoch", 0, kI64);
  if (!epoch) return unexpected(epoch.error());
  r.epoch = *epoch;
  auto token = IntField(j, "fencingToken", 1, kI64);
  if (!token) return unexpected(token.error());
  r.fencing_token = *token;
  return r;
}

std::string HookRequestJson(const HookRequest& r) {
  Json j = {{"shardSet", r.shard_set},
            {"action", r.action},
            {"range", r.range},
            {"start", r.start},
            {"end", r.end},
            {"source", r.source},
            {"target", r.target},
            {"sourceEndpoint", r.source_endpoint.text},
            {"targetEndpoint", r.target_endpoint.text},
            {"epoch", r.epoch},
            {"fencingToken", r.fencing_token}};
  return j.dump();
}

// The step's identity: everything but the fencing token and the routing
// epoch. A retry of the same step may carry a newer epoch (other moves
// published documents meanwhile); it is still the same step and gets the
// recorded answer instead of a refusal.
std::string Fingerprint(Hook hook, const HookRequest& r) {
  return HookName(hook) + " " + r.shard_set + " " + std::to_string(r.range) + " " +
         std::to_string(r.start) + "-" + std::to_string(r.end) + " " + r.source + "@" +
         r.source_endpoint.text + " -> " + r.target + "@" + r.target_endpoint.text;
}

std::map<std::string, std::string> ParseQuery(std::string_view query) {
  std::map<std::string, std::string> out;
  std::size_t pos = 0;
  while (pos <= query.size()) {
    auto amp = query.find('&', pos);
    if (amp == std::string_view::npos) amp = query.size();
    const std::string_view part = query.substr(pos, amp - pos);
    if (!part.empty()) {
      const auto eq = part.find('=');
      if (eq == std::string_view::npos) {
        out[Unescape(part)] = "";
      } else {
        out[Unescape(part.substr(0, eq))] = Unescape(part.substr(eq + 1));
      }
    }
    pos = amp + 1;
  }
  return out;
}

}  // namespace shardcast::agent
