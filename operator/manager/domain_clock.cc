#include "operator/manager/domain_clock.h"

namespace shardcast::manager {

std::chrono::system_clock::time_point DomainClock::SystemNow() const {
  const double real = std::chrono::duration<double>(base_.SystemNow().time_since_epoch()).count();
  const double domain = t_.ToDomain(real);
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::duration<double>(domain)));
}

}  // namespace shardcast::manager
