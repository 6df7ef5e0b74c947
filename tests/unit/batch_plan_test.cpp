// The batch planner, the in-batch id index, days_delayed in memory, paired label rows, and the
// binary array parameters: the writer's decisions, without PostgreSQL.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "mlops_ingest/pg/binary_params.hpp"
#include "mlops_ingest/pg/copy_encoder.hpp"
#include "mlops_ingest/write/batch_plan.hpp"
#include "mlops_ingest/encode/row_encoder.hpp"
#include "big_endian.hpp"
#include "encoded_envelopes.hpp"

namespace mlops_ingest {
namespace {

constexpr std::int64_t kDay = 86400LL * 1000000LL;

// Shorter names for the many slots below.
Envelope at(TopicKind topic, std::int32_t partition, std::int64_t offset) {
  return testing::envelope_at(topic, partition, offset);
}
Envelope prediction(std::int32_t partition, std::int64_t offset, const std::string& id, std::int64_t created = 0) {
  return testing::encoded_prediction(partition, offset, id, created);
}
Envelope label(std::int32_t partition, std::int64_t offset, const std::string& id, std::int64_t ts = 0,
               std::optional<std::int32_t> days = std::nullopt) {
  return testing::encoded_label(partition, offset, id, ts, days);
}

Envelope letter(std::int32_t partition, std::int64_t offset, RejectReason reason) {
  Envelope e = at(TopicKind::kPredictions, partition, offset);
  e.kind = EnvelopeKind::kDeadLetter;
  e.reason = reason;
  return e;
}

struct Planned {
  std::vector<Envelope> slots;
  std::map<std::pair<TopicKind, std::int32_t>, std::int64_t> thresholds;
  BatchPlanner planner;

  const BatchPlan& plan() {
    return planner.plan(
        slots.size(), [this](std::size_t i) -> const Envelope& { return slots[i]; },
        [this](const Envelope& e) -> std::int64_t& {
          auto [it, inserted] = thresholds.try_emplace({e.topic, e.partition}, -1);
          return it->second;
        });
  }
};

using Slots = std::vector<std::uint32_t>;

TEST(BatchPlanner, PairsLabelsWithPredictionsOfTheSameBatchEvenWhenTheLabelComesFirst) {
  Planned p;
  p.slots = {label(0, 0, "b"), prediction(0, 0, "a"), prediction(0, 1, "b"), label(0, 1, "a"), label(0, 2, "c")};
  const BatchPlan& plan = p.plan();
  EXPECT_EQ(plan.predictions, (Slots{1, 2}));
  EXPECT_EQ(plan.paired_labels, (Slots{0, 3}));
  EXPECT_EQ(plan.paired_with, (Slots{2, 1}));
  EXPECT_EQ(plan.labels, (Slots{4}));  // its prediction is not in the batch: PostgreSQL decides
  EXPECT_EQ(plan.stale, 0u);
}

TEST(BatchPlanner, DuplicatesWithinTheBatchAreCountedOnce) {
  Planned p;
  p.slots = {prediction(0, 0, "a"), prediction(0, 1, "a"), label(1, 0, "a"), label(1, 1, "a"), label(1, 2, "x"),
             label(1, 3, "x")};
  const BatchPlan& plan = p.plan();
  EXPECT_EQ(plan.predictions, (Slots{0}));
  EXPECT_EQ(plan.prediction_duplicates, 1u);
  EXPECT_EQ(plan.paired_labels, (Slots{2}));
  EXPECT_EQ(plan.label_duplicates, 1u);
  // Unpaired duplicates are left to ON CONFLICT in PostgreSQL (it knows what is stored).
  EXPECT_EQ(plan.labels, (Slots{4, 5}));
}

TEST(BatchPlanner, FencesOffsetsBelowWhatIsStoredAndEachOffsetOnce) {
  Planned p;
  p.thresholds[{TopicKind::kPredictions, 0}] = 5;  // another instance committed up to 5
  p.slots = {prediction(0, 3, "old"), prediction(0, 5, "new"), prediction(0, 5, "again"), prediction(1, 0, "other")};
  const BatchPlan& plan = p.plan();
  EXPECT_EQ(plan.predictions, (Slots{1, 3}));
  EXPECT_EQ(plan.stale, 2u);
  EXPECT_EQ((p.thresholds[{TopicKind::kPredictions, 0}]), 6);
  EXPECT_EQ((p.thresholds[{TopicKind::kPredictions, 1}]), 1);
}

TEST(BatchPlanner, PredictionsAreWrittenInIdOrder) {
  Planned p;
  p.slots = {prediction(0, 0, "c"), prediction(1, 0, "a"), label(0, 0, "c"), prediction(0, 1, "b")};
  const BatchPlan& plan = p.plan();
  EXPECT_EQ(plan.predictions, (Slots{1, 3, 0}));
  EXPECT_EQ(plan.paired_with, (Slots{0}));  // pairs refer to slots, not positions
}

// The sort compares a 24-byte prefix of each id and only then the ids: ids shorter than,
// exactly as long as and longer than the prefix, sharing it or not, in byte order as PostgreSQL
// sorts them under the C collation (bytes above 0x7f included: unsigned).
TEST(BatchPlanner, IdOrderHoldsAcrossThePrefixTheSortCompares) {
  const std::string p24(24, 'x');
  std::vector<std::string> ids = {p24 + "b", p24, p24 + "a", p24 + "ab", "x", "", "xx",
                                  std::string(23, 'x') + "y", p24 + "\xc3\xa9", "pred-7-0000000011",
                                  "pred-7-0000000010", "pred-7-000000001", "\xff", "\x01",
                                  std::string(30, 'x') + "a", std::string(30, 'x')};
  Planned p;
  for (std::size_t i = 0; i < ids.size(); ++i) p.slots.push_back(prediction(0, static_cast<std::int64_t>(i), ids[i]));
  const BatchPlan& plan = p.plan();
  std::vector<std::string> planned;
  for (const std::uint32_t slot : plan.predictions) planned.push_back(ids[slot]);
  std::vector<std::string> expected = ids;
  std::sort(expected.begin(), expected.end());  // std::string compares bytes as unsigned
  EXPECT_EQ(planned, expected);
}

TEST(BatchPlanner, DeadLettersAreCountedByReason) {
  Planned p;
  p.slots = {letter(0, 0, RejectReason::kInvalidJson), prediction(0, 1, "a"), letter(0, 2, RejectReason::kInvalidJson),
             letter(0, 3, RejectReason::kTooLong)};
  const BatchPlan& plan = p.plan();
  EXPECT_EQ(plan.letters, (Slots{0, 2, 3}));
  EXPECT_EQ(plan.letters_by_reason[static_cast<std::size_t>(RejectReason::kInvalidJson)], 2u);
  EXPECT_EQ(plan.letters_by_reason[static_cast<std::size_t>(RejectReason::kTooLong)], 1u);
}

TEST(BatchPlanner, UnpairMovesPairedLabelsBackInRingOrder) {
  Planned p;
  p.slots = {prediction(0, 0, "a"), label(0, 0, "z"), label(0, 1, "a")};
  p.plan();
  p.planner.unpair();
  EXPECT_TRUE(p.planner.current().paired_labels.empty());
  EXPECT_EQ(p.planner.current().labels, (Slots{1, 2}));
}

TEST(BatchPlanner, ReusedAcrossBatches) {
  Planned p;
  p.slots = {prediction(0, 0, "a"), label(0, 0, "a")};
  p.plan();
  p.slots = {label(0, 1, "a")};  // the prediction was in the previous batch
  const BatchPlan& plan = p.plan();
  EXPECT_TRUE(plan.paired_labels.empty());
  EXPECT_EQ(plan.labels, (Slots{0}));
}

// Fencing is per (topic, partition): each key has its own threshold, the same partition number
// on the other topic is another key, and a partition the batch does not touch keeps its own.
TEST(BatchPlanner, FencesEachTopicAndPartitionOnItsOwnThreshold) {
  Planned p;
  p.thresholds[{TopicKind::kPredictions, 0}] = 5;
  p.thresholds[{TopicKind::kPredictions, 1}] = 2;
  p.thresholds[{TopicKind::kLabels, 0}] = 3;
  p.thresholds[{TopicKind::kLabels, 7}] = 40;  // not in this batch
  p.slots = {
      prediction(0, 4, "p0-stale"),  // 0: below 5
      prediction(1, 2, "p1-a"),      // 1: at the threshold: writable
      label(0, 2, "l0-stale"),       // 2: below 3 on labels/0 (predictions/0's 5 does not apply)
      prediction(0, 5, "p0-a"),      // 3
      label(0, 3, "l0-a"),           // 4
      prediction(1, 1, "p1-stale"),  // 5: below 2
      label(1, 0, "l1-a"),           // 6: labels/1 has no stored offset
      prediction(0, 6, "p0-b"),      // 7
  };
  const BatchPlan& plan = p.plan();
  EXPECT_EQ(plan.stale, 3u);
  EXPECT_EQ(plan.predictions, (Slots{3, 7, 1}));  // in id order: p0-a, p0-b, p1-a
  EXPECT_EQ(plan.labels, (Slots{4, 6}));
  EXPECT_TRUE(plan.paired_labels.empty());
  EXPECT_EQ((p.thresholds[{TopicKind::kPredictions, 0}]), 7);
  EXPECT_EQ((p.thresholds[{TopicKind::kPredictions, 1}]), 3);
  EXPECT_EQ((p.thresholds[{TopicKind::kLabels, 0}]), 4);
  EXPECT_EQ((p.thresholds[{TopicKind::kLabels, 1}]), 1);
  EXPECT_EQ((p.thresholds[{TopicKind::kLabels, 7}]), 40);
}

// A stale message is nothing else: not a prediction, not a duplicate, not a label, not a dead
// letter (its reason is not counted), and a partition rewound within the batch (an offset at or
// below one already taken) is stale from that point on.
TEST(BatchPlanner, StaleMessagesCountOnlyAsStale) {
  Planned p;
  p.thresholds[{TopicKind::kPredictions, 0}] = 10;
  p.thresholds[{TopicKind::kLabels, 0}] = 10;
  p.slots = {
      prediction(0, 9, "a"),                         // 0: stale
      prediction(0, 10, "a"),                        // 1: written; not a duplicate of slot 0
      letter(0, 8, RejectReason::kInvalidJson),      // 2: stale dead letter
      label(0, 9, "a"),                              // 3: stale label
      prediction(0, 11, "b"),                        // 4
      prediction(0, 11, "c"),                        // 5: the same offset again: stale
      prediction(0, 7, "d"),                         // 6: rewound: stale
      letter(0, 12, RejectReason::kTooLong),         // 7
  };
  const BatchPlan& plan = p.plan();
  EXPECT_EQ(plan.stale, 5u);
  EXPECT_EQ(plan.predictions, (Slots{1, 4}));
  EXPECT_EQ(plan.prediction_duplicates, 0u);
  EXPECT_TRUE(plan.labels.empty());
  EXPECT_TRUE(plan.paired_labels.empty());
  EXPECT_EQ(plan.letters, (Slots{7}));
  EXPECT_EQ(plan.letters_by_reason[static_cast<std::size_t>(RejectReason::kInvalidJson)], 0u);
  EXPECT_EQ(plan.letters_by_reason[static_cast<std::size_t>(RejectReason::kTooLong)], 1u);
  EXPECT_EQ((p.thresholds[{TopicKind::kPredictions, 0}]), 13);  // one counter per partition:
  // dead letters of the predictions topic share it with the predictions
}

// The same prediction_id on two partitions (a producer that re-keyed) is one prediction: the first
// in ring order is kept, and a label of that id pairs with the kept one.
TEST(BatchPlanner, DuplicatePredictionsAcrossPartitionsKeepTheFirstAndPairWithIt) {
  Planned p;
  p.slots = {label(0, 0, "x"), prediction(2, 0, "x"), prediction(0, 0, "x"), prediction(2, 1, "x"),
             prediction(1, 0, "y")};
  const BatchPlan& plan = p.plan();
  EXPECT_EQ(plan.predictions, (Slots{1, 4}));
  EXPECT_EQ(plan.prediction_duplicates, 2u);
  EXPECT_EQ(plan.paired_labels, (Slots{0}));
  EXPECT_EQ(plan.paired_with, (Slots{1}));
  EXPECT_EQ(plan.stale, 0u);
}

// A label ahead of its prediction pairs only if the prediction is actually written by this batch:
// a fenced (stale) prediction is not, so the label is left to PostgreSQL.
TEST(BatchPlanner, LabelBeforeAStalePredictionIsNotPaired) {
  Planned p;
  p.thresholds[{TopicKind::kPredictions, 0}] = 3;
  p.slots = {label(0, 0, "gone"), label(0, 1, "here"), prediction(0, 2, "gone"), prediction(0, 3, "here")};
  const BatchPlan& plan = p.plan();
  EXPECT_EQ(plan.stale, 1u);
  EXPECT_EQ(plan.predictions, (Slots{3}));
  EXPECT_EQ(plan.paired_labels, (Slots{1}));
  EXPECT_EQ(plan.paired_with, (Slots{3}));
  EXPECT_EQ(plan.labels, (Slots{0}));
}

// Several labels ahead of their predictions, interleaved with others: each pairs with its own
// prediction's slot, and the second label of an id (before or after its prediction) is a
// duplicate.
TEST(BatchPlanner, ManyLabelsBeforeTheirPredictionsPairWithTheRightSlots) {
  Planned p;
  p.slots = {label(0, 0, "k3"), label(1, 0, "k1"), label(0, 1, "k2"), label(0, 2, "k3"), prediction(0, 0, "k1"),
             prediction(1, 0, "k2"), label(1, 1, "none"), prediction(2, 0, "k3"), label(1, 2, "k1")};
  const BatchPlan& plan = p.plan();
  EXPECT_EQ(plan.predictions, (Slots{4, 5, 7}));
  EXPECT_EQ(plan.paired_labels, (Slots{0, 1, 2}));  // in ring order
  EXPECT_EQ(plan.paired_with, (Slots{7, 4, 5}));
  EXPECT_EQ(plan.label_duplicates, 2u);  // slot 3 (k3 again) and slot 8 (k1 again)
  EXPECT_EQ(plan.labels, (Slots{6}));
}

// Every reason is counted on its own, the counts add up to the letters, and the next batch
// starts from zero.
TEST(BatchPlanner, DeadLettersCountedByEveryReasonAndResetPerBatch) {
  Planned p;
  std::int64_t offset = 0;
  std::size_t expected_letters = 0;
  for (int r = 1; r < kRejectReasonCount; ++r) {  // 0 is kNone
    for (int k = 0; k < r; ++k) {                 // reason r appears r times
      p.slots.push_back(letter(r % 3, offset++, static_cast<RejectReason>(r)));
      ++expected_letters;
    }
  }
  p.slots.push_back(prediction(0, offset++, "ok"));
  const BatchPlan& plan = p.plan();
  ASSERT_EQ(plan.letters.size(), expected_letters);
  std::uint64_t sum = 0;
  for (int r = 0; r < kRejectReasonCount; ++r) {
    EXPECT_EQ(plan.letters_by_reason[static_cast<std::size_t>(r)], static_cast<std::uint64_t>(r))
        << reason_code(static_cast<RejectReason>(r));
    sum += plan.letters_by_reason[static_cast<std::size_t>(r)];
  }
  EXPECT_EQ(sum, plan.letters.size());
  EXPECT_EQ(plan.predictions.size(), 1u);

  p.slots = {letter(0, offset++, RejectReason::kMissingField)};
  const BatchPlan& next = p.plan();
  EXPECT_EQ(next.letters, (Slots{0}));
  for (int r = 0; r < kRejectReasonCount; ++r) {
    EXPECT_EQ(next.letters_by_reason[static_cast<std::size_t>(r)], r == static_cast<int>(RejectReason::kMissingField) ? 1u : 0u)
        << reason_code(static_cast<RejectReason>(r));
  }
  EXPECT_TRUE(next.predictions.empty());
}

// unpair(): every paired label joins the other labels, the whole list in ring order; nothing else
// of the plan changes (predictions, duplicates, letters), and with nothing paired it is a no-op.
TEST(BatchPlanner, UnpairMergesPairedIntoLabelsInRingOrderAndTouchesNothingElse) {
  Planned p;
  p.slots = {label(0, 0, "u1"),  prediction(0, 0, "a"), label(0, 1, "b"), letter(0, 1, RejectReason::kTooDeep),
             label(0, 2, "u2"),  prediction(1, 0, "b"), label(0, 3, "a"), label(0, 4, "a"),
             prediction(1, 1, "a")};
  const BatchPlan& before = p.plan();
  ASSERT_EQ(before.paired_labels, (Slots{2, 6}));
  ASSERT_EQ(before.labels, (Slots{0, 4}));
  ASSERT_EQ(before.label_duplicates, 1u);
  const Slots predictions = before.predictions;
  p.planner.unpair();
  const BatchPlan& after = p.planner.current();
  EXPECT_EQ(after.labels, (Slots{0, 2, 4, 6}));
  EXPECT_TRUE(after.paired_labels.empty());
  EXPECT_TRUE(after.paired_with.empty());
  EXPECT_EQ(after.predictions, predictions);
  EXPECT_EQ(after.prediction_duplicates, 1u);
  EXPECT_EQ(after.label_duplicates, 1u);
  EXPECT_EQ(after.letters, (Slots{3}));
  p.planner.unpair();  // again: nothing left to move
  EXPECT_EQ(p.planner.current().labels, (Slots{0, 2, 4, 6}));

  Planned q;
  q.slots = {label(0, 0, "z"), prediction(0, 0, "a")};
  q.plan();
  q.planner.unpair();
  EXPECT_EQ(q.planner.current().labels, (Slots{0}));
}

TEST(BatchPlanner, EmptyBatchPlansNothing) {
  Planned p;
  p.slots = {prediction(0, 0, "a"), label(0, 0, "a"), letter(1, 0, RejectReason::kTombstone)};
  p.plan();
  p.slots.clear();
  const BatchPlan& plan = p.plan();
  EXPECT_TRUE(plan.predictions.empty());
  EXPECT_TRUE(plan.paired_labels.empty());
  EXPECT_TRUE(plan.labels.empty());
  EXPECT_TRUE(plan.letters.empty());
  EXPECT_EQ(plan.stale + plan.prediction_duplicates + plan.label_duplicates, 0u);
  EXPECT_EQ(plan.letters_by_reason[static_cast<std::size_t>(RejectReason::kTombstone)], 0u);
}

TEST(IdIndex, FindsWhatWasInsertedAndRefusesDuplicates) {
  IdIndex index;
  index.reset(3);
  std::vector<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.push_back("id-" + std::to_string(i));
  index.reset(ids.size());
  for (std::uint32_t i = 0; i < ids.size(); ++i) ASSERT_TRUE(index.insert(ids[i], i));
  for (std::uint32_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(index.find(ids[i]), i);
    EXPECT_FALSE(index.insert(ids[i], 7));
  }
  EXPECT_EQ(index.find("absent"), IdIndex::kAbsent);
  index.reset(4);
  EXPECT_EQ(index.find("id-1"), IdIndex::kAbsent);
}

TEST(IdSortKey, OrdersIdsAsTheirBytesDo) {
  // Ids that differ in each word of the digest's prefix, share it and differ after it, or are
  // prefixes of one another.
  const std::vector<std::string> ids = {
      "pred-7-0000000001", "pred-7-0000000010", "pred-7-00000000010", "pred-7-000000000", "b",
      "a",                 "a0",                std::string(24, 'x'), std::string(24, 'x') + "a",
      std::string(24, 'x') + "b", std::string(23, 'x') + "y", std::string(30, 'x'), std::string(16, 'x') + "0",
      std::string(16, 'x') + "00000000", std::string(8, 'z') + "a", std::string(8, 'z')};
  std::vector<IdSortKey> keys;
  for (std::uint32_t i = 0; i < ids.size(); ++i) keys.push_back(IdSortKey{IdDigest::of(ids[i]).prefix, ids[i], i});
  std::sort(keys.begin(), keys.end());
  std::vector<std::string> sorted_by_key;
  for (const IdSortKey& k : keys) sorted_by_key.push_back(ids[k.slot]);
  std::vector<std::string> expected = ids;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(sorted_by_key, expected);
  for (const IdSortKey& k : keys) EXPECT_FALSE(k < k);
}

TEST(DaysBetween, FloorsLikePostgres) {
  EXPECT_EQ(days_between(0, 3 * kDay + 3600LL * 1000000), 3);
  EXPECT_EQ(days_between(0, 3 * kDay), 3);
  EXPECT_EQ(days_between(0, 3 * kDay - 1), 2);
  EXPECT_EQ(days_between(0, -1), -1);  // floor(-0.000…) = -1, as floor(extract(epoch …)/86400)
  EXPECT_EQ(days_between(5 * kDay, 0), -5);
  EXPECT_EQ(days_between(0, 0), 0);
}

TEST(PairedLabel, FillsInDaysDelayedFromThePredictionOnlyWhenAbsent) {
  const Envelope p = prediction(0, 0, "a", 10 * kDay);
  const Envelope without = label(0, 0, "a", 12 * kDay + 5);
  const Envelope with = label(0, 1, "a", 12 * kDay + 5, 40);
  std::string out = "before";  // appended to what the buffer holds
  append_paired_label(without.tuple, p, out);
  ASSERT_EQ(out.size(), 6 + without.tuple.size() + 4);  // NULL's length word → length word + int4
  EXPECT_EQ(out.substr(0, 6), "before");
  // The four fields before days_delayed as the event's tuple had them.
  EXPECT_EQ(out.substr(6, without.tuple.size() - 4), without.tuple.substr(0, without.tuple.size() - 4));
  out.erase(0, 6);
  int fields = 0;
  pg::for_each_field(out, [&](int i, const char* data, std::int32_t len) {
    ++fields;
    if (i == 4) {
      ASSERT_EQ(len, 4);
      EXPECT_EQ(static_cast<std::int32_t>(testing::be32(data)), 2);
    }
  });
  EXPECT_EQ(fields, 5);
  out.clear();
  append_paired_label(with.tuple, p, out);
  EXPECT_EQ(out, with.tuple);  // nothing to fill in: the row as sent
}

TEST(ArrayParams, BinaryArraysInPostgresArrayRecvFormat) {
  const pg::ElementType types[] = {pg::ElementType::kText, pg::ElementType::kInt4};
  pg::ArrayParams arrays;
  arrays.reset(types);
  std::string t1, t2;
  pg::CopyTupleWriter w1(t1);
  w1.begin(2);
  w1.bytes("ab");
  w1.int4(7);
  pg::CopyTupleWriter w2(t2);
  w2.begin(2);
  w2.bytes("c");
  w2.null();
  arrays.add_tuple(t1);
  arrays.add_tuple(t2);
  const auto& params = arrays.params();
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].type_oid, 1009u);  // text[]
  EXPECT_EQ(params[1].type_oid, 1007u);  // int4[]
  const std::string text_array("\0\0\0\1\0\0\0\0\0\0\0\x19\0\0\0\2\0\0\0\1\0\0\0\2ab\0\0\0\1c", 31);
  EXPECT_EQ(std::string(params[0].bytes), text_array);
  const std::string int_array("\0\0\0\1\0\0\0\1\0\0\0\x17\0\0\0\2\0\0\0\1\0\0\0\4\0\0\0\7\xff\xff\xff\xff", 32);
  EXPECT_EQ(std::string(params[1].bytes), int_array);  // has-null flag set
  arrays.reset(types);
  EXPECT_EQ(arrays.rows(), 0u);
}

}  // namespace
}  // namespace mlops_ingest
