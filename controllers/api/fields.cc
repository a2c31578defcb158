#include "controllers/api/fields.h"

#include <cmath>

namespace shardcast::api::fields {

std::string Show(const Json& v) {
  std::string s = v.dump();
  if (s.size() > 64) s = s.substr(0, 61) + "...";
  return s;
}

Result<void> ReadInt(const Json& obj, const char* key, const std::string& path, int64_t lo,
                     int64_t hi, int* out) {
  if (!obj.is_object() || !obj.contains(key) || obj[key].is_null()) return {};
  const Json& v = obj[key];
  bool integral = v.is_number_integer() || (v.is_number_float() && std::isfinite(v.get<double>()) &&
                                            v.get<double>() == std::floor(v.get<double>()));
  if (!integral) {
    return unexpected(Error{path + ": must be an integer in " + std::to_string(lo) + ".." +
                            std::to_string(hi) + ", got " + Show(v)});
  }
  double d = v.get<double>();
  if (d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
    return unexpected(Error{path + ": must be in " + std::to_string(lo) + ".." +
                            std::to_string(hi) + ", got " + Show(v)});
  }
  *out = static_cast<int>(d);
  return {};
}

Result<const Json*> Section(const Json& parent, const char* key, const std::string& path) {
  static const Json kEmpty = Json::object();
  if (!parent.is_object() || !parent.contains(key) || parent[key].is_null()) return &kEmpty;
  if (!parent[key].is_object())
    return unexpected(Error{path + ": must be an object, got " + Show(parent[key])});
  return &parent[key];
}

bool IsDns1123(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  }
  return s.front() != '-' && s.back() != '-' && s.front() != '.' && s.back() != '.';
}

std::string StringAt(const Json& obj, const char* a, const char* b) {
  if (!obj.is_object() || !obj.contains(a)) return {};
  const Json* v = &obj[a];
  if (b != nullptr) {
    if (!v->is_object() || !v->contains(b)) return {};
    v = &(*v)[b];
  }
  return v->is_string() ? v->get<std::string>() : std::string();
}

}  // namespace shardcast::api::fields
