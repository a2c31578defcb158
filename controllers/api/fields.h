// Field readers shared by the parsers of controllers/api (internal): each
// names the field in its error. Not for use outside controllers/api.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "util/expected.h"

namespace shardcast::api::fields {

using Json = nlohmann::json;

// A value for an error message, cut to 64 characters.
std::string Show(const Json& v);

// An optional integer at obj[key] in lo..hi into *out (untouched when absent).
[[nodiscard]] Result<void> ReadInt(const Json& obj, const char* key, const std::string& path,
                                   int64_t lo, int64_t hi, int* out);

// obj[key] as an object ({} when absent or null); `path` names it.
[[nodiscard]] Result<const Json*> Section(const Json& parent, const char* key,
                                          const std::string& path);

// A DNS-1123 name of at most `max` characters (lower-case, digits, '-', '.').
bool IsDns1123(const std::string& s, size_t max);

// obj[a] (or obj[a][b]) when it is a string, else "".
std::string StringAt(const Json& obj, const char* a, const char* b = nullptr);

}  // namespace shardcast::api::fields
