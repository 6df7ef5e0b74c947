// Schema: applied idempotently, also over a database that already has the seed's tables.
#include <gtest/gtest.h>

#include "mlops_ingest/pg/blocking_connection.hpp"
#include "test_env.hpp"

namespace mlops_ingest::testing {
namespace {

TEST(SchemaPgTest, ApplyTwiceIsHarmlessAndCreatesEveryTable) {
  TestDatabase db;  // applies once
  db.exec("INSERT INTO prediction_logs (prediction_id) VALUES ('kept')");
  EXPECT_NO_THROW(pg::apply_schema(db.dsn()));
  EXPECT_EQ(db.count("SELECT count(*) FROM prediction_logs"), 1);
  for (const char* table : {"prediction_logs", "label_store", "model_metadata", "monitoring_alerts",
                            "retraining_metrics", "ingest_offsets", "label_pending", "ingest_dead_letters"}) {
    EXPECT_EQ(db.count(std::string("SELECT count(*) FROM pg_tables WHERE tablename = '") + table + "'"), 1) << table;
  }
  // The seed's indexes and checks are there.
  for (const char* index : {"idx_prediction_created_at", "idx_prediction_model_version", "idx_label_timestamp",
                            "idx_model_stage", "idx_alert_created_at", "idx_retraining_promoted"}) {
    EXPECT_EQ(db.count(std::string("SELECT count(*) FROM pg_indexes WHERE indexname = '") + index + "'"), 1) << index;
  }
  EXPECT_THROW(db.exec("INSERT INTO prediction_logs (prediction_id, probability) VALUES ('p', 1.5)"), pg::PgError);
  EXPECT_THROW(db.exec("INSERT INTO label_store (prediction_id, true_label) VALUES ('missing', 1)"), pg::PgError);
}

TEST(SchemaPgTest, ApplyOverAnExistingSeedDatabase) {
  TestDatabase db;
  db.exec("DROP TABLE ingest_offsets, label_pending, ingest_dead_letters");
  // What an operator already has: the seed's tables (created by its own script) with data.
  db.exec("INSERT INTO prediction_logs (prediction_id, model_version) VALUES ('old', 'v1')");
  EXPECT_NO_THROW(pg::apply_schema(db.dsn()));
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_offsets"), 0);
  EXPECT_EQ(db.value("SELECT model_version FROM prediction_logs WHERE prediction_id = 'old'"), "v1");
}

}  // namespace
}  // namespace mlops_ingest::testing
