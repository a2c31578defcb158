// The per-pod load factors the forecast controller publishes for routers
// (ConfigMap `<configMapName>-loads`, key `loads.json`, docs/routing.md):
// the parser and a thread-safe holder the workers copy from.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "router/decisions.h"
#include "router/table.h"
#include "util/expected.h"

namespace shardcast::router::proxy {

inline constexpr double kMinLoadFactor = 0.05;
inline constexpr double kMaxLoadFactor = 20;

// Parses `{"generatedAt": "<RFC 3339>", "pods": {"kv-0": 0.72, ...}}`.
// `pods` is required; each value must be a finite number > 0 and is clamped
// to [kMinLoadFactor, kMaxLoadFactor]; `generatedAt`, when present, must be
// a string; other fields are ignored. Errors name the field.
[[nodiscard]] Result<LoadFactors> ParseLoadFactors(std::string_view text);

// Thread-safe. A pod that is not listed counts 1 (LoadView).
class LoadFactorsHolder {
 public:
  // kApplied (version() bumped), kIgnoredNotNewer when the factors are the
  // ones in use, kRejectedInvalid (the last good factors stay) with the error.
  [[nodiscard]] UpdateResult Update(std::string_view text);
  LoadFactors Get() const;
  // Bumped on every applied update; 0 until the first.
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }

 private:
  mutable std::mutex mu_;
  LoadFactors factors_;
  std::atomic<std::uint64_t> version_{0};
};

}  // namespace shardcast::router::proxy
