// Key hashing of the routing document: the high 32 bits of 64-bit FNV-1a.
#pragma once

#include <cstdint>
#include <string_view>

namespace shardcast::router {

constexpr std::uint64_t Fnv1a64(std::string_view key) {
  std::uint64_t h = 14695981039346656037ull;
  for (char c : key) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

// The key's position in [0, 2^32): "fnv1a64-high32".
constexpr std::uint32_t KeyHash(std::string_view key) {
  return static_cast<std::uint32_t>(Fnv1a64(key) >> 32);
}

}  // namespace shardcast::router
