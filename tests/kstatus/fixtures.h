// Status snapshots of ShardSets and MigrationPolicies made by the operator's
// own status and condition builders, for the kstatus checks (the fixtures
// the Go checker reads, and the unit test of the verdicts).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace shardcast::kstatus_fixtures {

struct Fixture {
  std::string name;      // file stem, e.g. "shardset-converged"
  std::string expected;  // kstatus verdict: InProgress, Current or Failed
  nlohmann::json object;
};

std::vector<Fixture> All();

}  // namespace shardcast::kstatus_fixtures
