// Fault tier, scenario 2: PostgreSQL goes away mid-stream — stopped for more than 20 s and then
// started again, and later restarted with `pg_ctl restart -m fast` — while the ingester keeps
// running. Nothing may be dead-lettered or lost, the progress line must say PostgreSQL is
// UNREACHABLE while it is down, and the ingester's memory must stay within its documented bound
// while it cannot write (its rings fill up, then it pauses its partitions).
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <optional>
#include <thread>

#include "fault_env.hpp"
#include "mlops_ingest/devtools/dev_broker.hpp"
#include "mlops_ingest/devtools/event_generator.hpp"
#include "mlops_ingest/handoff/envelope.hpp"

namespace mlops_ingest::fault {
namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;

// The memory bound (docs/design.md, "Back-pressure and the memory bound") for the settings below:
//
//   bound = writers × ring_capacity × slot  +  queued.max.messages.kbytes (32 MiB)  +  allowance
//
// - slot = sizeof(Envelope) + its three heap strings: the COPY tuple and the raw value (each at
//   most one event) and the key, each of which libstdc++ may have grown to twice what it holds,
//   plus a malloc header each.
// - 32 MiB: librdkafka's prefetch queue, capped by queued.max.messages.kbytes (this test sets it;
//   the default is 64 MiB); that cap counts message bytes only.
// - a fixed allowance of 120 MiB for what the settings above do not scale:
//     16 MiB  the process itself (code, libraries, thread stacks, malloc arenas; 13.5 MiB
//             measured idle), the stash of one poll round (poll_batch messages) and the writers'
//             COPY buffers (batch_rows tuples);
//     40 MiB  librdkafka's per-message structures for a full queue: ~400 B per queued message
//             besides its bytes (measured), and the queue also stops at queued.min.messages =
//             100,000 messages;
//     64 MiB  one fetch response landing on a full queue: the cap is checked before a fetch, so
//             one response of up to max.partition.fetch.bytes (1 MiB) for each of the 32
//             partitions, compressed, overshoots it (≈ 2× that once decompressed).
// Measured while PostgreSQL is down: usually 85-110 MiB; the highest VmHWM seen was 128 MiB.
// Holding the outage's backlog instead would take more: at least 230 MiB counting only its bytes
// and 100 B of bookkeeping per message (asserted to exceed the bound).
constexpr std::uint64_t kWriters = 2, kRingCapacity = 2048, kBatchRows = 1000, kPollBatch = 2000;
constexpr std::uint64_t kMaxEventBytes = 512;  // the generator's events are ~250-420 bytes
constexpr std::uint64_t kSlotBytes = sizeof(Envelope) + 2 * (kMaxEventBytes + kMaxEventBytes + 64) + 3 * 16;
constexpr std::uint64_t kLibrdkafkaQueue = 32 * kMiB, kQueuedMessages = 100000;  // set below
constexpr std::uint64_t kFixedAllowance = 120 * kMiB;
constexpr std::uint64_t kMemoryBound = kWriters * kRingCapacity * kSlotBytes + kLibrdkafkaQueue + kFixedAllowance;

TEST(FaultPostgres, StoppedTwentySecondsThenRestartedFast) {
  Scenario scenario("postgres-outage", 25481, 32);
  // 100,000 predictions (and their labels) stream in first; PostgreSQL stops once a fifth are
  // stored, and while it is down another 400,000 (and their labels) arrive: holding them would
  // take well over the memory bound, so an ingester that kept consuming while it cannot write
  // would break it.
  const std::uint64_t kFirst = 100000, kDuringOutage = 400000;
  for (std::uint64_t i = 0; i < 2000; ++i) {
    ASSERT_LE(kafka::synthetic_prediction(202, i).size(), kMaxEventBytes) << "the memory bound assumes small events";
  }
  Producer first(stream(scenario.brokers(), kFirst, 202));

  IngesterOptions options = scenario.ingester();
  // librdkafka's queue at 32 MiB / 100,000 messages (the defaults are 64 MiB / 200,000): the
  // bound below is computed for these, and the burst during the outage must exceed it.
  options.extra = {"--writers", std::to_string(kWriters), "--ring-capacity", std::to_string(kRingCapacity),
                   "--batch-rows", std::to_string(kBatchRows), "--poll-batch", std::to_string(kPollBatch),
                   "--kafka.queued.max.messages.kbytes", std::to_string(kLibrdkafkaQueue / 1024),
                   "--kafka.queued.min.messages", std::to_string(kQueuedMessages)};
  std::unique_ptr<ChildProcess> ingester = spawn_ingester(options, scenario.work.file("ingester.log"));
  auto stored = [&] { return observe(scenario.pg, options.group).value_or(Observed{}).predictions; };

  // 1. Stopped for 22 s once a fifth of the first stream is stored.
  ASSERT_TRUE(wait_until([&] { return stored() >= 20000 || !ingester->running(); }, 120s, 20ms));
  ASSERT_TRUE(ingester->running()) << ingester->log_tail();
  const std::uint64_t hwm_before = process_memory(ingester->pid()).value_or(ProcessMemory{}).hwm;
  const std::size_t log_mark = ingester->log().size();
  std::printf("[ pg stop  ] with %lld predictions stored\n", static_cast<long long>(stored()));
  scenario.pg.stop();
  const auto down_at = std::chrono::steady_clock::now();
  std::optional<Producer> second;
  second.emplace(stream(scenario.brokers(), kDuringOutage, 203));
  std::uint64_t peak_rss = 0, peak_hwm = 0;
  while (std::chrono::steady_clock::now() - down_at < 22s) {
    const std::optional<ProcessMemory> m = process_memory(ingester->pid());
    ASSERT_TRUE(m.has_value() && ingester->running()) << "the ingester died while PostgreSQL was down\n"
                                                      << ingester->log_tail();
    peak_rss = std::max(peak_rss, m->rss);
    peak_hwm = std::max(peak_hwm, m->hwm);
    std::this_thread::sleep_for(100ms);
  }
  const std::string while_down = ingester->log().substr(log_mark);
  const kafka::GeneratorReport sent_first = first.report();
  const kafka::GeneratorReport sent_second = second->report();  // all of it arrived during the outage
  scenario.pg.start();
  // What holding the outage's messages would cost at the very least: their bytes, plus 100 bytes
  // of bookkeeping each (a ring slot's Envelope alone is bigger; a librdkafka message too).
  std::uint64_t outage_bytes = 0, label_sample_bytes = 0;
  for (std::uint64_t i = 0; i < kDuringOutage; ++i) outage_bytes += kafka::synthetic_prediction(203, i).size();
  for (std::uint64_t i = 0; i < 1000; ++i) label_sample_bytes += kafka::synthetic_label(203, i).size();
  outage_bytes += sent_second.labels_sent * label_sample_bytes / 1000;
  outage_bytes += (sent_second.predictions_sent + sent_second.labels_sent) * 100;
  EXPECT_GT(outage_bytes, kMemoryBound) << "the burst during the outage must be bigger than the bound";
  std::printf("[ memory   ] while PostgreSQL was down: peak VmRSS %.1f MiB, VmHWM %.1f MiB (%.1f MiB before "
              "the outage); bound %.1f MiB = %llu x %llu x %llu B + 32 MiB + %llu MiB; holding the outage's "
              "backlog would take > %.1f MiB\n",
              static_cast<double>(peak_rss) / kMiB, static_cast<double>(peak_hwm) / kMiB,
              static_cast<double>(hwm_before) / kMiB, static_cast<double>(kMemoryBound) / kMiB,
              static_cast<unsigned long long>(kWriters), static_cast<unsigned long long>(kRingCapacity),
              static_cast<unsigned long long>(kSlotBytes),
              static_cast<unsigned long long>(kFixedAllowance / kMiB), static_cast<double>(outage_bytes) / kMiB);
  EXPECT_NE(while_down.find("postgres UNREACHABLE"), std::string::npos)
      << "no progress line said PostgreSQL was unreachable while it was down:\n" << while_down;
  EXPECT_LT(peak_rss, kMemoryBound);
  EXPECT_LT(peak_hwm, kMemoryBound);

  const kafka::GeneratorReport sent = sent_first + sent_second;

  // 2. `pg_ctl restart -m fast` once 60% of everything is stored: every connection is
  // terminated (SQLSTATE 57P01), mid-COPY or mid-transaction.
  const auto at_60 = static_cast<std::int64_t>(sent.unique_predictions * 6 / 10);
  ASSERT_TRUE(wait_until([&] { return stored() >= at_60 || !ingester->running(); }, 120s, 20ms));
  ASSERT_TRUE(ingester->running()) << ingester->log_tail();
  scenario.pg.restart_fast();
  std::printf("[ pg restart -m fast ] at ~60%% of the stream\n");

  finish_stream(scenario.pg, options.group, sent, *ingester, scenario.started);
  EXPECT_NE(ingester->log().find("reconnected to PostgreSQL"), std::string::npos);
}

}  // namespace
}  // namespace mlops_ingest::fault
