// `mlops-ingest dead-letters list|show|requeue` on the real binary against the test PostgreSQL,
// and retention in a running ingester against the embedded broker. Letters are written as the
// ingester writes them (the table is the record), with payloads of the event generator.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "fault_env.hpp"
#include "mlops_ingest/devtools/dev_broker.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"
#include "mlops_ingest/pg/pg_error.hpp"
#include "mlops_ingest/pg/roles.hpp"
#include "test_env.hpp"

namespace mlops_ingest::testing {
namespace {

using namespace std::chrono_literals;

struct Letter {
  std::string topic;
  std::int64_t offset;
  std::string key, payload, reason_code = "database_rejected", sqlstate = "23514";
  std::int64_t payload_bytes = -1;  // -1: the payload's length
  std::string age = "0";            // dead_lettered_at = now() - age (an interval)
};

std::int64_t add_letter(pg::BlockingConnection& conn, const Letter& l) {
  const pg::PgResult r = conn.exec_params(
      "INSERT INTO ingest_dead_letters (topic, kafka_partition, kafka_offset, message_key, payload, payload_bytes, "
      "reason_code, reason, sqlstate, dead_lettered_at) VALUES ($1, 0, $2::bigint, convert_to($3, 'UTF8'), "
      "convert_to($4, 'UTF8'), $5::int, $6, 'as the test wrote it', NULLIF($7, ''), now() - $8::interval) "
      "RETURNING id",
      {l.topic, std::to_string(l.offset), l.key, l.payload,
       std::to_string(l.payload_bytes < 0 ? static_cast<std::int64_t>(l.payload.size()) : l.payload_bytes),
       l.reason_code, l.sqlstate, l.age});
  return std::stoll(PQgetvalue(r.get(), 0, 0));
}

// The binary with `args`; its merged output in `out`, its exit code returned.
int cli(const std::string& args, std::string& out) {
  return fault::shell(fault::ingester_binary() + " dead-letters " + args + " 2>&1", &out);
}

// Everything the letters and the tables hold, to check that a command changed nothing.
std::string state(const TestDatabase& db) {
  return db.value(
      "SELECT (SELECT string_agg(id || ':' || reason_code || ':' || attempts, ',' ORDER BY id) FROM ingest_dead_letters) "
      "|| '|' || (SELECT count(*) FROM prediction_logs) || '|' || (SELECT count(*) FROM label_store) || '|' || "
      "(SELECT count(*) FROM label_pending)");
}

TEST(DeadLettersPgTest, RequeueStoresAndDeletesOrRecordsTheNewFailure) {
  TestDatabase db;
  pg::BlockingConnection conn(db.dsn());
  const Messages p = synthetic_predictions(7, 3);
  std::vector<std::int64_t> ids;
  for (std::size_t i = 0; i < p.size(); ++i) ids.push_back(add_letter(conn, {"predictions", static_cast<std::int64_t>(i), p[i].first, p[i].second}));
  const std::int64_t bad_json = add_letter(conn, {"predictions", 9, "k", "{not json", "invalid_json", ""});
  // The DBA's rule still refuses the third prediction.
  db.exec("ALTER TABLE prediction_logs ADD CONSTRAINT no_third CHECK (prediction_id <> '" +
          db.value("SELECT convert_from(payload, 'UTF8')::json->>'prediction_id' FROM ingest_dead_letters WHERE id = " +
                   std::to_string(ids[2])) + "')");
  std::string out;
  EXPECT_EQ(cli("requeue --pg '" + db.dsn() + "'", out), 1) << out;  // one failed again
  EXPECT_NE(out.find("stored: prediction_logs"), std::string::npos) << out;
  EXPECT_NE(out.find("failed_again: database_rejected (23514)"), std::string::npos) << out;
  EXPECT_NE(out.find("requeue: 2 requeued (stored 2, already stored 0, parked 0), failed again 2"), std::string::npos) << out;
  EXPECT_EQ(db.count("SELECT count(*) FROM prediction_logs"), 2);
  EXPECT_EQ(db.value("SELECT string_agg(id || ':' || reason_code || ':' || coalesce(sqlstate, '-') || ':' || attempts "
                     "|| ':' || (last_attempt_at IS NOT NULL), ',' ORDER BY id) FROM ingest_dead_letters"),
            std::to_string(ids[2]) + ":database_rejected:23514:1:true," + std::to_string(bad_json) +
                ":invalid_json:-:1:true");
  EXPECT_NE(db.value("SELECT reason FROM ingest_dead_letters WHERE id = " + std::to_string(ids[2])).find("no_third"),
            std::string::npos);

  // The rule relaxed: the letter is stored, once.
  db.exec("ALTER TABLE prediction_logs DROP CONSTRAINT no_third");
  EXPECT_EQ(cli("requeue --ids " + std::to_string(ids[2]) + " --pg '" + db.dsn() + "'", out), 0) << out;
  EXPECT_EQ(db.count("SELECT count(DISTINCT prediction_id) FROM prediction_logs"), 3);
  EXPECT_EQ(db.count("SELECT count(*) FROM prediction_logs"), 3);
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_dead_letters"), 1);
  // Gone now: a clear error, nothing changed.
  const std::string before = state(db);
  EXPECT_EQ(cli("requeue --ids " + std::to_string(ids[2]) + "," + std::to_string(bad_json) + " --pg '" + db.dsn() + "'", out), 1);
  EXPECT_NE(out.find("no dead letter with id " + std::to_string(ids[2])), std::string::npos) << out;
  EXPECT_EQ(state(db), before);
}

TEST(DeadLettersPgTest, ALabelParksUntilItsPredictionIsRequeuedAndADuplicateIsDeleted) {
  TestDatabase db;
  pg::BlockingConnection conn(db.dsn());
  const Messages p = synthetic_predictions(11, 2);
  const Messages l = synthetic_labels(11, 2);
  ASSERT_EQ(l.size(), 2u);
  const std::int64_t label = add_letter(conn, {"labels", 0, l[0].first, l[0].second});
  std::string out;
  EXPECT_EQ(cli("requeue --topic labels --pg '" + db.dsn() + "'", out), 0) << out;
  EXPECT_NE(out.find("parked: label_pending"), std::string::npos) << out;
  EXPECT_EQ(db.count("SELECT count(*) FROM label_pending"), 1);
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_dead_letters"), 0);
  static_cast<void>(label);
  // Its prediction arrives by requeue: the label moves to label_store.
  add_letter(conn, {"predictions", 0, p[0].first, p[0].second});
  EXPECT_EQ(cli("requeue --pg '" + db.dsn() + "'", out), 0) << out;
  EXPECT_TRUE(fault::wait_until([&] { return db.count("SELECT count(*) FROM label_store") == 1; }, 10s));
  EXPECT_EQ(db.count("SELECT count(*) FROM label_pending"), 0);
  // The same prediction dead-lettered twice (a producer retry): already stored, deleted.
  add_letter(conn, {"predictions", 1, p[0].first, p[0].second});
  EXPECT_EQ(cli("requeue --pg '" + db.dsn() + "'", out), 0) << out;
  EXPECT_NE(out.find("already_stored"), std::string::npos) << out;
  EXPECT_EQ(db.count("SELECT count(*) FROM prediction_logs"), 1);
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_dead_letters"), 0);
}

TEST(DeadLettersPgTest, DryRunTruncatedUnknownTopicAndBadInputChangeNothing) {
  TestDatabase db;
  pg::BlockingConnection conn(db.dsn());
  std::string out;
  const std::string pg = " --pg '" + db.dsn() + "'";
  EXPECT_EQ(cli("requeue" + pg, out), 1);
  EXPECT_NE(out.find("ingest_dead_letters is empty; nothing was requeued"), std::string::npos) << out;

  const Messages p = synthetic_predictions(3, 3);
  const std::int64_t ok = add_letter(conn, {"predictions", 0, p[0].first, p[0].second});
  Letter cut{"predictions", 1, p[1].first, p[1].second.substr(0, 20)};
  cut.payload_bytes = static_cast<std::int64_t>(p[1].second.size());
  const std::int64_t truncated = add_letter(conn, cut);
  const std::int64_t elsewhere = add_letter(conn, {"old-topic", 2, p[2].first, p[2].second});
  const std::string before = state(db);

  EXPECT_EQ(cli("requeue --dry-run" + pg, out), 1) << out;  // two would be left
  EXPECT_NE(out.find("would be stored: prediction_logs"), std::string::npos) << out;
  EXPECT_NE(out.find("dry run, nothing changed"), std::string::npos) << out;
  EXPECT_EQ(state(db), before);

  EXPECT_EQ(cli("requeue --ids " + std::to_string(truncated) + "," + std::to_string(elsewhere) + pg, out), 1) << out;
  EXPECT_NE(out.find("truncated to 20 of " + std::to_string(p[1].second.size()) + " bytes"), std::string::npos) << out;
  EXPECT_NE(out.find("topic 'old-topic' is not the topic of any configured event kind"), std::string::npos) << out;
  EXPECT_EQ(state(db), before);  // left alone: no attempt counted

  EXPECT_EQ(cli("show " + std::to_string(truncated) + pg, out), 0) << out;
  EXPECT_NE(out.find("truncated at dead_letter_payload_max_bytes: it cannot be requeued"), std::string::npos) << out;
  EXPECT_NE(out.find("topic predictions, partition 0, offset 1"), std::string::npos) << out;
  EXPECT_NE(out.find("sqlstate:       23514"), std::string::npos) << out;
  EXPECT_EQ(cli("show 999999" + pg, out), 1);
  EXPECT_NE(out.find("no dead letter with id 999999"), std::string::npos) << out;
  EXPECT_EQ(cli("list --json --topic predictions" + pg, out), 0) << out;
  EXPECT_NE(out.find("\"id\": " + std::to_string(ok)), std::string::npos) << out;
  EXPECT_EQ(out.find("old-topic"), std::string::npos) << out;
  EXPECT_EQ(cli("list --since 1h --limit 2" + pg, out), 0) << out;
  EXPECT_NE(out.find("2 dead letter(s)"), std::string::npos) << out;
  EXPECT_EQ(cli("list --since 2030-01-01T00:00:00Z" + pg, out), 0) << out;
  EXPECT_NE(out.find("0 dead letter(s)"), std::string::npos) << out;

  EXPECT_EQ(cli("list --since yesterday" + pg, out), 2);
  EXPECT_NE(out.find("--since: 'yesterday' is neither an RFC 3339 time"), std::string::npos) << out;
  EXPECT_EQ(cli("requeue --ids 1,x" + pg, out), 2);
  EXPECT_NE(out.find("--ids: 'x' is not a dead letter id"), std::string::npos) << out;
  EXPECT_EQ(cli("requeue --reason no_such_reason" + pg, out), 1);
  EXPECT_NE(out.find("no dead letter matches the filters"), std::string::npos) << out;
  EXPECT_EQ(cli("frobnicate" + pg, out), 2);
  EXPECT_EQ(state(db), before);
}

// An append kind (no natural key): exactly once by its Kafka position in ingest_appended, which
// the requeue records in the same transaction as the row and the deletion of the letter.
TEST(DeadLettersPgTest, AnAlertIsAppendedOnceByItsPosition) {
  TestDatabase db;
  pg::BlockingConnection conn(db.dsn());
  const std::string alert = R"({"created_at": "2026-01-05T12:00:00Z", "alert_type": "drift", "severity": "high", )"
                            R"("drift_share": 0.42, "drifted_features": ["age"], "message": "drift on 1 of 4 features"})";
  add_letter(conn, {"alerts", 7, "", alert});
  std::string out;
  EXPECT_EQ(cli("requeue --pg '" + db.dsn() + "'", out), 0) << out;
  EXPECT_NE(out.find("stored: monitoring_alerts"), std::string::npos) << out;
  EXPECT_EQ(db.count("SELECT count(*) FROM monitoring_alerts"), 1);
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_appended WHERE topic = 'alerts' AND kafka_offset = 7"), 1);
  // The same message dead-lettered again (say, by a replay that failed): already appended.
  add_letter(conn, {"alerts", 7, "", alert});
  EXPECT_EQ(cli("requeue --pg '" + db.dsn() + "'", out), 0) << out;
  EXPECT_NE(out.find("already_stored"), std::string::npos) << out;
  EXPECT_EQ(db.count("SELECT count(*) FROM monitoring_alerts"), 1);
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_dead_letters"), 0);
}

// kill -9 in the middle of a large requeue, then run again: every event stored exactly once,
// each letter deleted exactly when its row was stored.
TEST(DeadLettersPgTest, KilledMidRequeueAndRunAgainStoresEachEventOnce) {
  TestDatabase db;
  pg::BlockingConnection conn(db.dsn());
  constexpr std::size_t kEvents = 3000;
  const Messages p = synthetic_predictions(5, kEvents);
  conn.exec("BEGIN");
  for (std::size_t i = 0; i < p.size(); ++i) add_letter(conn, {"predictions", static_cast<std::int64_t>(i), p[i].first, p[i].second});
  conn.exec("COMMIT");
  auto consistent = [&] {
    // A letter and its row never both exist, nor neither.
    EXPECT_EQ(db.count("SELECT count(*) FROM prediction_logs") + db.count("SELECT count(*) FROM ingest_dead_letters"),
              static_cast<std::int64_t>(kEvents));
    EXPECT_EQ(db.count("SELECT count(*) FROM prediction_logs pl JOIN ingest_dead_letters d "
                       "ON convert_from(d.payload, 'UTF8')::json->>'prediction_id' = pl.prediction_id"),
              0);
  };
  {
    fault::ChildProcess child({fault::ingester_binary(), "dead-letters", "requeue", "--pg", db.dsn()},
                              ::testing::TempDir() + "/requeue_kill.log");
    ASSERT_TRUE(fault::wait_until([&] { return db.count("SELECT count(*) FROM prediction_logs") >= 300; }, 60s, 5ms))
        << child.log_tail();
    child.kill9();
  }
  const std::int64_t stored_at_kill = db.count("SELECT count(*) FROM prediction_logs");
  EXPECT_LT(stored_at_kill, static_cast<std::int64_t>(kEvents)) << "the requeue finished before the kill";
  consistent();
  std::string out;
  EXPECT_EQ(cli("requeue --pg '" + db.dsn() + "'", out), 0) << out.substr(out.size() > 2000 ? out.size() - 2000 : 0);
  consistent();
  EXPECT_EQ(db.count("SELECT count(DISTINCT prediction_id) FROM prediction_logs"), static_cast<std::int64_t>(kEvents));
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_dead_letters"), 0);
}

// Two requeues of the same letters at once: the letter's row lock makes each store it at most
// once; the one that comes second finds it gone.
TEST(DeadLettersPgTest, TwoRequeuesAtOnceStoreEachEventOnce) {
  TestDatabase db;
  pg::BlockingConnection conn(db.dsn());
  constexpr std::size_t kEvents = 1000;
  const Messages p = synthetic_predictions(9, kEvents);
  conn.exec("BEGIN");
  for (std::size_t i = 0; i < p.size(); ++i) add_letter(conn, {"predictions", static_cast<std::int64_t>(i), p[i].first, p[i].second});
  conn.exec("COMMIT");
  const std::vector<std::string> argv = {fault::ingester_binary(), "dead-letters", "requeue", "--pg", db.dsn()};
  fault::ChildProcess a(argv, ::testing::TempDir() + "/requeue_a.log");
  fault::ChildProcess b(argv, ::testing::TempDir() + "/requeue_b.log");
  const std::optional<int> ea = a.wait_exit(120s), eb = b.wait_exit(120s);
  ASSERT_TRUE(ea && eb);
  EXPECT_TRUE(WIFEXITED(*ea) && WEXITSTATUS(*ea) == 0) << a.log_tail();
  EXPECT_TRUE(WIFEXITED(*eb) && WEXITSTATUS(*eb) == 0) << b.log_tail();
  EXPECT_EQ(db.count("SELECT count(*) FROM prediction_logs"), static_cast<std::int64_t>(kEvents));
  EXPECT_EQ(db.count("SELECT count(DISTINCT prediction_id) FROM prediction_logs"), static_cast<std::int64_t>(kEvents));
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_dead_letters"), 0);
}

// Retention in a running ingester: old rows pruned, young ones kept; off: nothing deleted.
void run_ingester_with(const TestDatabase& db, const std::vector<std::string>& settings,
                       const std::function<bool()>& done) {
  kafka::DevBroker broker({"predictions", "labels"}, 2);
  Config config = test_config(broker.bootstrap_servers(), db.dsn());
  for (std::size_t i = 0; i + 1 < settings.size(); i += 2) apply_setting(config, settings[i], settings[i + 1]);
  config.http_listen.clear();
  Ingester ingester(config);
  std::thread t([&] { ingester.run(); });
  EXPECT_TRUE(fault::wait_until(done, 30s));
  std::this_thread::sleep_for(500ms);  // a pass that deleted too much would have done it by now
  ingester.request_stop();
  t.join();
  if (settings.size() >= 2 && settings[1] != "0") {
    EXPECT_GT(ingester.stats().dead_letters_pruned.load() + ingester.stats().appended_pruned.load(), 0u);
  }
}

void seed_old_and_young(const TestDatabase& db) {
  pg::BlockingConnection conn(db.dsn());
  for (int i = 0; i < 2500; ++i) add_letter(conn, {"predictions", i, "k", "{}", "invalid_json", "", -1, "3 days"});
  add_letter(conn, {"predictions", 9000, "k", "{}", "invalid_json", "", -1, "1 hour"});
  db.exec("INSERT INTO ingest_appended (topic, kafka_partition, kafka_offset, target_table, appended_at) "
          "SELECT 'alerts', 0, g, 'monitoring_alerts', now() - interval '3 days' FROM generate_series(1, 1500) g");
  db.exec("INSERT INTO ingest_appended (topic, kafka_partition, kafka_offset, target_table) VALUES ('alerts', 0, 0, 'monitoring_alerts')");
}

TEST(DeadLettersPgTest, RetentionPrunesOldRowsInBatchesAndKeepsYoungOnes) {
  TestDatabase db;
  seed_old_and_young(db);
  run_ingester_with(db, {"dead_letter_retention", "2d", "appended_retention", "1d"}, [&] {
    return db.count("SELECT count(*) FROM ingest_dead_letters") == 1 && db.count("SELECT count(*) FROM ingest_appended") == 1;
  });
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_dead_letters WHERE kafka_offset = 9000"), 1);
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_appended WHERE kafka_offset = 0"), 1);
}

// The least-privilege ingest role of `schema roles`: without --retention, `run` with retention on
// is refused at startup for the DELETEs it lacks; with it, the role prunes and still cannot read a
// payload.
TEST(DeadLettersPgTest, RetentionRunsAsTheIngestRoleOfSchemaRolesWithRetention) {
  const std::string role = "mlops_prune_t" + std::to_string(::getpid());
  struct DropRole {
    std::string name;
    ~DropRole() {
      try {
        pg::BlockingConnection(admin_dsn()).exec("DROP ROLE IF EXISTS " + name);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "dropping " << name << ": " << e.what();
      }
    }
  } drop{role};
  TestDatabase db;  // after the role's guard: the database (and its grants) go first
  const std::string roles_command = fault::ingester_binary() + " schema roles --pg '" + db.dsn() + "' --ingest-role " + role;
  const std::string as_role = db.dsn() + " user=" + role;
  kafka::DevBroker broker({"predictions", "labels"}, 2);
  Config config = test_config(broker.bootstrap_servers(), as_role);
  config.apply_schema = false;
  config.http_listen.clear();
  apply_setting(config, "dead_letter_retention", "2d");
  apply_setting(config, "appended_retention", "1d");
  std::string out;
  ASSERT_EQ(fault::shell(roles_command + " 2>&1", &out), 0) << out;
  EXPECT_EQ(pg::missing_ingest_privileges(as_role, pg::needed_ingest_grants(config)),
            (std::vector<std::string>{"DELETE on ingest_dead_letters", "DELETE on ingest_appended"}));
  ASSERT_EQ(fault::shell(roles_command + " --retention 2>&1", &out), 0) << out;
  EXPECT_TRUE(pg::missing_ingest_privileges(as_role, pg::needed_ingest_grants(config)).empty());
  seed_old_and_young(db);
  EXPECT_THROW(pg::BlockingConnection(as_role).exec("SELECT payload FROM ingest_dead_letters"), pg::PgError);
  Ingester ingester(config);
  std::thread t([&] { ingester.run(); });
  EXPECT_TRUE(fault::wait_until([&] {
    return db.count("SELECT count(*) FROM ingest_dead_letters") == 1 && db.count("SELECT count(*) FROM ingest_appended") == 1;
  }, 30s));
  ingester.request_stop();
  t.join();
}

TEST(DeadLettersPgTest, RetentionOffDeletesNothing) {
  TestDatabase db;
  seed_old_and_young(db);
  run_ingester_with(db, {"dead_letter_retention", "0"}, [] { return true; });
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_dead_letters"), 2501);
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_appended"), 1501);
}

}  // namespace
}  // namespace mlops_ingest::testing
