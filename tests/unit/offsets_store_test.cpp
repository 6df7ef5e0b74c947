// OffsetsStore's fence against a PostgreSQL that lost committed batches: after a batch locked
// its partitions, a `stored` next_offset below what this writer itself committed stops the
// writer. The locked rows are fed as Partition values (what begin_and_lock would set), so no
// server is needed.
#include "write/offsets_store.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "mlops_ingest/config/config.hpp"

namespace mlops_ingest {
namespace {

// One batch over `topic`/`partition`: locked at `stored`, writing up to `threshold`.
void lock(OffsetsStore& store, TopicKind topic, std::int32_t partition, std::int64_t stored,
          std::int64_t threshold) {
  OffsetsStore::Partition& p = store.partition_of(topic, partition);
  p.stored = stored;
  p.threshold = threshold;
}

// A batch that committed partition (topic, partition) from `stored` up to `threshold`.
void commit(OffsetsStore& store, TopicKind topic, std::int32_t partition, std::int64_t stored,
            std::int64_t threshold) {
  store.clear();
  lock(store, topic, partition, stored, threshold);
  store.check_no_regression();
  store.remember_committed();
}

TEST(OffsetsStoreTest, FirstBatchOfAPartitionHasNothingToCompare) {
  const Config cfg;
  OffsetsStore store(cfg);
  lock(store, TopicKind::kPredictions, 0, 0, 10);
  EXPECT_NO_THROW(store.check_no_regression());
}

TEST(OffsetsStoreTest, StoredAtOrAboveWhatThisWriterCommittedPasses) {
  const Config cfg;
  OffsetsStore store(cfg);
  commit(store, TopicKind::kPredictions, 0, 0, 100);
  store.clear();
  lock(store, TopicKind::kPredictions, 0, 100, 100);  // as this writer left it
  EXPECT_NO_THROW(store.check_no_regression());
  store.clear();
  lock(store, TopicKind::kPredictions, 0, 250, 250);  // moved on by another writer (a rebalance)
  EXPECT_NO_THROW(store.check_no_regression());
}

TEST(OffsetsStoreTest, StoredBelowWhatThisWriterCommittedThrows) {
  Config cfg;
  cfg.topic_of(TopicKind::kPredictions) = "preds";
  OffsetsStore store(cfg);
  commit(store, TopicKind::kPredictions, 3, 0, 100);
  store.clear();
  lock(store, TopicKind::kPredictions, 3, 40, 40);
  try {
    store.check_no_regression();
    FAIL() << "a next_offset below the committed one passed";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("preds partition 3 went back from 100 to 40"), std::string::npos) << what;
    EXPECT_NE(what.find("PostgreSQL lost committed batches"), std::string::npos) << what;
  }
}

TEST(OffsetsStoreTest, ComparesPartitionsOfTheSameTopicAndNumberOnly) {
  const Config cfg;
  OffsetsStore store(cfg);
  commit(store, TopicKind::kPredictions, 0, 0, 100);
  store.clear();
  lock(store, TopicKind::kLabels, 0, 5, 5);       // same number, other topic
  lock(store, TopicKind::kPredictions, 1, 7, 7);  // same topic, other number
  EXPECT_NO_THROW(store.check_no_regression());
  lock(store, TopicKind::kPredictions, 0, 99, 99);
  EXPECT_THROW(store.check_no_regression(), std::runtime_error);
}

TEST(OffsetsStoreTest, RemembersOnlyPartitionsTheBatchMoved) {
  const Config cfg;
  OffsetsStore store(cfg);
  commit(store, TopicKind::kPredictions, 0, 0, 100);
  // A later batch locked the partition at 100 but wrote nothing there (all stale): its
  // threshold did not move, so the remembered 100 stands; the next batch is compared with it.
  commit(store, TopicKind::kPredictions, 0, 100, 100);
  store.clear();
  lock(store, TopicKind::kPredictions, 0, 99, 99);
  EXPECT_THROW(store.check_no_regression(), std::runtime_error);
  // The remembered offset moves forward with each commit.
  commit(store, TopicKind::kPredictions, 0, 100, 180);
  store.clear();
  lock(store, TopicKind::kPredictions, 0, 150, 150);
  EXPECT_THROW(store.check_no_regression(), std::runtime_error);
}

TEST(OffsetsStoreTest, EachPartitionOfEachTopicIsOneEntryPerBatch) {
  const Config cfg;
  OffsetsStore store(cfg);
  for (int round = 0; round < 2; ++round) {  // the second batch reuses the index the first cleared
    store.clear();
    store.partition_of(TopicKind::kLabels, 7).threshold = 70;
    store.partition_of(TopicKind::kPredictions, 7).threshold = 71;
    store.partition_of(TopicKind::kPredictions, 0).threshold = 1;
    EXPECT_EQ(store.partition_of(TopicKind::kLabels, 7).threshold, 70);
    EXPECT_EQ(store.partition_of(TopicKind::kPredictions, 7).threshold, 71);
    EXPECT_EQ(store.partition_of(TopicKind::kPredictions, 0).threshold, 1);
    ASSERT_EQ(store.partitions().size(), 3U);
    EXPECT_EQ(store.partitions()[0].topic, TopicKind::kLabels);
    EXPECT_EQ(store.partitions()[2].partition, 0);
  }
  store.clear();
  EXPECT_TRUE(store.partitions().empty());
  EXPECT_EQ(store.partition_of(TopicKind::kLabels, 7).threshold, -1);  // a fresh entry, not last batch's
  EXPECT_THROW(store.partition_of(TopicKind::kLabels, -1), std::out_of_range);
}

}  // namespace
}  // namespace mlops_ingest
