// `mlops-ingest status` (the real binary) against a database with known rows and the embedded
// broker with known watermarks: exact figures, in text and in JSON parsed back with simdjson.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdio>
#include <future>

#include "mlops_ingest/devtools/dev_broker.hpp"
#include "fault_env.hpp"
#include "test_env.hpp"

namespace mlops_ingest::testing {
namespace {

std::string run_status(const std::string& args) {
  const std::string cmd = std::string(MLOPS_BINARY) + " status " + args + " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed");
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  const int rc = ::pclose(pipe);
  if (rc != 0) throw std::runtime_error("status exited with " + std::to_string(rc) + ":\n" + out);
  return out;
}

// Rows placed relative to now (UTC), so that each window's count is known exactly.
void seed(const TestDatabase& db) {
  const std::string utc = "(now() AT TIME ZONE 'UTC')";
  db.exec("INSERT INTO prediction_logs (prediction_id, created_at, model_version, prediction, probability) VALUES "
          "('p1', " + utc + " - interval '1 minute', 'v1', 1, 0.9),"
          "('p2', " + utc + " - interval '2 hours', 'v1', 0, 0.2),"
          "('p3', " + utc + " - interval '3 days', 'v2', 1, 0.7),"
          "('p4', " + utc + " - interval '10 minutes', 'v2', 0, 0.1)");
  db.exec("INSERT INTO label_store (prediction_id, true_label, label_timestamp, days_delayed) VALUES "
          "('p1', 1, " + utc + " - interval '30 seconds', 0),"
          "('p2', 1, " + utc + " - interval '3 hours', 0),"
          "('p3', 1, " + utc + " - interval '2 days', 1)");
  db.exec("INSERT INTO label_pending (prediction_id, true_label, received_at) VALUES "
          "('x1', 1, now() - interval '2 hours'), ('x2', 0, now() - interval '10 minutes')");
  db.exec("INSERT INTO ingest_dead_letters (topic, kafka_partition, kafka_offset, payload_bytes, reason_code, reason, "
          "dead_lettered_at) VALUES "
          "('predictions', 0, 1, 3, 'invalid_json', 'r', now()),"
          "('predictions', 0, 2, 3, 'invalid_json', 'r', now() - interval '1 minute'),"
          "('predictions', 0, 3, 3, 'out_of_range', 'r', now() - interval '1 hour'),"
          "('predictions', 0, 4, 3, 'invalid_json', 'r', now() - interval '2 days')");
  // Twelve drift alerts (the query shows the ten latest) and one of another type.
  db.exec("INSERT INTO monitoring_alerts (created_at, alert_type, severity, drift_share) "
          "SELECT timestamp '2026-01-01 00:00:00' + i * interval '1 hour', 'drift', "
          "  CASE WHEN i % 2 = 0 THEN 'high' ELSE 'low' END, i / 100.0 FROM generate_series(1, 12) i");
  db.exec("INSERT INTO monitoring_alerts (created_at, alert_type, severity) VALUES (timestamp '2026-06-01', 'latency', 'high'),"
          "(" + utc + " - interval '3 hours', 'latency', 'low')");
  db.exec("INSERT INTO model_metadata (model_version, created_at) VALUES "
          "('v1', " + utc + " - interval '2 minutes'), ('v2', " + utc + " - interval '2 days')");
  db.exec("INSERT INTO retraining_metrics (created_at, promoted) VALUES "
          "(" + utc + " - interval '1 hour', true), (" + utc + " - interval '20 seconds', false)");
  db.exec("INSERT INTO ingest_offsets (consumer_group, topic, kafka_partition, next_offset) VALUES "
          "('g1', 'predictions', 0, 3), ('g1', 'labels', 0, -1), ('g2', 'predictions', 0, 10)");
}

TEST(StatusPgTest, ExactFiguresAsJsonAndText) {
  TestDatabase db;
  seed(db);
  kafka::DevBroker broker({"predictions", "labels"}, 1);
  std::vector<std::pair<std::string, std::string>> ten, four;
  for (int i = 0; i < 10; ++i) ten.emplace_back("k" + std::to_string(i), "{}");
  for (int i = 0; i < 4; ++i) four.emplace_back("k" + std::to_string(i), "{}");
  produce(broker.bootstrap_servers(), "predictions", ten);
  produce(broker.bootstrap_servers(), "labels", four);

  const std::string json = run_status("--pg '" + db.dsn() + "' --brokers " + broker.bootstrap_servers() + " --json");
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;

  simdjson::dom::array offsets = doc["offsets"].get_array();
  ASSERT_EQ(offsets.size(), 3u) << json;
  struct Expected {
    const char* group;
    const char* topic;
    std::int64_t high, lag;
  };
  const Expected expected[] = {{"g1", "labels", 4, 4}, {"g1", "predictions", 10, 7}, {"g2", "predictions", 10, 0}};
  std::size_t i = 0;
  for (simdjson::dom::element o : offsets) {
    EXPECT_EQ(std::string_view(o["group"]), expected[i].group) << json;
    EXPECT_EQ(std::string_view(o["topic"]), expected[i].topic) << json;
    EXPECT_EQ(std::int64_t(o["partition"]), 0);
    EXPECT_EQ(std::int64_t(o["high_watermark"]), expected[i].high) << json;
    EXPECT_EQ(std::int64_t(o["lag"]), expected[i].lag) << json;
    ++i;
  }
  EXPECT_TRUE(doc["offsets"].at(0)["next_offset"].is_null());  // -1: nothing committed yet
  EXPECT_EQ(std::int64_t(doc["offsets"].at(1)["next_offset"]), 3);
  EXPECT_TRUE(doc["kafka_error"].is_null()) << json;

  EXPECT_EQ(std::int64_t(doc["rows"]["prediction_logs"]["last_5m"]), 1);
  EXPECT_EQ(std::int64_t(doc["rows"]["prediction_logs"]["last_24h"]), 3);
  EXPECT_EQ(std::int64_t(doc["rows"]["label_store"]["last_5m"]), 1);
  EXPECT_EQ(std::int64_t(doc["rows"]["label_store"]["last_24h"]), 2);
  // All five tables the kinds write, each by its own time column.
  EXPECT_EQ(std::int64_t(doc["rows"]["model_metadata"]["last_5m"]), 1);
  EXPECT_EQ(std::int64_t(doc["rows"]["model_metadata"]["last_24h"]), 1);
  EXPECT_EQ(std::int64_t(doc["rows"]["monitoring_alerts"]["last_5m"]), 0);
  EXPECT_EQ(std::int64_t(doc["rows"]["monitoring_alerts"]["last_24h"]), 1);
  EXPECT_EQ(std::int64_t(doc["rows"]["retraining_metrics"]["last_5m"]), 1);
  EXPECT_EQ(std::int64_t(doc["rows"]["retraining_metrics"]["last_24h"]), 2);
  EXPECT_EQ(doc["rows"].get_object().size(), 6u);
  EXPECT_EQ(std::int64_t(doc["rows"]["ingest_dead_letters"]["last_5m"]), 2);
  EXPECT_EQ(std::int64_t(doc["rows"]["ingest_dead_letters"]["last_24h"]), 3);
  EXPECT_EQ(std::int64_t(doc["dead_letters_24h"]["invalid_json"]), 2);
  EXPECT_EQ(std::int64_t(doc["dead_letters_24h"]["out_of_range"]), 1);
  EXPECT_EQ(doc["dead_letters_24h"].get_object().size(), 2u);

  EXPECT_EQ(std::int64_t(doc["labels_pending"]["count"]), 2);
  const double oldest = double(doc["labels_pending"]["oldest_age_seconds"]);
  EXPECT_GE(oldest, 7200.0);
  EXPECT_LT(oldest, 7200.0 + 120);  // the time between the insert and the status run

  simdjson::dom::element q = doc["common_queries"];
  EXPECT_EQ(std::int64_t(q["prediction_volume_24h"]), 3);
  EXPECT_DOUBLE_EQ(double(q["label_coverage"]), 0.75);
  simdjson::dom::array accuracy = q["accuracy_by_model"].get_array();
  ASSERT_EQ(accuracy.size(), 2u);
  EXPECT_EQ(std::string_view(accuracy.at(0)["model_version"]), "v1");
  EXPECT_DOUBLE_EQ(double(accuracy.at(0)["accuracy"]), 0.5);  // p1 right, p2 wrong
  EXPECT_EQ(std::string_view(accuracy.at(1)["model_version"]), "v2");
  EXPECT_DOUBLE_EQ(double(accuracy.at(1)["accuracy"]), 1.0);
  simdjson::dom::array alerts = q["recent_drift_alerts"].get_array();
  ASSERT_EQ(alerts.size(), 10u);
  EXPECT_EQ(std::string_view(alerts.at(0)["created_at"]), "2026-01-01T12:00:00");
  EXPECT_EQ(std::string_view(alerts.at(0)["severity"]), "high");
  EXPECT_DOUBLE_EQ(double(alerts.at(0)["drift_share"]), 0.12);
  EXPECT_EQ(std::string_view(alerts.at(9)["created_at"]), "2026-01-01T03:00:00");

  // The text report carries the same figures.
  const std::string text = run_status("--pg '" + db.dsn() + "' --brokers " + broker.bootstrap_servers());
  EXPECT_NE(text.find("predictions/0      next 3          high 10         lag 7"), std::string::npos) << text;
  EXPECT_NE(text.find("prediction_logs.created_at             last 5 min 1         last 24 h 3"), std::string::npos) << text;
  EXPECT_NE(text.find("invalid_json         2"), std::string::npos) << text;
  EXPECT_NE(text.find("Label coverage: 0.7500"), std::string::npos) << text;
  EXPECT_NE(text.find("\n  2, oldest waiting 2.0 h"), std::string::npos) << text;
}

TEST(StatusPgTest, WithoutBrokersOrDataNothingIsMadeUp) {
  TestDatabase db;
  const std::string json = run_status("--pg '" + db.dsn() + "' --json");
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  EXPECT_EQ(doc["offsets"].get_array().size(), 0u);
  EXPECT_EQ(std::int64_t(doc["labels_pending"]["count"]), 0);
  EXPECT_TRUE(doc["labels_pending"]["oldest_age_seconds"].is_null());
  EXPECT_TRUE(doc["common_queries"]["label_coverage"].is_null());  // no predictions: unknown, not 0/0
  EXPECT_EQ(doc["common_queries"]["accuracy_by_model"].get_array().size(), 0u);

  // Offsets but no --brokers: the stored offset without a made-up lag.
  db.exec("INSERT INTO ingest_offsets (consumer_group, topic, kafka_partition, next_offset) VALUES ('g', 'predictions', 2, 5)");
  const std::string with_offset = run_status("--pg '" + db.dsn() + "' --json");
  ASSERT_EQ(parser.parse(with_offset).get(doc), simdjson::SUCCESS) << with_offset;
  EXPECT_EQ(std::int64_t(doc["offsets"].at(0)["next_offset"]), 5);
  EXPECT_TRUE(doc["offsets"].at(0)["lag"].is_null());
}

// A backfill: offsets move while every row it stores is old by event time. The rows by time
// window show nothing recent; the ingest rate, taken from ingest_offsets, shows the work.
TEST(StatusPgTest, IngestRateComesFromTheOffsetsProgress) {
  TestDatabase db;
  db.exec("INSERT INTO prediction_logs (prediction_id, created_at, model_version, prediction, probability) VALUES "
          "('old', (now() AT TIME ZONE 'UTC') - interval '30 days', 'v1', 1, 0.9)");
  db.exec("INSERT INTO ingest_offsets (consumer_group, topic, kafka_partition, next_offset) VALUES "
          "('g1', 'predictions', 0, 100), ('g1', 'predictions', 1, 200), ('g1', 'labels', 0, -1), "
          "('g2', 'predictions', 0, 7)");
  auto status = std::async(std::launch::async, [&] { return run_status("--pg '" + db.dsn() + "' --rate-seconds 3 --json"); });
  // Once status has read the offsets the first time (its connection idle after that query),
  // the offsets move as a writer's commits would move them.
  const bool first_read = fault::wait_until(
      [&] {
        return db.count("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle' "
                        "AND query = 'SELECT consumer_group, topic, kafka_partition, next_offset FROM ingest_offsets'") > 0;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(20));
  ASSERT_TRUE(first_read);
  db.exec("UPDATE ingest_offsets SET next_offset = next_offset + CASE kafka_partition WHEN 0 THEN 300 ELSE 150 END "
          "WHERE consumer_group = 'g1' AND topic = 'predictions'");
  db.exec("UPDATE ingest_offsets SET next_offset = 50 WHERE topic = 'labels'");  // first commit: no starting point
  const std::string json = status.get();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  const double window = double(doc["ingest_rate"]["window_seconds"]);
  EXPECT_GE(window, 3.0) << json;
  simdjson::dom::array topics = doc["ingest_rate"]["topics"].get_array();
  ASSERT_EQ(topics.size(), 3u) << json;
  struct Expected {
    const char* group;
    const char* topic;
    std::int64_t messages;
  };
  const Expected expected[] = {{"g1", "labels", 0}, {"g1", "predictions", 450}, {"g2", "predictions", 0}};
  std::size_t i = 0;
  for (simdjson::dom::element t : topics) {
    EXPECT_EQ(std::string_view(t["group"]), expected[i].group) << json;
    EXPECT_EQ(std::string_view(t["topic"]), expected[i].topic) << json;
    EXPECT_EQ(std::int64_t(t["messages"]), expected[i].messages) << json;
    EXPECT_NEAR(double(t["per_second"]) * window, static_cast<double>(expected[i].messages), 1e-6) << json;
    ++i;
  }
  EXPECT_EQ(std::int64_t(doc["rows"]["prediction_logs"]["last_5m"]), 0) << json;

  // The text report says the same; --rate-seconds 0 leaves it out and says so.
  db.exec("UPDATE ingest_offsets SET next_offset = next_offset + 1");
  const std::string off = run_status("--pg '" + db.dsn() + "' --rate-seconds 0");
  EXPECT_NE(off.find("not measured: --rate-seconds 0"), std::string::npos) << off;
}

TEST(StatusPgTest, ABadRateWindowIsRefusedNamingTheOption) {
  TestDatabase db;
  try {
    (void)run_status("--pg '" + db.dsn() + "' --rate-seconds soon");
    FAIL() << "accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("--rate-seconds"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'soon'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mlops_ingest::testing
