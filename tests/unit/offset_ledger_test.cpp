// OffsetLedger: the offsets already committed in PostgreSQL, recorded by the writer threads and
// taken by the consumer thread to mirror them to Kafka. Its contract: per (topic, partition) the
// highest offset recorded since the last take() wins (a late, lower record never lowers it),
// take() hands everything over and empties the ledger, and both may run on different threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <thread>
#include <vector>

#include "mlops_ingest/handoff/offset_ledger.hpp"

namespace mlops_ingest {
namespace {

using Key = OffsetLedger::Key;
using Taken = std::map<Key, std::int64_t>;

constexpr TopicKind kP = TopicKind::kPredictions;
constexpr TopicKind kL = TopicKind::kLabels;

TEST(OffsetLedger, EmptyUntilSomethingIsRecorded) {
  OffsetLedger ledger;
  EXPECT_TRUE(ledger.take().empty());
  ledger.record(kP, 0, 10);
  EXPECT_EQ(ledger.take(), (Taken{{{kP, 0}, 10}}));
}

TEST(OffsetLedger, HighestRecordWinsAndNeverGoesBackwardsWithinATake) {
  OffsetLedger ledger;
  ledger.record(kP, 3, 100);
  ledger.record(kP, 3, 250);
  ledger.record(kP, 3, 250);  // the same again: no change
  ledger.record(kP, 3, 120);  // a late, lower record (another writer's older batch): ignored
  EXPECT_EQ(ledger.take(), (Taken{{{kP, 3}, 250}}));
}

TEST(OffsetLedger, KeysAreTopicAndPartition) {
  OffsetLedger ledger;
  ledger.record(kP, 0, 5);
  ledger.record(kL, 0, 7);  // same partition number, other topic: its own slot
  ledger.record(kP, 1, 9);
  ledger.record(kL, 12, 1);
  ledger.record(kP, 0, 6);
  const Taken taken = ledger.take();
  EXPECT_EQ(taken, (Taken{{{kP, 0}, 6}, {{kP, 1}, 9}, {{kL, 0}, 7}, {{kL, 12}, 1}}));
}

TEST(OffsetLedger, TakeEmptiesTheLedger) {
  OffsetLedger ledger;
  ledger.record(kP, 0, 5);
  ledger.record(kL, 2, 8);
  EXPECT_EQ(ledger.take().size(), 2u);
  EXPECT_TRUE(ledger.take().empty()) << "a second take() must not hand the same offsets over again";
  ledger.record(kL, 2, 9);
  EXPECT_EQ(ledger.take(), (Taken{{{kL, 2}, 9}})) << "only what was recorded since the last take()";
}

// The ledger only orders records between two takes: it keeps no memory of what it handed over,
// so a record lower than an earlier take is handed over as is. What keeps Kafka's mirrored
// offsets from going backwards is that each writer only records a partition's threshold after
// raising it (batch_writer: `if (p.threshold > p.stored)`), not the ledger. Pinned here so that
// a change of this contract is a deliberate one.
TEST(OffsetLedger, KeepsNoMemoryAcrossTakes) {
  OffsetLedger ledger;
  ledger.record(kP, 0, 50);
  EXPECT_EQ(ledger.take(), (Taken{{{kP, 0}, 50}}));
  ledger.record(kP, 0, 40);
  EXPECT_EQ(ledger.take(), (Taken{{{kP, 0}, 40}}));
}

TEST(OffsetLedger, OffsetZeroAndLargeOffsets) {
  OffsetLedger ledger;
  ledger.record(kP, 0, 0);  // nothing committed beyond the start: still reported
  ledger.record(kP, 1, INT64_C(1) << 40);
  const Taken taken = ledger.take();
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(taken.at({kP, 0}), 0);
  EXPECT_EQ(taken.at({kP, 1}), INT64_C(1) << 40);
}

// Thread model: writer threads record while the consumer thread takes. Each writer records a
// rising sequence on its own partition and on one partition they all share. Whatever the
// interleaving: nothing recorded is lost (the final take or an earlier one has each writer's
// last offset), each writer's partition is handed over in rising order (never backwards), and
// the shared partition ends at the highest offset anyone recorded.
TEST(OffsetLedger, WritersRecordWhileTheConsumerTakes) {
  constexpr int kWriters = 4;
  constexpr std::int64_t kRecords = 20000;
  OffsetLedger ledger;
  std::atomic<int> running{kWriters};
  std::atomic<std::size_t> takes{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&ledger, &running, &takes, w] {
      for (std::int64_t i = 1; i <= kRecords; ++i) {
        // Halfway, each writer waits for a take: takes and records interleave even when the
        // writers would otherwise finish before the consumer first looks.
        if (i == kRecords / 2) {
          while (takes.load() == 0) std::this_thread::yield();
        }
        ledger.record(kP, w, i);
        ledger.record(kL, 99, i * kWriters + w);  // shared; its max is kRecords*kWriters + kWriters-1
      }
      running.fetch_sub(1);
    });
  }
  std::map<Key, std::vector<std::int64_t>> handed_over;
  auto drain = [&] {
    for (const auto& [key, next] : ledger.take()) handed_over[key].push_back(next);
    ++takes;
  };
  while (running.load() > 0) drain();
  for (std::thread& t : writers) t.join();
  drain();  // whatever was recorded after the last take inside the loop

  EXPECT_GT(takes.load(), 1u);
  for (int w = 0; w < kWriters; ++w) {
    const std::vector<std::int64_t>& seq = handed_over[{kP, w}];
    ASSERT_FALSE(seq.empty()) << "writer " << w;
    EXPECT_EQ(seq.back(), kRecords) << "writer " << w << ": its last offset was lost";
    for (std::size_t i = 1; i < seq.size(); ++i) {
      ASSERT_LT(seq[i - 1], seq[i]) << "writer " << w << ": handed over backwards at take " << i;
    }
  }
  const std::vector<std::int64_t>& shared = handed_over[{kL, 99}];
  ASSERT_FALSE(shared.empty());
  std::int64_t highest = 0;
  for (const std::int64_t v : shared) highest = std::max(highest, v);
  EXPECT_EQ(highest, kRecords * kWriters + kWriters - 1);
  EXPECT_EQ(handed_over.size(), static_cast<std::size_t>(kWriters + 1)) << "no key invented";
}

}  // namespace
}  // namespace mlops_ingest
