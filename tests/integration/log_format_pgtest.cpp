// log_format and log_level on the real binary, against the embedded broker and the throwaway
// PostgreSQL: every JSON line parses and carries its fields, a level drops the lines below it,
// and an unknown value stops startup naming the setting.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sstream>

#include "fault_env.hpp"
#include "mlops_ingest/devtools/dev_broker.hpp"
#include "mlops_ingest/devtools/event_generator.hpp"
#include "test_env.hpp"

namespace mlops_ingest::testing {
namespace {

using namespace std::chrono_literals;
using fault::ChildProcess;
using fault::wait_until;

std::string log_path(const std::string& name) {
  return "/tmp/mlops-logformat-" + name + "-" + std::to_string(::getpid()) + ".log";
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    // ChildProcess's own header lines ("=== spawn: ...") are not the binary's.
    if (!line.empty() && line.rfind("=== ", 0) != 0) out.push_back(line);
  }
  return out;
}

// Runs an ingester with `extra` settings until everything produced is stored and it exits by
// itself (idle_exit_ms); returns its log.
std::string run_to_idle_exit(const std::string& name, const std::vector<std::string>& extra, std::string pg_suffix = "") {
  TestDatabase db;
  kafka::DevBroker broker({"predictions", "labels"}, 2);
  kafka::GeneratorOptions o;
  o.brokers = broker.bootstrap_servers();
  o.predictions = 2000;
  o.seed = 17;
  o.invalid_ratio = 0.01;
  const kafka::GeneratorReport sent = kafka::produce_events(o);
  fault::IngesterOptions opts(broker.bootstrap_servers(), db.dsn() + pg_suffix, "log-" + name);
  opts.extra = extra;
  opts.extra.insert(opts.extra.end(), {"--progress-interval-ms", "100", "--idle-exit-ms", "1500"});
  ChildProcess child(fault::ingester_argv(opts), log_path(name));
  const bool stored = wait_until(
      [&] {
        return db.count("SELECT count(*) FROM prediction_logs") == static_cast<std::int64_t>(sent.unique_predictions) &&
               db.count("SELECT count(*) FROM ingest_dead_letters") == static_cast<std::int64_t>(sent.invalid_events);
      },
      120s, 100ms);
  EXPECT_TRUE(stored) << child.log_tail();
  const std::optional<int> status = child.wait_exit(60s);
  EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << child.log_tail();
  return child.log();
}

TEST(LogFormatPgTest, JsonLinesParseAndCarryTheirFields) {
  const std::string secret = "json-log-secret-4711";
  const std::string log = run_to_idle_exit("json", {"--log-format", "json"}, " password=" + secret);
  simdjson::dom::parser parser;
  std::size_t progress = 0, assigned = 0;
  std::int64_t last_rows = -1;
  for (const std::string& line : lines_of(log)) {
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(line).get(doc), simdjson::SUCCESS) << "not JSON: " << line;
    std::string_view time, level, message;
    ASSERT_EQ(doc["time"].get(time), simdjson::SUCCESS) << line;
    ASSERT_EQ(doc["level"].get(level), simdjson::SUCCESS) << line;
    ASSERT_EQ(doc["message"].get(message), simdjson::SUCCESS) << line;
    EXPECT_EQ(time.size(), 24u) << line;  // 2026-12-07T05:07:22.123Z
    EXPECT_TRUE(level == "info" || level == "warn" || level == "error") << line;
    EXPECT_EQ(line.find(secret), std::string::npos) << line;
    if (message.substr(0, 9) == "progress:") {
      ++progress;
      std::int64_t rows = 0, lag = 0, dead = 0;
      EXPECT_EQ(doc["rows_stored"].get(rows), simdjson::SUCCESS) << line;
      EXPECT_EQ(doc["lag"].get(lag), simdjson::SUCCESS) << line;
      EXPECT_EQ(doc["dead_letters"].get(dead), simdjson::SUCCESS) << line;
      EXPECT_GE(rows, last_rows) << line;
      last_rows = rows;
    }
    std::int64_t n = 0;
    if (doc["assigned"].get(n) == simdjson::SUCCESS) {
      ++assigned;
      EXPECT_GT(n, 0) << line;
    }
  }
  EXPECT_GT(progress, 0u) << log;
  EXPECT_GT(assigned, 0u) << log;
}

// A batch PostgreSQL refuses (a trigger on ingest_offsets raising P0001): the writer's line
// carries its id and the SQLSTATE as fields, and the batch is stored once the cause is gone.
TEST(LogFormatPgTest, AWritersRefusedBatchCarriesWriterAndSqlstate) {
  TestDatabase db;
  db.exec("CREATE FUNCTION refuse_offsets() RETURNS trigger LANGUAGE plpgsql AS "
          "$$ BEGIN RAISE EXCEPTION 'offsets refused by the test'; END $$");
  db.exec("CREATE TRIGGER refuse_offsets BEFORE INSERT OR UPDATE ON ingest_offsets "
          "FOR EACH ROW EXECUTE FUNCTION refuse_offsets()");
  kafka::DevBroker broker({"predictions", "labels"}, 2);
  kafka::GeneratorOptions o;
  o.brokers = broker.bootstrap_servers();
  o.predictions = 300;
  o.seed = 23;
  const kafka::GeneratorReport sent = kafka::produce_events(o);
  fault::IngesterOptions opts(broker.bootstrap_servers(), db.dsn(), "log-refused");
  opts.extra = {"--log-format", "json"};
  ChildProcess child(fault::ingester_argv(opts), log_path("refused"));

  simdjson::dom::parser parser;
  std::int64_t writer = -1;
  std::string sqlstate;
  const bool logged = wait_until(
      [&] {
        for (const std::string& line : lines_of(child.log())) {
          simdjson::dom::element doc;
          std::string_view state;
          if (parser.parse(line).get(doc) != simdjson::SUCCESS) continue;
          if (doc["sqlstate"].get(state) != simdjson::SUCCESS) continue;
          if (doc["writer"].get(writer) != simdjson::SUCCESS) continue;
          sqlstate = state;
          return true;
        }
        return !child.running();
      },
      60s, 100ms);
  ASSERT_TRUE(logged) << child.log_tail();
  EXPECT_EQ(sqlstate, "P0001") << child.log_tail();
  EXPECT_GE(writer, 0) << child.log_tail();
  EXPECT_EQ(db.count("SELECT count(*) FROM prediction_logs"), 0);

  db.exec("DROP TRIGGER refuse_offsets ON ingest_offsets");
  EXPECT_TRUE(wait_until(
      [&] { return db.count("SELECT count(*) FROM prediction_logs") == static_cast<std::int64_t>(sent.unique_predictions); },
      60s, 100ms))
      << child.log_tail();
  child.signal(SIGTERM);
  const std::optional<int> status = child.wait_exit(60s);
  EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << child.log_tail();
}

TEST(LogFormatPgTest, LevelWarnDropsInfoLines) {
  const std::string log = run_to_idle_exit("warn", {"--log-level", "warn", "--log-format", "text"});
  for (const std::string& line : lines_of(log)) {
    EXPECT_EQ(line.find(" INFO  "), std::string::npos) << line;
    EXPECT_EQ(line.find(" DEBUG "), std::string::npos) << line;
  }
}

TEST(LogFormatPgTest, TextIsTheDefaultAndKeepsTheProgressLineReadable) {
  const std::string log = run_to_idle_exit("text", {});
  EXPECT_NE(log.find(" INFO  progress: "), std::string::npos) << log;
  EXPECT_EQ(log.find("{\"time\""), std::string::npos) << log;
}

TEST(LogFormatPgTest, AnUnknownValueStopsStartupNamingTheSetting) {
  for (const auto& [flag, value] : {std::pair{"--log-format", "yaml"}, std::pair{"--log-level", "verbose"}}) {
    std::string out;
    const int rc = fault::shell(std::string(MLOPS_BINARY) + " run --brokers 127.0.0.1:1 --pg 'host=127.0.0.1 port=1' " +
                                    flag + " " + value,
                                &out);
    EXPECT_EQ(rc, 2) << out;
    const std::string key = std::string(flag).substr(2) == "log-format" ? "log_format" : "log_level";
    EXPECT_NE(out.find("setting '" + key + "'"), std::string::npos) << out;
    EXPECT_NE(out.find(std::string("'") + value + "'"), std::string::npos) << out;
  }
}

}  // namespace
}  // namespace mlops_ingest::testing
