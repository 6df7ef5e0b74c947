#include "mlops_ingest/pipeline/ingester.hpp"

#include <cstdio>
#include <thread>

#include "consumer_loop.hpp"
#include "mlops_ingest/kafka/dead_letter_publisher.hpp"
#include "mlops_ingest/log.hpp"
#include "mlops_ingest/observe/endpoint.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"

namespace mlops_ingest {

Ingester::Ingester(Config config) : config_(std::move(config)) {}
Ingester::Ingester(Config config, ReplayWindow window) : config_(std::move(config)), replay_(std::move(window)) {}
Ingester::~Ingester() = default;

int Ingester::run() {
  started_ns_ = monotonic_ns();
  OffsetLedger ledger;
  std::unique_ptr<kafka::DeadLetterPublisher> dead_letter_topic;
  if (!config_.dead_letter_topic.empty()) {
    dead_letter_topic = std::make_unique<kafka::DeadLetterPublisher>(config_.brokers, config_.dead_letter_topic,
                                                                      config_.kafka_properties);
  }
  std::vector<std::unique_ptr<BatchWriter>> writers;
  for (int i = 0; i < config_.writers; ++i) {
    writers.push_back(std::make_unique<BatchWriter>(i, config_, stats_, ledger, dead_letter_topic.get()));
  }
  // The operations endpoint (/metrics, /healthz, /readyz). Before the writers start: a port in
  // use stops startup before anything is consumed. Declared after `writers`, which its probes
  // read, so that it is destroyed before them.
  std::atomic<bool> draining{false};
  std::unique_ptr<observe::Endpoint> endpoint;
  if (!config_.http_listen.empty()) {
    observe::IngesterProbes probes;
    probes.failed_writers = [&writers] {
      int failed = 0;
      for (const auto& w : writers) failed += w->failed() ? 1 : 0;
      return failed;
    };
    probes.stopping = [this, &draining] { return stop_.load() || draining.load(); };
    endpoint = std::make_unique<observe::Endpoint>(config_, stats_, std::move(probes));
  }
  for (auto& w : writers) w->start();

  ConsumerLoop loop(config_, stats_, ledger, writers, replay_ ? &*replay_ : nullptr);
  log_info("consuming '" + config_.predictions_topic + "' and '" + config_.labels_topic + "' from " +
           config_.brokers + " as group '" + config_.group + "' with " + std::to_string(config_.writers) +
           " writers");
  loop.run(stop_);
  draining = true;

  // Drain: everything already taken from Kafka is committed if it can be within the timeout;
  // what is not stays uncommitted in PostgreSQL and Kafka and is read again on restart.
  log_info("stopping: flushing in-flight batches");
  const auto deadline = std::chrono::steady_clock::now() + config_.shutdown_timeout;
  loop.finish(deadline);
  for (auto& w : writers) w->request_stop(deadline);
  bool failed = false;
  std::size_t left = 0;
  for (auto& w : writers) {
    w->join();
    failed = failed || w->failed();
    left += w->ring().size();
  }
  loop.close();
  if (left > 0) {
    log_warn(std::to_string(left) + " rows were not committed before shutdown_timeout_ms; "
             "they will be consumed again on restart");
  }
  log_info(summary());
  if (failed) return 1;
  if (replay_ && !loop.replay_complete()) {
    log_warn("replay stopped before the end of its window; the same command (same --group) continues from "
             "where it stopped");
    return kReplayStopped;
  }
  return 0;
}

std::string Ingester::summary() const {
  const IngestStats& s = stats_;
  const std::int64_t first = s.first_message_ns.load(), last = s.last_commit_ns.load();
  const double active = (first > 0 && last > first) ? static_cast<double>(last - first) / 1e9 : 0.0;
  const std::uint64_t rows = s.rows_stored() + s.prediction_duplicates + s.label_duplicates + s.dead_letters;
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "summary: messages %llu | predictions inserted %llu, duplicates skipped %llu | labels "
                "inserted %llu, pended %llu, released %llu, duplicates skipped %llu | labels paired in "
                "memory %llu, parked %s | stale (other "
                "instance) %llu | dead letters %llu (%s) | batches %llu | postgres retries %llu, "
                "reconnects %llu | pauses %llu | writers committing %.2f s | active %.2f s, %.0f messages/s",
                static_cast<unsigned long long>(s.messages_consumed.load()),
                static_cast<unsigned long long>(s.predictions_inserted.load()),
                static_cast<unsigned long long>(s.prediction_duplicates.load()),
                static_cast<unsigned long long>(s.labels_inserted.load()),
                static_cast<unsigned long long>(s.labels_pended.load()),
                static_cast<unsigned long long>(s.labels_released.load()),
                static_cast<unsigned long long>(s.label_duplicates.load()),
                static_cast<unsigned long long>(s.labels_paired.load()), s.labels_parked_percent().c_str(),
                static_cast<unsigned long long>(s.stale_skipped.load()),
                static_cast<unsigned long long>(s.dead_letters.load()), s.dead_letter_breakdown().c_str(),
                static_cast<unsigned long long>(s.batches_committed.load()),
                static_cast<unsigned long long>(s.pg_retries.load()),
                static_cast<unsigned long long>(s.pg_reconnects.load()),
                static_cast<unsigned long long>(s.pauses.load()), static_cast<double>(s.writer_commit_ns.load()) / 1e9,
                active,
                active > 0 ? static_cast<double>(rows) / active : 0.0);
  return buf;
}

}  // namespace mlops_ingest
