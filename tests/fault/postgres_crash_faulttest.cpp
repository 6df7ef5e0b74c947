// Fault tier, extra scenario: PostgreSQL crashes mid-stream (`pg_ctl stop -m immediate`: no
// shutdown checkpoint, crash recovery on the next start) — twice — while the ingester keeps
// running. Every transaction PostgreSQL acknowledged must survive the crash, because the
// running ingester has released those rows and moved its consumer past them: it does not read
// them again (only a restart resumes from the stored offsets). With the writers'
// synchronous_commit = off, the last few hundred milliseconds of acknowledged batches are lost
// in the crash and so are their rows — for good. The default (on) makes this test pass.
#include <gtest/gtest.h>
#include <signal.h>

#include "fault_env.hpp"
#include "mlops_ingest/devtools/dev_broker.hpp"

namespace mlops_ingest::fault {
namespace {

TEST(FaultPostgres, CrashedTwiceWhileTheIngesterRuns) {
  Scenario scenario("postgres-crash", 25531);
  Producer producer(stream(scenario.brokers(), 100000, 701));

  // Many commits, so that each crash lands right after some.
  IngesterOptions options = scenario.ingester({"--batch-rows", "1000"});
  std::unique_ptr<ChildProcess> ingester = spawn_ingester(options, scenario.work.file("ingester.log"));
  auto stored = [&] { return observe(scenario.pg, options.group).value_or(Observed{}).predictions; };

  for (const std::int64_t at : {20000, 50000}) {
    ASSERT_TRUE(wait_until([&] { return stored() >= at || !ingester->running(); }, 120s, 5ms));
    ASSERT_TRUE(ingester->running()) << ingester->log_tail();
    scenario.pg.crash();
    std::printf("[ pg crash ] (immediate stop) at ~%lld stored predictions\n", static_cast<long long>(at));
    scenario.pg.start();
  }

  const kafka::GeneratorReport sent = producer.report();
  finish_stream(scenario.pg, options.group, sent, *ingester, scenario.started);
}

}  // namespace
}  // namespace mlops_ingest::fault
