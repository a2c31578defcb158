// `shardcast backfill`: seeds a ShardSet's forecast history ConfigMap
// (`<shardset>-history`) from CSV files before the operator starts, so that
// forecasts work from the first minute (controllers/forecast/persist.h,
// BackfillFromCsv).
#pragma once

namespace shardcast::cli {

// Returns the process exit code: 0 ok, 1 cluster error, 2 bad input (one-line
// error on stderr naming the flag, file, line or field).
int BackfillMain(int argc, char** argv);

}  // namespace shardcast::cli
