#pragma once
// `mlops-ingest status --pg DSN [--brokers B] [--json]`: what an operator asks first, from the
// database (and Kafka, when brokers are given), without a running ingester:
//   - per consumer group and partition, the stored next offset (ingest_offsets) and, with
//     --brokers, the high watermark and the lag behind it;
//   - the ingest rate per group and topic: how far the stored offsets moved in a few seconds
//     (a backfill of old events shows here, not in the rows by event time);
//   - rows in the last 5 minutes and 24 hours for each of the five tables (by the table's own
//     time column), dead letters by reason in 24 hours;
//   - pending labels and the age of the oldest;
//   - the database documentation's four Common Queries (made to run on PostgreSQL, in UTC).
// All database figures come from one read-only REPEATABLE READ snapshot.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mlops_ingest::observe {

struct PartitionStatus {
  std::string group;
  std::string topic;
  std::int32_t partition = 0;
  std::optional<std::int64_t> next_offset;  // stored in PostgreSQL; none: no row yet
  std::string updated_at;                   // UTC, RFC 3339; empty without a row
  std::optional<std::int64_t> high_watermark;  // with --brokers
  std::optional<std::int64_t> lag;             // with --brokers: messages not yet stored
};

struct TableActivity {
  std::string table;
  std::string column;  // the timestamp the windows are over
  std::int64_t last_5m = 0;
  std::int64_t last_24h = 0;
};

// Messages whose offsets were committed to ingest_offsets during the sampling window, for one
// consumer group and topic (every partition), and that per second.
struct IngestRate {
  std::string group;
  std::string topic;
  std::int64_t messages = 0;
  double per_second = 0;
};

struct DriftAlert {
  std::string created_at;  // as stored (UTC by convention), RFC 3339 without offset
  std::string severity;
  std::optional<double> drift_share;
};

struct ModelAccuracy {
  std::optional<std::string> model_version;
  double accuracy = 0;
};

struct Status {
  std::vector<PartitionStatus> partitions;
  std::string kafka_error;  // with --brokers: why watermarks are missing, if they are
  double rate_window_seconds = 0;   // how long the offsets were watched; 0: not measured
  std::vector<IngestRate> ingest_rate;
  std::vector<TableActivity> tables;
  std::vector<std::pair<std::string, std::int64_t>> dead_letters_24h;  // by reason code
  std::int64_t labels_pending = 0;
  std::optional<double> oldest_pending_label_seconds;  // none when nothing is pending
  // Common Queries.
  std::int64_t prediction_volume_24h = 0;
  std::optional<double> label_coverage;  // none without predictions
  std::vector<ModelAccuracy> accuracy_by_model;
  std::vector<DriftAlert> recent_drift_alerts;
};

// Throws pg::PgError when PostgreSQL cannot answer. Kafka problems do not throw: they leave the
// watermarks empty and say why in kafka_error.
// rate_window > 0: ingest_offsets is read again after that long, for the ingest rate.
Status collect_status(const std::string& pg_dsn, const std::string& brokers,
                      std::chrono::milliseconds rate_window = std::chrono::milliseconds(0));

std::string format_status_text(const Status& status);
std::string format_status_json(const Status& status);

// The subcommand: parses its arguments, prints, returns the exit code. Throws ConfigError for
// bad arguments.
int run_status_command(const std::vector<std::string>& args);

}  // namespace mlops_ingest::observe
