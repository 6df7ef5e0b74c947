// The layers of `run`'s settings (file, environment, command line) applied in order, and where
// each value came from.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "config_detail.hpp"
#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/config/memory_budget.hpp"
#include "mlops_ingest/log/log.hpp"
#include "mlops_ingest/log/redact.hpp"

extern char** environ;  // POSIX: the process environment, for the unknown-variable check

namespace mlops_ingest {
namespace {

constexpr std::string_view kEnvPrefix = "MLOPS_INGEST_";
constexpr std::string_view kKafkaEnvPrefix = "MLOPS_INGEST_KAFKA__";

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

void record(SettingSources* sources, const std::string& key, const std::string& value, SettingOrigin origin,
            const std::string& where) {
  if (sources != nullptr) (*sources)[key] = SettingSource{value, origin, where};
}

// The MLOPS_INGEST_* variables, by name: each applied if it names a setting or a librdkafka
// property, allowed if listed in kNonSettingVariables, and otherwise an error (when asked for).
void apply_environment(Config& config, const LoadOptions& options) {
  std::vector<std::string> setting_names;
  for (const SettingDoc& d : setting_docs()) setting_names.push_back(setting_env_name(d.key));
  std::vector<std::pair<std::string, std::string>> found;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry(*e);
    const auto eq = entry.find('=');
    if (eq == std::string::npos || entry.compare(0, kEnvPrefix.size(), kEnvPrefix) != 0) continue;
    found.emplace_back(entry.substr(0, eq), entry.substr(eq + 1));
  }
  std::sort(found.begin(), found.end());  // one order whatever the environment's
  for (const auto& [name, value] : found) {
    std::string key;
    if (const std::string property = kafka_property_of_env_name(name); !property.empty()) {
      key = "kafka." + property;
    } else if (const auto it = std::find(setting_names.begin(), setting_names.end(), name); it != setting_names.end()) {
      key = setting_docs()[static_cast<std::size_t>(it - setting_names.begin())].key;
    } else if (std::find(kNonSettingVariables.begin(), kNonSettingVariables.end(), name) != kNonSettingVariables.end() ||
               !options.reject_unknown_environment) {
      continue;
    } else {
      std::vector<std::string> known = setting_names;
      known.insert(known.end(), kNonSettingVariables.begin(), kNonSettingVariables.end());
      const std::string hint = config_detail::closest(name, known);
      throw ConfigError("environment variable " + name + " names no setting" +
                        (hint.empty() ? std::string() : " (did you mean " + hint + "?)") +
                        "; a librdkafka property is " + std::string(kKafkaEnvPrefix) +
                        "<PROPERTY> (sasl.mechanism: " + kafka_property_env_name("sasl.mechanism") +
                        "). Unset it, or see `mlops-ingest settings`");
    }
    try {
      apply_setting(config, key, value);
    } catch (const ConfigError& e) {
      throw ConfigError(name + ": " + e.what());
    }
    record(options.sources, key, value, SettingOrigin::kEnvironment, name);
  }
}

}  // namespace

std::string config_detail::closest(std::string_view name, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = std::string::npos;
  for (const std::string& c : candidates) {
    const std::size_t d = edit_distance(name, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  // A typo changes a few letters; anything further is another name, and a hint would mislead.
  const std::size_t near_enough = std::max<std::size_t>(2, name.size() / 3);
  return best_distance <= near_enough ? best : std::string();
}

std::string_view origin_name(SettingOrigin origin) noexcept {
  switch (origin) {
    case SettingOrigin::kFile: return "file";
    case SettingOrigin::kEnvironment: return "environment";
    case SettingOrigin::kFlag: return "flag";
    case SettingOrigin::kDefault: break;
  }
  return "default";
}

std::string kafka_property_env_name(std::string_view property) {
  std::string name(kKafkaEnvPrefix);
  for (char ch : property) {
    if (ch == '.') {
      name += '_';
    } else if (ch == '_') {
      name += "__";
    } else {
      name += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    }
  }
  return name;
}

std::string kafka_property_of_env_name(std::string_view name) {
  if (name.size() <= kKafkaEnvPrefix.size() || name.substr(0, kKafkaEnvPrefix.size()) != kKafkaEnvPrefix) return {};
  std::string property;
  const std::string_view rest = name.substr(kKafkaEnvPrefix.size());
  for (std::size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '_' && i + 1 < rest.size() && rest[i + 1] == '_') {
      property += '_';
      ++i;
    } else if (rest[i] == '_') {
      property += '.';
    } else {
      property += static_cast<char>(std::tolower(static_cast<unsigned char>(rest[i])));
    }
  }
  return property;
}

Config load_config(const std::vector<std::string>& args, const LoadOptions& options) {
  Config config;
  std::string config_path;
  if (const char* env = std::getenv("MLOPS_INGEST_CONFIG")) config_path = env;
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--config") config_path = args[i + 1];
  }
  if (!config_path.empty()) {
    apply_config_file(config, config_path, [&](const std::string& key, const std::string& value, const std::string& where) {
      record(options.sources, key, value, SettingOrigin::kFile, where);
    });
  }
  apply_environment(config, options);
  // SASL credentials come from the environment, never from files in the repository.
  redact::remember_environment_secrets();
  for (const auto& [name, property] : {std::pair{"KAFKA_SASL_USERNAME", "sasl.username"},
                                        std::pair{"KAFKA_SASL_PASSWORD", "sasl.password"}}) {
    if (const char* value = std::getenv(name)) {
      config.kafka_properties[property] = value;
      record(options.sources, std::string("kafka.") + property, value, SettingOrigin::kEnvironment, name);
    }
  }

  std::vector<std::string> warnings;  // logged once log_level and log_format are known
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0) throw ConfigError("unexpected argument '" + arg + "'");
    std::string key = arg.substr(2);
    const std::string value = config_detail::take_flag_value(args, i, key);
    if (key == "config") continue;
    std::replace(key.begin(), key.end(), '-', '_');
    if (key.rfind("kafka_", 0) == 0 && key.find('.') != std::string::npos) key[5] = '.';
    apply_setting(config, key, value);
    record(options.sources, key, value, SettingOrigin::kFlag, "--" + arg.substr(2, arg.find('=') - 2));
    if (config_detail::holds_secret(key, value)) {
      warnings.push_back("a password was given on the command line (--" + key +
                         "), where every local user can read it (ps, /proc/PID/cmdline); use PGPASSFILE, "
                         "KAFKA_SASL_PASSWORD or a config file with mode 600 instead");
    }
  }
  set_log_options(config.log_level, config.log_format);
  for (const std::string& warning : warnings) log_warn(warning);
  apply_memory_budget(config, cgroup_memory_limit());  // logs the bound and its parts, if any
  validate(config);
  return config;
}

}  // namespace mlops_ingest
