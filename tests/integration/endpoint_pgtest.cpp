// The operations endpoint of the real mlops-ingest binary, running against the embedded broker
// and the throwaway PostgreSQL: a live /metrics scrape checked by promtool and against the
// database, /healthz and /readyz, and what they say when PostgreSQL cannot be reached.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cmath>

#include "fault_env.hpp"
#include "http_get.hpp"
#include "mlops_ingest/devtools/dev_broker.hpp"
#include "mlops_ingest/devtools/event_generator.hpp"
#include "test_env.hpp"

namespace mlops_ingest::testing {
namespace {

using namespace std::chrono_literals;
using fault::ChildProcess;
using fault::wait_until;

// The port the child's endpoint bound (it logs "(port N)"); 0 if it did not within `timeout`.
std::uint16_t endpoint_port(ChildProcess& child, std::chrono::milliseconds timeout) {
  // Plain string search, not <regex>: GCC 12's std::regex trips -Wmaybe-uninitialized under the
  // sanitizer presets' -O1.
  std::uint16_t port = 0;
  wait_until(
      [&] {
        const std::string log = child.log();
        const auto line = log.find("http endpoint: ");
        if (line != std::string::npos) {
          const auto at = log.find("(port ", line);
          if (at != std::string::npos) port = static_cast<std::uint16_t>(std::stoi(log.substr(at + 6)));
        }
        return port != 0 || !child.running();
      },
      timeout);
  return port;
}

std::string log_path(const std::string& name) {
  return "/tmp/mlops-endpoint-" + name + "-" + std::to_string(::getpid()) + ".log";
}

TEST(EndpointPgTest, LiveScrapePassesPromtoolAndMatchesTheDatabase) {
  TestDatabase db;
  kafka::DevBroker broker({"predictions", "labels"}, 4);
  kafka::GeneratorOptions o;
  o.brokers = broker.bootstrap_servers();
  o.predictions = 3000;
  o.seed = 81;
  o.invalid_ratio = 0.01;
  o.early_label_ratio = 0.1;
  const kafka::GeneratorReport sent = kafka::produce_events(o);
  ASSERT_GT(sent.invalid_events, 0u);

  fault::IngesterOptions opts(broker.bootstrap_servers(), db.dsn());
  opts.group = "endpoint-test";
  opts.extra = {"--http-listen", "127.0.0.1:0"};
  const std::string log = log_path("live");
  ChildProcess child(fault::ingester_argv(opts), log);
  const std::uint16_t port = endpoint_port(child, 60s);
  ASSERT_NE(port, 0) << child.log_tail();

  // Everything stored (the database is the reference) ...
  ASSERT_TRUE(wait_until(
      [&] {
        return db.count("SELECT count(*) FROM prediction_logs") == static_cast<std::int64_t>(sent.unique_predictions) &&
               db.count("SELECT count(*) FROM label_store") == static_cast<std::int64_t>(sent.unique_labels) &&
               db.count("SELECT count(*) FROM label_pending") == 0 &&
               db.count("SELECT count(*) FROM ingest_dead_letters") == static_cast<std::int64_t>(sent.invalid_events);
      },
      180s, 250ms))
      << child.log_tail();
  // ... and the scrape catches up: stats are published right after each COMMIT, and the
  // endpoint's probe reads label_pending every 2 s.
  std::string text;
  const bool settled = wait_until(
      [&] {
        text = http_get("127.0.0.1", port, "/metrics").body;
        return sample_value(text, "mlops_ingest_rows_written_total", R"(table="prediction_logs")") ==
                   static_cast<double>(sent.unique_predictions) &&
               sample_value(text, "mlops_ingest_rows_written_total", R"(table="label_store")") ==
                   static_cast<double>(sent.unique_labels) &&
               sample_value(text, "mlops_ingest_labels_pending") == 0;
      },
      30s, 200ms);
  EXPECT_TRUE(settled) << text;

  EXPECT_EQ(promtool_check_metrics(text), "") << text;
  // build_info names the build `--version` prints: "mlops-ingest VERSION (commit COMMIT)".
  std::string version_line;
  ASSERT_EQ(fault::shell(std::string(MLOPS_BINARY) + " --version", &version_line), 0);
  const std::string version = version_line.substr(13, version_line.find(' ', 13) - 13);
  const std::string commit = version_line.substr(version_line.find("(commit ") + 8,
                                                 version_line.find(')') - version_line.find("(commit ") - 8);
  const auto info = text.find("\nmlops_ingest_build_info{");
  ASSERT_NE(info, std::string::npos) << text;
  const std::string info_line = text.substr(info + 1, text.find('\n', info + 1) - info - 1);
  EXPECT_NE(info_line.find("version=\"" + version + "\""), std::string::npos) << info_line << " / " << version_line;
  EXPECT_NE(info_line.find("commit=\"" + commit + "\""), std::string::npos) << info_line << " / " << version_line;
  EXPECT_EQ(info_line.substr(info_line.rfind(' ') + 1), "1") << info_line;
  EXPECT_EQ(sample_value(text, "mlops_ingest_rows_written_total", R"(table="prediction_logs")"),
            static_cast<double>(db.count("SELECT count(*) FROM prediction_logs")));
  EXPECT_EQ(sample_value(text, "mlops_ingest_rows_written_total", R"(table="ingest_dead_letters")"),
            static_cast<double>(sent.invalid_events));
  EXPECT_EQ(sample_value(text, "mlops_ingest_duplicates_skipped_total", R"(table="prediction_logs")"),
            static_cast<double>(sent.duplicate_predictions));
  EXPECT_EQ(sample_value(text, "mlops_ingest_duplicates_skipped_total", R"(table="label_store")"),
            static_cast<double>(sent.duplicate_labels));
  // The paired labels are some of label_store's rows, the recalled some of the paired.
  const double paired = sample_value(text, "mlops_ingest_labels_paired_total");
  const double recalled = sample_value(text, "mlops_ingest_labels_recalled_total");
  EXPECT_LE(paired, static_cast<double>(db.count("SELECT count(*) FROM label_store"))) << text;
  EXPECT_GE(recalled, 0) << text;
  EXPECT_LE(recalled, paired) << text;
  // Dead letters by reason add up to the table's rows, and match it reason by reason.
  const std::string prefix = "mlops_ingest_dead_letters_total{reason=\"";
  double dead_total = 0;
  for (auto at = text.find(prefix); at != std::string::npos; at = text.find(prefix, at + 1)) {
    const auto reason_begin = at + prefix.size();
    const auto reason_end = text.find('"', reason_begin);
    ASSERT_NE(reason_end, std::string::npos);
    const std::string reason = text.substr(reason_begin, reason_end - reason_begin);
    const double n = std::stod(text.substr(text.find("} ", reason_end) + 2));
    dead_total += n;
    EXPECT_EQ(n, static_cast<double>(db.count("SELECT count(*) FROM ingest_dead_letters WHERE reason_code = '" +
                                              reason + "'")))
        << reason;
  }
  EXPECT_EQ(dead_total, static_cast<double>(sent.invalid_events));
  EXPECT_EQ(sample_value(text, "mlops_ingest_postgres_up"), 1);
  EXPECT_GT(sample_value(text, "process_resident_memory_bytes"), 1e6);
  for (const char* family : {"mlops_ingest_messages_consumed_total counter", "mlops_ingest_consumer_lag_messages gauge",
                             "mlops_ingest_batch_commit_seconds histogram", "mlops_ingest_event_to_commit_seconds histogram",
                             "mlops_ingest_partitions_paused gauge", "mlops_ingest_labels_pending gauge"}) {
    EXPECT_NE(text.find(std::string("# TYPE ") + family), std::string::npos) << family;
  }

  const HttpReply health = http_get("127.0.0.1", port, "/healthz");
  EXPECT_EQ(health.status, 200u) << health.body;
  const HttpReply ready = http_get("127.0.0.1", port, "/readyz");
  EXPECT_EQ(ready.status, 200u) << ready.body;
  EXPECT_NE(ready.body.find("postgres: reachable"), std::string::npos) << ready.body;

  child.signal(SIGTERM);
  const std::optional<int> status = child.wait_exit(30s);
  ASSERT_TRUE(status.has_value()) << child.log_tail();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << fault::describe_status(*status);
  if (!::testing::Test::HasFailure()) std::remove(log.c_str());
}

TEST(EndpointPgTest, NotReadyWhilePostgresIsUnreachable) {
  kafka::DevBroker broker({"predictions", "labels"}, 2);
  // Nothing listens on port 1: PostgreSQL is "down" from the start.
  fault::IngesterOptions opts(broker.bootstrap_servers(), "host=127.0.0.1 port=1 connect_timeout=2");
  opts.extra = {"--http-listen", "127.0.0.1:0", "--apply-schema", "false"};
  const std::string log = log_path("down");
  ChildProcess child(fault::ingester_argv(opts), log);
  const std::uint16_t port = endpoint_port(child, 60s);
  ASSERT_NE(port, 0) << child.log_tail();

  HttpReply ready;
  ASSERT_TRUE(wait_until(
      [&] {
        ready = http_get("127.0.0.1", port, "/readyz");
        return ready.body.find("not checked yet") == std::string::npos;
      },
      30s, 100ms));
  EXPECT_EQ(ready.status, 503u) << ready.body;
  EXPECT_NE(ready.body.find("postgres: UNREACHABLE"), std::string::npos) << ready.body;
  const std::string text = http_get("127.0.0.1", port, "/metrics").body;
  EXPECT_EQ(promtool_check_metrics(text), "") << text;
  EXPECT_EQ(sample_value(text, "mlops_ingest_postgres_up"), 0);
  EXPECT_TRUE(std::isnan(sample_value(text, "mlops_ingest_labels_pending"))) << text;
  // An outage is not a reason to restart the process.
  const HttpReply health = http_get("127.0.0.1", port, "/healthz");
  EXPECT_EQ(health.status, 200u) << health.body;

  child.signal(SIGTERM);
  EXPECT_TRUE(child.wait_exit(30s).has_value()) << child.log_tail();
  if (!::testing::Test::HasFailure()) std::remove(log.c_str());
}

TEST(EndpointPgTest, APortInUseStopsStartupWithAConfigurationError) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor taken(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const std::string address = "127.0.0.1:" + std::to_string(taken.local_endpoint().port());
  fault::IngesterOptions opts("127.0.0.1:1", "host=127.0.0.1 port=1");
  opts.extra = {"--http-listen", address, "--apply-schema", "false"};
  const std::string log = log_path("in-use");
  ChildProcess child(fault::ingester_argv(opts), log);
  const std::optional<int> status = child.wait_exit(30s);
  ASSERT_TRUE(status.has_value()) << child.log_tail();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 2) << fault::describe_status(*status);
  EXPECT_NE(child.log().find("http_listen"), std::string::npos) << child.log_tail();
  if (!::testing::Test::HasFailure()) std::remove(log.c_str());
}

}  // namespace
}  // namespace mlops_ingest::testing
