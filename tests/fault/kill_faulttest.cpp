// Fault tier, scenario 1: the ingester is killed with SIGKILL at random moments of one stream
// (three times while rows are being committed, once more in a restarted instance's first
// batches) and restarted each time. Whatever batch was in flight is lost with its offsets; the
// restarted instance resumes from ingest_offsets, so the end state is exact.
#include <gtest/gtest.h>
#include <signal.h>

#include <random>
#include <thread>

#include "fault_env.hpp"
#include "mlops_ingest/devtools/dev_broker.hpp"

namespace mlops_ingest::fault {
namespace {

TEST(FaultKill, KillNineAtRandomMomentsThenRestart) {
  Scenario scenario("kill", 25471);
  const std::uint64_t kPredictions = 100000;

  // A few invalid events: dead letters must be stored exactly once too.
  Producer producer(stream(scenario.brokers(), kPredictions, 101, 0.001));

  // More transactions, so more moments to be killed in.
  IngesterOptions options = scenario.ingester({"--batch-rows", "2000"});
  int run = 0;
  auto next_log = [&] { return scenario.work.file("ingester-" + std::to_string(++run) + ".log"); };
  std::unique_ptr<ChildProcess> ingester = spawn_ingester(options, next_log());

  // Three kills while rows are being committed: each at a random point of a window of the
  // stream, plus a random delay so that it lands anywhere in a batch's transaction.
  const std::int64_t n = static_cast<std::int64_t>(kPredictions);
  const std::pair<double, double> windows[] = {{0.10, 0.25}, {0.35, 0.50}, {0.60, 0.75}};
  for (const auto& [lo, hi] : windows) {
    const auto threshold = static_cast<std::int64_t>(std::uniform_real_distribution<double>(lo, hi)(scenario.rng) * n);
    std::int64_t stored = 0;
    ASSERT_TRUE(wait_until(
        [&] {
          if (auto o = observe(scenario.pg, options.group)) stored = o->predictions;
          return stored >= threshold || !ingester->running();
        },
        120s, 20ms))
        << "stuck at " << stored << " predictions, waiting for " << threshold;
    ASSERT_TRUE(ingester->running()) << "the ingester exited on its own: "
                                     << describe_status(*ingester->exit_status()) << "\n"
                                     << ingester->log_tail();
    scenario.pause_up_to(400ms);
    ingester->kill9();
    std::printf("[ kill -9 ] at %lld stored predictions (threshold %lld)\n",
                static_cast<long long>(observe(scenario.pg, options.group).value_or(Observed{}).predictions),
                static_cast<long long>(threshold));
    ingester = spawn_ingester(options, next_log());
  }

  // A fourth kill as soon as the new instance has committed its first batch: while it catches
  // up with the backlog the previous kills left.
  const std::int64_t before = observe(scenario.pg, options.group).value_or(Observed{}).predictions;
  ASSERT_TRUE(wait_until(
      [&] { return observe(scenario.pg, options.group).value_or(Observed{}).predictions > before || !ingester->running(); },
      120s, 10ms))
      << ingester->log_tail();
  ASSERT_TRUE(ingester->running()) << ingester->log_tail();
  scenario.pause_up_to(300ms);
  ingester->kill9();
  std::printf("[ kill -9 ] at %lld stored predictions (in the restarted instance's first batches)\n",
              static_cast<long long>(observe(scenario.pg, options.group).value_or(Observed{}).predictions));
  ingester = spawn_ingester(options, next_log());

  const kafka::GeneratorReport sent = producer.report();
  ASSERT_GT(sent.duplicate_predictions, 0u);
  ASSERT_GT(sent.early_labels, 0u);
  ASSERT_GT(sent.invalid_events, 0u);
  finish_stream(scenario.pg, options.group, sent, *ingester, scenario.started);
}

}  // namespace
}  // namespace mlops_ingest::fault
