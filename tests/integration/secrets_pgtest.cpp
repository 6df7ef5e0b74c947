// Secrets and hostile configuration (issue 10, part 4). A private PostgreSQL that asks for
// passwords (scram-sha-256); passwords planted in every place an operator might put one — a DSN
// in key/value and URI form (percent-encoded), kafka.sasl.password in a config file,
// KAFKA_SASL_PASSWORD, PGPASSFILE — and the real binary run to success and through its error
// paths: a wrong password, a malformed URI that libpq echoes back, a refused connection, SASL
// that the broker cannot do, a config file others can read. Every planted password contains
// "Planted"; that word must appear in nothing the binary writes (stdout, stderr: logs, the
// progress line, errors) nor in anything it stores (dead letters, offsets).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "fault_env.hpp"
#include "mlops_ingest/devtools/dev_broker.hpp"
#include "mlops_ingest/devtools/event_generator.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"
#include "security_env.hpp"

namespace mlops_ingest::security {
namespace {

using namespace std::chrono_literals;
constexpr std::string_view kMarker = "Planted";
constexpr const char* kRole = "mlops_secret";
constexpr const char* kPgPassword = "Planted-Pg-Pass-7Q@x";        // in a URI: Planted-Pg-Pass-7Q%40x
constexpr const char* kPgPasswordInUri = "Planted-Pg-Pass-7Q%40x";
constexpr const char* kKafkaPassword = "Planted-Kafka-Pass-3Z";

// What the binary wrote: its log minus the harness's own "=== spawn: argv" lines (the test
// puts passwords on those command lines on purpose).
std::string program_output(const std::string& log) {
  std::istringstream in(log);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("=== spawn:", 0) != 0) out += line + "\n";
  }
  return out;
}

#define EXPECT_NO_SECRET(text) \
  EXPECT_EQ(program_output(text).find(kMarker), std::string::npos) << "a planted password leaked:\n" << program_output(text)

// A PostgreSQL where everyone but the test's own `postgres` authenticates with a password.
// `port_offset`: each test its own first port, so that ctest --parallel never starts two on one.
struct PasswordServer {
  PasswordServer(const fault::WorkDir& work, int port_offset)
      : pg(MLOPS_TEST_SEC_PG_PORT + port_offset, {"-c password_encryption=scram-sha-256", "/tmp/sec-mlops-secrets-pg-"}) {
    const ExitResult roles = run_to_exit(
        {fault::ingester_binary(), "schema", "roles", "--pg", pg.dsn(), "--ingest-role", kRole},
        work.file("schema-roles.log"), 120s);
    if (roles.status != 0) throw std::runtime_error("schema roles failed: " + roles.output);
    pg::BlockingConnection owner(pg.dsn());
    owner.exec(std::string("ALTER ROLE ") + kRole + " PASSWORD '" + kPgPassword + "'");
    owner.exec("ALTER TABLE prediction_logs ADD CONSTRAINT no_age_33 CHECK (age <> 33)");  // database_rejected rows
    std::ofstream(pg.data_dir() + "/pg_hba.conf") << "local all all trust\n"
                                                  << "host  all postgres 127.0.0.1/32 trust\n"
                                                  << "host  all all 127.0.0.1/32 scram-sha-256\n";
    pg.reload();
    const bool asks = fault::wait_until(
        [&] { return !sqlstate_of(key_value_dsn() + " connect_timeout=5", "SELECT 1").empty(); }, 30s);
    if (!asks) throw std::runtime_error("pg_hba.conf was not reloaded within 30 s");
  }
  [[nodiscard]] std::string key_value_dsn() const {
    return "host=127.0.0.1 port=" + std::to_string(pg.port()) + " dbname=mlops user=" + kRole;
  }
  [[nodiscard]] std::string uri(const std::string& password) const {
    return std::string("postgresql://") + kRole + ":" + password + "@127.0.0.1:" + std::to_string(pg.port()) + "/mlops";
  }
  fault::PgCluster pg;
};

std::string private_file(const fault::WorkDir& work, const std::string& name, const std::string& text, mode_t mode) {
  const std::string path = work.file(name);
  std::ofstream(path) << text;
  if (::chmod(path.c_str(), mode) != 0) throw std::runtime_error("chmod " + path);
  return path;
}

TEST(SecretsPgTest, NoPasswordInAnythingARealRunWritesOrStores) {
  fault::WorkDir work("secrets-run");
  PasswordServer server(work, 6);
  kafka::DevBroker broker({"predictions", "labels"}, 8);
  kafka::GeneratorOptions events = fault::stream(broker.bootstrap_servers(), 3000, 3001);
  events.invalid_ratio = 0.02;
  const kafka::GeneratorReport sent = kafka::produce_events(events);

  // The PostgreSQL password inside a URI on the command line (which also draws a warning about
  // `ps`), the SASL password in a config file of mode 600.
  const std::string config = private_file(work, "ingest.conf",
                                          std::string("kafka.sasl.username = ingest\nkafka.sasl.password = ") +
                                              kKafkaPassword + "\n",
                                          0600);
  fault::IngesterOptions options{broker.bootstrap_servers(), server.uri(kPgPasswordInUri)};
  options.group = "secrets-group";
  options.extra = {"--config", config, "--apply-schema", "false", "--idle-exit-ms", "3000",
                   "--progress-interval-ms", "200"};
  const ExitResult run = run_to_exit(fault::ingester_argv(options), work.file("ingester.log"));
  ASSERT_EQ(describe(run), "exit 0") << run.output;
  EXPECT_NE(run.output.find("a password was given on the command line (--pg)"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("progress:"), std::string::npos) << run.output;
  EXPECT_NO_SECRET(run.output);

  // It stored what it should, dead letters included (the parser's and PostgreSQL's refusals)...
  EXPECT_EQ(server.pg.count("SELECT coalesce(sum(next_offset), 0) FROM ingest_offsets WHERE topic = 'predictions'"),
            static_cast<std::int64_t>(sent.predictions_sent));
  EXPECT_GT(server.pg.count("SELECT count(*) FROM ingest_dead_letters WHERE reason_code = 'database_rejected'"), 0);
  EXPECT_GE(server.pg.count("SELECT count(*) FROM ingest_dead_letters"), static_cast<std::int64_t>(sent.invalid_events));
  // ...and no password in any of it.
  EXPECT_EQ(server.pg.count("SELECT count(*) FROM ingest_dead_letters WHERE concat_ws(' ', topic, reason_code, reason, "
                            "sqlstate, encode(message_key, 'escape'), encode(payload, 'escape')) LIKE '%Planted%'"),
            0);
  EXPECT_EQ(server.pg.count("SELECT count(*) FROM ingest_offsets WHERE concat_ws(' ', consumer_group, topic) LIKE "
                            "'%Planted%'"),
            0);
}

TEST(SecretsPgTest, NoPasswordInAnyErrorPath) {
  fault::WorkDir work("secrets-errors");
  PasswordServer server(work, 8);
  kafka::DevBroker broker({"predictions", "labels"}, 4);
  const kafka::GeneratorReport sent = kafka::produce_events(fault::stream(broker.bootstrap_servers(), 500, 3002));
  ASSERT_GT(sent.predictions_sent, 0u);
  auto run_with_pg = [&](const std::string& dsn, const std::string& log) {
    fault::IngesterOptions options{broker.bootstrap_servers(), dsn};
    options.group = "secrets-errors";
    options.extra = {"--apply-schema", "false", "--idle-exit-ms", "3000"};
    return run_to_exit(fault::ingester_argv(options), work.file(log), 120s);
  };

  // 1. A wrong password (key/value form, quoted, with spaces): the server says no.
  const ExitResult wrong = run_with_pg(server.key_value_dsn() + " password='Planted Wrong Pass 5K'", "wrong.log");
  EXPECT_EQ(describe(wrong), "exit 1") << wrong.output;
  EXPECT_NE(wrong.output.find("password authentication failed"), std::string::npos) << wrong.output;
  EXPECT_NE(wrong.output.find("password='********'"), std::string::npos) << "the DSN in the message, redacted\n"
                                                                        << wrong.output;
  EXPECT_NO_SECRET(wrong.output);

  // 2. A malformed URI: libpq quotes the whole URI, password included, in its error.
  const ExitResult echo = run_with_pg(std::string("postgresql://") + kRole + ":Planted-Echo-Pass-8M@[::1:" +
                                          std::to_string(server.pg.port()) + "/mlops",
                                      "echo.log");
  EXPECT_EQ(describe(echo), "exit 1") << echo.output;
  EXPECT_NE(echo.output.find("in URI: \"postgresql://mlops_secret:********@[::1:"), std::string::npos) << echo.output;
  EXPECT_NO_SECRET(echo.output);

  // 3. Nothing listening there (schema apply, the other command that takes a DSN).
  const ExitResult refused = run_to_exit({fault::ingester_binary(), "schema", "apply", "--pg",
                                          "host=127.0.0.1 port=1 user=x password=Planted-Refused-Pass-2R"},
                                         work.file("refused.log"), 60s);
  EXPECT_EQ(describe(refused), "exit 1") << refused.output;
  EXPECT_NE(refused.output.find("Connection refused"), std::string::npos) << refused.output;
  EXPECT_NO_SECRET(refused.output);

  // 4. A config file that holds a password and that others may read: refused like an ssh key.
  const std::string open_config = private_file(
      work, "open.conf", "kafka.sasl.password = Planted-Open-File-Pass-6T\n", 0644);
  fault::IngesterOptions options{broker.bootstrap_servers(), server.uri(kPgPasswordInUri)};
  options.extra = {"--config", open_config};
  const ExitResult open = run_to_exit(fault::ingester_argv(options), work.file("open-config.log"), 60s);
  EXPECT_EQ(describe(open), "exit 2") << open.output;
  EXPECT_NE(open.output.find("chmod 600 " + open_config), std::string::npos) << open.output;
  EXPECT_NO_SECRET(open.output);

  // 5. Kafka SASL/PLAIN that the broker cannot do (the embedded broker has no SASL): the
  // settings reach librdkafka as given, its errors are logged, and still no password — neither
  // KAFKA_SASL_PASSWORD nor the PostgreSQL one, given here the recommended way, in PGPASSFILE.
  const std::string passfile = private_file(work, "pgpass",
                                            "127.0.0.1:" + std::to_string(server.pg.port()) + ":mlops:" + kRole + ":" +
                                                kPgPassword + "\n",
                                            0600);
  fault::IngesterOptions sasl{broker.bootstrap_servers(), server.key_value_dsn()};
  sasl.group = "secrets-sasl";
  sasl.extra = {"--apply-schema", "false", "--kafka.security.protocol", "SASL_PLAINTEXT",
                "--kafka.sasl.mechanisms", "PLAIN", "--progress-interval-ms", "200"};
  std::vector<std::string> argv = {"/usr/bin/env", "PGPASSFILE=" + passfile, "KAFKA_SASL_USERNAME=ingest",
                                   std::string("KAFKA_SASL_PASSWORD=") + kKafkaPassword};
  const std::vector<std::string> ingest = fault::ingester_argv(sasl);
  argv.insert(argv.end(), ingest.begin(), ingest.end());
  fault::ChildProcess child(argv, work.file("sasl.log"));
  // Log text, not a state: librdkafka's logged SASL errors are output under test.
  const bool kafka_refused = fault::wait_until(
      [&] { return child.log().find("SASL") != std::string::npos || !child.running(); }, 60s);
  EXPECT_TRUE(kafka_refused) << child.log_tail();
  // Log text, not a state: the output checked for secrets below must hold a progress line too.
  EXPECT_TRUE(fault::wait_until([&] { return child.log().find("progress:") != std::string::npos; }, 30s))
      << child.log_tail();
  child.signal(SIGTERM);
  const std::optional<int> status = child.wait_exit(60s);
  ASSERT_TRUE(status.has_value()) << child.log_tail();
  EXPECT_EQ(fault::describe_status(*status), "exit 0") << child.log_tail();
  EXPECT_NE(child.log().find("mechanism PLAIN"), std::string::npos) << "librdkafka did not try SASL/PLAIN\n"
                                                                     << child.log();
  EXPECT_NE(child.log().find("PostgreSQL: connected as mlops_secret"), std::string::npos) << child.log();
  EXPECT_NO_SECRET(child.log());
  EXPECT_EQ(server.pg.count("SELECT count(*) FROM prediction_logs"), 0);
  EXPECT_EQ(server.pg.count("SELECT count(*) FROM ingest_offsets"), 0);
}

}  // namespace
}  // namespace mlops_ingest::security
