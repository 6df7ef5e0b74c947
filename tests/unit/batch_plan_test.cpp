// The batch planner, the in-batch id index, days_delayed in memory, paired label rows, and the
// binary array parameters: the writer's decisions, without PostgreSQL.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "mlops_ingest/pg/binary_params.hpp"
#include "mlops_ingest/pg/copy_encoder.hpp"
#include "mlops_ingest/pipeline/batch_plan.hpp"
#include "mlops_ingest/pipeline/row_encoder.hpp"

namespace mlops_ingest {
namespace {

constexpr std::int64_t kDay = 86400LL * 1000000LL;

Envelope prediction(std::int32_t partition, std::int64_t offset, const std::string& id, std::int64_t created = 0) {
  Envelope e;
  e.kind = EnvelopeKind::kPrediction;
  e.topic = TopicKind::kPredictions;
  e.partition = partition;
  e.offset = offset;
  PredictionEvent p;
  p.prediction_id = id;
  p.created_at = created;
  encode_prediction(p, 0, e.tuple);
  return e;
}

Envelope label(std::int32_t partition, std::int64_t offset, const std::string& id, std::int64_t ts = 0,
               std::optional<std::int32_t> days = std::nullopt) {
  Envelope e;
  e.kind = EnvelopeKind::kLabel;
  e.topic = TopicKind::kLabels;
  e.partition = partition;
  e.offset = offset;
  LabelEvent l;
  l.prediction_id = id;
  l.true_label = 1;
  l.label_timestamp = ts;
  l.days_delayed = days;
  encode_label(l, 0, e.tuple);
  return e;
}

Envelope letter(std::int32_t partition, std::int64_t offset, RejectReason reason) {
  Envelope e;
  e.kind = EnvelopeKind::kDeadLetter;
  e.topic = TopicKind::kPredictions;
  e.partition = partition;
  e.offset = offset;
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
  std::string out;
  append_paired_label(without.tuple, p.tuple, out);
  int fields = 0;
  pg::for_each_field(out, [&](int i, const char* data, std::int32_t len) {
    ++fields;
    if (i == 4) {
      ASSERT_EQ(len, 4);
      EXPECT_EQ(static_cast<std::int32_t>(pg::read_be16(data) << 16 | pg::read_be16(data + 2)), 2);
    }
  });
  EXPECT_EQ(fields, 5);
  out.clear();
  append_paired_label(with.tuple, p.tuple, out);
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
