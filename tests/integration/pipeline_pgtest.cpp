// The core pipeline against a real PostgreSQL and the embedded Kafka broker, with events
// produced by real Kafka clients (librdkafka, and kcat as an independent one).
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <future>
#include <thread>

#include "mlops_ingest/devtools/dev_broker.hpp"
#include "mlops_ingest/devtools/event_generator.hpp"
#include "mlops_ingest/kafka/kafka_handles.hpp"
#include "test_env.hpp"

namespace mlops_ingest::testing {
namespace {

using namespace std::chrono_literals;

kafka::GeneratorOptions generator(const kafka::DevBroker& broker, std::uint64_t predictions, std::uint64_t seed) {
  kafka::GeneratorOptions o;
  o.brokers = broker.bootstrap_servers();
  o.predictions = predictions;
  o.seed = seed;
  return o;
}

std::int64_t stored_offsets_sum(const TestDatabase& db, const std::string& topic) {
  return db.count("SELECT COALESCE(sum(next_offset), 0) FROM ingest_offsets WHERE topic = '" + topic + "'");
}

TEST(PipelinePgTest, ExactCountsWithDuplicatesAndEarlyLabels) {
  TestDatabase db;
  kafka::DevBroker broker({"predictions", "labels"}, 8);
  kafka::GeneratorOptions o = generator(broker, 20000, 11);
  o.duplicate_ratio = 0.02;
  o.early_label_ratio = 0.1;
  const kafka::GeneratorReport sent = kafka::produce_events(o);
  ASSERT_GT(sent.duplicate_predictions, 0u);
  ASSERT_GT(sent.early_labels, 0u);

  const RunResult run = run_until_idle(test_config(broker.bootstrap_servers(), db.dsn()));
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(db.count("SELECT count(*) FROM prediction_logs"), static_cast<std::int64_t>(sent.unique_predictions));
  EXPECT_EQ(db.count("SELECT count(DISTINCT prediction_id) FROM prediction_logs"),
            static_cast<std::int64_t>(sent.unique_predictions));
  EXPECT_EQ(db.count("SELECT count(*) FROM label_store"), static_cast<std::int64_t>(sent.unique_labels));
  EXPECT_EQ(db.count("SELECT count(*) FROM label_pending"), 0);
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_dead_letters"), 0);
  EXPECT_EQ(run.predictions, sent.unique_predictions);
  EXPECT_EQ(run.prediction_duplicates, sent.duplicate_predictions);
  EXPECT_EQ(run.label_duplicates, sent.duplicate_labels);
  EXPECT_EQ(run.labels + run.labels_released, sent.unique_labels);
  // Every message's offset is committed: partitions start at 0, so the stored next offsets add
  // up to the number of messages per topic.
  EXPECT_EQ(stored_offsets_sum(db, "predictions"), static_cast<std::int64_t>(sent.predictions_sent));
  EXPECT_EQ(stored_offsets_sum(db, "labels"), static_cast<std::int64_t>(sent.labels_sent));
  // days_delayed is filled in whether the event carried it or not.
  EXPECT_EQ(db.count("SELECT count(*) FROM label_store WHERE days_delayed IS NULL OR days_delayed < 1"), 0);
}

TEST(PipelinePgTest, ExactValuesFromAnIndependentClient) {
  TestDatabase db;
  kafka::DevBroker broker({"predictions", "labels"}, 2);
  const std::string lines =
      "k1\t{\"prediction_id\":\"k1\",\"created_at\":\"2026-01-05T14:00:00.123+02:00\",\"model_version\":\"v12\","
      "\"model_stage\":\"production\",\"prediction\":1,\"probability\":0.83,\"features\":{\"age\":45,"
      "\"debt_ratio\":0.35,\"monthly_income\":5400.0,\"number_dependents\":2},\"request_source\":\"api-gateway\","
      "\"response_time_ms\":12}\n"
      "k2\t{\"response_time_ms\":7,\"age\":45.0,\"debt_ratio\":null,\"prediction_id\":\"k2\",\"extra\":{\"a\":[1]},"
      "\"created_at\":\"2026-01-05T06:30:00Z\",\"prediction\":0,\"probability\":0.1}\n";
  const std::string cmd = "kcat -P -b " + broker.bootstrap_servers() + " -t predictions -K'\t' -X log_level=3";
  FILE* pipe = popen(cmd.c_str(), "w");
  ASSERT_NE(pipe, nullptr);
  std::fputs(lines.c_str(), pipe);
  ASSERT_EQ(pclose(pipe), 0) << "kcat failed (is the kcat package installed?)";
  const std::string label_cmd = "kcat -P -b " + broker.bootstrap_servers() + " -t labels -K'\t' -X log_level=3";
  pipe = popen(label_cmd.c_str(), "w");
  ASSERT_NE(pipe, nullptr);
  std::fputs("k1\t{\"prediction_id\":\"k1\",\"true_label\":1,\"label_timestamp\":\"2026-02-04T13:00:00Z\","
             "\"label_source\":\"collections\"}\n"
             "k2\t{\"prediction_id\":\"k2\",\"true_label\":0,\"label_timestamp\":\"2026-01-06T06:30:00Z\","
             "\"days_delayed\":5}\n",
             pipe);
  ASSERT_EQ(pclose(pipe), 0);

  const RunResult run = run_until_idle(test_config(broker.bootstrap_servers(), db.dsn()));
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(db.value("SELECT concat_ws('|', created_at, model_version, model_stage, prediction, probability, age, "
                     "debt_ratio, monthly_income, number_dependents, request_source, response_time_ms) "
                     "FROM prediction_logs WHERE prediction_id = 'k1'"),
            "2026-01-05 12:00:00.123|v12|production|1|0.83|45|0.35|5400|2|api-gateway|12");
  EXPECT_EQ(db.value("SELECT concat_ws('|', created_at, coalesce(model_version, 'NULL'), prediction, probability, "
                     "age, coalesce(debt_ratio::text, 'NULL'), response_time_ms) FROM prediction_logs "
                     "WHERE prediction_id = 'k2'"),
            "2026-01-05 06:30:00|NULL|0|0.1|45|NULL|7");
  // days_delayed computed from the timestamps when absent (30 days and 1 hour → 30).
  EXPECT_EQ(db.value("SELECT concat_ws('|', true_label, label_timestamp, label_source, days_delayed) FROM label_store "
                     "WHERE prediction_id = 'k1'"),
            "1|2026-02-04 13:00:00|collections|30");
  EXPECT_EQ(db.value("SELECT days_delayed FROM label_store WHERE prediction_id = 'k2'"), "5");
}

TEST(PipelinePgTest, LabelsBeforeTheirPredictionsWaitInPending) {
  TestDatabase db;
  kafka::DevBroker broker({"predictions", "labels"}, 4);
  const std::uint64_t seed = 21, n = 3000;
  const Messages labels = synthetic_labels(seed, n), predictions = synthetic_predictions(seed, n);
  produce(broker.bootstrap_servers(), "labels", labels);
  RunResult first = run_until_idle(test_config(broker.bootstrap_servers(), db.dsn()));
  EXPECT_EQ(first.labels_pended, n);
  EXPECT_EQ(db.count("SELECT count(*) FROM label_pending"), static_cast<std::int64_t>(n));
  EXPECT_EQ(db.count("SELECT count(*) FROM label_store"), 0);

  produce(broker.bootstrap_servers(), "predictions", predictions);
  RunResult second = run_until_idle(test_config(broker.bootstrap_servers(), db.dsn()));
  EXPECT_EQ(second.predictions, n);
  EXPECT_EQ(second.labels_released, n);
  EXPECT_EQ(db.count("SELECT count(*) FROM label_pending"), 0);
  EXPECT_EQ(db.count("SELECT count(*) FROM label_store"), static_cast<std::int64_t>(n));
  EXPECT_EQ(db.count("SELECT count(*) FROM label_store WHERE days_delayed IS NULL"), 0);
}

// Labels co-routed with their predictions (same partition number, same writer) are paired in
// memory when both are in one batch: straight into label_store, days_delayed computed by the
// writer — and it must be exactly what PostgreSQL computes for the labels it decides.
TEST(PipelinePgTest, LabelsPairedInMemoryMatchWhatPostgresComputes) {
  TestDatabase db;
  kafka::DevBroker broker({"predictions", "labels"}, 2);
  const std::uint64_t seed = 23, n = 4000;
  const Messages labels = synthetic_labels(seed, n), predictions = synthetic_predictions(seed, n);
  // Interleaved as model servers would send them: a chunk of predictions, then their labels.
  constexpr std::size_t kChunk = 200;
  for (std::size_t at = 0; at < n; at += kChunk) {
    const auto end = static_cast<std::ptrdiff_t>(std::min<std::size_t>(at + kChunk, n));
    const auto begin = static_cast<std::ptrdiff_t>(at);
    produce(broker.bootstrap_servers(), "predictions", {predictions.begin() + begin, predictions.begin() + end});
    produce(broker.bootstrap_servers(), "labels", {labels.begin() + begin, labels.begin() + end});
  }
  Config config = test_config(broker.bootstrap_servers(), db.dsn());
  config.batch_rows = 2000;  // room for both halves of many predictions in one batch
  const RunResult run = run_until_idle(config);
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_GT(run.labels_paired, 0u);
  EXPECT_EQ(run.labels_pended, 0u);  // none was early: alignment and pairing leave nothing to park
  EXPECT_EQ(db.count("SELECT count(*) FROM label_store"), static_cast<std::int64_t>(n));
  EXPECT_EQ(db.count("SELECT count(*) FROM label_pending"), 0);
  // Half of the events carry days_delayed (equal to the computed value), half do not.
  EXPECT_EQ(db.count("SELECT count(*) FROM label_store l JOIN prediction_logs p USING (prediction_id) "
                     "WHERE l.days_delayed IS DISTINCT FROM "
                     "floor(extract(epoch FROM (l.label_timestamp - p.created_at)) / 86400)::integer"),
            0);
}

// Correctness never depends on co-routing: labels keyed differently from their predictions
// land in other partitions, so another writer decides them while their predictions are being
// stored — the race the check after commit resolves. Everything ends in label_store, once.
TEST(PipelinePgTest, LabelsOutsideTheirPredictionsPartitionStillLandExactlyOnce) {
  TestDatabase db;
  kafka::DevBroker broker({"predictions", "labels"}, 8);
  const std::uint64_t seed = 25, n = 20000;
  const Messages predictions = synthetic_predictions(seed, n);
  Messages labels = synthetic_labels(seed, n);
  for (std::uint64_t i = 0; i < n; ++i) labels[i].first = "other-key-" + std::to_string(i);
  Config config = test_config(broker.bootstrap_servers(), db.dsn());
  config.batch_linger = std::chrono::milliseconds(0);
  // No sweep during the test (the safety net for a writer that crashed before its check): the
  // checks after commit alone must move every parked label.
  config.pending_sweep_interval = std::chrono::hours(1);
  Ingester ingester(config);
  auto done = std::async(std::launch::async, [&] { return ingester.run(); });
  std::thread labels_producer([&] { produce(broker.bootstrap_servers(), "labels", labels); });
  produce(broker.bootstrap_servers(), "predictions", predictions);
  labels_producer.join();
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < deadline &&
         (db.count("SELECT count(*) FROM label_store") < static_cast<std::int64_t>(n) ||
          db.count("SELECT count(*) FROM label_pending") > 0)) {
    std::this_thread::sleep_for(100ms);
  }
  ingester.request_stop();
  EXPECT_EQ(done.get(), 0);
  EXPECT_EQ(db.count("SELECT count(*) FROM prediction_logs"), static_cast<std::int64_t>(n));
  EXPECT_EQ(db.count("SELECT count(*) FROM label_store"), static_cast<std::int64_t>(n));
  EXPECT_EQ(db.count("SELECT count(*) FROM label_pending"), 0);
  const IngestStats& s = ingester.stats();
  EXPECT_EQ(s.labels_inserted + s.labels_released, n);
  EXPECT_EQ(s.label_duplicates.load(), 0u);
}

TEST(PipelinePgTest, RestartResumesWithoutLossOrDuplication) {
  TestDatabase db;
  kafka::DevBroker broker({"predictions", "labels"}, 8);
  kafka::GeneratorOptions o = generator(broker, 30000, 31);
  o.duplicate_ratio = 0.02;
  const kafka::GeneratorReport sent = kafka::produce_events(o);

  // First run: stopped (as by SIGTERM) part-way through the stream.
  Config config = test_config(broker.bootstrap_servers(), db.dsn());
  RunResult first;
  {
    Ingester ingester(config);
    auto done = std::async(std::launch::async, [&] { return ingester.run(); });
    while (ingester.stats().predictions_inserted.load() < 5000 &&
           done.wait_for(10ms) != std::future_status::ready) {
    }
    ingester.request_stop();
    first = snapshot(ingester, done.get());
  }
  EXPECT_EQ(first.exit_code, 0);
  ASSERT_LT(first.predictions, sent.unique_predictions) << "the stop came too late to test a restart";
  const std::int64_t after_first = db.count("SELECT count(*) FROM prediction_logs");
  EXPECT_EQ(after_first, static_cast<std::int64_t>(first.predictions));

  const RunResult second = run_until_idle(config);
  EXPECT_EQ(db.count("SELECT count(*) FROM prediction_logs"), static_cast<std::int64_t>(sent.unique_predictions));
  EXPECT_EQ(db.count("SELECT count(*) FROM label_store"), static_cast<std::int64_t>(sent.unique_labels));
  EXPECT_EQ(first.predictions + second.predictions, sent.unique_predictions);
  // Exactly once: had the second run re-read anything the first committed, it would have
  // counted those as extra duplicates.
  EXPECT_EQ(first.prediction_duplicates + second.prediction_duplicates, sent.duplicate_predictions);
  EXPECT_EQ(stored_offsets_sum(db, "predictions"), static_cast<std::int64_t>(sent.predictions_sent));
}

// Two members of one group share the partitions and, together, store everything exactly once —
// and each of them does store a share (with one member idle the test would prove nothing about
// two instances). How the share is guaranteed: the second member joins while the first is
// consuming a first wave (a rebalance mid-stream); once both own partitions, a second wave is
// produced over all 8 partitions, so each member has messages on its own partitions. Neither
// exits by itself (a member idle too early would hand its partitions to the other): both are
// stopped once the database holds everything, then the exact counts are checked.
TEST(PipelinePgTest, TwoInstancesInOneGroupStoreEverythingOnce) {
  TestDatabase db;
  kafka::DevBroker broker({"predictions", "labels"}, 8);
  constexpr int kPartitions = 2 * 8;  // both topics
  const kafka::GeneratorReport first_wave = kafka::produce_events(generator(broker, 10000, 41));
  Config config = test_config(broker.bootstrap_servers(), db.dsn());  // idle_exit 0: runs until stopped
  // Only the prediction/label pair: the embedded broker would create the other kinds' topics on
  // subscription, and their partitions would count in the assignment checked below.
  for (TopicKind k : {TopicKind::kModels, TopicKind::kAlerts, TopicKind::kRetraining}) config.topic_of(k) = "";
  ASSERT_EQ(config.idle_exit.count(), 0);
  Ingester a(config), b(config);
  auto run_a = std::async(std::launch::async, [&] { return a.run(); });
  std::future<int> run_b;
  // Whatever happens below, both members are stopped (and joined) before the test returns.
  struct StopBoth {
    Ingester &first, &second;
    std::future<int>&first_run, &second_run;
    ~StopBoth() {
      first.request_stop();
      second.request_stop();
      if (first_run.valid()) first_run.wait();
      if (second_run.valid()) second_run.wait();
    }
  } stop_both{a, b, run_a, run_b};
  auto wait_for = [](const std::function<bool()>& ready, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!ready()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(20ms);
    }
    return true;
  };

  // The second member joins while the first is consuming: a rebalance mid-stream.
  ASSERT_TRUE(wait_for([&] { return a.stats().predictions_inserted.load() > 0; }, 120s))
      << "the first member stored nothing";
  run_b = std::async(std::launch::async, [&] { return b.run(); });
  ASSERT_TRUE(wait_for(
      [&] {
        const int pa = a.stats().partitions_assigned.load(), pb = b.stats().partitions_assigned.load();
        return pa > 0 && pb > 0 && pa + pb == kPartitions;
      },
      120s))
      << "the group did not settle on two members: " << a.stats().partitions_assigned.load() << " + "
      << b.stats().partitions_assigned.load() << " partitions";
  const int a_partitions = a.stats().partitions_assigned.load(), b_partitions = b.stats().partitions_assigned.load();

  const kafka::GeneratorReport second_wave = kafka::produce_events(generator(broker, 10000, 42));
  const std::uint64_t unique_predictions = first_wave.unique_predictions + second_wave.unique_predictions;
  const std::uint64_t unique_labels = first_wave.unique_labels + second_wave.unique_labels;
  const std::int64_t predictions_sent = static_cast<std::int64_t>(first_wave.predictions_sent + second_wave.predictions_sent);
  const std::int64_t labels_sent = static_cast<std::int64_t>(first_wave.labels_sent + second_wave.labels_sent);
  const bool stored_all = wait_for(
      [&] {
        return stored_offsets_sum(db, "predictions") == predictions_sent &&
               stored_offsets_sum(db, "labels") == labels_sent &&
               db.count("SELECT count(*) FROM label_pending") == 0;
      },
      180s);
  a.request_stop();
  b.request_stop();
  const RunResult ra = snapshot(a, run_a.get()), rb = snapshot(b, run_b.get());
  ASSERT_TRUE(stored_all) << "not everything was stored within 180 s: offsets " << stored_offsets_sum(db, "predictions")
                          << "/" << predictions_sent << ", " << stored_offsets_sum(db, "labels") << "/" << labels_sent;
  EXPECT_EQ(ra.exit_code, 0);
  EXPECT_EQ(rb.exit_code, 0);

  // Exactly once, both instances together.
  EXPECT_EQ(db.count("SELECT count(*) FROM prediction_logs"), static_cast<std::int64_t>(unique_predictions));
  EXPECT_EQ(db.count("SELECT count(DISTINCT prediction_id) FROM prediction_logs"),
            static_cast<std::int64_t>(unique_predictions));
  EXPECT_EQ(db.count("SELECT count(*) FROM label_store"), static_cast<std::int64_t>(unique_labels));
  EXPECT_EQ(db.count("SELECT count(*) FROM label_pending"), 0);
  EXPECT_EQ(ra.predictions + rb.predictions, unique_predictions);
  EXPECT_EQ(ra.prediction_duplicates + rb.prediction_duplicates,
            first_wave.duplicate_predictions + second_wave.duplicate_predictions);
  EXPECT_EQ(ra.labels + ra.labels_released + rb.labels + rb.labels_released, unique_labels);
  EXPECT_EQ(stored_offsets_sum(db, "predictions"), predictions_sent);
  EXPECT_EQ(stored_offsets_sum(db, "labels"), labels_sent);

  // Each instance did its share: both stored predictions, and the second wave (produced once both
  // owned partitions) was not all taken by one of them.
  EXPECT_GT(ra.predictions, 0u) << "the first instance stored nothing";
  EXPECT_GT(rb.predictions, 0u) << "the second instance stored nothing (" << b_partitions
                                << " partitions assigned, first instance " << a_partitions << ")";
  EXPECT_GT(a.stats().messages_consumed.load(), 0u);
  EXPECT_GT(b.stats().messages_consumed.load(), 0u);
  std::printf("[ shares   ] instance A: %llu predictions (%d partitions at the second wave), "
              "instance B: %llu predictions (%d partitions)\n",
              static_cast<unsigned long long>(ra.predictions), a_partitions,
              static_cast<unsigned long long>(rb.predictions), b_partitions);
}

TEST(PipelinePgTest, BadEventsAreDeadLetteredAndNothingElseIsLost) {
  TestDatabase db;
  kafka::DevBroker broker({"predictions", "labels", "dead-letters"}, 4);
  kafka::GeneratorOptions o = generator(broker, 10000, 51);
  o.invalid_ratio = 0.02;
  const kafka::GeneratorReport sent = kafka::produce_events(o);
  ASSERT_GT(sent.invalid_events, 20u);
  // Envelope-level garbage too: an empty value, bytes that are not UTF-8, not an object.
  produce(broker.bootstrap_servers(), "labels", {{"x", ""}, {"y", "\xff\xfe{}"}, {"z", "[1,2]"}});

  Config config = test_config(broker.bootstrap_servers(), db.dsn());
  config.dead_letter_topic = "dead-letters";
  const RunResult run = run_until_idle(config);
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(db.count("SELECT count(*) FROM prediction_logs"), static_cast<std::int64_t>(sent.unique_predictions));
  EXPECT_EQ(db.count("SELECT count(*) FROM label_store"), static_cast<std::int64_t>(sent.unique_labels));
  EXPECT_EQ(db.count("SELECT count(*) FROM label_pending"), 0);
  // The optional mirror topic got every dead letter, with its reason as a header (read back with
  // kcat, an independent client).
  const std::string read = "kcat -C -b " + broker.bootstrap_servers() +
                           " -t dead-letters -o beginning -e -q -X log_level=3 -f '%h\\n'";
  FILE* pipe = popen(read.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string headers;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, pipe) != nullptr) headers += buf;
  ASSERT_EQ(pclose(pipe), 0);
  std::int64_t mirrored = 0, not_utf8 = 0;
  for (std::size_t pos = 0; (pos = headers.find("reason_code=", pos)) != std::string::npos; ++pos) ++mirrored;
  for (std::size_t pos = 0; (pos = headers.find("reason_code=invalid_utf8", pos)) != std::string::npos; ++pos) ++not_utf8;
  EXPECT_EQ(mirrored, static_cast<std::int64_t>(sent.invalid_events) + 3);
  EXPECT_EQ(not_utf8, 1);
  EXPECT_EQ(stored_offsets_sum(db, "labels"), static_cast<std::int64_t>(sent.labels_sent) + 3);
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_dead_letters WHERE topic = 'predictions'"),
            static_cast<std::int64_t>(sent.invalid_events));
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_dead_letters WHERE topic = 'labels'"), 3);
  EXPECT_EQ(db.value("SELECT string_agg(reason_code, ',' ORDER BY reason_code) FROM ingest_dead_letters "
                     "WHERE topic = 'labels'"),
            "empty_payload,invalid_utf8,not_an_object");
  EXPECT_GT(db.count("SELECT count(*) FROM ingest_dead_letters WHERE reason_code = 'out_of_range' "
                     "AND reason LIKE '%probability%'"), 0);
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_dead_letters WHERE payload IS NULL OR payload_bytes <> length(payload)"), 0);
}

TEST(PipelinePgTest, RowsPostgresRefusesAreDeadLetteredAloneAndTheRestLands) {
  TestDatabase db;
  // A rule the validator knows nothing about, as a DBA might add.
  db.exec("ALTER TABLE prediction_logs ADD CONSTRAINT no_age_33 CHECK (age <> 33)");
  kafka::DevBroker broker({"predictions", "labels"}, 4);
  kafka::GeneratorOptions o = generator(broker, 6000, 61);
  o.label_ratio = 0;
  o.duplicate_ratio = 0;
  const kafka::GeneratorReport sent = kafka::produce_events(o);
  std::int64_t refused = 0;
  for (std::uint64_t i = 0; i < o.predictions; ++i) {
    refused += kafka::synthetic_prediction(o.seed, i).find("\"age\":33,") != std::string::npos;
  }
  ASSERT_GT(refused, 10);

  const RunResult run = run_until_idle(test_config(broker.bootstrap_servers(), db.dsn()));
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(db.count("SELECT count(*) FROM prediction_logs"), static_cast<std::int64_t>(sent.unique_predictions) - refused);
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_dead_letters WHERE reason_code = 'database_rejected' "
                     "AND sqlstate = '23514' AND reason LIKE '%no_age_33%'"), refused);
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_dead_letters WHERE convert_from(payload, 'UTF8') NOT LIKE '%\"age\":33,%'"), 0);
  EXPECT_EQ(stored_offsets_sum(db, "predictions"), static_cast<std::int64_t>(sent.predictions_sent));
}

TEST(PipelinePgTest, CooperativeAssignmentStoresEverything) {
  // cooperative-sticky: librdkafka refuses the eager assign() under it, so a handler that did
  // not use the incremental calls would consume nothing at all.
  TestDatabase db;
  kafka::DevBroker broker({"predictions", "labels"}, 4);
  const kafka::GeneratorReport sent = kafka::produce_events(generator(broker, 5000, 62));
  Config config = test_config(broker.bootstrap_servers(), db.dsn());
  config.kafka_properties["partition.assignment.strategy"] = "cooperative-sticky";
  const RunResult run = run_until_idle(config);
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(db.count("SELECT count(*) FROM prediction_logs"), static_cast<std::int64_t>(sent.unique_predictions));
  EXPECT_EQ(db.count("SELECT count(*) FROM label_store"), static_cast<std::int64_t>(sent.unique_labels));
  EXPECT_EQ(stored_offsets_sum(db, "predictions"), static_cast<std::int64_t>(sent.predictions_sent));
}

TEST(PipelinePgTest, StopsWhenStoredOffsetsGoBackwards) {
  // PostgreSQL "forgetting" committed batches (a failover to an asynchronous standby, a restore)
  // while the ingester runs: it has consumed past them and would never read them again, so it
  // must stop (exit 1) instead of storing offsets over the gap; a restart re-reads them.
  TestDatabase db;
  kafka::DevBroker broker({"predictions", "labels"}, 2);
  std::vector<std::pair<std::string, std::string>> first, second;
  for (std::uint64_t i = 0; i < 2000; ++i) {
    (i < 1000 ? first : second).emplace_back(kafka::synthetic_prediction_id(71, i), kafka::synthetic_prediction(71, i));
  }
  produce(broker.bootstrap_servers(), "predictions", first);
  Ingester ingester(test_config(broker.bootstrap_servers(), db.dsn()));
  auto done = std::async(std::launch::async, [&] { return ingester.run(); });
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (ingester.stats().predictions_inserted.load() < 1000 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(ingester.stats().predictions_inserted.load(), 1000u);
  db.exec("UPDATE ingest_offsets SET next_offset = 0 WHERE topic = 'predictions'");
  produce(broker.bootstrap_servers(), "predictions", second);
  if (done.wait_for(60s) != std::future_status::ready) {
    ingester.request_stop();
    FAIL() << "the ingester kept running over a gap in the stored offsets";
  }
  EXPECT_EQ(done.get(), 1);
  EXPECT_EQ(db.count("SELECT count(*) FROM prediction_logs"), 1000);

  // A restart resumes from the (rewound) stored offsets: the first 1000 are duplicates now, the
  // second 1000 land.
  const RunResult again = run_until_idle(test_config(broker.bootstrap_servers(), db.dsn()));
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_EQ(again.prediction_duplicates, 1000u);
  EXPECT_EQ(db.count("SELECT count(*) FROM prediction_logs"), 2000);
}

}  // namespace
}  // namespace mlops_ingest::testing
