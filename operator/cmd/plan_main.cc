// Standalone `shardcast-plan` executable (same as `shardcast plan`).
#include "operator/cmd/plan.h"

int main(int argc, char** argv) { return shardcast::cli::PlanMain(argc, argv); }
