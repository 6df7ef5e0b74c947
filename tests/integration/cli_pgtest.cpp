// The command line as users meet it, on the real binary: every command's --help and --version,
// and `config check` against the test PostgreSQL and the embedded broker — the effective
// settings with their origins and secrets masked, then one line per problem, and its exit code.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fault_env.hpp"
#include "mlops_ingest/devtools/dev_broker.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"
#include "scoped_env.hpp"
#include "security_env.hpp"
#include "test_env.hpp"

namespace mlops_ingest::security {
namespace {

using testing::ScopedEnv;

// The binary's stdout alone (stderr dropped) and its exit code.
int stdout_of(const std::string& args, std::string& out) {
  return fault::shell(fault::ingester_binary() + " " + args + " 2>/dev/null", &out);
}

int exit_code(const ExitResult& r) { return WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1; }

// The line of `output` that shows setting `key` ("" if none).
std::string setting_line(const std::string& output, const std::string& key) {
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("  " + key + " ", 0) == 0) return line;
  }
  return {};
}

TEST(CliPgTest, EveryCommandOfTheUsageHasHelpAndTheBinaryItsVersion) {
  std::string usage;
  ASSERT_EQ(stdout_of("--help", usage), 0);
  std::set<std::string> commands;
  static const std::regex command_line(R"(^  mlops-ingest ([a-z][a-z-]*))");
  std::istringstream in(usage);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, command_line)) commands.insert(m[1]);
  }
  for (const char* expected : {"run", "replay", "schema", "config", "dev-broker", "produce", "status", "loadtest",
                               "settings", "kinds"}) {
    EXPECT_EQ(commands.count(expected), 1u) << expected << " is not in the usage:\n" << usage;
  }
  for (const std::string& command : commands) {
    std::string help;
    EXPECT_EQ(stdout_of(command + " --help", help), 0) << command;
    EXPECT_EQ(help.rfind("usage:\n", 0), 0u) << command << ": " << help;
    EXPECT_NE(help.find("mlops-ingest " + command), std::string::npos) << command << ": " << help;
  }
  std::string subcommand_help;
  EXPECT_EQ(stdout_of("config check --help", subcommand_help), 0);
  EXPECT_NE(subcommand_help.find("Exit 0"), std::string::npos) << subcommand_help;
  std::string version;
  ASSERT_EQ(stdout_of("--version", version), 0);
  EXPECT_TRUE(std::regex_match(version, std::regex(R"(mlops-ingest \d+\.\d+\.\d+ \(commit [^ )]+\)\n)"))) << version;
}

class ConfigCheckPgTest : public ::testing::Test {
 protected:
  ExitResult check(std::vector<std::string> args) {
    args.insert(args.begin(), {fault::ingester_binary(), "config", "check"});
    return run_to_exit(args, work_.file("check.log"), std::chrono::seconds(60));
  }
  fault::WorkDir work_{"config-check"};
  testing::TestDatabase db_;
};

TEST_F(ConfigCheckPgTest, AGoodSetupPassesAndShowsWhereEachSettingComesFrom) {
  kafka::DevBroker broker({"predictions", "labels", "models", "alerts", "retraining"}, 3);
  const std::string file = work_.file("check.conf");
  std::ofstream(file) << "group = from-the-file\nbatch_rows = 100\n";
  const ScopedEnv writers("MLOPS_INGEST_WRITERS", "3");
  const ScopedEnv kafka_property("MLOPS_INGEST_KAFKA__CLIENT_ID", "from-the-environment");
  // A password in the DSN (the test server does not ask for one: trust).
  const std::string pg = db_.dsn() + " password=n0t-to-be-shown";
  const ExitResult r = check({"--config", file, "--brokers", broker.bootstrap_servers(), "--pg", pg,
                              "--batch-rows", "200"});
  EXPECT_EQ(exit_code(r), 0) << describe(r) << "\n" << r.output;
  EXPECT_NE(r.output.find("config check: all good"), std::string::npos) << r.output;
  // (The test's own "=== spawn:" line, which shows the command, is not the binary's output.)
  EXPECT_EQ(r.output.substr(r.output.find('\n')).find("n0t-to-be-shown"), std::string::npos) << r.output;
  const std::string group = setting_line(r.output, "group"), writers_line = setting_line(r.output, "writers");
  const std::string batch_rows = setting_line(r.output, "batch_rows"), linger = setting_line(r.output, "batch_linger_ms");
  const std::string pg_line = setting_line(r.output, "pg"), client_id = setting_line(r.output, "kafka.client.id");
  EXPECT_TRUE(group.find("from-the-file") != std::string::npos && group.find(" file (") != std::string::npos) << group;
  EXPECT_TRUE(writers_line.find(" 3 ") != std::string::npos &&
              writers_line.find("environment (MLOPS_INGEST_WRITERS)") != std::string::npos)
      << writers_line;
  EXPECT_TRUE(batch_rows.find(" 200 ") != std::string::npos && batch_rows.find(" flag (--batch-rows)") != std::string::npos)
      << batch_rows;
  EXPECT_TRUE(linger.find(" 0 ") != std::string::npos && linger.find(" default") != std::string::npos) << linger;
  EXPECT_TRUE(pg_line.find("********") != std::string::npos && pg_line.find(" flag") != std::string::npos) << pg_line;
  EXPECT_NE(client_id.find("from-the-environment"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("topic 'predictions' (predictions_topic): 3 partitions"), std::string::npos) << r.output;
}

TEST_F(ConfigCheckPgTest, AMissingTopicAnUnreachableDatabaseOrAWrongRoleFailNamingIt) {
  kafka::DevBroker broker({"predictions", "labels", "models", "retraining"}, 2);
  const ExitResult missing_topic = check({"--brokers", broker.bootstrap_servers(), "--pg", db_.dsn()});
  EXPECT_EQ(exit_code(missing_topic), 1) << missing_topic.output;
  EXPECT_NE(missing_topic.output.find("FAIL  topic 'alerts' (alerts_topic)"), std::string::npos) << missing_topic.output;

  const ExitResult unreachable = check({"--brokers", broker.bootstrap_servers(), "--alerts-topic", "",
                                        "--pg", "host=127.0.0.1 port=1 dbname=x user=x"});
  EXPECT_EQ(exit_code(unreachable), 1) << unreachable.output;
  EXPECT_NE(unreachable.output.find("FAIL  postgres: cannot connect"), std::string::npos) << unreachable.output;

  const std::string role = "cli_check_" + std::to_string(::getpid());
  db_.exec("CREATE ROLE " + role + " LOGIN");
  const ExitResult wrong_role = check({"--brokers", broker.bootstrap_servers(), "--alerts-topic", "",
                                       "--pg", as_user(db_.dsn(), role)});
  db_.exec("DROP ROLE " + role);
  EXPECT_EQ(exit_code(wrong_role), 1) << wrong_role.output;
  EXPECT_NE(wrong_role.output.find("FAIL  postgres role '" + role + "' lacks INSERT on prediction_logs"),
            std::string::npos)
      << wrong_role.output;

  // Different partition counts of predictions and labels: the co-partitioning check names it.
  kafka::DevBroker uneven({"predictions", "labels"}, 2);
  uneven.create_topic("labels-3", 3);
  const ExitResult copartitioning = check({"--brokers", uneven.bootstrap_servers(), "--pg", db_.dsn(),
                                           "--labels-topic", "labels-3", "--models-topic", "", "--alerts-topic", "",
                                           "--retraining-topic", ""});
  EXPECT_EQ(exit_code(copartitioning), 1) << copartitioning.output;
  EXPECT_NE(copartitioning.output.find("FAIL  co-partitioning"), std::string::npos) << copartitioning.output;
}

TEST_F(ConfigCheckPgTest, BadSettingsExitTwoNamingThem) {
  const ExitResult bad_value = check({"--pg", db_.dsn(), "--writers", "0"});
  EXPECT_EQ(exit_code(bad_value), 2) << bad_value.output;
  EXPECT_NE(bad_value.output.find("writers"), std::string::npos) << bad_value.output;
  const ScopedEnv typo("MLOPS_INGEST_BATCH_ROW", "5");
  const ExitResult unknown_variable = check({"--pg", db_.dsn()});
  EXPECT_EQ(exit_code(unknown_variable), 2) << unknown_variable.output;
  EXPECT_NE(unknown_variable.output.find("MLOPS_INGEST_BATCH_ROW names no setting (did you mean MLOPS_INGEST_BATCH_ROWS?)"),
            std::string::npos)
      << unknown_variable.output;
}

}  // namespace
}  // namespace mlops_ingest::security
