#include "operator/cli/plan.h"
namespace shardcast::cli {
int PlanMain(int, char**) { return 2; }
}  // namespace shardcast::cli
