#include "mlops_ingest/app/config_check.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>

#include "../consume/copartitioning.hpp"
#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/kafka/kafka_handles.hpp"
#include "mlops_ingest/log/redact.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"
#include "mlops_ingest/pg/connect_timeout.hpp"
#include "mlops_ingest/pg/roles.hpp"
#include "mlops_ingest/pg/schema_drift.hpp"
#include "mlops_ingest/pg/startup_check.hpp"

namespace mlops_ingest {
namespace {

constexpr int kMetadataTimeoutMs = 10000;

// What a setting's value looks like on screen: a DSN without its passwords, a secret librdkafka
// property masked, and anything the redactor knows scrubbed.
std::string shown_value(const std::string& key, const std::string& value) {
  if (value.empty()) return "\"\"";
  if (key == "pg") return redact::scrub(redact::redact_dsn(value));
  if (key.rfind("kafka.", 0) == 0 && redact::is_secret_kafka_property(key.substr(6))) {
    return std::string(redact::kMask);
  }
  return redact::scrub(value);
}

void print_settings(const SettingSources& sources) {
  std::printf("settings (value, then where it comes from):\n");
  auto line = [](const std::string& key, const std::string& value, const SettingSource* source) {
    const std::string origin(origin_name(source != nullptr ? source->origin : SettingOrigin::kDefault));
    const std::string where = source != nullptr && !source->where.empty() ? " (" + source->where + ")" : "";
    std::printf("  %-30s %-30s %s%s\n", key.c_str(), shown_value(key, value).c_str(), origin.c_str(),
                redact::scrub(where).c_str());
  };
  for (const SettingDoc& d : setting_docs()) {
    const auto it = sources.find(d.key);
    line(d.key, it != sources.end() ? it->second.value : d.default_value, it != sources.end() ? &it->second : nullptr);
  }
  for (const auto& [key, source] : sources) {
    if (key.rfind("kafka.", 0) == 0) line(key, source.value, &source);
  }
}

// One check's outcome lines: "ok" lines, and one "FAIL" line per problem.
class Report {
 public:
  void ok(const std::string& what) { std::printf("  ok    %s\n", redact::scrub(what).c_str()); }
  void note(const std::string& what) { std::printf("  note  %s\n", redact::scrub(what).c_str()); }
  void fail(const std::string& what) {
    ++problems_;
    std::printf("  FAIL  %s\n", redact::scrub(what).c_str());
  }
  [[nodiscard]] int problems() const noexcept { return problems_; }

 private:
  int problems_ = 0;
};

void check_schema(const Config& config, pg::BlockingConnection& conn, Report& report) {
  std::vector<std::string> tables(pg::kSeedTables.begin(), pg::kSeedTables.end());
  for (const pg::TableGrant& g : pg::kIngesterTableGrants) tables.emplace_back(g.table);
  int missing = 0;
  for (const std::string& table : tables) {
    if (conn.query_value("SELECT to_regclass($1) IS NULL", {table}) != "t") continue;
    ++missing;
    if (config.apply_schema) {
      report.note("schema: table " + table + " does not exist yet; `run` creates it (apply_schema = true)");
    } else {
      report.fail("schema: table " + table + " does not exist (apply_schema = false): run `mlops-ingest schema apply`");
    }
  }
  if (missing == 0) report.ok("schema: all " + std::to_string(tables.size()) + " tables exist");
  // The columns, types and keys `run` checks at startup (pg/schema_drift.hpp); a missing table
  // is named above.
  int drift = 0;
  for (const pg::SchemaFinding& f : pg::schema_drift(conn, pg::written_tables(&config))) {
    if (f.table_missing) continue;
    if (f.problem) {
      ++drift;
      report.fail("schema: " + f.line());
    } else {
      report.note("schema: " + f.line());
    }
  }
  if (drift == 0 && missing == 0) report.ok("schema: the columns, types and keys match what `run` writes");
}

void check_postgres(const Config& config, Report& report) {
  const std::string target = config.pg.empty() ? "libpq's PG* environment variables" : redact::redact_dsn(config.pg);
  std::optional<pg::BlockingConnection> conn;
  try {
    conn.emplace(config.pg);
  } catch (const pg::PgError& e) {
    const std::string hint = pg::connection_hint(e.what());
    report.fail("postgres: cannot connect (pg = " + target + "): " + e.what() + (hint.empty() ? "" : ". Hint: " + hint));
    return;
  }
  const std::string user = PQuser(conn->raw());
  report.ok("postgres: connected as " + user + " to database " + PQdb(conn->raw()) + " (pg = " + target + ")");
  try {
    check_schema(config, *conn, report);
    int lacking = 0;
    for (const std::string& missing : pg::missing_ingest_privileges(config.pg, pg::needed_ingest_grants(config))) {
      if (missing.rfind("table ", 0) == 0) continue;  // the schema check above names missing tables
      ++lacking;
      report.fail("postgres role '" + user + "' lacks " + missing +
                  " (grant it with `mlops-ingest schema roles --ingest-role " + user + "`)");
    }
    if (lacking == 0) report.ok("postgres role '" + user + "': has the privileges `run` needs");
  } catch (const pg::PgError& e) {
    report.fail(std::string("postgres: checking the schema and privileges failed: ") + e.what());
  }
}

// Partition counts of every topic the brokers have, from one metadata request for all topics:
// asking about a single topic would make a broker with auto.create.topics.enable create it.
std::map<std::string, int> topic_partitions(const Config& config) {
  std::map<std::string, std::string> props =
      kafka::consumer_properties(config.brokers, config.group, "mlops-ingest-config-check");
  for (const auto& [k, v] : config.kafka_properties) {
    if (k != "group.id") props[k] = v;  // TLS, SASL, timeouts
  }
  props["log_level"] = "3";
  const kafka::KafkaHandle rk = kafka::make_handle(RD_KAFKA_CONSUMER, kafka::make_conf(props));
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(rk.get(), 1, nullptr, &md, kMetadataTimeoutMs);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw kafka::KafkaError("reading the topics from " + config.brokers + ": " + rd_kafka_err2str(err) +
                            " (check brokers and the kafka.* settings)");
  }
  std::map<std::string, int> out;
  for (int i = 0; i < md->topic_cnt; ++i) {
    if (md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) out[md->topics[i].topic] = md->topics[i].partition_cnt;
  }
  rd_kafka_metadata_destroy(md);
  return out;
}

void check_topics(const Config& config, Report& report) {
  std::map<std::string, int> partitions;
  try {
    partitions = topic_partitions(config);
  } catch (const std::exception& e) {
    report.fail(std::string("kafka: ") + e.what());
    return;
  }
  std::optional<int> predictions, labels;
  for (const EventKindSpec& spec : kEventKinds) {
    const std::string& topic = config.topic_of(spec.kind);
    const std::string named = "topic '" + topic + "' (" + std::string(spec.topic_setting) + ")";
    if (topic.empty()) {
      report.note("topic of " + std::string(spec.name) + ": off (" + std::string(spec.topic_setting) + " is empty)");
    } else if (const auto it = partitions.find(topic); it == partitions.end()) {
      report.fail(named + ": does not exist on " + config.brokers + " (create it, or set " +
                  std::string(spec.topic_setting) + " empty to turn the kind off)");
    } else {
      report.ok(named + ": " + std::to_string(it->second) + " partitions");
      if (spec.kind == TopicKind::kPredictions) predictions = it->second;
      if (spec.kind == TopicKind::kLabels) labels = it->second;
    }
  }
  if (predictions && labels) {
    CoPartitioning copartitioning;
    if (const auto mismatch = copartitioning.set_partition_counts(*predictions, *labels)) {
      report.fail("co-partitioning: " + *mismatch);
    } else {
      report.ok("co-partitioning: predictions and labels have " + std::to_string(*predictions) + " partitions each");
    }
  }
}

}  // namespace

int run_config_check_command(const std::vector<std::string>& args) {
  SettingSources sources;
  LoadOptions options;
  options.sources = &sources;
  const Config config = load_config(args, options);
  pg::set_default_connect_timeout(config.pg_connect_timeout);
  print_settings(sources);
  std::printf("checks:\n");
  Report report;
  check_postgres(config, report);
  check_topics(config, report);
  if (report.problems() == 0) {
    std::printf("config check: all good\n");
    return 0;
  }
  std::printf("config check: %d problem(s)\n", report.problems());
  return kConfigCheckFailed;
}

}  // namespace mlops_ingest
