#include "router/document.h"

#include <cctype>
#include <set>

namespace shardcast::router {
namespace {

using Json = nlohmann::json;

Unexpected<Error> Fail(const std::string& field, const std::string& what) {
  return unexpected(Error{field + ": " + what});
}

std::string At(std::size_t i) { return "ranges[" + std::to_string(i) + "]"; }

// Reads an unsigned integer field in [0, max].
Result<std::uint64_t> ReadUint(const Json& obj, const char* key, const std::string& field,
                               std::uint64_t max) {
  auto it = obj.find(key);
  if (it == obj.end()) return Fail(field, "is required");
  if (!it->is_number_unsigned()) {
    return Fail(field, "must be an integer in [0, " + std::to_string(max) + "]");
  }
  std::uint64_t v = it->get<std::uint64_t>();
  if (v > max) return Fail(field, "must be an integer in [0, " + std::to_string(max) + "]");
  return v;
}

Result<std::string> ReadString(const Json& obj, const char* key, const std::string& field) {
  auto it = obj.find(key);
  if (it == obj.end()) return Fail(field, "is required");
  if (!it->is_string()) return Fail(field, "must be a string");
  return it->get<std::string>();
}

// null or absent -> nullopt; string -> value; anything else an error.
Result<std::optional<std::string>> ReadOptString(const Json& obj, const char* key,
                                                 const std::string& field) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return Fail(field, "must be a string or null");
  return std::optional<std::string>(it->get<std::string>());
}

Json Extra(const Json& obj, std::initializer_list<const char*> known) {
  Json extra = Json::object();
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool is_known = false;
    for (const char* k : known) is_known = is_known || it.key() == k;
    if (!is_known) extra[it.key()] = it.value();
  }
  return extra;
}

Result<Echo> ParseEcho(const Json& e, const std::string& field) {
  if (!e.is_object()) return Fail(field, "must be an object");
  Echo echo;
  auto pod = ReadString(e, "pod", field + ".pod");
  if (!pod) return unexpected(pod.error());
  echo.pod = *pod;
  auto ep = ReadString(e, "endpoint", field + ".endpoint");
  if (!ep) return unexpected(ep.error());
  echo.endpoint = *ep;
  echo.extra = Extra(e, {"pod", "endpoint"});
  return echo;
}

Result<RangeState> ParseState(const Json& e, const std::string& field) {
  auto s = ReadString(e, "state", field);
  if (!s) return unexpected(s.error());
  if (*s == "stable") return RangeState::kStable;
  if (*s == "migrating") return RangeState::kMigrating;
  if (*s == "shadow") return RangeState::kShadow;
  return Fail(field, "must be one of stable, migrating, shadow (got \"" + *s + "\")");
}

Result<Range> ParseRange(const Json& e, const std::string& f) {
  if (!e.is_object()) return Fail(f, "must be an object");
  Range r;
  auto id = ReadUint(e, "id", f + ".id", kMaxRanges - 1);
  if (!id) return unexpected(id.error());
  auto start = ReadUint(e, "start", f + ".start", 0xffffffffu);
  if (!start) return unexpected(start.error());
  auto end = ReadUint(e, "end", f + ".end", 0xffffffffu);
  if (!end) return unexpected(end.error());
  r.id = static_cast<std::uint32_t>(*id);
  r.start = static_cast<std::uint32_t>(*start);
  r.end = static_cast<std::uint32_t>(*end);
  auto owner = ReadString(e, "owner", f + ".owner");
  if (!owner) return unexpected(owner.error());
  r.owner = *owner;
  auto endpoint = ReadString(e, "endpoint", f + ".endpoint");
  if (!endpoint) return unexpected(endpoint.error());
  r.endpoint = *endpoint;
  auto state = ParseState(e, f + ".state");
  if (!state) return unexpected(state.error());
  r.state = *state;
  auto source = ReadOptString(e, "source", f + ".source");
  if (!source) return unexpected(source.error());
  r.source = *source;
  auto target = ReadOptString(e, "target", f + ".target");
  if (!target) return unexpected(target.error());
  r.target = *target;
  auto tep = ReadOptString(e, "targetEndpoint", f + ".targetEndpoint");
  if (!tep) return unexpected(tep.error());
  r.target_endpoint = *tep;
  if (auto it = e.find("shadowFraction"); it != e.end()) {
    if (!it->is_number()) return Fail(f + ".shadowFraction", "must be a number in [0, 1]");
    r.shadow_fraction = it->get<double>();
  }
  if (auto it = e.find("echoes"); it != e.end() && !it->is_null()) {
    if (!it->is_array()) return Fail(f + ".echoes", "must be a list");
    for (std::size_t j = 0; j < it->size(); ++j) {
      auto echo = ParseEcho((*it)[j], f + ".echoes[" + std::to_string(j) + "]");
      if (!echo) return unexpected(echo.error());
      r.echoes.push_back(std::move(*echo));
    }
  }
  r.extra = Extra(e, {"id", "start", "end", "owner", "endpoint", "state", "source", "target",
                      "targetEndpoint", "shadowFraction", "echoes"});
  return r;
}

Result<void> ValidateMove(const Range& r, const std::string& f) {
  if (r.state == RangeState::kStable) {
    if (r.source) return Fail(f + ".source", "must be null when state is stable");
    if (r.target) return Fail(f + ".target", "must be null when state is stable");
    if (r.target_endpoint) return Fail(f + ".targetEndpoint", "must be null when state is stable");
  } else {
    std::string st(RangeStateName(r.state));
    if (!r.source || *r.source != r.owner) {
      return Fail(f + ".source", "must equal owner \"" + r.owner + "\" when state is " + st);
    }
    if (!r.target || !IsValidPodName(*r.target)) {
      return Fail(f + ".target", "must be a pod name when state is " + st);
    }
    if (*r.target == r.owner) return Fail(f + ".target", "must differ from owner");
    if (r.target_endpoint && !IsValidEndpoint(*r.target_endpoint)) {
      return Fail(f + ".targetEndpoint", "must be host:port or empty");
    }
  }
  if (!(r.shadow_fraction >= 0 && r.shadow_fraction <= 1)) {
    return Fail(f + ".shadowFraction", "must be a number in [0, 1]");
  }
  if (r.state != RangeState::kShadow && r.shadow_fraction != 0) {
    return Fail(f + ".shadowFraction", "must be 0 unless state is shadow");
  }
  return {};
}

Result<void> ValidateRange(const Range& r, const std::string& f) {
  if (r.id >= kMaxRanges) return Fail(f + ".id", "must be an integer in [0, 4095]");
  if (r.start > r.end) return Fail(f + ".end", "must be >= start");
  if (r.owner.empty()) return Fail(f + ".owner", "must be a non-empty string");
  if (!IsValidPodName(r.owner)) return Fail(f + ".owner", "must be a pod name");
  if (!IsValidEndpoint(r.endpoint)) return Fail(f + ".endpoint", "must be host:port or empty");
  if (auto m = ValidateMove(r, f); !m) return m;
  for (std::size_t j = 0; j < r.echoes.size(); ++j) {
    std::string ef = f + ".echoes[" + std::to_string(j) + "]";
    if (!IsValidPodName(r.echoes[j].pod)) return Fail(ef + ".pod", "must be a pod name");
    if (r.echoes[j].pod == r.owner) return Fail(ef + ".pod", "must differ from owner");
    if (!IsValidEndpoint(r.echoes[j].endpoint)) {
      return Fail(ef + ".endpoint", "must be host:port or empty");
    }
  }
  return {};
}

}  // namespace

std::string_view RangeStateName(RangeState s) {
  switch (s) {
    case RangeState::kMigrating:
      return "migrating";
    case RangeState::kShadow:
      return "shadow";
    case RangeState::kStable:
      break;
  }
  return "stable";
}

bool IsValidPodName(std::string_view n) {
  if (n.empty() || n.size() > 253) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  for (char c : n) {
    if (!alnum(c) && c != '-') return false;
  }
  return alnum(n.front()) && alnum(n.back());
}

bool IsValidEndpoint(std::string_view ep) {
  if (ep.empty()) return true;
  auto colon = ep.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view host = ep.substr(0, colon);
  std::string_view port = ep.substr(colon + 1);
  if (port.empty() || port.size() > 5) return false;
  unsigned p = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    p = p * 10 + static_cast<unsigned>(c - '0');
  }
  if (p == 0 || p > 65535) return false;
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return false;
    for (char c : host.substr(1, host.size() - 2)) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
    }
    return true;
  }
  for (char c : host) {
    if (c == ':' || c == '[' || c == ']' || c == ' ' || static_cast<unsigned char>(c) < 0x21) {
      return false;
    }
  }
  return true;
}

Result<void> ValidateDocument(const Document& doc) {
  if (doc.schema_version != kSchemaVersion) {
    return Fail("schemaVersion", "must be 1 (got " + std::to_string(doc.schema_version) + ")");
  }
  if (doc.shard_set.empty() || doc.shard_set.size() > 253) {
    return Fail("shardSet", "must be a non-empty string of at most 253 characters");
  }
  if (doc.hash != kHashName) return Fail("hash", "must be \"fnv1a64-high32\"");
  if (doc.ranges.empty()) return Fail("ranges", "must be a non-empty list");
  if (doc.ranges.size() > kMaxRanges) return Fail("ranges", "must have at most 4096 entries");
  std::set<std::uint32_t> ids;
  std::uint64_t next = 0;
  for (std::size_t i = 0; i < doc.ranges.size(); ++i) {
    const Range& r = doc.ranges[i];
    if (auto v = ValidateRange(r, At(i)); !v) return v;
    if (!ids.insert(r.id).second) {
      return Fail(At(i) + ".id", "duplicate range id " + std::to_string(r.id));
    }
    if (r.start != next) {
      return Fail(At(i) + ".start",
                  "is " + std::to_string(r.start) + ", expected " + std::to_string(next) +
                      (r.start < next ? " (overlap or not sorted by start)" : " (gap)"));
    }
    next = static_cast<std::uint64_t>(r.end) + 1;
  }
  if (next != (std::uint64_t{1} << 32)) {
    return Fail("ranges",
                "must cover up to 4294967295 (last end is " + std::to_string(next - 1) + ")");
  }
  return {};
}

Result<Document> DocumentFromJson(const Json& j) {
  if (!j.is_object()) return Fail("routing.json", "must be a JSON object");
  Document doc;
  auto sv = ReadUint(j, "schemaVersion", "schemaVersion", 0xffffffffu);
  if (!sv) return unexpected(sv.error());
  if (*sv != kSchemaVersion) {
    return Fail("schemaVersion", "must be 1 (got " + std::to_string(*sv) + ")");
  }
  auto set = ReadString(j, "shardSet", "shardSet");
  if (!set) return unexpected(set.error());
  doc.shard_set = *set;
  auto epoch = ReadUint(j, "epoch", "epoch", UINT64_MAX);
  if (!epoch) return unexpected(epoch.error());
  doc.epoch = *epoch;
  auto hash = ReadString(j, "hash", "hash");
  if (!hash) return unexpected(hash.error());
  doc.hash = *hash;
  auto it = j.find("ranges");
  if (it == j.end() || !it->is_array()) return Fail("ranges", "must be a non-empty list");
  if (it->size() > kMaxRanges) return Fail("ranges", "must have at most 4096 entries");
  for (std::size_t i = 0; i < it->size(); ++i) {
    auto r = ParseRange((*it)[i], At(i));
    if (!r) return unexpected(r.error());
    doc.ranges.push_back(std::move(*r));
  }
  doc.extra = Extra(j, {"schemaVersion", "shardSet", "epoch", "hash", "ranges"});
  if (auto v = ValidateDocument(doc); !v) return unexpected(v.error());
  return doc;
}

Result<Document> ParseDocument(std::string_view text) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Fail("routing.json", "is not valid JSON");
  return DocumentFromJson(j);
}

Json DocumentToJson(const Document& doc) {
  Json j = doc.extra.is_object() ? doc.extra : Json::object();
  j["schemaVersion"] = doc.schema_version;
  j["shardSet"] = doc.shard_set;
  j["epoch"] = doc.epoch;
  j["hash"] = doc.hash;
  Json ranges = Json::array();
  for (const Range& r : doc.ranges) {
    Json e = r.extra.is_object() ? r.extra : Json::object();
    e["id"] = r.id;
    e["start"] = r.start;
    e["end"] = r.end;
    e["owner"] = r.owner;
    e["endpoint"] = r.endpoint;
    e["state"] = std::string(RangeStateName(r.state));
    e["source"] = r.source ? Json(*r.source) : Json(nullptr);
    e["target"] = r.target ? Json(*r.target) : Json(nullptr);
    if (r.target_endpoint) e["targetEndpoint"] = *r.target_endpoint;
    e["shadowFraction"] = r.shadow_fraction;
    Json echoes = Json::array();
    for (const Echo& x : r.echoes) {
      Json ej = x.extra.is_object() ? x.extra : Json::object();
      ej["pod"] = x.pod;
      ej["endpoint"] = x.endpoint;
      echoes.push_back(std::move(ej));
    }
    e["echoes"] = std::move(echoes);
    ranges.push_back(std::move(e));
  }
  j["ranges"] = std::move(ranges);
  return j;
}

std::string SerializeDocument(const Document& doc) { return DocumentToJson(doc).dump(); }

std::vector<Range> EvenRanges(std::uint32_t count) {
  std::vector<Range> out;
  const std::uint64_t space = std::uint64_t{1} << 32;
  for (std::uint32_t i = 0; i < count; ++i) {
    Range r;
    r.id = i;
    r.start = static_cast<std::uint32_t>(space * i / count);
    r.end = static_cast<std::uint32_t>(space * (i + 1) / count - 1);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace shardcast::router
