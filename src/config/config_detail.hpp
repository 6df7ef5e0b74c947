#pragma once
// What config.cpp and load_config.cpp share, and nothing else includes.
#include <string>
#include <string_view>
#include <vector>

namespace mlops_ingest::config_detail {

// True if `key = value` puts a password into the config (a DSN password, a secret librdkafka
// property): a file holding one must not be readable by other users.
bool holds_secret(const std::string& key, const std::string& value);

// The candidate nearest to `name` by edit distance (case-insensitive), if near enough to be a
// likely typo; "" otherwise. The one hint for unknown keys, flags and environment variables.
std::string closest(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace mlops_ingest::config_detail
