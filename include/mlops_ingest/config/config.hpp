#pragma once
// Every setting of `mlops-ingest run`, with its default. One table in config.cpp describes each
// setting once (each kind's topic setting taken from kEventKinds); it drives the config file,
// the environment and the command line alike, and config/mlops-ingest.conf documents them (a
// unit test checks its topic section against the kind table). Unknown keys and bad values are startup errors that
// name the key.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <optional>
#include <string_view>
#include <stdexcept>
#include <string>
#include <vector>

#include "mlops_ingest/event/event_kinds.hpp"
#include "mlops_ingest/log/log.hpp"

namespace mlops_ingest {

struct Config {
  // The topic of a kind ("" when the kind is off).
  [[nodiscard]] const std::string& topic_of(TopicKind kind) const noexcept { return kind_topics[kind_index(kind)]; }
  [[nodiscard]] std::string& topic_of(TopicKind kind) noexcept { return kind_topics[kind_index(kind)]; }
  // The kind whose topic is `name` (nullopt: none; an empty name never matches).
  [[nodiscard]] std::optional<TopicKind> kind_of_topic(std::string_view name) const noexcept;
  // The names of the kinds that are on (non-empty topic), in kEventKinds order.
  [[nodiscard]] std::vector<std::string> topics() const;
  // Each kind's default topic (EventKindSpec::default_topic), indexed by kind_index.
  static std::array<std::string, kTopicKindCount> default_kind_topics();

  // Where from, where to.
  std::string brokers = "localhost:9092";
  std::string pg;  // libpq connection string or URI; empty: libpq's PG* environment variables
  std::string group = "mlops-ingest";
  // Static membership (librdkafka group.instance.id; empty: off): a member restarted within
  // session.timeout.ms keeps its partitions without a rebalance. Unique per instance (pod name).
  std::string group_instance_id;
  // One topic per event kind, indexed by kind_index (read and set it through topic_of). Each is
  // the setting EventKindSpec::topic_setting, so a kind added to kEventKinds has its setting
  // with no change here. An empty name turns that kind off. A topic that does not exist yet is
  // a warning: it is picked up once it exists.
  std::array<std::string, kTopicKindCount> kind_topics = default_kind_topics();
  std::string auto_offset_reset = "earliest";  // where a group with no stored offset starts
  bool apply_schema = true;                     // create missing tables at startup (idempotent)
  // synchronous_commit of the writers' sessions. "on" by default: with "off" a PostgreSQL crash
  // loses recent batches together with their offsets, and a running ingester does not read them
  // again (its consumer is past them; only a restart resumes from the stored offsets), so they
  // are lost for good (tests/fault/postgres_crash_faulttest.cpp).
  std::string pg_synchronous_commit = "on";

  // Pipeline shape.
  int writers = 2;                             // writer threads = PostgreSQL connections
  std::size_t ring_capacity = 32768;           // slots per writer ring: the memory bound
  std::size_t poll_batch = 2000;               // messages per consume call
  std::size_t batch_rows = 16384;              // a batch flushes at this many rows...
  std::size_t batch_bytes = 16u << 20;         // ...or this many bytes of COPY data...
  // ...or, with linger 0 (the default), as soon as the writer has nothing in flight: batches
  // then grow with the load by themselves (rows pile up while the previous batch commits).
  std::chrono::milliseconds batch_linger{0};

  // Event-time alignment of labels to predictions (EventTimeAligner): a label waits at most
  // this long while its predictions partition has older messages to deliver; 0 turns it off.
  std::chrono::milliseconds label_align_max_wait{2000};
  std::size_t label_align_buffer = 2000;  // labels held per partition before it is paused
  // Labels held in all partitions before the partition taking one more is paused; 0 for no
  // total. Not a setting: the memory bound sets it to what its plan budgets, which must hold
  // however many labels partitions the group assigns this member.
  std::size_t label_align_total = 0;
  // The memory bound in MiB (memory_budget.hpp sizes the settings above and librdkafka's queue
  // to it); 0: the container's cgroup limit minus headroom if there is one, else no bound.
  std::size_t memory_limit_mb = 0;

  // Validation and dead letters.
  std::size_t max_message_bytes = 1u << 20;
  std::size_t dead_letter_payload_max_bytes = 64u << 10;
  std::string dead_letter_topic;  // also publish dead letters here (after they commit); empty: off
  // Retention: rows older than this are deleted off the hot path; 0 (the default): kept for ever.
  std::chrono::seconds dead_letter_retention{0}, appended_retention{0};

  // Timing.
  std::chrono::milliseconds progress_interval{5000};
  std::chrono::milliseconds shutdown_timeout{10000};
  std::chrono::milliseconds pg_io_timeout{30000};
  std::chrono::milliseconds retry_backoff_initial{100};
  std::chrono::milliseconds retry_backoff_max{10000};
  std::chrono::milliseconds pending_sweep_interval{1000};
  std::chrono::milliseconds kafka_commit_interval{1000};
  std::chrono::milliseconds idle_exit{0};  // >0: exit once caught up and idle this long
  // One connection attempt's limit (the DSN's connect_timeout wins): libpq has none by default.
  std::chrono::milliseconds pg_connect_timeout{10000};

  // Operations: the HTTP endpoint with /metrics, /healthz and /readyz (HOST:PORT; empty: off).
  // Loopback by default: nothing is exposed beyond the machine unless asked for (a pod needs
  // 0.0.0.0:8397 so that the kubelet and Prometheus reach it).
  std::string http_listen = "127.0.0.1:8397";
  LogFormat log_format = LogFormat::kText;  // stderr lines as text or one JSON object per line
  LogLevel log_level = LogLevel::kInfo;     // lines below it are not formatted at all

  // Extra librdkafka properties ("kafka.<property>" keys), e.g. security.protocol.
  std::map<std::string, std::string> kafka_properties;
  // The settings given explicitly (file, environment, command line): the memory budget keeps
  // these as they are and sizes only the others.
  std::set<std::string> given;
};

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SettingDoc {
  std::string key;
  std::string default_value;
  std::string help;
};

// Where a setting's value came from, for `config check`: the last layer that set it.
enum class SettingOrigin { kDefault, kFile, kEnvironment, kFlag };
[[nodiscard]] std::string_view origin_name(SettingOrigin origin) noexcept;  // "default", "file", ...
struct SettingSource {
  std::string value;  // as given (unredacted: mask it before showing it)
  SettingOrigin origin = SettingOrigin::kDefault;
  std::string where;  // "FILE:LINE", the variable's name, or the flag; "" for a default
};
using SettingSources = std::map<std::string, SettingSource>;  // by key ("kafka.<property>" too)

struct LoadOptions {
  // An MLOPS_INGEST_* variable that names no setting (and is not in kNonSettingVariables) is a
  // ConfigError naming it, with the nearest setting's variable as a hint. On for `run`,
  // `replay` and `config check`, whose settings these are.
  bool reject_unknown_environment = true;
  SettingSources* sources = nullptr;  // if set: filled with every key set by a layer
};

// MLOPS_INGEST_ variables that are not settings, all of them: the config file's path, and the
// parser-kernel override that tests and benchmarks use (event/event_parser.cpp).
inline constexpr std::array<std::string_view, 2> kNonSettingVariables = {"MLOPS_INGEST_CONFIG",
                                                                         "MLOPS_INGEST_PARSER_KERNEL"};

// Applies, in order of increasing precedence: the config file (if `--config FILE` is among the
// arguments or MLOPS_INGEST_CONFIG is set), MLOPS_INGEST_<KEY> environment variables (and
// MLOPS_INGEST_KAFKA__<PROPERTY>, see kafka_property_env_name), then `--<key-with-dashes> VALUE`
// arguments. Throws ConfigError naming the offending key.
Config load_config(const std::vector<std::string>& args, const LoadOptions& options = {});

// Individual layers, for tests and tools. `observe`, if set, hears each key the file sets, with
// its value and "FILE:LINE".
using SettingObserver = std::function<void(const std::string& key, const std::string& value, const std::string& where)>;
void apply_config_file(Config& config, const std::string& path, const SettingObserver& observe = {});
void apply_setting(Config& config, const std::string& key, const std::string& value);
void validate(const Config& config);

const std::vector<SettingDoc>& setting_docs();

// How a setting is named in the environment (MLOPS_INGEST_<KEY>) and on the command line
// (--<key-with-dashes>).
std::string setting_env_name(std::string_view key);
std::string setting_flag(std::string_view key);

// A librdkafka property in the environment: MLOPS_INGEST_KAFKA__ then the property upper-cased,
// each '.' written '_' and each '_' written '__' (sasl.mechanism → MLOPS_INGEST_KAFKA__SASL_MECHANISM).
// kafka_property_of_env_name is the inverse: "" for a name that is not of this form.
std::string kafka_property_env_name(std::string_view property);
std::string kafka_property_of_env_name(std::string_view name);

// The options of the tool subcommands: `--key value` or `--key=value` for each of `known`, and
// `--key` alone for each of `switches` (its value is then "true"). Anything else is a
// ConfigError naming it.
std::map<std::string, std::string> parse_command_flags(const std::vector<std::string>& args,
                                                       const std::vector<std::string>& known,
                                                       const std::vector<std::string>& switches = {});

// An age: "0", or digits and a unit s, m, h or d ("90s", "24h", "7d"); nullopt otherwise.
std::optional<std::chrono::seconds> parse_age(std::string_view text);

// "HOST:PORT", "[IPv6]:PORT" or ":PORT" (all interfaces) split and checked; throws ConfigError
// naming `key`. Port 0 asks the system for a free port (tests).
struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};
HostPort split_host_port(const std::string& key, const std::string& value);

}  // namespace mlops_ingest
