// Least-privilege roles (issue 10, part 2), on the integration tier's PostgreSQL: the ingest role
// that `mlops-ingest schema roles` creates runs the real binary to an exact end state with
// apply_schema = false, and can do nothing else (no DDL, no reading what it does not need); the
// analytics role runs the seed's Common Queries and cannot write.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "fault_env.hpp"
#include "mlops_ingest/devtools/dev_broker.hpp"
#include "mlops_ingest/devtools/event_generator.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"
#include "mlops_ingest/pg/roles.hpp"
#include "security_env.hpp"
#include "test_env.hpp"

namespace mlops_ingest::security {
namespace {

using namespace std::chrono_literals;
constexpr std::string_view kPermissionDenied = "42501";

// Roles are cluster-wide: unique names per test process, dropped at the end. Declare it BEFORE
// the TestDatabase: the database (and the privileges in it) must go first, then the roles.
class ScopedRoles {
 public:
  ScopedRoles()
      : ingest_("mlops_ingest_t" + std::to_string(::getpid())), analytics_("mlops_analytics_t" + std::to_string(::getpid())) {}
  ~ScopedRoles() {
    try {
      pg::BlockingConnection admin(testing::admin_dsn());
      admin.exec("DROP ROLE IF EXISTS " + ingest_ + ", " + analytics_);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "dropping the test roles: " << e.what();
    }
  }
  ScopedRoles(const ScopedRoles&) = delete;
  ScopedRoles& operator=(const ScopedRoles&) = delete;
  [[nodiscard]] const std::string& ingest() const { return ingest_; }
  [[nodiscard]] const std::string& analytics() const { return analytics_; }

 private:
  std::string ingest_, analytics_;
};

ExitResult schema_roles(const fault::WorkDir& work, const std::string& dsn, const ScopedRoles& roles) {
  return run_to_exit({fault::ingester_binary(), "schema", "roles", "--pg", dsn, "--ingest-role", roles.ingest(),
                      "--analytics-role", roles.analytics()},
                     work.file("schema-roles.log"), 120s);
}

// What every test here starts from: a log directory, the test roles, a database, and
// `schema roles` run once on it (its result in `granted`).
struct GrantedRoles {
  explicit GrantedRoles(const std::string& name) : work(name), granted(schema_roles(work, db.dsn(), roles)) {}
  fault::WorkDir work;
  ScopedRoles roles;  // before db, see ScopedRoles
  testing::TestDatabase db;
  ExitResult granted;
};

std::set<std::string> table_grants(const testing::TestDatabase& db, const std::string& role) {
  pg::BlockingConnection conn(db.dsn());
  pg::PgResult r = conn.exec(
      "SELECT table_name || ':' || privilege_type FROM information_schema.role_table_grants WHERE grantee = " +
      conn.escape_literal(role));
  std::set<std::string> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) out.insert(PQgetvalue(r.get(), i, 0));
  return out;
}

std::set<std::string> usable_sequences(const testing::TestDatabase& db, const std::string& role) {
  pg::BlockingConnection conn(db.dsn());
  // OFFSET 0: the sequences first (has_sequence_privilege errors on anything else).
  pg::PgResult r = conn.exec("SELECT relname FROM (SELECT oid, relname FROM pg_class WHERE relkind = 'S' OFFSET 0) s "
                             "WHERE has_sequence_privilege(" + conn.escape_literal(role) + ", oid, 'USAGE')");
  std::set<std::string> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) out.insert(PQgetvalue(r.get(), i, 0));
  return out;
}

// What pg::kIngestGrants says, as "table:PRIVILEGE" — the list `schema roles` must grant exactly.
std::set<std::string> expected_ingest_grants() {
  std::set<std::string> out;
  for (const pg::TableGrant& g : pg::kIngestGrants) {
    std::string_view list = g.privileges;
    while (!list.empty()) {
      const std::size_t comma = list.find(',');
      std::string_view p = list.substr(0, comma);
      while (!p.empty() && p.front() == ' ') p.remove_prefix(1);
      out.insert(std::string(g.table) + ":" + std::string(p));
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  return out;
}

TEST(RolesPgTest, IngestRoleRunsToAnExactEndStateAndCanDoNothingElse) {
  GrantedRoles setup("roles-ingest");
  auto& [work, roles, db, granted] = setup;
  ASSERT_EQ(describe(granted), "exit 0") << granted.output;

  // Exactly the lists, nothing more: table privileges, sequences, privileges on the database.
  EXPECT_EQ(table_grants(db, roles.ingest()), expected_ingest_grants());
  EXPECT_EQ(usable_sequences(db, roles.ingest()),
            (std::set<std::string>{"prediction_logs_id_seq", "label_store_id_seq", "ingest_dead_letters_id_seq",
                                   "model_metadata_id_seq", "monitoring_alerts_id_seq",
                                   "retraining_metrics_id_seq"}));
  std::set<std::string> spelled;  // as aclexplode() spells them
  for (std::string_view p : pg::kIngestDatabasePrivileges) spelled.insert(p == "TEMP" ? "TEMPORARY" : std::string(p));
  std::string database_privileges;
  for (const std::string& p : spelled) database_privileges += (database_privileges.empty() ? "" : ",") + p;
  EXPECT_EQ(db.value("SELECT string_agg(a.privilege_type, ',' ORDER BY a.privilege_type) FROM pg_database d, "
                     "aclexplode(d.datacl) a WHERE d.datname = current_database() AND a.grantee = '" +
                     roles.ingest() + "'::regrole"),
            database_privileges);

  // A stream with everything the writer does: the COPY fast path, duplicates (the staging path
  // through temp tables), labels before their predictions (label_pending, release, sweep), dead
  // letters, and the three kinds written by their description (upserts into model_metadata,
  // appends recorded in ingest_appended).
  kafka::DevBroker broker({"predictions", "labels", "models", "alerts", "retraining"}, 8);
  kafka::GeneratorOptions events = fault::stream(broker.bootstrap_servers(), 4000, 1001);
  events.invalid_ratio = 0.01;
  events.early_label_ratio = 0.1;
  events.models_topic = "models";
  events.alerts_topic = "alerts";
  events.retraining_topic = "retraining";
  events.alert_every = 500;
  const kafka::GeneratorReport sent = kafka::produce_events(events);
  ASSERT_GT(sent.early_labels, 0u);
  ASSERT_GT(sent.invalid_events, 0u);
  ASSERT_GT(sent.alert_rows, 0u);
  ASSERT_GT(sent.retraining_rows, 0u);

  const std::string ingest_dsn = as_user(db.dsn(), roles.ingest());
  fault::IngesterOptions options{broker.bootstrap_servers(), ingest_dsn, "roles-group",
                                 {"--apply-schema", "false", "--idle-exit-ms", "3000"}};
  const ExitResult run = run_to_exit(fault::ingester_argv(options), work.file("ingester.log"));
  EXPECT_EQ(describe(run), "exit 0") << run.output;
  EXPECT_EQ(run.output.find("refused"), std::string::npos) << "PostgreSQL refused something the role needs:\n"
                                                           << run.output;
  EXPECT_EQ(run.output.find("permission denied"), std::string::npos) << run.output;
  fault::expect_exact_outcome_dsn(db.dsn(), options.group, sent);
  EXPECT_EQ(db.count("SELECT count(*) FROM model_metadata"), static_cast<std::int64_t>(sent.model_rows));
  EXPECT_EQ(db.count("SELECT count(*) FROM monitoring_alerts"), static_cast<std::int64_t>(sent.alert_rows));
  EXPECT_EQ(db.count("SELECT count(*) FROM retraining_metrics"), static_cast<std::int64_t>(sent.retraining_rows));

  // No DDL, nothing beyond what `run` does.
  for (const std::string sql : {
           "CREATE TABLE intruder (a int)",
           "DROP TABLE prediction_logs",
           "ALTER TABLE prediction_logs ADD COLUMN intruder int",
           "CREATE INDEX intruder_idx ON prediction_logs (age)",
           "TRUNCATE prediction_logs",
           "DELETE FROM prediction_logs",
           "UPDATE label_store SET true_label = 1 - true_label",
           "DELETE FROM ingest_offsets",
           "SELECT count(*) FROM ingest_dead_letters",  // raw payloads: written, never read back
           "SELECT count(*) FROM monitoring_alerts",  // appended, never read back
           "SELECT count(*) FROM retraining_metrics",
           "DELETE FROM model_metadata",
           "UPDATE monitoring_alerts SET severity = 'low'",
           "DELETE FROM ingest_appended",
           "CREATE ROLE intruder",
       }) {
    EXPECT_EQ(sqlstate_of(ingest_dsn, sql), kPermissionDenied) << sql;
  }
  // ...while what it needs still works (and a temp table is its own, per session).
  EXPECT_EQ(sqlstate_of(ingest_dsn, "CREATE TEMP TABLE scratch (a int)"), "");
  EXPECT_EQ(sqlstate_of(ingest_dsn, "SELECT count(*) FROM prediction_logs"), "");
  EXPECT_EQ(db.count("SELECT count(*) FROM pg_tables WHERE tablename = 'intruder'"), 0);
}

TEST(RolesPgTest, AnalyticsRoleRunsTheCommonQueriesAndCannotWrite) {
  GrantedRoles setup("roles-analytics");
  auto& [work, roles, db, granted] = setup;
  ASSERT_EQ(describe(granted), "exit 0") << granted.output;

  db.exec("INSERT INTO prediction_logs (prediction_id, created_at, model_version, prediction, probability) VALUES "
          "('a', now() - interval '1 hour', 'v1', 1, 0.9), ('b', now() - interval '2 hours', 'v1', 0, 0.2), "
          "('c', now() - interval '3 days', 'v2', 1, 0.7);"
          "INSERT INTO label_store (prediction_id, true_label) VALUES ('a', 1), ('b', 1);"
          "INSERT INTO monitoring_alerts (alert_type, severity, drift_share) VALUES ('drift', 'high', 0.4)");
  const std::string analytics_dsn = as_user(db.dsn(), roles.analytics());
  pg::BlockingConnection analyst(analytics_dsn);
  // The seed's Common Queries. "Model Accuracy" as documented, AVG(boolean), fails for every
  // role (PostgreSQL has no avg(boolean)); the cast to int is what the main job runs too.
  EXPECT_EQ(analyst.query_value("SELECT COUNT(*) FROM prediction_logs WHERE created_at > NOW() - INTERVAL '24 hours'"),
            "2");
  EXPECT_NEAR(std::stod(analyst.query_value("SELECT COUNT(ls.prediction_id)::float / COUNT(pl.prediction_id) AS "
                                            "coverage FROM prediction_logs pl LEFT JOIN label_store ls USING (prediction_id)")),
              2.0 / 3.0, 1e-9);
  EXPECT_EQ(analyst.query_value("SELECT string_agg(model_version || '=' || accuracy, ',') FROM (SELECT model_version, "
                                "AVG((pl.prediction = ls.true_label)::int)::float AS accuracy FROM prediction_logs pl "
                                "JOIN label_store ls USING (prediction_id) GROUP BY model_version) q"),
            "v1=0.5");
  EXPECT_EQ(analyst.query_value("SELECT count(*) FROM (SELECT created_at, severity, drift_share FROM monitoring_alerts "
                                "WHERE alert_type = 'drift' ORDER BY created_at DESC LIMIT 10) q"),
            "1");
  for (std::string_view table : pg::kSeedTables) {
    EXPECT_EQ(sqlstate_of(analytics_dsn, "SELECT count(*) FROM " + std::string(table)), "") << table;
  }

  for (const std::string sql : {
           "INSERT INTO prediction_logs (prediction_id) VALUES ('x')",
           "UPDATE label_store SET true_label = 0",
           "DELETE FROM model_metadata",
           "INSERT INTO monitoring_alerts (alert_type) VALUES ('fake')",
           "TRUNCATE retraining_metrics",
           "CREATE TABLE intruder (a int)",
           "DROP TABLE label_store",
           "SELECT count(*) FROM ingest_dead_letters",
           "SELECT count(*) FROM ingest_offsets",
           "SELECT count(*) FROM label_pending",
           "INSERT INTO ingest_offsets VALUES ('g', 't', 0, 0)",
       }) {
    EXPECT_EQ(sqlstate_of(analytics_dsn, sql), kPermissionDenied) << sql;
  }
}

TEST(RolesPgTest, SchemaRolesIsIdempotentAndResetsGrantsMadeByHand) {
  GrantedRoles setup("roles-idempotent");
  auto& [work, roles, db, granted] = setup;
  ASSERT_EQ(describe(granted), "exit 0") << granted.output;
  const std::set<std::string> first = table_grants(db, roles.ingest());
  db.exec("GRANT DELETE, TRUNCATE ON prediction_logs TO " + roles.ingest() + "; GRANT INSERT ON model_metadata TO " +
          roles.analytics());
  const ExitResult again = schema_roles(work, db.dsn(), roles);
  ASSERT_EQ(describe(again), "exit 0") << again.output;
  EXPECT_NE(again.output.find("role " + roles.ingest() + " exists"), std::string::npos) << again.output;
  EXPECT_EQ(table_grants(db, roles.ingest()), first);
  EXPECT_EQ(table_grants(db, roles.analytics()),
            (std::set<std::string>{"label_store:SELECT", "model_metadata:SELECT", "monitoring_alerts:SELECT",
                                   "prediction_logs:SELECT", "retraining_metrics:SELECT"}));
  EXPECT_EQ(db.value("SELECT rolcanlogin FROM pg_roles WHERE rolname = '" + roles.ingest() + "'"), "t");

  // It refuses to reset the privileges of the tables' owner (here a superuser).
  const ExitResult owner = run_to_exit({fault::ingester_binary(), "schema", "roles", "--pg", db.dsn(),
                                        "--ingest-role", "postgres"},
                                       work.file("schema-roles-owner.log"), 60s);
  EXPECT_NE(describe(owner), "exit 0");
  EXPECT_NE(owner.output.find("refusing to manage role 'postgres'"), std::string::npos) << owner.output;
}

TEST(RolesPgTest, RunStopsAtStartupWithoutTheGrantsItNeeds) {
  GrantedRoles setup("roles-startup");
  auto& [work, roles, db, granted] = setup;
  ASSERT_EQ(describe(granted), "exit 0") << granted.output;
  kafka::DevBroker broker({"predictions", "labels"}, 4);
  const kafka::GeneratorReport sent = kafka::produce_events(fault::stream(broker.bootstrap_servers(), 500, 1002));
  ASSERT_GT(sent.predictions_sent, 0u);

  // The analytics role as an ingester: every missing privilege named, and how to grant them.
  fault::IngesterOptions options{broker.bootstrap_servers(), as_user(db.dsn(), roles.analytics()), "roles-startup",
                                 {"--apply-schema", "false", "--idle-exit-ms", "3000"}};
  const ExitResult wrong_role = run_to_exit(fault::ingester_argv(options), work.file("analytics-as-ingester.log"), 120s);
  EXPECT_EQ(describe(wrong_role), "exit 1") << wrong_role.output;
  EXPECT_NE(wrong_role.output.find("INSERT on prediction_logs"), std::string::npos) << wrong_role.output;
  EXPECT_NE(wrong_role.output.find("DELETE on label_pending"), std::string::npos) << wrong_role.output;
  EXPECT_NE(wrong_role.output.find("schema roles"), std::string::npos) << wrong_role.output;

  // The ingest role with apply_schema left on: it may not create tables, and is told what to set.
  options.pg = as_user(db.dsn(), roles.ingest());
  options.extra = {"--idle-exit-ms", "3000"};
  const ExitResult with_ddl = run_to_exit(fault::ingester_argv(options), work.file("ingest-with-ddl.log"), 120s);
  EXPECT_EQ(describe(with_ddl), "exit 1") << with_ddl.output;
  EXPECT_NE(with_ddl.output.find("apply_schema = false"), std::string::npos) << with_ddl.output;

  // Neither consumed anything.
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_offsets"), 0);
  EXPECT_EQ(db.count("SELECT count(*) FROM prediction_logs"), 0);
  EXPECT_EQ(kafka_committed_partitions(broker.bootstrap_servers(), options.group, {"predictions", "labels"}, 4), 0);
}

}  // namespace
}  // namespace mlops_ingest::security
