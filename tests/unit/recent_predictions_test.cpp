// What a writer remembers of the predictions it committed (RecentPredictions), and how the batch
// planner pairs a later batch's labels with them: without PostgreSQL.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "mlops_ingest/config/memory_budget.hpp"
#include "mlops_ingest/encode/row_encoder.hpp"
#include "mlops_ingest/write/batch_plan.hpp"
#include "mlops_ingest/write/recent_predictions.hpp"

#include "encoded_envelopes.hpp"

namespace mlops_ingest {
namespace {

constexpr std::int64_t kDay = 86400LL * 1000000LL;

std::uint64_t hash_of(const std::string& id) { return IdDigest::hash_of(id); }

void remember(RecentPredictions& r, const std::string& id, std::int64_t created, bool labelled = false) {
  r.remember(id, hash_of(id), created, labelled);
}

std::optional<RecentPredictions::Recalled> recall(const RecentPredictions& r, const std::string& id) {
  return r.recall(id, hash_of(id));
}

TEST(RecentPredictions, RecallsWhatWasRememberedWithItsCreatedAt) {
  RecentPredictions r(100);
  remember(r, "a", 11);
  remember(r, "bb", 22);
  ASSERT_TRUE(recall(r, "a"));
  EXPECT_EQ(recall(r, "a")->created_at_us, 11);
  EXPECT_EQ(recall(r, "bb")->created_at_us, 22);
  EXPECT_FALSE(recall(r, "b"));   // a prefix of a remembered id
  EXPECT_FALSE(recall(r, "bbb"));  // a remembered id is a prefix of it
  EXPECT_FALSE(recall(r, ""));
}

TEST(RecentPredictions, OffRemembersNothing) {
  RecentPredictions r(0);
  EXPECT_FALSE(r.enabled());
  remember(r, "a", 1);
  EXPECT_FALSE(recall(r, "a"));
  EXPECT_EQ(r.size(), 0u);
  EXPECT_EQ(RecentPredictions::planned_bytes(0), 0u);
}

// Two generations of capacity / 2: never more than the capacity, always the latest half.
TEST(RecentPredictions, BoundedAndKeepsTheLatestHalfAtLeast) {
  constexpr std::size_t kCapacity = 64;
  RecentPredictions r(kCapacity);
  for (int i = 0; i < 1000; ++i) {
    remember(r, "id-" + std::to_string(i), i);
    ASSERT_LE(r.size(), kCapacity);
    for (int back = 0; back < static_cast<int>(kCapacity / 2) && back <= i; ++back) {
      const auto hit = recall(r, "id-" + std::to_string(i - back));
      ASSERT_TRUE(hit) << "after " << i << ", id-" << i - back << " was dropped";
      ASSERT_EQ(hit->created_at_us, i - back);
    }
  }
  EXPECT_FALSE(recall(r, "id-0"));
  EXPECT_FALSE(recall(r, "id-900"));
}

// Ids longer than planned fill the generation's id bytes before its entries: fewer are
// remembered, never more bytes held.
TEST(RecentPredictions, LongIdsEndAGenerationSooner) {
  RecentPredictions r(64);
  const std::string long_id(RecentPredictions::kPlannedIdBytes * 4, 'x');
  for (int i = 0; i < 200; ++i) remember(r, long_id + std::to_string(i), i);
  EXPECT_LE(r.size(), 64u / 4 * 2);
  EXPECT_TRUE(recall(r, long_id + "199"));
  // Longer than a whole generation's id bytes: not remembered at all.
  RecentPredictions tiny(2);
  remember(tiny, long_id, 1);
  EXPECT_FALSE(recall(tiny, long_id));
}

TEST(RecentPredictions, LabelledOnesAreNotRecalled) {
  RecentPredictions r(100);
  remember(r, "paired-in-its-batch", 1, true);
  remember(r, "a", 2);
  EXPECT_FALSE(recall(r, "paired-in-its-batch"));
  const auto hit = recall(r, "a");
  ASSERT_TRUE(hit);
  r.mark_labelled(hit->handle);
  EXPECT_FALSE(recall(r, "a"));
}

// A handle outlives its generation: marking it then must not mark whichever prediction took
// its place.
TEST(RecentPredictions, AHandleOfADroppedGenerationMarksNothing) {
  RecentPredictions r(4);  // generations of 2
  remember(r, "a", 1);
  const std::uint64_t handle = recall(r, "a")->handle;
  for (const char* id : {"b", "c", "d", "e", "f"}) remember(r, id, 2);  // "a"'s generation dropped
  EXPECT_FALSE(recall(r, "a"));
  r.mark_labelled(handle);
  for (const char* id : {"e", "f"}) EXPECT_TRUE(recall(r, id)) << id;
}

// The bytes planned per remembered prediction in the memory bound cover what is held.
TEST(RecentPredictions, MemoryBoundPlansEnough) {
  for (const std::size_t capacity : {16UL, 1000UL, 32768UL, 50000UL}) {
    EXPECT_LE(RecentPredictions::planned_bytes(capacity), capacity * kPlannedRecentBytes) << capacity;
  }
}

// --- the planner with what the writer remembers ---

// Partition 0 throughout: what is remembered does not depend on it.
Envelope prediction(std::int64_t offset, const std::string& id, std::int64_t created = 0) {
  return testing::encoded_prediction(0, offset, id, created);
}
Envelope label(std::int64_t offset, const std::string& id, std::int64_t ts = 0,
               std::optional<std::int32_t> days = std::nullopt) {
  return testing::encoded_label(0, offset, id, ts, days);
}

struct Planned {
  std::vector<Envelope> slots;
  std::map<std::pair<TopicKind, std::int32_t>, std::int64_t> thresholds;
  BatchPlanner planner;
  RecentPredictions recent{100};

  const BatchPlan& plan() {
    return planner.plan(
        slots.size(), [this](std::size_t i) -> const Envelope& { return slots[i]; },
        [this](const Envelope& e) -> std::int64_t& {
          auto [it, inserted] = thresholds.try_emplace({e.topic, e.partition}, -1);
          return it->second;
        },
        &recent);
  }
};

using Slots = std::vector<std::uint32_t>;

TEST(BatchPlannerRecall, LabelsOfPredictionsCommittedEarlierArePairedWithTheirCreatedAt) {
  Planned p;
  remember(p.recent, "old", 5 * kDay);
  remember(p.recent, "old-labelled", 6 * kDay, true);
  p.slots = {label(0, "new"), prediction(0, "new"), label(1, "old"), label(2, "unknown"), label(3, "old-labelled")};
  const BatchPlan& plan = p.plan();
  EXPECT_EQ(plan.paired_labels, (Slots{0}));
  EXPECT_EQ(plan.recalled_labels, (Slots{2}));
  EXPECT_EQ(plan.recalled_created_at, (std::vector<std::int64_t>{5 * kDay}));
  EXPECT_EQ(plan.recalled_handles.size(), 1u);
  // Not remembered, or a label of it committed already (a duplicate, most likely): PostgreSQL decides.
  EXPECT_EQ(plan.labels, (Slots{3, 4}));
  EXPECT_TRUE(plan.any_paired());
}

TEST(BatchPlannerRecall, ARecalledLabelGivenTwiceInOneBatchIsOneDuplicate) {
  Planned p;
  remember(p.recent, "old", 1);
  p.slots = {label(0, "old"), label(1, "old")};
  const BatchPlan& plan = p.plan();
  EXPECT_EQ(plan.recalled_labels, (Slots{0}));
  EXPECT_EQ(plan.label_duplicates, 1u);
  EXPECT_TRUE(plan.labels.empty());
}

// Every label lands in exactly one place: paired, recalled, left to PostgreSQL, or a duplicate
// counted — a label in none of them would be committed with its offset and never stored.
TEST(BatchPlannerRecall, EveryLabelIsPlannedOnce) {
  Planned p;
  for (int i = 0; i < 50; i += 2) remember(p.recent, "r" + std::to_string(i), i);
  std::int64_t offset = 0;
  for (int i = 0; i < 60; ++i) {
    if (i % 3 == 0) p.slots.push_back(prediction(offset, "r" + std::to_string(i)));
    p.slots.push_back(label(offset++, "r" + std::to_string(i)));
    if (i % 7 == 0) p.slots.push_back(label(offset++, "r" + std::to_string(i)));  // a duplicate
  }
  const BatchPlan& plan = p.plan();
  std::size_t labels = 0;
  for (const Envelope& e : p.slots) labels += e.topic == TopicKind::kLabels ? 1 : 0;
  EXPECT_EQ(plan.paired_labels.size() + plan.recalled_labels.size() + plan.labels.size() + plan.label_duplicates,
            labels);
  EXPECT_FALSE(plan.recalled_labels.empty());
}

TEST(BatchPlannerRecall, UnpairInBatchKeepsTheRecalledAndUnpairTakesAll) {
  Planned p;
  remember(p.recent, "old", 1);
  p.slots = {label(0, "old"), prediction(0, "new"), label(1, "new"), label(2, "unknown")};
  p.plan();
  p.planner.unpair_in_batch();  // this batch's predictions took the staging path
  EXPECT_TRUE(p.planner.current().paired_labels.empty());
  EXPECT_EQ(p.planner.current().recalled_labels, (Slots{0}));
  EXPECT_EQ(p.planner.current().labels, (Slots{2, 3}));
  p.planner.unpair();  // label_store refused the COPY
  EXPECT_FALSE(p.planner.current().any_paired());
  EXPECT_EQ(p.planner.current().labels, (Slots{0, 2, 3}));  // ring order: the first of two wins
  // Still marked after COMMIT: a label of it went through, stored or found a duplicate.
  EXPECT_EQ(p.planner.current().recalled_handles.size(), 1u);
}

// The row of a recalled label is the row the same label paired in its prediction's batch gets.
TEST(BatchPlannerRecall, ARecalledLabelsRowIsThePairedOne) {
  const Envelope pred = prediction(0, "p", 10 * kDay + 5);
  for (const std::optional<std::int32_t> days : {std::optional<std::int32_t>{}, std::optional<std::int32_t>{3}}) {
    const Envelope lab = label(0, "p", 40 * kDay, days);
    std::string paired, recalled;
    append_paired_label(lab.tuple, pred, paired);
    const std::optional<std::int64_t> created = testing::tuple_created_at(pred.tuple);
    ASSERT_TRUE(created);
    EXPECT_EQ(*created, 10 * kDay + 5);
    append_recalled_label(lab.tuple, *created, recalled);
    EXPECT_EQ(recalled, paired);
  }
}

}  // namespace
}  // namespace mlops_ingest
