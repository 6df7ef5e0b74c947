#pragma once
// The two event shapes mlops-ingest accepts (docs/events.md is the contract). Fields are views
// into the parser's buffers: they stay valid until the parser's next parse call.
#include <cstdint>
#include <optional>
#include <string_view>

namespace mlops_ingest {

// Microseconds since 2000-01-01T00:00:00Z: PostgreSQL's binary TIMESTAMP representation.
using PgTimestamp = std::int64_t;

struct PredictionEvent {
  std::string_view prediction_id;            // required, 1..255 characters
  std::optional<PgTimestamp> created_at;     // absent: the consumer uses the Kafka timestamp
  std::optional<std::string_view> model_version;   // <= 50 characters
  std::optional<std::string_view> model_stage;     // <= 20 characters
  std::optional<std::int32_t> prediction;          // 0 or 1
  std::optional<double> probability;               // [0, 1]
  std::optional<std::int32_t> age;
  std::optional<double> debt_ratio;
  std::optional<double> monthly_income;
  std::optional<std::int32_t> number_dependents;
  std::optional<std::string_view> request_source;  // <= 100 characters
  std::optional<std::int32_t> response_time_ms;
};

struct LabelEvent {
  std::string_view prediction_id;            // required, 1..255 characters
  std::int32_t true_label{0};                // required, 0 or 1
  std::optional<PgTimestamp> label_timestamp;      // absent: the Kafka timestamp
  std::optional<std::string_view> label_source;    // <= 100 characters
  std::optional<std::int32_t> days_delayed;        // absent: computed from the timestamps
};

}  // namespace mlops_ingest
