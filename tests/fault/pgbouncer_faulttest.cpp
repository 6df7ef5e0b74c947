// Fault tier through PgBouncer (transaction pooling, 2 server connections; issue 10, part 3).
// The ingester reaches PostgreSQL only through a real PgBouncer, which is taken away four ways in
// the middle of one 120k-event stream: an immediate shutdown (SIGTERM: every client and server
// connection dropped, transactions in flight with them), a kill -9, an online restart
// (pgbouncer -R: a new process takes the sockets over) and a safe shutdown (SIGINT: waits for the
// transactions in flight). Whatever batch was in flight either committed with its offsets or not
// at all; the writers reconnect and retry, so the end state is exact.
// A second scenario runs the fault tier's own faults through the pooler: the ingester killed -9
// and PostgreSQL restarted behind PgBouncer, which must find its servers again.
#include <gtest/gtest.h>
#include <signal.h>

#include <random>
#include <thread>

#include "fault_env.hpp"
#include "mlops_ingest/devtools/dev_broker.hpp"
#include "pgbouncer_env.hpp"

namespace mlops_ingest::fault {
namespace {

using pgbouncer::PgBouncer;

// A stream of predictions (0.1% invalid) into the scenario's broker while an ingester reaches
// PostgreSQL only through a PgBouncer (transaction pooling, 2 server connections).
struct PooledStream {
  PooledStream(const std::string& name, int pg_port, int bouncer_port, std::uint64_t predictions, std::uint64_t seed)
      : scenario(name, pg_port),
        bouncer(scenario.pg, bouncer_port, 2),
        producer(stream(scenario.brokers(), predictions, seed, 0.001)),
        options(scenario.brokers(), bouncer.dsn(), "fault-group", {"--batch-rows", "2000"}) {}
  // Predictions stored so far.
  std::int64_t stored() const { return observe(scenario.pg, options.group).value_or(Observed{}).predictions; }

  Scenario scenario;
  PgBouncer bouncer;
  Producer producer;
  IngesterOptions options;
};

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

TEST(FaultPgbouncer, RestartedKilledAndRebootedMidStream) {
  const std::uint64_t kPredictions = 120000;
  PooledStream pooled("pgbouncer", 25541, 25551, kPredictions, 601);
  Scenario& scenario = pooled.scenario;
  PgBouncer& bouncer = pooled.bouncer;
  const IngesterOptions& options = pooled.options;
  std::unique_ptr<ChildProcess> ingester = spawn_ingester(options, scenario.work.file("ingester.log"));
  auto stored = [&] { return pooled.stored(); };
  auto outages_seen = [&] { return occurrences(ingester->log(), "PostgreSQL unavailable, will retry"); };

  const std::int64_t n = static_cast<std::int64_t>(kPredictions);
  // Each fault at a share of the stream; all but the online restart leave PgBouncer down.
  struct Step {
    double at;
    const char* what;
    void (PgBouncer::*fault)();
    bool stays_up;
  };
  const Step plan[] = {{0.10, "SIGTERM (immediate shutdown), start", &PgBouncer::terminate, false},
                       {0.30, "kill -9, start", &PgBouncer::kill9, false},
                       {0.50, "online restart (-R)", &PgBouncer::reboot, true},
                       {0.70, "SIGINT (safe shutdown), start", &PgBouncer::interrupt, false}};
  for (const auto& [at, what, fault, stays_up] : plan) {
    const auto threshold = static_cast<std::int64_t>(at * static_cast<double>(n));
    ASSERT_TRUE(wait_until([&] { return stored() >= threshold || !ingester->running(); }, 180s, 20ms))
        << "stuck at " << stored() << " predictions, waiting for " << threshold;
    ASSERT_TRUE(ingester->running()) << describe_status(*ingester->exit_status()) << "\n" << ingester->log_tail();
    scenario.pause_up_to(300ms);  // anywhere in a batch's transaction
    const std::size_t outages_before = outages_seen();
    (bouncer.*fault)();
    const std::int64_t at_fault = stored();
    if (!stays_up) {
      // The writers notice (their next request fails) before PgBouncer is back.
      EXPECT_TRUE(wait_until([&] { return outages_seen() > outages_before || !ingester->running(); }, 60s, 20ms))
          << "the ingester did not notice PgBouncer going away\n" << ingester->log_tail();
      bouncer.start();
    }
    // Rows land again through the new PgBouncer before the next fault — unless the ingester had
    // already stored every prediction when the fault came (it can run ahead of the thresholds);
    // then finish_stream's exact end state is what shows it recovered.
    ASSERT_TRUE(wait_until([&] { return stored() > at_fault || stored() >= n || !ingester->running(); }, 120s, 20ms))
        << "no progress after " << what << "\n" << ingester->log_tail();
    std::printf("[ pgbouncer] %s at %lld stored predictions; the writers retried %zu times\n", what,
                static_cast<long long>(at_fault), outages_seen() - outages_before);
  }

  const kafka::GeneratorReport sent = pooled.producer.report();
  ASSERT_GT(sent.duplicate_predictions, 0u);
  ASSERT_GT(sent.early_labels, 0u);
  ASSERT_GT(sent.invalid_events, 0u);
  finish_stream(scenario.pg, options.group, sent, *ingester, scenario.started);
  std::printf("[ outages  ] the writers retried %zu times\n", outages_seen());
}

TEST(FaultPgbouncer, IngesterKilledAndPostgresRestartedBehindThePooler) {
  const std::uint64_t kPredictions = 100000;
  PooledStream pooled("pgbouncer-pg", 25561, 25571, kPredictions, 602);
  Scenario& scenario = pooled.scenario;
  const IngesterOptions& options = pooled.options;
  int run = 0;
  auto next_log = [&] { return scenario.work.file("ingester-" + std::to_string(++run) + ".log"); };
  std::unique_ptr<ChildProcess> ingester = spawn_ingester(options, next_log());
  auto stored = [&] { return pooled.stored(); };

  // kill -9 of the ingester while it commits through the pooler: PgBouncer drops the dead
  // client's server connection, its transaction rolls back with its offsets.
  ASSERT_TRUE(wait_until([&] { return stored() >= 20000 || !ingester->running(); }, 180s, 20ms));
  ASSERT_TRUE(ingester->running()) << ingester->log_tail();
  scenario.pause_up_to(300ms);
  ingester->kill9();
  std::printf("[ kill -9  ] ingester at %lld stored predictions\n", static_cast<long long>(stored()));
  ingester = spawn_ingester(options, next_log());

  // PostgreSQL restarted (fast) behind PgBouncer: its server connections die under the writers.
  const std::int64_t before = stored();
  ASSERT_TRUE(wait_until([&] { return stored() >= before + 20000 || !ingester->running(); }, 180s, 20ms));
  ASSERT_TRUE(ingester->running()) << ingester->log_tail();
  scenario.pause_up_to(300ms);
  scenario.pg.restart_fast();
  const std::int64_t at_restart = stored();
  std::printf("[ restart  ] PostgreSQL at %lld stored predictions\n", static_cast<long long>(at_restart));
  // (Or every prediction was already stored: finish_stream checks the end state.)
  ASSERT_TRUE(wait_until([&] { return stored() > at_restart || stored() >= static_cast<std::int64_t>(kPredictions) || !ingester->running(); },
                         120s, 20ms))
      << "no progress after PostgreSQL's restart\n" << ingester->log_tail();

  const kafka::GeneratorReport sent = pooled.producer.report();
  finish_stream(scenario.pg, options.group, sent, *ingester, scenario.started);
}

}  // namespace
}  // namespace mlops_ingest::fault
