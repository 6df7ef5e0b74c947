// Through PgBouncer in transaction pooling mode (issue 10, part 3). Each test starts its own
// PostgreSQL with log_statement = all and a real PgBouncer 1.18 in front of it
// (scripts/pgbouncer-throwaway.sh: pool_mode = transaction, at most 2 server connections per
// database), and drives the real binary through it:
// - a stream with duplicates, early labels and invalid events, ingested by two instances with two
//   writers each, ends exactly once; PgBouncer's console and pg_stat_activity show that the
//   instances' client connections really shared two server connections, and the server's own
//   statement log shows that the four writers' batches ran on at most two backends and that
//   nothing the run sent leaves session state behind (session_state_findings);
// - labels consumed before their predictions wait in label_pending and move to label_store when
//   the predictions arrive in a later run;
// - PostgreSQL down behind a PgBouncer that is up is an outage at startup, as it is without one;
// - the session-state audit finds what it is meant to (no servers).
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "endpoint_probe.hpp"
#include "fault_env.hpp"
#include "mlops_ingest/devtools/dev_broker.hpp"
#include "mlops_ingest/devtools/event_generator.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"
#include "pgbouncer_env.hpp"
#include "security_env.hpp"
#include "test_env.hpp"

namespace mlops_ingest::pgbouncer {
namespace {

using namespace std::chrono_literals;

constexpr int kPoolSize = 2;

// Each test its own first ports, so that ctest --parallel never starts two servers on one.
struct PooledServer {
  explicit PooledServer(int port_offset)
      : pg(MLOPS_TEST_PGB_PORT + port_offset, {kAuditedServerOptions, "/tmp/mlops-pgb-pg-"}),
        bouncer(pg, MLOPS_TEST_PGB_PORT + 10 + port_offset, kPoolSize) {
    // The fixture's own set-up connections (CREATE DATABASE, the schema) must be gone before
    // PostgreSQL's backends are counted: a closed connection's backend lingers a moment.
    if (!fault::wait_until([&] { return sample_pool(bouncer, pg).backends == 0; }, 30s)) {
      throw std::runtime_error("backends of the set-up connections still there after 30 s");
    }
  }
  [[nodiscard]] std::vector<LoggedStatement> statements() const {
    std::ifstream in(pg.dir() + "/server.log");
    std::ostringstream text;
    text << in.rdbuf();
    return logged_statements(text.str());
  }
  fault::PgCluster pg;
  PgBouncer bouncer;
};

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

// The audit every run ends with: nothing it sent leaves session state on a server connection.
void expect_no_session_state(const std::vector<LoggedStatement>& statements) {
  const std::vector<std::string> findings = session_state_findings(statements);
  EXPECT_TRUE(findings.empty()) << "statements that keep session state:\n" << joined(findings);
}

// "predictions inserted N" from an instance's summary line; -1 if it has none.
long long predictions_inserted(const std::string& log) {
  static const std::regex summary(R"(summary: .*predictions inserted (\d+))");
  std::smatch m;
  return std::regex_search(log, m, summary) ? std::stoll(m[1]) : -1;
}

TEST(PgbouncerPgTest, StreamEndsExactlyOnceThroughTransactionPooling) {
  fault::WorkDir work("pgbouncer-stream");
  PooledServer server(0);
  kafka::DevBroker broker({"predictions", "labels"}, 8);
  kafka::GeneratorOptions events = fault::stream(broker.bootstrap_servers(), 6000, 3001);
  events.invalid_ratio = 0.01;
  const kafka::GeneratorReport sent = kafka::produce_events(events);
  ASSERT_GT(sent.duplicate_predictions, 0u);
  ASSERT_GT(sent.early_labels, 0u);
  ASSERT_GT(sent.invalid_events, 0u);

  // Two instances in one group, two writers each, small batches (many transactions); the first
  // also runs its HTTP endpoint, whose PostgreSQL probe goes through the pooler as well.
  fault::IngesterOptions options{broker.bootstrap_servers(), server.bouncer.dsn()};
  options.group = "pgbouncer-group";
  options.extra = {"--writers", "2", "--batch-rows", "500", "--http-listen", "127.0.0.1:0"};
  std::unique_ptr<fault::ChildProcess> a = fault::spawn_ingester(options, work.file("ingester-a.log"));
  options.extra = {"--writers", "2", "--batch-rows", "500"};
  std::unique_ptr<fault::ChildProcess> b = fault::spawn_ingester(options, work.file("ingester-b.log"));

  // While they run: how many clients PgBouncer holds for the database, how many server
  // connections it uses for them, and how many backends PostgreSQL has for it.
  PoolSample most;
  fault::Observed last;
  const bool done = fault::wait_until(
      [&] {
        const PoolSample s = sample_pool(server.bouncer, server.pg);
        most.clients = std::max(most.clients, s.clients);
        most.servers = std::max(most.servers, s.servers);
        most.backends = std::max(most.backends, s.backends);
        if (auto o = fault::observe_dsn(observer_dsn(server.pg), options.group)) last = *o;
        return fault::complete(last, sent) || !a->running() || !b->running();
      },
      240s, 200ms);
  EXPECT_TRUE(done && fault::complete(last, sent)) << "last seen " << last;
  ASSERT_TRUE(a->running()) << a->log_tail();
  ASSERT_TRUE(b->running()) << b->log_tail();
  {
    // Once more with both still running: every connection they made is open by now.
    const PoolSample s = sample_pool(server.bouncer, server.pg);
    most = {std::max(most.clients, s.clients), std::max(most.servers, s.servers), std::max(most.backends, s.backends)};
  }
  for (fault::ChildProcess* p : {a.get(), b.get()}) {
    p->signal(SIGTERM);
    const std::optional<int> status = p->wait_exit(30s);
    ASSERT_TRUE(status.has_value()) << "no exit 30 s after SIGTERM\n" << p->log_tail();
    EXPECT_EQ(fault::describe_status(*status), "exit 0") << p->log_tail();
  }
  fault::expect_exact_outcome_dsn(observer_dsn(server.pg), options.group, sent);
  // Both instances committed rows: the group shared the partitions between them.
  EXPECT_GT(predictions_inserted(a->log()), 0) << a->log_tail();
  EXPECT_GT(predictions_inserted(b->log()), 0) << b->log_tail();

  // Pooled for real: per instance two writers and the consumer's stored-offsets connection stay
  // connected (the first's endpoint probe too), all through at most kPoolSize server connections.
  std::printf("[ pooling  ] most at once: %d clients, %d PgBouncer server connections, %d PostgreSQL backends\n",
              most.clients, most.servers, most.backends);
  EXPECT_GE(most.clients, 6);
  EXPECT_GE(most.servers, 1);
  EXPECT_LE(most.servers, kPoolSize);
  EXPECT_LE(most.backends, kPoolSize);

  // The server's side of the same story: every writer's batch transaction starts with
  // SET LOCAL synchronous_commit, and four writers' batches ran on at most two backends.
  const std::vector<LoggedStatement> statements = server.statements();
  const std::set<pid_t> batch_backends = backends_running(statements, "SET LOCAL synchronous_commit");
  EXPECT_GE(batch_backends.size(), 1u);
  EXPECT_LE(batch_backends.size(), static_cast<std::size_t>(kPoolSize));
  EXPECT_FALSE(backends_running(statements, "SET LOCAL statement_timeout").empty())
      << "the endpoint's probe never reached PostgreSQL";
  // PgBouncer synced application_name between clients on a shared server connection: the writers
  // ("mlops-ingest"), the probe ("mlops-ingest-probe") and the offsets reads took turns on them.
  EXPECT_FALSE(backends_running(statements, "SET application_name=").empty());
  expect_no_session_state(statements);
}

TEST(PgbouncerPgTest, LabelsBeforeTheirPredictionsResolveThroughThePooler) {
  fault::WorkDir work("pgbouncer-labels-first");
  PooledServer server(2);
  kafka::DevBroker broker({"predictions", "labels"}, 4);
  const std::uint64_t seed = 31, n = 3000;
  const testing::Messages labels = testing::synthetic_labels(seed, n);
  const testing::Messages predictions = testing::synthetic_predictions(seed, n);
  fault::IngesterOptions options{broker.bootstrap_servers(), server.bouncer.dsn()};
  options.group = "pgbouncer-labels";
  options.extra = {"--writers", "2", "--batch-rows", "500", "--idle-exit-ms", "3000"};
  auto count = [&](const std::string& sql) {
    pg::BlockingConnection conn(observer_dsn(server.pg));
    return std::stoll(conn.query_value(sql));
  };

  // First run: only labels. Their predictions are nowhere, so every label waits.
  testing::produce(broker.bootstrap_servers(), "labels", labels);
  const security::ExitResult first = security::run_to_exit(fault::ingester_argv(options), work.file("first.log"));
  ASSERT_EQ(security::describe(first), "exit 0") << first.output;
  EXPECT_EQ(count("SELECT count(*) FROM label_pending"), static_cast<long long>(n));
  EXPECT_EQ(count("SELECT count(*) FROM label_store"), 0);

  // Second run: the predictions. Each batch that stores predictions moves their labels.
  testing::produce(broker.bootstrap_servers(), "predictions", predictions);
  const security::ExitResult second = security::run_to_exit(fault::ingester_argv(options), work.file("second.log"));
  ASSERT_EQ(security::describe(second), "exit 0") << second.output;
  EXPECT_EQ(count("SELECT count(*) FROM prediction_logs"), static_cast<long long>(n));
  EXPECT_EQ(count("SELECT count(*) FROM label_pending"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM label_store"), static_cast<long long>(n));
  EXPECT_EQ(count("SELECT count(*) FROM label_store WHERE days_delayed IS NULL"), 0);
  EXPECT_EQ(count("SELECT sum(next_offset) FROM ingest_offsets WHERE consumer_group = 'pgbouncer-labels' AND "
                  "topic = 'labels'"),
            static_cast<long long>(n));
  EXPECT_EQ(count("SELECT sum(next_offset) FROM ingest_offsets WHERE consumer_group = 'pgbouncer-labels' AND "
                  "topic = 'predictions'"),
            static_cast<long long>(n));

  const std::vector<LoggedStatement> statements = server.statements();
  EXPECT_LE(backends_running(statements, "SET LOCAL synchronous_commit").size(), static_cast<std::size_t>(kPoolSize));
  expect_no_session_state(statements);
}

// PostgreSQL down while PgBouncer is up and has served this database before: the ingester's first
// connection succeeds (PgBouncer answers for the server), and the outage shows at the first query.
// It is still an outage, as it is without a pooler: `run` stays up, not ready, retrying its
// startup checks, and the stream ends exactly once when PostgreSQL is back.
TEST(PgbouncerPgTest, PostgresDownBehindThePoolerAtStartupIsAnOutage) {
  fault::WorkDir work("pgbouncer-startup-outage");
  PooledServer server(4);
  kafka::DevBroker broker({"predictions", "labels"}, 4);
  const kafka::GeneratorReport sent = kafka::produce_events(fault::stream(broker.bootstrap_servers(), 2000, 3003));
  {
    pg::BlockingConnection warm(server.bouncer.dsn());
    ASSERT_EQ(warm.query_value("SELECT 1"), "1");
  }
  server.pg.stop();
  // A query that makes PgBouncer try a server and fail: it then fails the next ones at once
  // (server_login_retry) instead of queueing them for query_wait_timeout (120 s), so the test
  // does not wait that long. (An already dead server connection would fail the query without a
  // new attempt: hence the loop.)
  const std::string failed_connect =
      "mlops/postgres@127.0.0.1:" + std::to_string(server.pg.port()) + " closing because: connect failed";
  ASSERT_TRUE(fault::wait_until(
      [&] {
        const int rc = std::system(
            ("timeout 3 psql -X -q \"" + server.bouncer.dsn() + "\" -c 'SELECT 1' >/dev/null 2>&1").c_str());
        (void)rc;  // fails either way; what counts is PgBouncer's own record of the attempt
        return server.bouncer.log().find(failed_connect) != std::string::npos;
      },
      60s))
      << server.bouncer.log();

  fault::IngesterOptions options{broker.bootstrap_servers(), server.bouncer.dsn()};
  options.group = "pgbouncer-startup";
  const int http = fault::free_http_port();
  options.extra = {"--apply-schema", "false", "--http-listen", fault::http_listen(http)};
  std::unique_ptr<fault::ChildProcess> ingester = fault::spawn_ingester(options, work.file("ingester.log"));
  // Its endpoint answers at once; /readyz says that startup waits for PostgreSQL and retries.
  ASSERT_TRUE(fault::wait_until(
      [&] {
        const auto readyz = fault::endpoint_get(http, "/readyz");
        return (readyz && readyz->body.find("attempt(s) failed") != std::string::npos) || !ingester->running();
      },
      60s))
      << ingester->log_tail();
  ASSERT_TRUE(ingester->running()) << "stopped at startup although PostgreSQL was only down\n" << ingester->log_tail();
  EXPECT_EQ(fault::endpoint_get(http, "/readyz").value_or(testing::HttpReply{}).status, 503u);

  server.pg.start();
  fault::finish_stream(server.pg, options.group, sent, *ingester, std::chrono::steady_clock::now());
}

// The audit itself: it must find each kind of session state in a server log, and leave alone what a
// transaction pooler carries (SET LOCAL, transaction-level locks, PgBouncer's own parameter sync,
// unnamed statements, temp tables dropped at commit).
TEST(PgbouncerPgTest, SessionStateAuditFindsWhatAPoolerCannotCarry) {
  const std::string log =
      "2026-11-27 21:32:26.285 UTC [101] LOG:  statement: BEGIN; SET LOCAL synchronous_commit = on; "
      "SELECT pg_advisory_xact_lock(1)\n"
      "2026-11-27 21:32:26.286 UTC [101] LOG:  execute <unnamed>: INSERT INTO t SELECT * FROM unnest($1::text[])\n"
      "2026-11-27 21:32:26.286 UTC [101] LOG:  statement: SET application_name='mlops-ingest';"
      "SET client_encoding='UTF8';\n"
      "2026-11-27 21:32:26.287 UTC [101] LOG:  statement: CREATE TEMP TABLE s (x int) ON COMMIT DROP\n"
      "2026-11-27 21:32:26.287 UTC [101] LOG:  statement: UPDATE ingest_offsets o SET next_offset = 1; COMMIT\n"
      "2026-11-27 21:32:26.288 UTC [102] LOG:  statement: SET statement_timeout = '5s'\n"
      "2026-11-27 21:32:26.288 UTC [102] LOG:  statement: BEGIN;\n"
      "\tset   search_path = x; COMMIT\n"
      "2026-11-27 21:32:26.289 UTC [102] LOG:  execute S_1: SELECT 1\n"
      "2026-11-27 21:32:26.289 UTC [102] LOG:  statement: PREPARE p AS SELECT 1\n"
      "2026-11-27 21:32:26.290 UTC [102] LOG:  statement: SELECT pg_advisory_lock(7)\n"
      "2026-11-27 21:32:26.290 UTC [102] LOG:  statement: CREATE TEMPORARY TABLE staging (x int)\n"
      "2026-11-27 21:32:26.291 UTC [102] LOG:  statement: SELECT set_config('work_mem', '1GB', false)\n"
      "2026-11-27 21:32:26.291 UTC [102] LOG:  statement: LISTEN ch\n"
      "2026-11-27 21:32:26.292 UTC [102] ERROR:  statement: SET not_logged_as_a_statement = 1\n";
  const std::vector<LoggedStatement> statements = logged_statements(log);
  ASSERT_EQ(statements.size(), 13u);
  EXPECT_EQ(backends_running(statements, "SET LOCAL synchronous_commit"), std::set<pid_t>{101});
  const std::vector<std::string> findings = session_state_findings(statements);
  const std::vector<std::string> expected = {
      "[102] SET statement_timeout = '5s'", "[102] set   search_path = x",
      "[102] named prepared statement (execute S_1): SELECT 1", "[102] PREPARE p AS SELECT 1",
      "[102] SELECT pg_advisory_lock(7)", "[102] CREATE TEMPORARY TABLE staging (x int)",
      "[102] SELECT set_config('work_mem', '1GB', false)", "[102] LISTEN ch"};
  EXPECT_EQ(findings, expected) << joined(findings);
}

}  // namespace
}  // namespace mlops_ingest::pgbouncer
