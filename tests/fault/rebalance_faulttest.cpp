// Fault tier, scenario 5: the consumer group changes under a running stream. A second instance
// joins; later a third joins and is killed with SIGKILL while it owns partitions (its batches
// die with it; the group gives its partitions away after the session timeout); then the first
// leaves cleanly (SIGTERM: it drains, commits and leaves the group). Partitions move between
// instances with rows still in flight in their rings; the offset fencing in PostgreSQL must make
// every message land exactly once.
#include <gtest/gtest.h>
#include <signal.h>

#include <random>
#include <thread>

#include "fault_env.hpp"
#include "mlops_ingest/devtools/dev_broker.hpp"

namespace mlops_ingest::fault {
namespace {

TEST(FaultRebalance, JoinJoinKillLeave) {
  const auto started = std::chrono::steady_clock::now();
  WorkDir work("rebalance");
  PgCluster pg(25511);
  kafka::DevBroker broker({"predictions", "labels"}, 16);
  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  SCOPED_TRACE("random seed " + std::to_string(seed));

  IngesterOptions options{broker.bootstrap_servers(), pg.dsn()};
  options.extra = {"--batch-rows", "2000"};
  auto stored = [&] { return observe(pg, options.group).value_or(Observed{}).predictions; };
  auto assigned = [](ChildProcess& p, int times) {
    return wait_until(
        [&] {
          const std::string log = p.log();
          int n = 0;
          for (auto pos = log.find("INFO  assigned "); pos != std::string::npos; pos = log.find("INFO  assigned ", pos + 1)) ++n;
          return n >= times || !p.running();
        },
        60s);
  };

  // The stream arrives in four parts, each produced while the group is changing.
  kafka::GeneratorReport sent;
  std::optional<Producer> part;
  part.emplace(stream(broker.bootstrap_servers(), 40000, 501));
  std::unique_ptr<ChildProcess> a = spawn_ingester(options, work.file("ingester-a.log"));
  ASSERT_TRUE(wait_until([&] { return stored() >= 15000 || !a->running(); }, 120s, 20ms));
  sent = sent + part->report();

  // B joins: A gives up half of its partitions with rows still in its rings.
  std::printf("[ join B   ] with %lld predictions stored\n", static_cast<long long>(stored()));
  std::unique_ptr<ChildProcess> b = spawn_ingester(options, work.file("ingester-b.log"));
  part.emplace(stream(broker.bootstrap_servers(), 30000, 502));
  ASSERT_TRUE(assigned(*b, 1)) << b->log_tail();
  sent = sent + part->report();
  const auto so_far = static_cast<std::int64_t>(sent.unique_predictions);
  ASSERT_TRUE(wait_until([&] { return stored() >= so_far; }, 120s, 20ms)) << "A and B did not store the first parts";

  // C joins, gets its share, and is killed while it is committing.
  std::printf("[ join C   ] with %lld predictions stored\n", static_cast<long long>(stored()));
  std::unique_ptr<ChildProcess> c = spawn_ingester(options, work.file("ingester-c.log"));
  ASSERT_TRUE(assigned(*c, 1)) << c->log_tail();
  part.emplace(stream(broker.bootstrap_servers(), 30000, 503));
  // Once the third part is being committed (by the three of them), at a random moment.
  ASSERT_TRUE(wait_until([&] { return stored() >= so_far + 3000; }, 60s, 10ms));
  std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 300)(rng)));
  ASSERT_TRUE(c->running()) << c->log_tail();
  c->kill9();
  std::printf("[ kill C   ] with %lld predictions stored\n", static_cast<long long>(stored()));
  sent = sent + part->report();

  // The group notices C is gone (session timeout) and hands its partitions to A and B; then A
  // leaves cleanly while more events arrive.
  ASSERT_TRUE(assigned(*b, 3)) << "B never got C's partitions\n" << b->log_tail();
  part.emplace(stream(broker.bootstrap_servers(), 20000, 504));
  std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(200, 1200)(rng)));
  std::printf("[ stop A   ] SIGTERM with %lld predictions stored\n", static_cast<long long>(stored()));
  a->signal(SIGTERM);
  const std::optional<int> a_status = a->wait_exit(30s);
  ASSERT_TRUE(a_status.has_value()) << "A did not exit 30 s after SIGTERM\n" << a->log_tail();
  EXPECT_EQ(describe_status(*a_status), "exit 0") << a->log_tail();
  sent = sent + part->report();

  // B alone takes over A's partitions (from the offsets A committed) and finishes the stream.
  part.emplace(stream(broker.bootstrap_servers(), 10000, 505));
  sent = sent + part->report();
  ASSERT_GE(sent.unique_predictions, 100000u);
  finish_stream(pg, options.group, sent, *b, started);
}

}  // namespace
}  // namespace mlops_ingest::fault
