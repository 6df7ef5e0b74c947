// Event-time alignment of labels to their predictions partition (EventTimeAligner).
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <vector>

#include "mlops_ingest/consume/event_time_aligner.hpp"

namespace mlops_ingest {
namespace {

using namespace std::chrono_literals;

// A label message: only its offset matters here, and that it moves (the aligner owns it while
// it is held).
using Message = std::unique_ptr<std::int64_t>;
using Aligner = BasicEventTimeAligner<Message>;
using Clock = Aligner::Clock;
Message message(std::int64_t offset) { return std::make_unique<std::int64_t>(offset); }

struct Fixture {
  Aligner aligner{1000ms, 4};
  std::set<std::int32_t> drained;
  std::vector<std::int64_t> delivered;
  Clock::time_point now = Clock::now();

  bool hold(std::int32_t partition, std::int64_t offset, std::int64_t ts) {
    Message m = message(offset);
    const bool held = aligner.hold(m, partition, ts, [this](std::int32_t p) { return drained.count(p) > 0; }, now);
    if (!held) delivered.push_back(offset);
    return held;
  }
  void release() {
    aligner.release(now, [this](std::int32_t p) { return drained.count(p) > 0; },
                    [this](Message& m) {
                      delivered.push_back(*m);
                      return true;
                    });
  }
};

TEST(EventTimeAligner, HoldsLabelsAheadOfTheirPredictionsPartitionUntilItCatchesUp) {
  Fixture f;
  f.aligner.on_prediction(0, 100);
  EXPECT_FALSE(f.hold(0, 1, 50));   // older than what predictions delivered: goes at once
  EXPECT_TRUE(f.hold(0, 2, 150));   // ahead: held
  EXPECT_TRUE(f.hold(0, 3, 120));   // behind a held label of its partition: order holds
  EXPECT_TRUE(f.hold(1, 4, 10));    // partition 1's predictions have delivered nothing yet
  f.drained.insert(1);              // ... and now have nothing to deliver: released
  f.release();
  EXPECT_EQ(f.delivered, (std::vector<std::int64_t>{1, 4}));
  f.aligner.on_prediction(0, 151);
  f.release();
  EXPECT_EQ(f.delivered, (std::vector<std::int64_t>{1, 4, 2, 3}));
  EXPECT_EQ(f.aligner.held(), 0u);
}

TEST(EventTimeAligner, ADrainedPredictionsPartitionReleasesAtOnce) {
  Fixture f;
  EXPECT_TRUE(f.hold(3, 1, 500));
  f.drained.insert(3);
  f.release();
  EXPECT_EQ(f.delivered, (std::vector<std::int64_t>{1}));
  EXPECT_FALSE(f.hold(3, 2, 900));
}

TEST(EventTimeAligner, WaitsAtMostMaxWait) {
  Fixture f;
  EXPECT_TRUE(f.hold(0, 1, 500));
  f.now += 999ms;
  f.release();
  EXPECT_TRUE(f.delivered.empty());
  f.now += 1ms;
  f.release();
  EXPECT_EQ(f.delivered, (std::vector<std::int64_t>{1}));
}

TEST(EventTimeAligner, ReportsFullAtItsCapAndCanBeTurnedOff) {
  Fixture f;
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(f.hold(0, i, 500));
  EXPECT_TRUE(f.aligner.full(0));
  EXPECT_FALSE(f.aligner.full(1));
  f.aligner.set_enabled(false);
  EXPECT_FALSE(f.hold(1, 8, 500));  // nothing held for partition 1: straight through
  // Turned off with labels held: a later label of their partition still queues behind them
  // (overtaking would reorder the partition's offsets, and the writer would drop the older
  // ones as stale), and release() lets every held label go without waiting.
  EXPECT_TRUE(f.hold(0, 9, 500));
  f.release();
  EXPECT_EQ(f.delivered, (std::vector<std::int64_t>{8, 0, 1, 2, 3, 9}));
  EXPECT_FALSE(f.hold(0, 10, 500));
  Aligner off(0ms, 4);
  EXPECT_FALSE(off.enabled());
}

// The memory bound plans the labels held in all partitions together; a member assigned many
// labels partitions must not hold the per-partition cap in each of them.
TEST(EventTimeAligner, ATotalCapFillsAcrossPartitionsAndResumesAQuarterBelow) {
  Fixture f;
  f.aligner = Aligner(1000ms, 4, 8);
  for (std::int32_t p = 0; p < 4; ++p) {
    EXPECT_TRUE(f.hold(p, 2 * p, 500));
    EXPECT_TRUE(f.hold(p, 2 * p + 1, 500));
  }
  EXPECT_EQ(f.aligner.held(), 8u);
  // No partition is at its own cap of 4, but all of them are full together.
  for (std::int32_t p = 0; p < 5; ++p) EXPECT_TRUE(f.aligner.full(p)) << p;
  EXPECT_FALSE(f.aligner.low(0));
  f.aligner.on_prediction(0, 600);  // partition 0's two go
  f.release();
  EXPECT_EQ(f.aligner.held(), 6u);
  EXPECT_FALSE(f.aligner.full(0));
  EXPECT_TRUE(f.aligner.low(0));   // 0 held, 6 of 8 in all: a quarter below the total
  EXPECT_FALSE(f.aligner.low(1));  // 2 held > 4 / 4
}

}  // namespace
}  // namespace mlops_ingest
