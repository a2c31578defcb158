// The fencing token stamped on objects that several writers share (the
// routing ConfigMap). A writer refuses to overwrite a larger token.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>

#include "controllers/api/resources.h"

namespace shardcast::api {

// The token in metadata.annotations[shardcast.dev/fencing-token]; 0 when
// absent or not a number.
inline uint64_t FencingTokenOf(const kube::Json& obj) {
  if (!obj.is_object()) return 0;
  auto md = obj.find("metadata");
  if (md == obj.end() || !md->is_object()) return 0;
  auto ann = md->find("annotations");
  if (ann == md->end() || !ann->is_object()) return 0;
  auto it = ann->find(kAnnotationFencing);
  if (it == ann->end() || !it->is_string()) return 0;
  const std::string& s = it->get_ref<const std::string&>();
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return 0;
  return v;
}

}  // namespace shardcast::api
