// The kinds written by their description alone (model_metadata, monitoring_alerts,
// retraining_metrics) through the whole pipeline, against a real PostgreSQL and the embedded
// Kafka broker: exact values, a model's lifecycle, booleans, hostile arrays and jsonb, bad
// input, and a replay of every topic through a new group that changes nothing.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "mlops_ingest/devtools/dev_broker.hpp"
#include "test_env.hpp"

namespace mlops_ingest::testing {
namespace {

const std::vector<std::string> kAllTopics = {"predictions", "labels", "models", "alerts", "retraining"};

using Messages = std::vector<std::pair<std::string, std::string>>;

// A model's lifecycle, keyed by model_version so that its events keep their order.
Messages model_lifecycle() {
  return {
      {"v1", R"({"model_version":"v1","model_stage":"registered","model_type":"xgboost","f1_score":0.71,)"
             R"("precision_score":0.7,"recall_score":0.72,"roc_auc":0.8,"brier_score":0.2,)"
             R"("trained_at":"2026-01-01T10:00:00+01:00","mlflow_run_id":"run-1"})"},
      {"v2", R"({"model_version":"v2","model_stage":"registered","model_type":"lightgbm","f1_score":0.75,)"
             R"("created_at":"2026-01-02T00:00:00Z","mlflow_run_id":"run-2"})"},
      {"v1", R"({"model_version":"v1","model_stage":"staging"})"},
      {"v1", R"({"model_version":"v1","model_stage":"production","deployed_at":"2026-01-03T12:00:00Z"})"},
      {"v2", R"({"model_version":"v2","model_stage":"staging","brier_score":0.18})"},
      {"v2", R"({"model_version":"v2","model_stage":"production","deployed_at":"2026-01-05T12:00:00Z"})"},
      {"v1", R"({"model_version":"v1","model_stage":"archived","mlflow_run_id":null})"},
  };
}

Messages alerts() {
  return {
      {"a1", R"({"created_at":"2026-01-05T14:00:00+02:00","alert_type":"drift","severity":"high","drift_share":0.42,)"
             R"("drifted_features":["a,b","quote\"d","{brace}","back\\slash"," spaced ","naïve","日本語","NULL",""],)"
             R"("message":"drift on 9 features","metrics":{"psi":{"age":0.31,"income":[1,2.5e3]},)"
             R"("big":123456789012345678901234567890.123456789,"name":"d\u00e9rive","deep":{"a":{"b":{"c":null}}}}})"},
      {"a2", R"({"alert_type":"performance","severity":"low","drifted_features":[],"metrics":{}})"},
      {"a3", R"({"alert_type":"drift","severity":"medium","drift_share":0.1})"},
  };
}

Messages retraining() {
  return {
      {"r1", R"({"shadow_model_version":"v2","production_model_version":"v1","gate_passed":true,"promoted":true,)"
             R"("shadow_f1_score":0.75,"production_f1_score":0.71,"mlflow_run_id":"run-2"})"},
      {"r2", R"({"shadow_model_version":"v3","production_model_version":"v2","gate_passed":false,"promoted":false,)"
             R"("shadow_f1_score":0.7,"production_f1_score":0.75})"},
      {"r3", R"({"shadow_model_version":"v4","gate_passed":null})"},
  };
}

void produce_all(const kafka::DevBroker& broker) {
  produce(broker.bootstrap_servers(), "models", model_lifecycle());
  produce(broker.bootstrap_servers(), "alerts", alerts());
  produce(broker.bootstrap_servers(), "retraining", retraining());
}

TEST(EventKindsPgTest, ModelLifecycleEndsInTheRightState) {
  TestDatabase db;
  kafka::DevBroker broker(kAllTopics, 4);
  produce_all(broker);
  const RunResult run = run_until_idle(test_config(broker.bootstrap_servers(), db.dsn()));
  ASSERT_EQ(run.exit_code, 0);
  EXPECT_EQ(db.count("SELECT count(*) FROM model_metadata"), 2);
  db.exec("SET TimeZone = 'UTC'");
  EXPECT_EQ(db.value("SELECT concat_ws('|', model_stage, model_type, f1_score, precision_score, recall_score, roc_auc, "
                     "brier_score, trained_at, deployed_at, coalesce(mlflow_run_id, 'NULL')) FROM model_metadata "
                     "WHERE model_version = 'v1'"),
            "archived|xgboost|0.71|0.7|0.72|0.8|0.2|2026-01-01 09:00:00|2026-01-03 12:00:00|NULL");
  EXPECT_EQ(db.value("SELECT concat_ws('|', model_stage, model_type, f1_score, brier_score, deployed_at, created_at, "
                     "mlflow_run_id) FROM model_metadata WHERE model_version = 'v2'"),
            "production|lightgbm|0.75|0.18|2026-01-05 12:00:00|2026-01-02 00:00:00|run-2");
  // v1's created_at: the Kafka timestamp of its first event (it never carried one), kept.
  EXPECT_EQ(db.count("SELECT count(*) FROM model_metadata WHERE model_version = 'v1' AND created_at IS NOT NULL "
                     "AND created_at > now() AT TIME ZONE 'UTC' - interval '1 hour'"),
            1);
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_dead_letters"), 0)
      << db.value("SELECT string_agg(topic || ': ' || reason, ' / ') FROM ingest_dead_letters");
}

TEST(EventKindsPgTest, AlertsKeepHostileArraysAndJsonbExactly) {
  TestDatabase db;
  kafka::DevBroker broker(kAllTopics, 2);
  produce(broker.bootstrap_servers(), "alerts", alerts());
  const RunResult run = run_until_idle(test_config(broker.bootstrap_servers(), db.dsn()));
  ASSERT_EQ(run.exit_code, 0);
  EXPECT_EQ(db.count("SELECT count(*) FROM monitoring_alerts"), 3);
  EXPECT_EQ(db.count("SELECT count(*) FROM monitoring_alerts WHERE drifted_features = ARRAY['a,b', 'quote\"d', "
                     "'{brace}', 'back\\slash', ' spaced ', 'naïve', '日本語', 'NULL', '']::text[]"),
            1);
  EXPECT_EQ(db.value("SELECT drifted_features[2] FROM monitoring_alerts WHERE alert_type = 'drift' AND severity = 'high'"),
            "quote\"d");
  // jsonb: numbers exact (numeric), nesting and unicode kept.
  EXPECT_EQ(db.value("SELECT metrics->>'big' FROM monitoring_alerts WHERE severity = 'high'"),
            "123456789012345678901234567890.123456789");
  EXPECT_EQ(db.value("SELECT metrics #>> '{psi,income,1}' FROM monitoring_alerts WHERE severity = 'high'"), "2500");  // jsonb's numeric
  EXPECT_EQ(db.value("SELECT metrics->>'name' FROM monitoring_alerts WHERE severity = 'high'"), "dérive");
  EXPECT_EQ(db.count("SELECT count(*) FROM monitoring_alerts WHERE metrics @> "
                     "'{\"deep\":{\"a\":{\"b\":{\"c\":null}}}}'::jsonb"),
            1);
  // [] is the empty array, {} the empty object; absent fields are NULL.
  EXPECT_EQ(db.count("SELECT count(*) FROM monitoring_alerts WHERE drifted_features = '{}'::text[] AND "
                     "cardinality(drifted_features) = 0 AND metrics = '{}'::jsonb"),
            1);
  EXPECT_EQ(db.count("SELECT count(*) FROM monitoring_alerts WHERE severity = 'medium' AND drifted_features IS NULL "
                     "AND metrics IS NULL AND message IS NULL"),
            1);
  db.exec("SET TimeZone = 'UTC'");
  EXPECT_EQ(db.value("SELECT created_at FROM monitoring_alerts WHERE severity = 'high'"), "2026-01-05 12:00:00");
  // The seed's Common Query "Recent Drift Alerts".
  EXPECT_EQ(db.value("SELECT string_agg(severity || ':' || coalesce(drift_share::text, '-'), ',') FROM (SELECT "
                     "created_at, severity, drift_share FROM monitoring_alerts WHERE alert_type = 'drift' ORDER BY "
                     "created_at DESC LIMIT 10) q"),
            "medium:0.1,high:0.42");
}

TEST(EventKindsPgTest, RetrainingBooleansAndScores) {
  TestDatabase db;
  kafka::DevBroker broker(kAllTopics, 2);
  produce(broker.bootstrap_servers(), "retraining", retraining());
  ASSERT_EQ(run_until_idle(test_config(broker.bootstrap_servers(), db.dsn())).exit_code, 0);
  EXPECT_EQ(db.value("SELECT string_agg(concat_ws('|', shadow_model_version, coalesce(production_model_version, '-'), "
                     "coalesce(gate_passed::text, 'NULL'), coalesce(promoted::text, 'NULL'), "
                     "coalesce(shadow_f1_score::text, '-')), ',' ORDER BY shadow_model_version) FROM retraining_metrics"),
            "v2|v1|true|true|0.75,v3|v2|false|false|0.7,v4|-|NULL|NULL|-");
  EXPECT_EQ(db.count("SELECT count(*) FROM retraining_metrics WHERE promoted"), 1);
}

TEST(EventKindsPgTest, ReplayOfEveryTopicThroughANewGroupChangesNothing) {
  TestDatabase db;
  kafka::DevBroker broker(kAllTopics, 3);
  produce_all(broker);
  produce(broker.bootstrap_servers(), "predictions",
          {{"p1", R"({"prediction_id":"p1","prediction":1,"probability":0.9})"},
           {"p2", R"({"prediction_id":"p2","prediction":0,"probability":0.2})"}});
  produce(broker.bootstrap_servers(), "labels", {{"p1", R"({"prediction_id":"p1","true_label":1})"}});
  ASSERT_EQ(run_until_idle(test_config(broker.bootstrap_servers(), db.dsn(), "first-group")).exit_code, 0);
  const std::string snapshot_sql =
      "SELECT (SELECT count(*) FROM prediction_logs) || '/' || (SELECT count(*) FROM label_store) || '/' || "
      "(SELECT md5(string_agg(m::text, ',' ORDER BY model_version)) FROM (SELECT model_version, model_stage, "
      "model_type, f1_score, brier_score, trained_at, deployed_at, mlflow_run_id, created_at FROM model_metadata) m) "
      "|| '/' || (SELECT md5(string_agg(a::text, ',' ORDER BY a::text)) FROM (SELECT created_at, alert_type, "
      "severity, drift_share, drifted_features, message, metrics FROM monitoring_alerts) a) || '/' || "
      "(SELECT md5(string_agg(r::text, ',' ORDER BY r::text)) FROM (SELECT created_at, shadow_model_version, "
      "production_model_version, gate_passed, promoted, shadow_f1_score, production_f1_score, mlflow_run_id "
      "FROM retraining_metrics) r)";
  const std::string before = db.value(snapshot_sql);
  EXPECT_EQ(db.count("SELECT count(*) FROM monitoring_alerts"), 3);
  EXPECT_EQ(db.count("SELECT count(*) FROM retraining_metrics"), 3);
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_appended"), 6);

  // A backfill: every topic again from the start, through a group that has never run.
  const RunResult replay = run_until_idle(test_config(broker.bootstrap_servers(), db.dsn(), "backfill-group"));
  ASSERT_EQ(replay.exit_code, 0);
  EXPECT_EQ(db.value(snapshot_sql), before);
  EXPECT_EQ(db.count("SELECT count(*) FROM monitoring_alerts"), 3);
  EXPECT_EQ(db.count("SELECT count(*) FROM retraining_metrics"), 3);
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_appended"), 6);
  EXPECT_EQ(db.value("SELECT model_stage FROM model_metadata WHERE model_version = 'v1'"), "archived");
  // The replay group consumed every topic (it was not a no-op).
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_offsets WHERE consumer_group = 'backfill-group' AND next_offset > 0"),
            db.count("SELECT count(*) FROM ingest_offsets WHERE consumer_group = 'first-group' AND next_offset > 0"));
}

TEST(EventKindsPgTest, BadEventsOfEachNewKindAreDeadLetteredAndTheRestLands) {
  TestDatabase db;
  kafka::DevBroker broker(kAllTopics, 1);
  produce(broker.bootstrap_servers(), "models",
          {{"v1", R"({"model_version":"v1","f1_score":1.5})"},
           {"v1", R"({"model_stage":"staging"})"},
           {"v2", R"({"model_version":"v2","model_stage":"registered"})"}});
  produce(broker.bootstrap_servers(), "alerts",
          {{"a", R"({"drifted_features":["age",null]})"},
           {"a", R"({"metrics":[1]})"},
           {"a", R"({"alert_type":"drift","severity":"low"})"}});
  produce(broker.bootstrap_servers(), "retraining",
          {{"r", R"({"promoted":"yes"})"}, {"r", R"({"gate_passed":true})"}});
  ASSERT_EQ(run_until_idle(test_config(broker.bootstrap_servers(), db.dsn())).exit_code, 0);
  EXPECT_EQ(db.value("SELECT string_agg(topic || ':' || reason_code, ',' ORDER BY topic, kafka_offset) FROM "
                     "ingest_dead_letters"),
            "alerts:wrong_type,alerts:wrong_type,models:out_of_range,models:missing_field,retraining:wrong_type");
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_dead_letters WHERE reason LIKE '%drifted_features[1]%'"), 1);
  EXPECT_EQ(db.count("SELECT count(*) FROM model_metadata"), 1);
  EXPECT_EQ(db.count("SELECT count(*) FROM monitoring_alerts"), 1);
  EXPECT_EQ(db.count("SELECT count(*) FROM retraining_metrics"), 1);
}

TEST(EventKindsPgTest, RowsThePostgresRefusesAreDeadLetteredAlone) {
  TestDatabase db;
  // A rule a DBA added, which the ingester's validation does not know.
  db.exec("ALTER TABLE monitoring_alerts ADD CONSTRAINT no_critical CHECK (severity <> 'critical')");
  db.exec("ALTER TABLE model_metadata ADD CONSTRAINT no_beta CHECK (model_stage <> 'beta')");
  kafka::DevBroker broker(kAllTopics, 1);
  produce(broker.bootstrap_servers(), "alerts",
          {{"a", R"({"severity":"low"})"}, {"a", R"({"severity":"critical"})"}, {"a", R"({"severity":"high"})"}});
  produce(broker.bootstrap_servers(), "models",
          {{"v1", R"({"model_version":"v1","model_stage":"registered"})"},
           {"v1", R"({"model_version":"v1","model_stage":"beta"})"},
           {"v1", R"({"model_version":"v1","model_stage":"staging"})"}});
  ASSERT_EQ(run_until_idle(test_config(broker.bootstrap_servers(), db.dsn())).exit_code, 0);
  EXPECT_EQ(db.value("SELECT string_agg(severity, ',' ORDER BY severity) FROM monitoring_alerts"), "high,low");
  EXPECT_EQ(db.value("SELECT model_stage FROM model_metadata WHERE model_version = 'v1'"), "staging");
  EXPECT_EQ(db.value("SELECT string_agg(topic || ':' || reason_code || ':' || sqlstate, ',' ORDER BY topic) FROM "
                     "ingest_dead_letters"),
            "alerts:database_rejected:23514,models:database_rejected:23514");
  // The refused alert's position is not recorded: only the two appended rows are.
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_appended"), 2);
}

TEST(EventKindsPgTest, AMissingTopicIsAWarningAndTheOthersFlow) {
  TestDatabase db;
  kafka::DevBroker broker({"predictions", "labels", "alerts"}, 2);  // no models, no retraining topic
  produce(broker.bootstrap_servers(), "alerts", {{"a", R"({"alert_type":"drift","severity":"low"})"}});
  produce(broker.bootstrap_servers(), "predictions", {{"p1", R"({"prediction_id":"p1"})"}});
  ASSERT_EQ(run_until_idle(test_config(broker.bootstrap_servers(), db.dsn())).exit_code, 0);
  EXPECT_EQ(db.count("SELECT count(*) FROM monitoring_alerts"), 1);
  EXPECT_EQ(db.count("SELECT count(*) FROM prediction_logs"), 1);
}

TEST(EventKindsPgTest, AnEmptyTopicSettingTurnsAKindOff) {
  TestDatabase db;
  kafka::DevBroker broker(kAllTopics, 1);
  produce_all(broker);
  Config config = test_config(broker.bootstrap_servers(), db.dsn());
  config.topic_of(TopicKind::kAlerts) = "";
  ASSERT_EQ(run_until_idle(config).exit_code, 0);
  EXPECT_EQ(db.count("SELECT count(*) FROM monitoring_alerts"), 0);
  EXPECT_EQ(db.count("SELECT count(*) FROM model_metadata"), 2);
  EXPECT_EQ(db.count("SELECT count(*) FROM retraining_metrics"), 3);
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_offsets WHERE topic = 'alerts'"), 0);
}

}  // namespace
}  // namespace mlops_ingest::testing
