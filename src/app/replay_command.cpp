// The `mlops-ingest replay` subcommand: arguments in, a replay run, the exit code out.
#include "mlops_ingest/app/replay_command.hpp"

#include <algorithm>
#include <sstream>

#include "mlops_ingest/kafka/kafka_handles.hpp"
#include "mlops_ingest/log/log.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"
#include "mlops_ingest/pg/roles.hpp"
#include "mlops_ingest/pg/startup_check.hpp"

namespace mlops_ingest {
namespace {

constexpr const char* kUsage =
    "usage: mlops-ingest replay --brokers B --pg DSN --from earliest|RFC3339 --until now|RFC3339 "
    "[--topics predictions,labels] [--group NAME] [--config FILE] [--<setting> VALUE ...]";

}  // namespace

ReplayArgs parse_replay_args(const std::vector<std::string>& args) {
  std::string from, until, topics, group;
  bool http_listen_given = false;
  std::vector<std::string> settings;  // everything else: the settings of `run`
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0) throw ConfigError("unexpected argument '" + arg + "' (" + kUsage + ")");
    std::string key = arg.substr(2), value;
    const auto eq = key.find('=');
    if (eq != std::string::npos) {
      value = key.substr(eq + 1);
      key.resize(eq);
    }
    std::string* own = key == "from" ? &from : key == "until" ? &until : key == "topics" ? &topics
                     : key == "group" ? &group : nullptr;
    if (own == nullptr) {
      http_listen_given = http_listen_given || key == "http-listen" || key == "http_listen";
      settings.push_back(arg);
      if (eq == std::string::npos && i + 1 < args.size()) settings.push_back(args[++i]);
      continue;  // load_config rejects unknown settings and missing values, naming them
    }
    if (eq == std::string::npos) {
      if (i + 1 >= args.size()) throw ConfigError("option '--" + key + "' needs a value (" + kUsage + ")");
      value = args[++i];
    }
    if (value.empty()) throw ConfigError("option '--" + key + "' needs a value (" + kUsage + ")");
    *own = value;
  }
  if (from.empty() || until.empty()) {
    throw ConfigError(std::string("replay needs both --from and --until (") + kUsage + ")");
  }

  ReplayArgs out;
  out.config = load_config(settings);
  out.live_group = out.config.group;
  out.from = parse_replay_from(from);
  out.until = parse_replay_until(until);
  if (out.from.kind == ReplayBound::Kind::kTime && out.until.kind == ReplayBound::Kind::kTime &&
      out.from.unix_ms >= out.until.unix_ms) {
    throw ConfigError("--from (" + out.from.text() + ") must be before --until (" + out.until.text() + ")");
  }

  std::string all_topics;
  for (const std::string& t : out.config.topics()) all_topics += (all_topics.empty() ? "" : ",") + t;
  std::stringstream list(topics.empty() ? all_topics : topics);
  for (std::string t; std::getline(list, t, ',');) {
    if (t.empty()) continue;
    if (!out.config.kind_of_topic(t)) {
      throw ConfigError("--topics: '" + t + "' is not the topic of any event kind (" + all_topics +
                        "); set predictions_topic, labels_topic, models_topic, alerts_topic or retraining_topic "
                        "if yours are named differently");
    }
    if (std::find(out.topics.begin(), out.topics.end(), t) == out.topics.end()) out.topics.push_back(t);
  }
  if (out.topics.empty()) throw ConfigError("--topics: no topic given");
  out.topics_given = !topics.empty();

  out.config.group = group.empty() ? default_replay_group(out.live_group, out.from, out.until) : group;
  if (out.config.group == out.live_group) {
    throw ConfigError("--group '" + group + "' is the live group (setting 'group'): a replay stores its offsets under "
                      "its own group so that it never moves the live ingester's; leave --group out for '" +
                      default_replay_group(out.live_group, out.from, out.until) + "' or pick another name");
  }
  // The window's end is the exit condition; idle_exit (a live setting) would stop a replay early.
  out.config.idle_exit = std::chrono::milliseconds(0);
  // Only reached when retention deleted the start of the window since it was resolved: read
  // what is left of it ("latest", a live setting, would skip the window).
  out.config.auto_offset_reset = "earliest";
  if (!http_listen_given) out.config.http_listen.clear();
  return out;
}

int run_replay_command(const std::vector<std::string>& args, const std::function<int(Ingester&)>& run) {
  ReplayArgs a = parse_replay_args(args);
  // As `run`, the startup checks (connection, schema, privileges) run in the ingester: the
  // window is resolved in Kafka first.
  ReplayWindow window = [&] {
    const std::unique_ptr<PartitionTimeline> kafka = kafka_partition_timeline(a.config);
    if (!a.topics_given) {
      // Every configured kind by default; a deployment that has no topic for some kind (many
      // have only predictions and labels) replays the others. Named with --topics, a missing
      // topic is an error.
      std::vector<std::string> present;
      std::string last_error;
      for (const std::string& topic : a.topics) {
        try {
          static_cast<void>(kafka->partitions(topic));
          present.push_back(topic);
        } catch (const ::mlops_ingest::kafka::KafkaError& e) {
          last_error = e.what();
          log_warn("replay: topic '" + topic + "' is not replayed: " + last_error);
        }
      }
      if (present.empty()) throw ::mlops_ingest::kafka::KafkaError(last_error);
      a.topics = std::move(present);
    }
    return resolve_replay_window(*kafka, a.topics, a.from, a.until);
  }();
  log_info("replay as group '" + a.config.group + "' (the live group '" + a.live_group + "' is not touched): " +
           a.from.text() + " .. " + a.until.text() + ", resolved to offsets:");
  for (const std::string& line : window.describe()) log_info("replay window " + line);
  Ingester ingester(a.config, std::move(window));
  return run(ingester);
}

}  // namespace mlops_ingest
