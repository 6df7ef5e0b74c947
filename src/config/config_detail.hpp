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

// `args[i]` is "--key=value" or "--key" followed by its value in args[i + 1]: strips the value
// off `key` (args[i] without its dashes) and returns it, advancing `i` past a separate value.
// Throws ConfigError when the value is missing.
std::string take_flag_value(const std::vector<std::string>& args, std::size_t& i, std::string& key);

}  // namespace mlops_ingest::config_detail
