// Standalone `shardcast-forecast` executable (same as `shardcast forecast`).
#include "operator/cmd/forecast.h"

int main(int argc, char** argv) { return shardcast::cli::ForecastMain(argc, argv); }
