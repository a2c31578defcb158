// `shardcast plan`: prints what the operator would do for a ShardSet given its
// state, a MigrationPolicy and forecasts (or a load trace to forecast from).
#pragma once

namespace shardcast::cli {

// Returns the process exit code: 0 ok, 2 bad input (one-line error on stderr).
int PlanMain(int argc, char** argv);

}  // namespace shardcast::cli
