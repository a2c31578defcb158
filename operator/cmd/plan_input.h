// The inputs of `shardcast plan` (docs/planner.md): state.json, a
// MigrationPolicy manifest, forecast.json or a load trace. Errors name the
// file and the field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "controllers/planner/planner.h"
#include "util/expected.h"

namespace shardcast::cli::plan_input {

// state.json: shardSet (through the one ShardSet parser), pods, routing, and
// optionally rangeStats and history.
[[nodiscard]] Result<planner::PlanInput> ParseState(const std::string& path);

// A MigrationPolicy manifest (YAML), through the one MigrationPolicy parser;
// *horizon_seconds is set to its forecast horizon.
[[nodiscard]] Result<planner::Policy> ParsePolicy(const std::string& path, double* horizon_seconds);

// forecast.json: horizonSeconds, generatedAt (into *generated_at), pods, ranges.
[[nodiscard]] Result<planner::Forecasts> ParseForecast(const std::string& path,
                                                       std::optional<int64_t>* generated_at);

// A load trace (`time,pod,load` or `time,range,load`) turned into simple
// forecasts over the last `horizon` seconds before in.now (or the latest
// sample, which goes into *latest).
[[nodiscard]] Result<planner::Forecasts> ParseReplay(const std::string& path,
                                                     const planner::PlanInput& in, double horizon,
                                                     std::optional<int64_t>* latest);

}  // namespace shardcast::cli::plan_input
