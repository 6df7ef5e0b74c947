// Fault tier, scenario 3: PostgreSQL freezes (SIGSTOP on the postmaster and every backend: no
// error, no closed socket, just silence — a hung host or a partitioned network) for longer than
// max.poll.interval.ms, then resumes. The writers must notice within pg_io_timeout_ms and retry,
// the consumer must stay in its group (its partitions paused, still polling), and once
// PostgreSQL thaws everything lands exactly once — including whatever the frozen backends
// commit or roll back when they wake up to find their clients gone.
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "fault_env.hpp"
#include "mlops_ingest/devtools/dev_broker.hpp"

namespace mlops_ingest::fault {
namespace {

TEST(FaultPostgres, FrozenLongerThanMaxPollInterval) {
  Scenario scenario("postgres-freeze", 25491);
  Producer producer(stream(scenario.brokers(), 100000, 301));

  IngesterOptions options = scenario.ingester(
      {"--kafka.max.poll.interval.ms", "10000", "--pg-io-timeout-ms", "5000", "--batch-rows", "2000"});
  std::unique_ptr<ChildProcess> ingester = spawn_ingester(options, scenario.work.file("ingester.log"));
  auto stored = [&] { return observe(scenario.pg, options.group).value_or(Observed{}).predictions; };

  ASSERT_TRUE(wait_until([&] { return stored() >= 25000 || !ingester->running(); }, 120s, 20ms));
  ASSERT_TRUE(ingester->running()) << ingester->log_tail();
  const std::size_t log_mark = ingester->log().size();
  std::printf("[ freeze   ] PostgreSQL SIGSTOPped for 15 s with %lld predictions stored\n",
              static_cast<long long>(stored()));
  scenario.pg.freeze();
  const auto frozen_at = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - frozen_at < 15s) {
    ASSERT_TRUE(ingester->running()) << "the ingester died while PostgreSQL was frozen\n" << ingester->log_tail();
    std::this_thread::sleep_for(100ms);
  }
  scenario.pg.thaw();
  const std::string while_frozen = ingester->log().substr(log_mark);
  EXPECT_NE(while_frozen.find("PostgreSQL made no progress for 5000 ms"), std::string::npos)
      << "the writers did not notice the freeze:\n" << while_frozen;
  EXPECT_NE(while_frozen.find("postgres UNREACHABLE"), std::string::npos) << while_frozen;

  const kafka::GeneratorReport sent = producer.report();
  finish_stream(scenario.pg, options.group, sent, *ingester, scenario.started);
  // The consumer kept polling with its partitions paused: the group never saw it as stuck.
  const std::string log = ingester->log();
  EXPECT_EQ(log.find("maximum poll interval"), std::string::npos) << "the consumer left its group:\n" << log;
}

}  // namespace
}  // namespace mlops_ingest::fault
