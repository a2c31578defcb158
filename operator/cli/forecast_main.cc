// Standalone `shardcast-forecast` until the lead wires `shardcast forecast`.
#include "operator/cli/forecast.h"

int main(int argc, char** argv) { return shardcast::cli::ForecastMain(argc, argv); }
