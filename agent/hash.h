// Key hashing as in docs/routing.md: the high 32 bits of FNV-1a 64 of the
// key's bytes. Pure, header-only.
#pragma once

#include <cstdint>
#include <string_view>

namespace shardcast::agent {

inline constexpr std::string_view kReservedPrefix = "__shardcast:";

constexpr std::uint32_t Fnv1a64High32(std::string_view key) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<std::uint32_t>(h >> 32);
}

// Keys starting with "__shardcast:" belong to Shardcast: never copied,
// never counted.
constexpr bool IsReservedKey(std::string_view key) { return key.starts_with(kReservedPrefix); }

// Whether a client key's hash falls in [start, end] (both inclusive).
constexpr bool KeyInRange(std::string_view key, std::uint32_t start, std::uint32_t end) {
  if (IsReservedKey(key)) return false;
  const std::uint32_t h = Fnv1a64High32(key);
  return h >= start && h <= end;
}

}  // namespace shardcast::agent
