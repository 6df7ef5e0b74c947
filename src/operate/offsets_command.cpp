// `mlops-ingest offsets`: arguments, and what show and reset share.
#include <cstdio>

#include "mlops_ingest/kafka/kafka_handles.hpp"
#include "mlops_ingest/log/log.hpp"
#include "mlops_ingest/operate/offsets.hpp"
#include "offsets_detail.hpp"

namespace mlops_ingest::operate {
namespace {

constexpr const char* kUsage =
    "usage: mlops-ingest offsets show [--group G] [--json] [--config FILE] [--<setting> VALUE ...]\n"
    "       mlops-ingest offsets reset --group G --to earliest|latest|RFC3339|OFFSET [--topics T,...] "
    "[--partitions 0,2,4-7] [--execute [--force]] [--config FILE] [--<setting> VALUE ...]";

}  // namespace

OffsetsArgs parse_offsets_args(const std::vector<std::string>& args, bool reset) {
  OffsetsArgs out;
  std::vector<std::string> settings;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0) throw ConfigError("unexpected argument '" + arg + "'\n" + kUsage);
    std::string key = arg.substr(2), value;
    const auto eq = key.find('=');
    if (eq != std::string::npos) {
      value = key.substr(eq + 1);
      key.resize(eq);
    }
    bool* flag = key == "json" && !reset ? &out.json
               : key == "execute" && reset ? &out.execute
               : key == "force" && reset ? &out.force : nullptr;
    if (flag != nullptr) {
      if (eq != std::string::npos) throw ConfigError("option '--" + key + "' takes no value");
      *flag = true;
      continue;
    }
    std::string* own = key == "group" ? &out.group
                     : key == "to" && reset ? &out.to
                     : key == "topics" && reset ? &out.topics
                     : key == "partitions" && reset ? &out.partitions : nullptr;
    if (own == nullptr) {
      settings.push_back(arg);
      if (eq == std::string::npos && i + 1 < args.size()) settings.push_back(args[++i]);
      continue;  // load_config rejects unknown settings and missing values, naming them
    }
    if (eq == std::string::npos) {
      if (i + 1 >= args.size()) throw ConfigError("option '--" + key + "' needs a value\n" + kUsage);
      value = args[++i];
    }
    if (value.empty()) throw ConfigError("option '--" + key + "' needs a value\n" + kUsage);
    *own = value;
  }
  out.config = load_config(settings);
  out.group_given = !out.group.empty();
  if (!out.group_given) out.group = out.config.group;
  if (reset) {
    // The live group's name comes from the settings too; a reset names its group explicitly so
    // that a wrong config file cannot move the wrong group's offsets.
    if (!out.group_given) throw ConfigError("offsets reset needs --group (the group whose offsets move)\n" + std::string(kUsage));
    if (out.to.empty()) throw ConfigError("offsets reset needs --to earliest|latest|RFC3339|OFFSET\n" + std::string(kUsage));
    if (out.force && !out.execute) throw ConfigError("--force only applies with --execute");
  }
  return out;
}

std::map<PartitionKey, StoredRow> read_stored(pg::BlockingConnection& conn, const std::string& group, bool for_update) {
  pg::PgResult r = conn.exec_params(
      "SELECT topic, kafka_partition, next_offset, "
      "to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
      "greatest(0, extract(epoch FROM now() - updated_at))::bigint "
      "FROM ingest_offsets WHERE consumer_group = $1 ORDER BY topic, kafka_partition" +
          std::string(for_update ? " FOR UPDATE" : ""),
      {group});
  std::map<PartitionKey, StoredRow> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    out[{PQgetvalue(r.get(), i, 0), static_cast<std::int32_t>(std::stol(PQgetvalue(r.get(), i, 1)))}] =
        StoredRow{std::stoll(PQgetvalue(r.get(), i, 2)), PQgetvalue(r.get(), i, 3), std::stoll(PQgetvalue(r.get(), i, 4))};
  }
  return out;
}

std::vector<std::string> present_topics(PartitionTimeline& kafka, const Config& config) {
  std::vector<std::string> out;
  for (const std::string& topic : config.topics()) {
    try {
      static_cast<void>(kafka.partitions(topic));
      out.push_back(topic);
    } catch (const kafka::KafkaError& e) {
      std::fprintf(stderr, "note: topic '%s' is left out: %s\n", topic.c_str(), e.what());
    }
  }
  return out;
}

std::vector<std::string> live_leases(pg::BlockingConnection& conn, const std::string& group) {
  pg::PgResult r = conn.exec_params(
      "SELECT instance_id, greatest(0, extract(epoch FROM now() - renewed_at))::bigint FROM ingest_instances "
      "WHERE consumer_group = $1 AND expires_at > now() ORDER BY instance_id",
      {group});
  std::vector<std::string> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    out.push_back(std::string(PQgetvalue(r.get(), i, 0)) + " (lease renewed " + ago(std::stoll(PQgetvalue(r.get(), i, 1))) + ")");
  }
  return out;
}


std::string number(std::int64_t n) {
  const std::string digits = with_commas(static_cast<std::uint64_t>(n < 0 ? -n : n));
  return n < 0 ? "-" + digits : digits;
}

std::string ago(std::int64_t s) {
  if (s < 120) return std::to_string(s) + " s ago";
  if (s < 7200) return std::to_string(s / 60) + " min ago";
  if (s < 172800) return std::to_string(s / 3600) + " h ago";
  return std::to_string(s / 86400) + " d ago";
}

int run_offsets_command(const std::vector<std::string>& args) {
  if (args.empty()) throw ConfigError(std::string("offsets needs show or reset\n") + kUsage);
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "show") return run_offsets_show(parse_offsets_args(rest, false));
  if (args[0] == "reset") return run_offsets_reset(parse_offsets_args(rest, true));
  throw ConfigError("offsets: unknown subcommand '" + args[0] + "'\n" + kUsage);
}

}  // namespace mlops_ingest::operate
