// Fault tier: start-up that cannot hang. A database that drops packets, or is down, when the
// ingester starts is an outage like any later one: the HTTP endpoint is up at once (/healthz 200:
// alive; /readyz 503 with the reason), the startup checks are retried with the backoff, SIGTERM
// meanwhile exits 0 at once, and once the database is there the stream is stored exactly once.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>

#include "endpoint_probe.hpp"
#include "fault_env.hpp"

namespace mlops_ingest::fault {
namespace {

// A TCP port that completes the handshake (the kernel's accept queue) and never says a word: to
// libpq, a PostgreSQL behind a network that drops its packets. Closed by the destructor.
class SilentListener {
 public:
  SilentListener() : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 64) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("cannot open a listening socket");
    }
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  [[nodiscard]] int port() const noexcept { return port_; }

 private:
  int fd_;
  int port_ = 0;
};

// The failed attempts /readyz reports while startup waits ("N attempt(s) failed"); 0 if none.
int failed_attempts(int http_port) {
  const auto reply = endpoint_get(http_port, "/readyz");
  if (!reply) return 0;
  std::smatch m;
  static const std::regex attempt(R"((\d+) attempt\(s\) failed)");
  return std::regex_search(reply->body, m, attempt) ? std::stoi(m[1]) : 0;
}

TEST(FaultStartup, DatabaseThatDropsPacketsIsNotReadyAndRetriedNotAHang) {
  WorkDir work("startup-silent");
  SilentListener silent;
  kafka::DevBroker broker({"predictions", "labels"}, 4);
  IngesterOptions options{broker.bootstrap_servers(),
                          "host=127.0.0.1 port=" + std::to_string(silent.port()) + " user=x dbname=x sslmode=disable"};
  const int http = free_http_port();
  options.extra = {"--http-listen", http_listen(http), "--pg-connect-timeout-ms", "1000",
                   "--retry-backoff-initial-ms", "100", "--retry-backoff-max-ms", "300"};
  std::unique_ptr<ChildProcess> ingester = spawn_ingester(options, work.file("ingester.log"));

  // Alive and answering at once, not ready, with the reason.
  ASSERT_TRUE(wait_until([&] { return endpoint_get(http, "/healthz").has_value() || !ingester->running(); }, 5s))
      << "the endpoint did not answer while the database does not\n" << ingester->log_tail();
  const auto healthz = endpoint_get(http, "/healthz");
  ASSERT_TRUE(healthz.has_value());
  EXPECT_EQ(healthz->status, 200u) << healthz->body;
  const auto readyz = endpoint_get(http, "/readyz");
  ASSERT_TRUE(readyz.has_value());
  EXPECT_EQ(readyz->status, 503u) << readyz->body;
  EXPECT_NE(readyz->body.find("startup"), std::string::npos) << readyz->body;

  // Past the connect timeout, still alive, and retrying: the failed attempts keep counting.
  ASSERT_TRUE(wait_until([&] { return failed_attempts(http) >= 1 || !ingester->running(); }, 10s))
      << ingester->log_tail();
  const int first = failed_attempts(http);
  ASSERT_TRUE(wait_until([&] { return failed_attempts(http) > first || !ingester->running(); }, 10s))
      << "no further attempt after attempt " << first << "\n" << ingester->log_tail();
  ASSERT_TRUE(ingester->running()) << ingester->log_tail();
  EXPECT_EQ(endpoint_get(http, "/healthz").value_or(testing::HttpReply{}).status, 200u);

  // SIGTERM while waiting (most likely inside a connection attempt): exit 0, promptly.
  const auto stop_at = std::chrono::steady_clock::now();
  ingester->signal(SIGTERM);
  const std::optional<int> status = ingester->wait_exit(3s);
  ASSERT_TRUE(status.has_value()) << "still running 3 s after SIGTERM\n" << ingester->log_tail();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << describe_status(*status) << "\n"
                                                               << ingester->log_tail();
  EXPECT_LT(std::chrono::steady_clock::now() - stop_at, 2s);
}

TEST(FaultStartup, PostgresDownAtStartThenStartedStoresExactlyOnce) {
  Scenario scenario("startup-pg-down", 25591, 4);
  const kafka::GeneratorReport sent = kafka::produce_events(stream(scenario.brokers(), 5000, 4401));
  scenario.pg.stop();
  IngesterOptions options = scenario.ingester();
  const int http = free_http_port();
  options.extra = {"--http-listen", http_listen(http), "--retry-backoff-initial-ms", "100",
                   "--retry-backoff-max-ms", "500"};
  std::unique_ptr<ChildProcess> ingester = spawn_ingester(options, scenario.work.file("ingester.log"));
  ASSERT_TRUE(wait_until([&] { return failed_attempts(http) >= 2 || !ingester->running(); }, 20s))
      << ingester->log_tail();
  ASSERT_TRUE(ingester->running()) << "stopped at startup although PostgreSQL was only down\n" << ingester->log_tail();
  EXPECT_EQ(endpoint_get(http, "/readyz").value_or(testing::HttpReply{}).status, 503u);
  EXPECT_EQ(endpoint_get(http, "/healthz").value_or(testing::HttpReply{}).status, 200u);

  scenario.pg.start();
  ASSERT_TRUE(wait_until(
      [&] { return endpoint_get(http, "/readyz").value_or(testing::HttpReply{}).status == 200u || !ingester->running(); },
      60s))
      << endpoint_get(http, "/readyz").value_or(testing::HttpReply{}).body << ingester->log_tail();
  finish_stream(scenario.pg, options.group, sent, *ingester, scenario.started);
}

}  // namespace
}  // namespace mlops_ingest::fault
