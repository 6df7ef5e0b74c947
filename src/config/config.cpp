#include "mlops_ingest/config/config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <sstream>

#include "config_detail.hpp"
#include "mlops_ingest/log/redact.hpp"
#include "mlops_ingest/log/log.hpp"

namespace mlops_ingest {
namespace {

using Setter = std::function<void(Config&, const std::string& key, const std::string& value)>;

struct Setting {
  std::string key;
  std::string default_value;
  std::string help;
  Setter set;
};

long long parse_integer(const std::string& key, const std::string& value, long long min,
                        long long max) {
  long long v = 0;
  const char* end = value.data() + value.size();
  auto [ptr, ec] = std::from_chars(value.data(), end, v);
  if (ec != std::errc() || ptr != end) {
    throw ConfigError("setting '" + key + "': '" + value + "' is not a whole number");
  }
  if (v < min || v > max) {
    throw ConfigError("setting '" + key + "': " + value + " is outside [" + std::to_string(min) +
                      ", " + std::to_string(max) + "]");
  }
  return v;
}

template <auto Member>
Setter text() {
  return [](Config& c, const std::string& key, const std::string& value) {
    if (value.empty()) throw ConfigError("setting '" + key + "' must not be empty");
    c.*Member = value;
  };
}

template <auto Member>
Setter size(long long min, long long max) {
  return [min, max](Config& c, const std::string& key, const std::string& value) {
    c.*Member = static_cast<std::size_t>(parse_integer(key, value, min, max));
  };
}

template <auto Member>
Setter age() {
  return [](Config& c, const std::string& key, const std::string& v) {
    const std::optional<std::chrono::seconds> a = parse_age(v);
    if (!a) throw ConfigError("setting '" + key + "': '" + v + "' is not an age (0, 90s, 30m, 24h or 7d)");
    c.*Member = *a;
  };
}

template <auto Member>
Setter millis(long long min, long long max) {
  return [min, max](Config& c, const std::string& key, const std::string& value) {
    c.*Member = std::chrono::milliseconds(parse_integer(key, value, min, max));
  };
}

// Where from and where to, before the topics.
std::vector<Setting> source_settings() {
  return {
      {"brokers", "localhost:9092", "Kafka bootstrap servers, HOST:PORT[,HOST:PORT...]",
       text<&Config::brokers>()},
      {"pg", "", "PostgreSQL connection string or URI (passwords: use PGPASSWORD/PGPASSFILE)",
       [](Config& c, const std::string&, const std::string& v) {
         redact::remember_dsn_secrets(v);
         c.pg = v;
       }},
      {"group", "mlops-ingest", "Kafka consumer group; also the key of stored offsets",
       text<&Config::group>()},
      {"group_instance_id", "", "static group membership (group.instance.id; unique per instance); empty: off",
       [](Config& c, const std::string&, const std::string& v) { c.group_instance_id = v; }},
  };
}

// A kind's topic setting, as kEventKinds describes it.
Setting topic_setting(const EventKindSpec& spec) {
  return {std::string(spec.topic_setting), std::string(spec.default_topic),
          "topic of " + std::string(spec.name) + " events (" + std::string(spec.table) + "); empty turns the kind off",
          [kind = spec.kind](Config& c, const std::string&, const std::string& v) { c.topic_of(kind) = v; }};
}

// How the rows are written, and the pipeline's shape.
std::vector<Setting> pipeline_settings() {
  return {
      {"auto_offset_reset", "earliest",
       "where a partition with no stored offset starts: earliest or latest",
       [](Config& c, const std::string& key, const std::string& v) {
         if (v != "earliest" && v != "latest") {
           throw ConfigError("setting '" + key + "': '" + v + "' is not earliest or latest");
         }
         c.auto_offset_reset = v;
       }},
      {"apply_schema", "true",
       "create the schema's missing tables at startup (idempotent; false for read-only DDL roles)",
       [](Config& c, const std::string& key, const std::string& v) {
         if (v != "true" && v != "false") {
           throw ConfigError("setting '" + key + "': '" + v + "' is not true or false");
         }
         c.apply_schema = v == "true";
       }},
      {"pg_synchronous_commit", "on",
       "synchronous_commit of the writer sessions: on, remote_apply, remote_write, local, off "
       "(off: a PostgreSQL crash loses recent batches that a running ingester does not read again)",
       [](Config& c, const std::string& key, const std::string& v) {
         if (v != "off" && v != "local" && v != "remote_write" && v != "on" && v != "remote_apply") {
           throw ConfigError("setting '" + key + "': '" + v + "' is not a synchronous_commit level");
         }
         c.pg_synchronous_commit = v;
       }},
      {"writers", "2", "writer threads, each with its own PostgreSQL connection (1-64)",
       [](Config& c, const std::string& key, const std::string& v) {
         c.writers = static_cast<int>(parse_integer(key, v, 1, 64));
       }},
      {"ring_capacity", "32768", "rows buffered per writer before consumption pauses",
       size<&Config::ring_capacity>(16, 1 << 24)},
      {"poll_batch", "2000", "messages taken from librdkafka per consume call",
       size<&Config::poll_batch>(1, 1 << 20)},
      {"batch_rows", "16384", "a batch is flushed at this many rows (at most half of ring_capacity)",
       size<&Config::batch_rows>(1, 1 << 24)},
      {"batch_bytes", "16777216", "... or at this many bytes of COPY data",
       size<&Config::batch_bytes>(1024, 1LL << 32)},
      {"batch_linger_ms", "0",
       "... or when its oldest row has waited this long; 0: as soon as the writer is free (batches "
       "grow with the load)",
       millis<&Config::batch_linger>(0, 60000)},
      {"label_align_max_wait_ms", "2000",
       "longest a label waits while its predictions partition has older messages to deliver; 0: "
       "no event-time alignment",
       millis<&Config::label_align_max_wait>(0, 600000)},
      {"label_align_buffer", "2000", "labels held per partition for alignment before that partition is paused",
       size<&Config::label_align_buffer>(16, 1 << 20)},
      {"memory_limit_mb", "0", "memory bound the sizes are derived from; 0: the cgroup limit minus headroom, if any",
       size<&Config::memory_limit_mb>(0, 1 << 22)},
  };
}

// Validation, dead letters, timing and operations.
std::vector<Setting> operation_settings() {
  return {
      {"max_message_bytes", "1048576", "larger messages are dead-lettered unparsed",
       size<&Config::max_message_bytes>(64, 1LL << 30)},
      {"dead_letter_payload_max_bytes", "65536",
       "payload bytes kept in ingest_dead_letters (the original length is recorded)",
       size<&Config::dead_letter_payload_max_bytes>(0, 1LL << 30)},
      {"dead_letter_topic", "",
       "if set, dead letters are also published to this Kafka topic after they commit",
       [](Config& c, const std::string&, const std::string& v) { c.dead_letter_topic = v; }},
      {"progress_interval_ms", "5000", "progress line period on stderr; 0 disables it",
       millis<&Config::progress_interval>(0, 3600000)},
      {"shutdown_timeout_ms", "10000", "SIGTERM: time allowed to flush and commit in-flight rows",
       millis<&Config::shutdown_timeout>(0, 3600000)},
      {"pg_io_timeout_ms", "30000",
       "a PostgreSQL request with no progress for this long counts as an outage (retried)",
       millis<&Config::pg_io_timeout>(100, 3600000)},
      {"retry_backoff_initial_ms", "100", "first retry delay after an outage",
       millis<&Config::retry_backoff_initial>(1, 600000)},
      {"retry_backoff_max_ms", "10000", "retry delays double (with jitter) up to this",
       millis<&Config::retry_backoff_max>(1, 3600000)},
      {"pending_sweep_interval_ms", "1000",
       "how often an idle writer moves pending labels whose prediction has arrived",
       millis<&Config::pending_sweep_interval>(10, 3600000)},
      {"kafka_commit_interval_ms", "1000",
       "how often offsets already committed in PostgreSQL are also committed to Kafka",
       millis<&Config::kafka_commit_interval>(10, 3600000)},
      {"http_listen", "127.0.0.1:8397",
       "HOST:PORT of the HTTP endpoint (/metrics, /healthz, /readyz); empty turns it off",
       [](Config& c, const std::string& key, const std::string& v) {
         if (!v.empty()) split_host_port(key, v);
         c.http_listen = v;
       }},
      {"idle_exit_ms", "0",
       "if > 0: exit 0 once every assigned partition is caught up and idle this long",
       millis<&Config::idle_exit>(0, 86400000)},
      {"pg_connect_timeout_ms", "10000",
       "longest one connection attempt to PostgreSQL may take (an outage past it, retried); a "
       "connect_timeout in the pg DSN wins",
       millis<&Config::pg_connect_timeout>(100, 3600000)},
      {"log_format", "text", "stderr lines: text (readable) or json (one object per line, with fields)",
       [](Config& c, const std::string& key, const std::string& v) {
         const auto f = parse_log_format(v);
         if (!f) throw ConfigError("setting '" + key + "': '" + v + "' is not a log format (text or json)");
         c.log_format = *f;
       }},
      {"log_level", "info", "lowest level written: debug, info, warn or error",
       [](Config& c, const std::string& key, const std::string& v) {
         const auto l = parse_log_level(v);
         if (!l) {
           throw ConfigError("setting '" + key + "': '" + v + "' is not a log level (debug, info, warn or error)");
         }
         c.log_level = *l;
       }},
      // Retention of the ingester's own tables (src/operate/retention_pruner): off by default.
      {"dead_letter_retention", "0", "dead letters older than this are deleted (90s, 30m, 24h, 7d); 0: kept for ever",
       age<&Config::dead_letter_retention>()},
      {"appended_retention", "0",
       "ingest_appended positions older than this are deleted; a replay reaching further back appends "
       "alerts and retraining rows again; 0: kept for ever",
       age<&Config::appended_retention>()},
  };
}

// Every setting, in the order config/mlops-ingest.conf and `mlops-ingest settings` list them.
const std::vector<Setting>& settings() {
  static const std::vector<Setting> table = [] {
    std::vector<Setting> out = source_settings();
    for (const EventKindSpec& spec : kEventKinds) out.push_back(topic_setting(spec));
    for (std::vector<Setting> (*part)() : {pipeline_settings, operation_settings}) {
      for (Setting& s : part()) out.push_back(std::move(s));
    }
    return out;
  }();
  return table;
}

std::string trim(std::string s) {
  auto not_space = [](unsigned char ch) { return std::isspace(ch) == 0; };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

// The file's content and, in `st`, the permissions of the very file that was read (fstat on the
// same descriptor: no window between checking and reading).
std::string read_config_file(const std::string& path, struct stat& st) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ConfigError("cannot read config file '" + path + "': " + std::strerror(errno));
  std::string text;
  const bool stat_ok = ::fstat(fd, &st) == 0;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      text.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      const int error = errno;
      ::close(fd);
      throw ConfigError("cannot read config file '" + path + "': " + std::strerror(error));
    }
  }
  ::close(fd);
  if (!stat_ok) throw ConfigError("cannot stat config file '" + path + "'");
  return text;
}

}  // namespace

bool config_detail::holds_secret(const std::string& key, const std::string& value) {
  if (key == "pg") return !redact::dsn_passwords(value).empty();
  return key.rfind("kafka.", 0) == 0 && redact::is_secret_kafka_property(key.substr(6)) && !value.empty();
}

void apply_setting(Config& config, const std::string& key, const std::string& value) {
  if (key.rfind("kafka.", 0) == 0 && key.size() > 6) {
    redact::remember_kafka_property(key.substr(6), value);
    config.kafka_properties[key.substr(6)] = value;
    return;
  }
  for (const Setting& s : settings()) {
    if (key == s.key) {
      s.set(config, key, value);
      config.given.insert(key);
      return;
    }
  }
  std::vector<std::string> keys;
  for (const Setting& s : settings()) keys.push_back(s.key);
  const std::string hint = config_detail::closest(key, keys);
  throw ConfigError("unknown setting '" + key + "'" + (hint.empty() ? "" : " (did you mean '" + hint + "'?)") +
                    "; see config/mlops-ingest.conf or `mlops-ingest settings`");
}

void apply_config_file(Config& config, const std::string& path, const SettingObserver& observe) {
  struct stat st {};
  std::istringstream in(read_config_file(path, st));
  std::string line;
  int line_no = 0;
  std::string secret_key;  // the first setting that holds a password
  while (std::getline(in, line)) {
    ++line_no;
    const std::string content = trim(line.substr(0, line.find('#')));
    if (content.empty()) continue;
    const auto eq = content.find('=');
    if (eq == std::string::npos) {
      throw ConfigError(path + ":" + std::to_string(line_no) + ": expected 'key = value'");
    }
    const std::string key = trim(content.substr(0, eq)), value = trim(content.substr(eq + 1));
    if (secret_key.empty() && config_detail::holds_secret(key, value)) secret_key = key;
    try {
      apply_setting(config, key, value);
      if (observe) observe(key, value, path + ":" + std::to_string(line_no));
    } catch (const ConfigError& e) {
      throw ConfigError(path + ":" + std::to_string(line_no) + ": " + e.what());
    }
  }
  // Like ssh with a private key: a password in a file other users can read is refused.
  if (!secret_key.empty() && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw ConfigError("config file '" + path + "' holds a password ('" + secret_key + "') but its permissions " +
                      mode + " let other users read or change it; run `chmod 600 " + path +
                      "` (owned by the user that runs mlops-ingest), or move the password out of the file "
                      "(PGPASSFILE, KAFKA_SASL_PASSWORD)");
  }
}

std::array<std::string, kTopicKindCount> Config::default_kind_topics() {
  std::array<std::string, kTopicKindCount> out;
  for (const EventKindSpec& spec : kEventKinds) out[kind_index(spec.kind)] = spec.default_topic;
  return out;
}

std::optional<std::chrono::seconds> parse_age(std::string_view text) {
  if (text == "0") return std::chrono::seconds(0);
  if (text.size() < 2) return std::nullopt;
  std::int64_t n = 0;
  for (const char ch : text.substr(0, text.size() - 1)) {
    if (ch < '0' || ch > '9' || n > 1000000000) return std::nullopt;
    n = n * 10 + (ch - '0');
  }
  switch (text.back()) {
    case 's': return std::chrono::seconds(n);
    case 'm': return std::chrono::seconds(n * 60);
    case 'h': return std::chrono::seconds(n * 3600);
    case 'd': return std::chrono::seconds(n * 86400);
    default: return std::nullopt;
  }
}

std::optional<TopicKind> Config::kind_of_topic(std::string_view name) const noexcept {
  if (name.empty()) return std::nullopt;
  for (const EventKindSpec& spec : kEventKinds) {
    if (topic_of(spec.kind) == name) return spec.kind;
  }
  return std::nullopt;
}

std::vector<std::string> Config::topics() const {
  std::vector<std::string> out;
  for (const EventKindSpec& spec : kEventKinds) {
    if (!topic_of(spec.kind).empty()) out.push_back(topic_of(spec.kind));
  }
  return out;
}

void validate(const Config& c) {
  for (const EventKindSpec& a : kEventKinds) {
    const std::string& topic = c.topic_of(a.kind);
    for (const EventKindSpec& b : kEventKinds) {
      if (!topic.empty() && kind_index(b.kind) > kind_index(a.kind) && c.topic_of(b.kind) == topic) {
        throw ConfigError("settings '" + std::string(a.topic_setting) + "' and '" + std::string(b.topic_setting) +
                          "' must differ (both are '" + topic + "')");
      }
    }
  }
  if (c.topics().empty()) {
    std::string names;
    for (const EventKindSpec& spec : kEventKinds) names += (names.empty() ? "" : ", ") + std::string(spec.topic_setting);
    throw ConfigError("every topic setting (" + names + ") is empty: there is nothing to consume; set at least one");
  }
  if (c.batch_rows > c.ring_capacity / 2) {
    throw ConfigError("setting 'batch_rows' (" + std::to_string(c.batch_rows) +
                      ") must be at most half of 'ring_capacity' (" +
                      std::to_string(c.ring_capacity) + ") so consumption overlaps a flush");
  }
  if (c.retry_backoff_initial > c.retry_backoff_max) {
    throw ConfigError("setting 'retry_backoff_initial_ms' exceeds 'retry_backoff_max_ms'");
  }
}

HostPort split_host_port(const std::string& key, const std::string& value) {
  const auto colon = value.rfind(':');
  if (colon == std::string::npos) {
    throw ConfigError("setting '" + key + "': '" + value + "' is not HOST:PORT");
  }
  HostPort out;
  out.host = value.substr(0, colon);
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  } else if (out.host.find(':') != std::string::npos) {
    throw ConfigError("setting '" + key + "': write an IPv6 address in brackets, e.g. [::1]:8397");
  }
  if (out.host.empty()) out.host = "0.0.0.0";
  out.port = static_cast<std::uint16_t>(parse_integer(key, value.substr(colon + 1), 0, 65535));
  return out;
}

std::string setting_env_name(std::string_view key) {
  std::string name = "MLOPS_INGEST_";
  for (char ch : key) name += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return name;
}

std::string setting_flag(std::string_view key) {
  std::string flag = "--" + std::string(key);
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

const std::vector<SettingDoc>& setting_docs() {
  static const std::vector<SettingDoc> docs = [] {
    std::vector<SettingDoc> out;
    for (const Setting& s : settings()) out.push_back({s.key, s.default_value, s.help});
    return out;
  }();
  return docs;
}

std::string config_detail::take_flag_value(const std::vector<std::string>& args, std::size_t& i, std::string& key) {
  if (const auto eq = key.find('='); eq != std::string::npos) {
    std::string value = key.substr(eq + 1);
    key.resize(eq);
    return value;
  }
  if (i + 1 >= args.size()) throw ConfigError("option '--" + key + "' needs a value");
  return args[++i];
}

std::map<std::string, std::string> parse_command_flags(const std::vector<std::string>& args,
                                                       const std::vector<std::string>& known,
                                                       const std::vector<std::string>& switches) {
  auto listed = [](const std::vector<std::string>& names, const std::string& key) {
    return std::find(names.begin(), names.end(), key) != names.end();
  };
  std::map<std::string, std::string> flags;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string key = args[i];
    if (key.rfind("--", 0) != 0) throw ConfigError("unexpected argument '" + key + "'");
    key = key.substr(2);
    if (listed(switches, key)) {
      flags[key] = "true";
      continue;
    }
    std::string value = config_detail::take_flag_value(args, i, key);
    if (!listed(known, key)) throw ConfigError("unknown option '--" + key + "'");
    flags[key] = value;
  }
  return flags;
}

}  // namespace mlops_ingest
