#include "router/decisions.h"

namespace shardcast::router {

Destination WriteDestination(const Range& range) { return {range.endpoint, range.owner, false}; }

Destination ReadDestination(const Range& range, const Session* session, const LoadView& load) {
  Destination owner = WriteDestination(range);
  if (range.echoes.empty() || (session != nullptr && session->HasWritten(range.id))) {
    return owner;
  }
  auto score = [&](const std::string& endpoint, const std::string& pod) {
    double out = load.outstanding ? static_cast<double>(load.outstanding(endpoint)) : 0.0;
    double factor = load.load_factor ? load.load_factor(pod) : 1.0;
    if (!(factor > 0)) factor = 1.0;
    return (out + 1.0) * factor;
  };
  Destination best = owner;
  double best_score = owner.endpoint.empty() ? 1e300 : score(owner.endpoint, owner.pod);
  for (const Echo& e : range.echoes) {
    if (e.endpoint.empty()) continue;
    if (load.disabled_echoes != nullptr && load.disabled_echoes->count(e.endpoint) > 0) continue;
    double s = score(e.endpoint, e.pod);
    if (s < best_score) {
      best_score = s;
      best = {e.endpoint, e.pod, true};
    }
  }
  return best;
}

double ShadowDraw(std::uint32_t range_id, std::uint64_t sequence) {
  std::uint64_t z =
      sequence * 0x9e3779b97f4a7c15ull + (std::uint64_t{range_id} << 32) + 0x632be59bd9b4e019ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

bool ShouldShadow(const Range& range, std::uint64_t sequence) {
  if (range.state != RangeState::kShadow || !range.target_endpoint ||
      range.target_endpoint->empty() || range.shadow_fraction <= 0) {
    return false;
  }
  return ShadowDraw(range.id, sequence) < range.shadow_fraction;
}

}  // namespace shardcast::router
