// The error of a util parser: it names the field and quotes the input.
#pragma once

#include <string>
#include <string_view>

#include "util/expected.h"

namespace shardcast::util {

// "<field>: <why>: '<the first 64 characters of s>'".
inline Unexpected<Error> BadInput(const std::string& field, std::string_view s,
                                  const std::string& why) {
  return unexpected(Error{field + ": " + why + ": '" + std::string(s.substr(0, 64)) + "'"});
}

}  // namespace shardcast::util
