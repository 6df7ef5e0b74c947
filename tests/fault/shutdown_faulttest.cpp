// Fault tier, scenario 6: shutting down. SIGTERM mid-stream drains (commits what the writers
// hold) and exits 0 within shutdown_timeout_ms — also when PostgreSQL is frozen and the drain
// cannot finish. A second SIGTERM while the drain cannot finish (PostgreSQL stopped) exits at
// once. Nothing is left half-written: the last instance finishes the stream with exact counts.
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "endpoint_probe.hpp"
#include "fault_env.hpp"
#include "mlops_ingest/devtools/dev_broker.hpp"

namespace mlops_ingest::fault {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

TEST(FaultShutdown, SigtermDrainsWithinTimeoutAndSecondSigtermExitsAtOnce) {
  Scenario scenario("shutdown", 25521);
  Producer producer(stream(scenario.brokers(), 100000, 601));

  constexpr auto kShutdownTimeout = 5s;
  constexpr auto kSlack = 3s;  // process exit, leaving the group, a last progress line
  IngesterOptions options = scenario.ingester();
  // Small rings, so that a drain commits at most a few thousand rows and each step below still
  // finds most of the stream ahead of it.
  options.extra = {"--shutdown-timeout-ms", "5000", "--batch-rows", "2000", "--ring-capacity", "4096"};
  auto stored = [&] { return observe(scenario.pg, options.group).value_or(Observed{}).predictions; };

  // 1. SIGTERM mid-stream: drain, exit 0, within shutdown_timeout.
  std::unique_ptr<ChildProcess> first = spawn_ingester(options, scenario.work.file("ingester-1.log"));
  // Early: at ~150k rows/s the stream is well past this by the time the signal lands.
  ASSERT_TRUE(wait_until([&] { return stored() >= 10000 || !first->running(); }, 120s, 20ms));
  ASSERT_TRUE(first->running()) << first->log_tail();
  const auto term_at = Clock::now();
  first->signal(SIGTERM);
  const std::optional<int> first_status = first->wait_exit(kShutdownTimeout + 30s);
  const double drain_seconds = seconds_since(term_at);
  ASSERT_TRUE(first_status.has_value()) << "no exit 35 s after SIGTERM\n" << first->log_tail();
  EXPECT_EQ(describe_status(*first_status), "exit 0") << first->log_tail();
  EXPECT_LE(drain_seconds, std::chrono::duration<double>(kShutdownTimeout + kSlack).count());
  EXPECT_EQ(first->log().find("were not committed before shutdown_timeout_ms"), std::string::npos)
      << "the drain did not finish with PostgreSQL up:\n" << first->log_tail();
  const std::int64_t after_first = stored();
  std::printf("[ SIGTERM  ] exit 0 after %.2f s (shutdown_timeout 5 s) with %lld predictions stored\n", drain_seconds,
              static_cast<long long>(after_first));
  ASSERT_LT(after_first, 60000) << "the stop came too late to be mid-stream";

  // 2. A second instance; PostgreSQL freezes under it (SIGSTOP) and then SIGTERM: the drain
  // cannot finish, but the exit must still come within shutdown_timeout — not after the writers'
  // pg_io_timeout_ms or retry backoff, which are at their product defaults (30 s, up to 10 s)
  // here. The rows it could not commit are consumed again later.
  const int http2 = free_http_port();
  options.extra = {"--shutdown-timeout-ms", "5000", "--batch-rows", "2000", "--ring-capacity", "4096",
                   "--pg-io-timeout-ms", "30000",
                   "--retry-backoff-initial-ms", "100", "--retry-backoff-max-ms", "10000",
                   "--http-listen", http_listen(http2)};
  std::unique_ptr<ChildProcess> second = spawn_ingester(options, scenario.work.file("ingester-2.log"));
  ASSERT_TRUE(wait_until([&] { return stored() >= after_first + 15000 || !second->running(); }, 120s, 20ms));
  ASSERT_TRUE(second->running()) << second->log_tail();
  const std::int64_t before_freeze = stored();
  scenario.pg.freeze();
  // The writers are now waiting on a server that does not answer: the ingester's count of
  // committed predictions stands still for longer than a batch's linger (NaN, no answer, never
  // equals itself).
  auto written = [&] { return metric(http2, "mlops_ingest_rows_written_total", R"(table="prediction_logs")"); };
  ASSERT_TRUE(wait_until(
      [&] {
        const double before = written();
        std::this_thread::sleep_for(1500ms);
        return written() == before;
      },
      30s))
      << "predictions were still being committed 30 s after freezing PostgreSQL\n" << second->log_tail();
  ASSERT_TRUE(second->running()) << second->log_tail();
  const auto frozen_term_at = Clock::now();
  second->signal(SIGTERM);
  const std::optional<int> second_status = second->wait_exit(60s);
  const double frozen_drain_seconds = seconds_since(frozen_term_at);
  scenario.pg.thaw();
  ASSERT_TRUE(second_status.has_value()) << "no exit 60 s after SIGTERM\n" << second->log_tail();
  EXPECT_EQ(describe_status(*second_status), "exit 0") << second->log_tail();
  EXPECT_LE(frozen_drain_seconds, std::chrono::duration<double>(kShutdownTimeout + kSlack).count())
      << "shutdown_timeout_ms was not honoured with PostgreSQL frozen\n" << second->log_tail();
  std::printf("[ SIGTERM  ] PostgreSQL frozen (%lld stored): %s after %.2f s (shutdown_timeout 5 s)\n",
              static_cast<long long>(before_freeze), describe_status(*second_status).c_str(), frozen_drain_seconds);

  // 3. A third instance; PostgreSQL stops under it, then SIGTERM (the drain cannot finish) and,
  // a second later, another SIGTERM: it must exit at once.
  const int http3 = free_http_port();
  options.extra.back() = http_listen(http3);  // the last setting is the endpoint's address
  std::unique_ptr<ChildProcess> third = spawn_ingester(options, scenario.work.file("ingester-3.log"));
  ASSERT_TRUE(wait_until([&] { return stored() >= before_freeze + 15000 || !third->running(); }, 120s, 20ms));
  ASSERT_TRUE(third->running()) << third->log_tail();
  std::printf("[ pg stop  ] with %lld predictions stored\n", static_cast<long long>(stored()));
  scenario.pg.stop();
  ASSERT_TRUE(wait_until([&] { return metric(http3, "mlops_ingest_postgres_up") == 0; }, 30s))
      << "the ingester's probe did not report PostgreSQL down\n" << third->log_tail();
  const std::size_t log_at_term = third->log().size();
  third->signal(SIGTERM);
  // The first SIGTERM was taken: the drain has begun, and cannot finish with PostgreSQL down.
  ASSERT_TRUE(wait_until([&] { return stopping(http3) || !third->running(); }, 30s))
      << "the first SIGTERM did not start a drain\n" << third->log_tail();
  ASSERT_TRUE(third->running()) << "it was expected to be still draining\n" << third->log_tail();
  // The warning operators see when a drain gives up: no state says it, only the log.
  EXPECT_EQ(third->log().find("were not committed before shutdown_timeout_ms", log_at_term), std::string::npos)
      << "the drain already gave up before the second SIGTERM\n" << third->log_tail();
  const auto second_term_at = Clock::now();
  third->signal(SIGTERM);
  const std::optional<int> third_status = third->wait_exit(10s);
  const double second_exit_seconds = seconds_since(second_term_at);
  ASSERT_TRUE(third_status.has_value()) << "no exit 10 s after a second SIGTERM\n" << third->log_tail();
  EXPECT_LE(second_exit_seconds, 1.0) << "a second SIGTERM must exit at once";
  std::printf("[ SIGTERM x2 ] %s after %.3f s\n", describe_status(*third_status).c_str(), second_exit_seconds);

  // 4. PostgreSQL back, a fourth instance finishes the stream: nothing lost, nothing twice.
  scenario.pg.start();
  std::unique_ptr<ChildProcess> fourth = spawn_ingester(options, scenario.work.file("ingester-4.log"));
  const kafka::GeneratorReport sent = producer.report();
  const Observed last = wait_for_complete(scenario.pg, options.group, sent, 240s);
  EXPECT_TRUE(complete(last, sent)) << "last seen " << last;
  fourth->signal(SIGTERM);
  const std::optional<int> fourth_status = fourth->wait_exit(kShutdownTimeout + 30s);
  ASSERT_TRUE(fourth_status.has_value());
  EXPECT_EQ(describe_status(*fourth_status), "exit 0");
  expect_exact_outcome(scenario.pg, options.group, sent);
  std::printf("[ events   ] %llu predictions sent (%llu unique), %llu labels sent (%llu unique)\n",
              static_cast<unsigned long long>(sent.predictions_sent),
              static_cast<unsigned long long>(sent.unique_predictions),
              static_cast<unsigned long long>(sent.labels_sent), static_cast<unsigned long long>(sent.unique_labels));
  std::printf("[ time     ] %.1f s\n", seconds_since(scenario.started));
}

}  // namespace
}  // namespace mlops_ingest::fault
