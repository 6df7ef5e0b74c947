// Labels whose prediction the same writer committed in an EARLIER batch (a backfill: the
// predictions come first in Kafka) are paired from what the writer remembers and copied into
// label_store — exactly once, with PostgreSQL's days_delayed, and with every case the memory
// cannot know (a prediction deleted since, a label stored by someone else, a duplicate) still
// decided by PostgreSQL. Against a real PostgreSQL and the embedded broker.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <future>
#include <thread>

#include "mlops_ingest/devtools/dev_broker.hpp"
#include "test_env.hpp"

namespace mlops_ingest::testing {
namespace {

using namespace std::chrono_literals;

bool wait_for(const std::function<bool()>& done, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return done();
}

TEST(LabelRecallPgTest, LabelsOfPredictionsCommittedEarlierLandExactlyOnce) {
  TestDatabase db;
  kafka::DevBroker broker({"predictions", "labels"}, 4);
  const std::uint64_t seed = 41, n = 3000;
  const Messages predictions = synthetic_predictions(seed, n);
  const Messages labels = synthetic_labels(seed, n);
  Config config = test_config(broker.bootstrap_servers(), db.dsn());
  Ingester ingester(config);
  auto done = std::async(std::launch::async, [&] { return ingester.run(); });

  // 1. Every prediction committed before any label is produced: no label can meet its
  //    prediction in a batch.
  produce(broker.bootstrap_servers(), "predictions", predictions);
  ASSERT_TRUE(wait_for([&] { return db.count("SELECT count(*) FROM prediction_logs") == static_cast<std::int64_t>(n); },
                       60s));
  // What the writers cannot know: a prediction deleted since (its label must wait in
  // label_pending, not fail or vanish) and a label another client stored (a duplicate).
  const std::string deleted = predictions[10].first, stored_elsewhere = predictions[20].first;
  db.exec("DELETE FROM prediction_logs WHERE prediction_id = '" + deleted + "'");
  db.exec("INSERT INTO label_store (prediction_id, true_label) VALUES ('" + stored_elsewhere + "', 0)");

  // 2. The labels, in two waves; the second repeats some of the first (duplicates in later batches).
  const Messages first_wave(labels.begin(), labels.begin() + 2000);
  produce(broker.bootstrap_servers(), "labels", first_wave);
  // 2000 labels: one parked, one a duplicate of the other client's row.
  ASSERT_TRUE(wait_for([&] { return db.count("SELECT count(*) FROM label_store") == 1999; }, 60s))
      << db.count("SELECT count(*) FROM label_store");
  Messages second_wave(labels.begin() + 2000, labels.end());
  constexpr std::size_t kRepeated = 50;
  second_wave.insert(second_wave.end(), labels.begin() + 100, labels.begin() + 100 + kRepeated);
  produce(broker.bootstrap_servers(), "labels", second_wave);
  // Every label but the deleted prediction's in label_store (stored_elsewhere's row is the
  // other client's), that one parked.
  const auto all_but_one = static_cast<std::int64_t>(n - 1);
  ASSERT_TRUE(wait_for(
      [&] {
        return db.count("SELECT count(*) FROM label_store") == all_but_one &&
               db.count("SELECT COALESCE(sum(next_offset), 0) FROM ingest_offsets WHERE topic = 'labels'") ==
                   static_cast<std::int64_t>(n + kRepeated);
      },
      60s))
      << db.count("SELECT count(*) FROM label_store");
  ingester.request_stop();
  EXPECT_EQ(done.get(), 0);

  EXPECT_EQ(db.count("SELECT count(*) FROM label_store"), all_but_one);
  EXPECT_EQ(db.count("SELECT count(DISTINCT prediction_id) FROM label_store"), all_but_one);
  EXPECT_EQ(db.count("SELECT count(*) FROM label_store WHERE prediction_id = '" + deleted + "'"), 0);
  EXPECT_EQ(db.value("SELECT prediction_id FROM label_pending"), deleted);
  EXPECT_EQ(db.value("SELECT true_label FROM label_store WHERE prediction_id = '" + stored_elsewhere + "'"), "0");
  // Stored once, and every label counted once: stored, parked or a duplicate.
  const IngestStats& s = ingester.stats();
  EXPECT_EQ(s.labels_inserted.load() + s.labels_released.load(), n - 2);
  EXPECT_EQ(s.labels_pended.load(), 1u);
  EXPECT_EQ(s.label_duplicates.load(), kRepeated + 1);
  // The first wave's batches holding the deleted prediction's or the stored label were refused
  // and went to PostgreSQL whole; the second wave's repeats were known as labelled, so none of
  // its batches was refused: every new label of it was recalled.
  EXPECT_GE(s.labels_recalled.load(), n - first_wave.size());
  EXPECT_EQ(s.labels_recalled.load(), s.labels_paired.load());  // none met its prediction in a batch
  // days_delayed computed in memory from the remembered created_at: what PostgreSQL computes.
  EXPECT_EQ(db.count("SELECT count(*) FROM label_store l JOIN prediction_logs p USING (prediction_id) "
                     "WHERE l.prediction_id <> '" + stored_elsewhere + "' AND l.days_delayed IS DISTINCT FROM "
                     "floor(extract(epoch FROM (l.label_timestamp - p.created_at)) / 86400)::integer"),
            0);
  EXPECT_EQ(db.count("SELECT sum(next_offset) FROM ingest_offsets WHERE topic = 'labels'"),
            static_cast<std::int64_t>(n + kRepeated));
}

// The recalled labels' COPY writes its rows in prediction_id order, as the predictions' COPY
// does (label_store's index then grows from left to right within a batch, where the event order
// would send every insert to another leaf). Labels produced in descending id order: without the
// sort each batch's rows would be stored descending, nearly every neighbour out of order; with
// it only a batch's first row can follow a larger id (one writer, so the heap keeps the order).
TEST(LabelRecallPgTest, APairedCopyStoresItsLabelsInPredictionIdOrder) {
  TestDatabase db;
  kafka::DevBroker broker({"predictions", "labels"}, 4);
  const std::uint64_t seed = 43, n = 3000;
  const Messages predictions = synthetic_predictions(seed, n);
  Messages labels = synthetic_labels(seed, n);
  std::sort(labels.begin(), labels.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  Config config = test_config(broker.bootstrap_servers(), db.dsn());
  config.writers = 1;
  Ingester ingester(config);
  auto done = std::async(std::launch::async, [&] { return ingester.run(); });
  produce(broker.bootstrap_servers(), "predictions", predictions);
  ASSERT_TRUE(wait_for([&] { return db.count("SELECT count(*) FROM prediction_logs") == static_cast<std::int64_t>(n); },
                       60s));
  produce(broker.bootstrap_servers(), "labels", labels);
  ASSERT_TRUE(wait_for([&] { return db.count("SELECT count(*) FROM label_store") == static_cast<std::int64_t>(n); },
                       60s))
      << db.count("SELECT count(*) FROM label_store");
  ingester.request_stop();
  EXPECT_EQ(done.get(), 0);

  const IngestStats& s = ingester.stats();
  EXPECT_EQ(s.labels_recalled.load(), n);  // every label through the paired COPY
  // Byte order, as the writer sorts (prediction_id's own collation may order '-' otherwise).
  const std::int64_t descents = db.count(
      "SELECT count(*) FROM (SELECT prediction_id COLLATE \"C\" < lag(prediction_id COLLATE \"C\") "
      "OVER (ORDER BY ctid) AS descends FROM label_store) t WHERE descends");
  const std::int64_t copies = db.count("SELECT count(DISTINCT xmin::text) FROM label_store");
  EXPECT_GT(copies, 0);
  EXPECT_LT(descents, copies) << descents << " descents over " << copies << " transactions";
}

}  // namespace
}  // namespace mlops_ingest::testing
