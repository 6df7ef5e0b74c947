// The topic settings as users give them to the real binary: an empty one turns its kind off —
// from the command line, the environment or the config file — and the ingester then stores the
// other kinds and never consumes that kind's topic, although it exists and holds messages.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "fault_env.hpp"
#include "mlops_ingest/devtools/dev_broker.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"
#include "scoped_env.hpp"
#include "security_env.hpp"
#include "test_env.hpp"

namespace mlops_ingest::security {
namespace {

using namespace std::chrono_literals;
constexpr int kPartitions = 2;

// One message or more of every kind, on topics that all exist.
void produce_every_kind(const kafka::DevBroker& broker) {
  const std::string b = broker.bootstrap_servers();
  testing::produce(b, "predictions",
                   {{"p1", R"({"prediction_id":"p1","prediction":1,"probability":0.9})"},
                    {"p2", R"({"prediction_id":"p2","prediction":0,"probability":0.2})"}});
  testing::produce(b, "labels", {{"p1", R"({"prediction_id":"p1","true_label":1})"}});
  testing::produce(b, "models", {{"v1", R"({"model_version":"v1","model_stage":"registered"})"}});
  testing::produce(b, "alerts",
                   {{"a1", R"({"alert_type":"drift","severity":"high"})"}, {"a2", R"({"alert_type":"drift"})"}});
  testing::produce(b, "retraining", {{"r1", R"({"shadow_model_version":"v2","promoted":true})"}});
}

// Rows per kind's table, and the topics the group stored offsets for: "p/l/m/a/r topics".
std::string outcome(const testing::TestDatabase& db, const std::string& group) {
  return db.value("SELECT (SELECT count(*) FROM prediction_logs) || '/' || (SELECT count(*) FROM label_store) || '/' "
                  "|| (SELECT count(*) FROM model_metadata) || '/' || (SELECT count(*) FROM monitoring_alerts) || '/' "
                  "|| (SELECT count(*) FROM retraining_metrics) || ' ' || coalesce((SELECT string_agg(DISTINCT topic, "
                  "',' ORDER BY topic) FROM ingest_offsets WHERE consumer_group = '" + group + "'), '-')");
}

using testing::ScopedEnv;

// A role is cluster-wide: dropped at the end. Declare it BEFORE the TestDatabase, whose
// privileges must go first.
class ScopedRole {
 public:
  explicit ScopedRole(std::string name) : name_(std::move(name)) {}
  ~ScopedRole() {
    try {
      pg::BlockingConnection admin(testing::admin_dsn());
      admin.exec("DROP ROLE IF EXISTS " + name_);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "dropping the test role: " << e.what();
    }
  }
  ScopedRole(const ScopedRole&) = delete;
  ScopedRole& operator=(const ScopedRole&) = delete;
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 private:
  std::string name_;
};

TEST(ConfigPgTest, AnEmptyAlertsTopicOnTheCommandLineTurnsAlertsOff) {
  fault::WorkDir work("topic-settings-flag");
  testing::TestDatabase db;
  kafka::DevBroker broker({"predictions", "labels", "models", "alerts", "retraining"}, kPartitions);
  produce_every_kind(broker);

  fault::IngesterOptions options{broker.bootstrap_servers(), db.dsn()};
  options.group = "alerts-off";
  options.extra = {"--alerts-topic", "", "--idle-exit-ms", "3000"};
  const ExitResult run = run_to_exit(fault::ingester_argv(options), work.file("ingester.log"));
  ASSERT_EQ(describe(run), "exit 0") << run.output;
  EXPECT_NE(run.output.find("consuming 'predictions', 'labels', 'models', 'retraining' from"), std::string::npos)
      << run.output;

  // Every other kind is stored; of alerts, nothing, and the group never held an alerts
  // partition: no offset stored for it in PostgreSQL, none committed to Kafka.
  EXPECT_EQ(outcome(db, options.group), "2/1/1/0/1 labels,models,predictions,retraining");
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_dead_letters"), 0)
      << db.value("SELECT string_agg(topic || ': ' || reason, ' / ') FROM ingest_dead_letters");
  EXPECT_EQ(kafka_committed_partitions(broker.bootstrap_servers(), options.group, {"alerts"}, kPartitions), 0);

  // The same messages with the setting back: the alerts are there to be read (the check above
  // could have failed).
  options.group = "alerts-on";
  options.extra = {"--idle-exit-ms", "3000"};
  const ExitResult again = run_to_exit(fault::ingester_argv(options), work.file("ingester-on.log"));
  ASSERT_EQ(describe(again), "exit 0") << again.output;
  EXPECT_EQ(outcome(db, options.group), "2/1/1/2/1 alerts,labels,models,predictions,retraining");
  EXPECT_GT(kafka_committed_partitions(broker.bootstrap_servers(), options.group, {"alerts"}, kPartitions), 0);
}

TEST(ConfigPgTest, EmptyTopicsInTheFileAndTheEnvironmentTurnTheirKindsOff) {
  fault::WorkDir work("topic-settings-file-env");
  testing::TestDatabase db;
  kafka::DevBroker broker({"predictions", "labels", "models", "alerts", "retraining"}, kPartitions);
  produce_every_kind(broker);

  const std::string conf = work.file("kinds.conf");
  std::ofstream(conf) << "# models off\nmodels_topic =\n";
  const ScopedEnv retraining_off("MLOPS_INGEST_RETRAINING_TOPIC", "");  // the child inherits it
  fault::IngesterOptions options{broker.bootstrap_servers(), db.dsn()};
  options.group = "file-env-off";
  options.extra = {"--config", conf, "--idle-exit-ms", "3000"};
  const ExitResult run = run_to_exit(fault::ingester_argv(options), work.file("ingester.log"));
  ASSERT_EQ(describe(run), "exit 0") << run.output;
  EXPECT_NE(run.output.find("consuming 'predictions', 'labels', 'alerts' from"), std::string::npos) << run.output;
  EXPECT_EQ(outcome(db, options.group), "2/1/0/2/0 alerts,labels,predictions");
  EXPECT_EQ(kafka_committed_partitions(broker.bootstrap_servers(), options.group, {"models", "retraining"}, kPartitions),
            0);
}

// The startup check asks only for the kinds that are on: a role without any right on the alerts'
// table (a deployment that never wanted alerts) runs with alerts off, and is stopped, naming the
// missing privilege, with alerts on.
TEST(ConfigPgTest, AKindThatIsOffNeedsNoGrants) {
  fault::WorkDir work("topic-settings-grants");
  const ScopedRole role("mlops_topics_t" + std::to_string(::getpid()));
  testing::TestDatabase db;
  const ExitResult granted = run_to_exit(
      {fault::ingester_binary(), "schema", "roles", "--pg", db.dsn(), "--ingest-role", role.name()},
      work.file("schema-roles.log"), 120s);
  ASSERT_EQ(describe(granted), "exit 0") << granted.output;
  db.exec("REVOKE ALL ON TABLE monitoring_alerts FROM " + role.name());
  kafka::DevBroker broker({"predictions", "labels", "models", "alerts", "retraining"}, kPartitions);
  produce_every_kind(broker);

  fault::IngesterOptions options{broker.bootstrap_servers(), as_user(db.dsn(), role.name()), "grants",
                                 {"--apply-schema", "false", "--idle-exit-ms", "3000"}};
  const ExitResult alerts_on = run_to_exit(fault::ingester_argv(options), work.file("alerts-on.log"), 120s);
  EXPECT_EQ(describe(alerts_on), "exit 1") << alerts_on.output;
  EXPECT_NE(alerts_on.output.find("INSERT on monitoring_alerts"), std::string::npos) << alerts_on.output;

  options.extra.insert(options.extra.end(), {"--alerts-topic", ""});
  const ExitResult alerts_off = run_to_exit(fault::ingester_argv(options), work.file("alerts-off.log"), 120s);
  ASSERT_EQ(describe(alerts_off), "exit 0") << alerts_off.output;
  EXPECT_EQ(alerts_off.output.find("permission denied"), std::string::npos) << alerts_off.output;
  EXPECT_EQ(outcome(db, options.group), "2/1/1/0/1 labels,models,predictions,retraining");
}

TEST(ConfigPgTest, EveryTopicEmptyStopsStartupNamingTheSettings) {
  fault::WorkDir work("topic-settings-none");
  testing::TestDatabase db;
  fault::IngesterOptions options{"127.0.0.1:9", db.dsn()};
  options.extra = {"--predictions-topic", "", "--labels-topic", "", "--models-topic", "",
                   "--alerts-topic",      "", "--retraining-topic", ""};
  const ExitResult run = run_to_exit(fault::ingester_argv(options), work.file("ingester.log"), 60s);
  EXPECT_NE(describe(run), "exit 0") << run.output;
  for (const char* setting : {"predictions_topic", "labels_topic", "models_topic", "alerts_topic", "retraining_topic"}) {
    EXPECT_NE(run.output.find(setting), std::string::npos) << run.output;
  }
}

}  // namespace
}  // namespace mlops_ingest::security
