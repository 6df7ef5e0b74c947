#pragma once
// Synthetic credit-scoring events for the main job, the bench and the tests: deterministic for a
// seed, with labels that arrive late (and some early, before their prediction), duplicates
// (producer retries, replays) and, optionally, malformed events. It reports exactly what a
// correct ingester must end up storing.
#include <cstdint>
#include <string>

namespace mlops_ingest::kafka {

inline constexpr std::int64_t kDefaultStartUnixSeconds = 1767225600;  // 2026-01-01T00:00:00Z

struct GeneratorOptions {
  std::string brokers;
  std::string predictions_topic = "predictions";
  std::string labels_topic = "labels";
  std::uint64_t predictions = 100000;
  std::uint64_t seed = 1;
  std::int64_t start_unix_seconds = kDefaultStartUnixSeconds;  // created_at of the first event (10 events/s)
  double label_ratio = 0.8;        // predictions that get a label
  double early_label_ratio = 0.05;  // of those, labels produced before their prediction
  double duplicate_ratio = 0.01;    // events sent a second time
  double invalid_ratio = 0.0;       // malformed prediction events (dead letters)
  std::string csv_path;             // also write the unique prediction rows as CSV (psql \copy)
  std::string labels_csv_path;      // ... and the label_store rows they must end as
  std::string compression = "lz4";
  // Keep each partition's backlog (produced, not yet committed in PostgreSQL) below
  // max_backlog messages: the embedded broker only keeps ~5 MB per partition.
  std::string throttle_pg;
  std::string throttle_group = "mlops-ingest";
  std::int64_t max_backlog = 8000;
};

struct GeneratorReport {
  std::uint64_t predictions_sent = 0;      // including duplicates and invalid events
  std::uint64_t labels_sent = 0;           // including duplicates
  std::uint64_t unique_predictions = 0;    // rows prediction_logs must end with
  std::uint64_t unique_labels = 0;         // rows label_store must end with
  std::uint64_t duplicate_predictions = 0;
  std::uint64_t duplicate_labels = 0;
  std::uint64_t early_labels = 0;
  std::uint64_t invalid_events = 0;        // rows ingest_dead_letters must end with
  double seconds = 0;
};

GeneratorReport produce_events(const GeneratorOptions& options);

// The i-th synthetic events as JSON (what produce_events sends), for tests.
std::string synthetic_prediction(std::uint64_t seed, std::uint64_t i,
                                 std::int64_t start_unix_seconds = kDefaultStartUnixSeconds);
std::string synthetic_label(std::uint64_t seed, std::uint64_t i,
                            std::int64_t start_unix_seconds = kDefaultStartUnixSeconds);
std::string synthetic_prediction_id(std::uint64_t seed, std::uint64_t i);

}  // namespace mlops_ingest::kafka
