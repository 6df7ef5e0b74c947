// "The table changed under it", at run time (docs/operations.md): a DBA changes a column's
// type, drops a column or adds a NOT NULL column without a default while the real mlops-ingest
// binary writes, against the throwaway PostgreSQL and the embedded broker. The table is out:
// nothing is dead-lettered, /readyz and mlops_ingest_table_outage name it, and once the DBA
// fixes it everything is stored exactly once without a restart. A CHECK a DBA adds still
// dead-letters exactly the rows it refuses.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <signal.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "fault_env.hpp"
#include "http_get.hpp"
#include "mlops_ingest/devtools/dev_broker.hpp"
#include "test_env.hpp"

namespace mlops_ingest::testing {
namespace {

using namespace std::chrono_literals;
using fault::ChildProcess;
using fault::wait_until;

const std::vector<std::string> kAllTopics = {"predictions", "labels", "models", "alerts", "retraining"};

Messages slice(const Messages& all, std::size_t from, std::size_t to) {
  return Messages(all.begin() + static_cast<std::ptrdiff_t>(from), all.begin() + static_cast<std::ptrdiff_t>(to));
}

Messages alerts(std::size_t from, std::size_t to) {
  Messages out;
  for (std::size_t i = from; i < to; ++i) {
    out.emplace_back("a" + std::to_string(i), R"({"alert_type":"drift","severity":"high","drift_share":0.)" +
                                                  std::to_string(10 + i % 80) + R"(,"message":"alert )" +
                                                  std::to_string(i) + R"("})");
  }
  return out;
}

// The real binary with its endpoint, on a fresh database and broker.
class Ingesting {
 public:
  explicit Ingesting(const std::string& name)
      : broker_(kAllTopics, 2), log_("/tmp/mlops-table-outage-" + name + "-" + std::to_string(::getpid()) + ".log") {
    fault::IngesterOptions opts(broker_.bootstrap_servers(), db_.dsn());
    opts.group = "table-outage";
    opts.extra = {"--http-listen", "127.0.0.1:0", "--log-format", "json"};
    child_ = std::make_unique<ChildProcess>(fault::ingester_argv(opts), log_);
    wait_until(
        [&] {
          const std::string text = child_->log();
          const auto line = text.find("http endpoint: ");
          const auto at = line == std::string::npos ? line : text.find("(port ", line);
          if (at != std::string::npos) port_ = static_cast<std::uint16_t>(std::stoi(text.substr(at + 6)));
          return port_ != 0 || !child_->running();
        },
        60s);
  }
  ~Ingesting() {
    if (child_->running()) {
      child_->signal(SIGTERM);
      child_->wait_exit(30s);
    }
    if (!::testing::Test::HasFailure()) std::remove(log_.c_str());
  }

  [[nodiscard]] bool started() const { return port_ != 0; }
  [[nodiscard]] const TestDatabase& db() const { return db_; }
  void produce(const std::string& topic, const Messages& messages) const {
    testing::produce(broker_.bootstrap_servers(), topic, messages);
  }
  [[nodiscard]] double outage(const std::string& table) const {
    return sample_value(http_get("127.0.0.1", port_, "/metrics").body, "mlops_ingest_table_outage",
                        "table=\"" + table + "\"");
  }
  [[nodiscard]] HttpReply readyz() const { return http_get("127.0.0.1", port_, "/readyz"); }
  [[nodiscard]] std::int64_t dead_letters() const { return db_.count("SELECT count(*) FROM ingest_dead_letters"); }
  [[nodiscard]] std::int64_t rows(const std::string& table) const {
    return db_.count("SELECT count(*) FROM " + table);
  }
  // Messages consumed and stored for `topic`, by the offsets stored with the rows.
  [[nodiscard]] std::int64_t stored_offsets(const std::string& topic) const {
    return db_.count("SELECT coalesce(sum(next_offset), 0) FROM ingest_offsets WHERE consumer_group = 'table-outage' "
                     "AND topic = '" + topic + "'");
  }
  [[nodiscard]] std::string log_tail() const { return child_->log_tail(); }
  // The structured fields "column" and "sqlstate" of the WARN line that names `table` out
  // (a JSON line with "table" and "column"); empty if there is none.
  [[nodiscard]] std::pair<std::string, std::string> outage_fields(const std::string& table) const {
    simdjson::dom::parser parser;
    std::istringstream lines(child_->log());
    for (std::string line; std::getline(lines, line);) {
      simdjson::dom::element doc;
      std::string_view named, column, sqlstate;
      if (parser.parse(line).get(doc) != simdjson::SUCCESS) continue;
      if (doc["table"].get(named) != simdjson::SUCCESS || named != table) continue;
      if (doc["column"].get(column) != simdjson::SUCCESS) continue;
      if (doc["sqlstate"].get(sqlstate) != simdjson::SUCCESS) continue;
      return {std::string(column), std::string(sqlstate)};
    }
    return {};
  }
  [[nodiscard]] bool running() const { return child_->running(); }

 private:
  TestDatabase db_;
  kafka::DevBroker broker_;
  std::string log_;
  std::unique_ptr<ChildProcess> child_;
  std::uint16_t port_ = 0;
};

struct Change {
  std::string table, column, topic;
  Messages before, during;  // produced before the DBA's change, and while it stands
  std::string break_sql, fix_sql;
};

// The whole story of one DDL change mid-stream; `table` holds before.size() rows first.
void expect_outage_then_recovery(Ingesting& run, const Change& c, std::int64_t rows_before) {
  const std::int64_t all = rows_before + static_cast<std::int64_t>(c.during.size());
  ASSERT_TRUE(run.started()) << run.log_tail();
  run.produce(c.topic, c.before);
  ASSERT_TRUE(wait_until([&] { return run.rows(c.table) == rows_before; }, 120s, 100ms)) << run.log_tail();
  ASSERT_EQ(run.outage(c.table), 0) << "the series is there, at 0, before any outage";

  run.db().exec(c.break_sql);
  run.produce(c.topic, c.during);
  ASSERT_TRUE(wait_until([&] { return run.outage(c.table) == 1; }, 60s, 100ms)) << run.log_tail();
  const HttpReply not_ready = run.readyz();
  EXPECT_EQ(not_ready.status, 503u) << not_ready.body;
  EXPECT_NE(not_ready.body.find("table " + c.table + ": OUT"), std::string::npos) << not_ready.body;
  // Retried, not judged row by row: a few more attempts change nothing.
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(run.dead_letters(), 0) << run.log_tail();
  EXPECT_EQ(run.rows(c.table), rows_before);
  EXPECT_EQ(run.outage(c.table), 1);
  EXPECT_TRUE(run.running());
  const auto [column, sqlstate] = run.outage_fields(c.table);
  EXPECT_EQ(column, c.column) << run.log_tail();
  EXPECT_EQ(sqlstate.size(), 5u) << run.log_tail();
  std::cout << "table out: " << c.table << "." << column << ", SQLSTATE " << sqlstate << "\n";

  run.db().exec(c.fix_sql);
  EXPECT_TRUE(wait_until([&] { return run.rows(c.table) == all && run.outage(c.table) == 0; }, 60s, 100ms))
      << run.rows(c.table) << " of " << all << "\n"
      << run.log_tail();
  EXPECT_TRUE(wait_until([&] { return run.readyz().status == 200; }, 30s, 100ms)) << run.readyz().body;
  EXPECT_EQ(run.dead_letters(), 0);
  EXPECT_EQ(run.rows(c.table), all);
  EXPECT_EQ(run.stored_offsets(c.topic), static_cast<std::int64_t>(c.before.size() + c.during.size()));
}

TEST(TableOutagePgTest, PredictionColumnTypeChangedThenChangedBack) {
  Ingesting run("type");
  const Messages p = synthetic_predictions(301, 400);
  expect_outage_then_recovery(
      run,
      {"prediction_logs", "probability", "predictions", slice(p, 0, 200), slice(p, 200, 400),
       "ALTER TABLE prediction_logs ALTER COLUMN probability TYPE numeric",
       "ALTER TABLE prediction_logs ALTER COLUMN probability TYPE double precision"},
      200);
  EXPECT_EQ(run.db().count("SELECT count(DISTINCT prediction_id) FROM prediction_logs"), 400);
}

TEST(TableOutagePgTest, PredictionColumnDroppedThenAddedBack) {
  Ingesting run("drop");
  const Messages p = synthetic_predictions(302, 400);
  expect_outage_then_recovery(run,
                              {"prediction_logs", "model_version", "predictions", slice(p, 0, 200), slice(p, 200, 400),
                               "ALTER TABLE prediction_logs DROP COLUMN model_version",
                               "ALTER TABLE prediction_logs ADD COLUMN model_version VARCHAR(50)"},
                              200);
  // The rows written after the fix carry the column again.
  EXPECT_EQ(run.db().count("SELECT count(*) FROM prediction_logs WHERE model_version IS NOT NULL"), 200);
}

TEST(TableOutagePgTest, PredictionNotNullColumnWithoutDefaultThenGivenOne) {
  Ingesting run("notnull");
  const Messages p = synthetic_predictions(303, 400);
  expect_outage_then_recovery(
      run,
      {"prediction_logs", "reviewed_by", "predictions", slice(p, 0, 200), slice(p, 200, 400),
       // Filled for the rows already there, then without a default: what the ingester's rows lack.
       "ALTER TABLE prediction_logs ADD COLUMN reviewed_by text NOT NULL DEFAULT 'dba'; "
       "ALTER TABLE prediction_logs ALTER COLUMN reviewed_by DROP DEFAULT",
       "ALTER TABLE prediction_logs ALTER COLUMN reviewed_by SET DEFAULT 'nobody'"},
      200);
  EXPECT_EQ(run.db().count("SELECT count(*) FROM prediction_logs WHERE reviewed_by = 'nobody'"), 200);
}

TEST(TableOutagePgTest, LabelNotNullColumnWithoutDefaultThenDropped) {
  Ingesting run("labels");
  const Messages p = synthetic_predictions(304, 300);
  const Messages l = synthetic_labels(304, 300);
  run.produce("predictions", p);
  ASSERT_TRUE(wait_until([&] { return run.rows("prediction_logs") == 300; }, 120s, 100ms)) << run.log_tail();
  expect_outage_then_recovery(run,
                              {"label_store", "audited", "labels", slice(l, 0, 150), slice(l, 150, 300),
                               "ALTER TABLE label_store ADD COLUMN audited boolean NOT NULL DEFAULT true; "
                               "ALTER TABLE label_store ALTER COLUMN audited DROP DEFAULT",
                               "ALTER TABLE label_store DROP COLUMN audited"},
                              150);
  EXPECT_EQ(run.rows("label_pending"), 0);
}

TEST(TableOutagePgTest, AlertColumnTypeChangedThenChangedBack) {
  Ingesting run("alerts");
  expect_outage_then_recovery(run,
                              {"monitoring_alerts", "drift_share", "alerts", alerts(0, 50), alerts(50, 100),
                               "ALTER TABLE monitoring_alerts ALTER COLUMN drift_share TYPE real",
                               "ALTER TABLE monitoring_alerts ALTER COLUMN drift_share TYPE double precision"},
                              50);
  EXPECT_EQ(run.db().count("SELECT count(*) FROM ingest_appended WHERE target_table = 'monitoring_alerts'"), 100);
}

TEST(TableOutagePgTest, ACheckConstraintStillDeadLettersExactlyTheRowsItRefuses) {
  Ingesting run("check");
  ASSERT_TRUE(run.started()) << run.log_tail();
  const Messages p = synthetic_predictions(305, 400);
  run.produce("predictions", slice(p, 0, 200));
  ASSERT_TRUE(wait_until([&] { return run.rows("prediction_logs") == 200; }, 120s, 100ms)) << run.log_tail();

  run.db().exec("ALTER TABLE prediction_logs ADD CONSTRAINT dba_low_risk CHECK (probability < 0.5) NOT VALID");
  const Messages during = slice(p, 200, 400);
  std::int64_t refused = 0;
  for (const auto& [key, json] : during) {
    const auto at = json.find("\"probability\":");
    ASSERT_NE(at, std::string::npos) << json;
    if (std::stod(json.substr(at + 14)) >= 0.5) ++refused;
  }
  ASSERT_GT(refused, 0);
  ASSERT_LT(refused, 200);
  run.produce("predictions", during);
  ASSERT_TRUE(wait_until([&] { return run.stored_offsets("predictions") == 400; }, 120s, 100ms)) << run.log_tail();
  EXPECT_EQ(run.dead_letters(), refused);
  EXPECT_EQ(run.db().count("SELECT count(*) FROM ingest_dead_letters WHERE sqlstate = '23514' AND "
                           "(convert_from(payload, 'UTF8')::jsonb->>'probability')::float8 >= 0.5"),
            refused);
  EXPECT_EQ(run.rows("prediction_logs"), 400 - refused);
  EXPECT_EQ(run.outage("prediction_logs"), 0);
  EXPECT_EQ(run.readyz().status, 200u);
}

}  // namespace
}  // namespace mlops_ingest::testing
