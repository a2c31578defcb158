// `shardcast forecast`: offline forecasting from a CSV file, printing the
// forecast table and optionally writing an SVG plot. All file I/O of the
// predictor lives here; the predictor library itself is pure.
#pragma once

#include <iosfwd>

namespace shardcast::cli {

// argv[0] is "forecast". Returns 0 on success, 2 on bad input (one-line
// error on stderr naming the flag, file or line).
int ForecastMain(int argc, char** argv);

// Same, with explicit streams (for tests).
int ForecastMain(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace shardcast::cli
