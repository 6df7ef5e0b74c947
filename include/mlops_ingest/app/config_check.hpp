#pragma once
// `mlops-ingest config check [--config F] [--<setting> VALUE ...]`: the effective settings of
// `run` with where each came from (default, file, environment, flag), secrets masked; then what
// can be checked without consuming: the PostgreSQL connection and the role's privileges, the
// schema's tables and their columns, types and keys (pg/schema_drift.hpp), each configured
// topic and its partition count, and the co-partitioning of the predictions and labels topics.
// One line per problem.
#include <string>
#include <vector>

namespace mlops_ingest {

// Exit codes: 0 every check passed, 1 a check failed. Bad settings or usage throw ConfigError,
// which the CLI turns into 2.
inline constexpr int kConfigCheckFailed = 1;
int run_config_check_command(const std::vector<std::string>& args);

}  // namespace mlops_ingest
