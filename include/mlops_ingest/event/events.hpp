#pragma once
// The event shapes mlops-ingest accepts (docs/events.md is the contract). Fields are views
// into the parser's buffers: they stay valid until the parser's next parse call.
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "mlops_ingest/event/event_kinds.hpp"

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

// One field of a KindEvent, as the event carried it.
struct FieldValue {
  enum class State : std::uint8_t { kAbsent, kNull, kValue };
  State state = State::kAbsent;
  // kText: the text; kTextArray: the array already in PostgreSQL's binary array format;
  // kJsonb: the JSON text of the object as sent.
  std::string_view bytes;
  std::int64_t integer = 0;  // kInt4, kBoolean (0/1), kTimestamp (PgTimestamp)
  double number = 0;         // kFloat8
};

// An event of a kind parsed from its EventKindSpec alone (models, alerts, retraining, or any
// spec): one FieldValue per field of the spec, in the spec's order.
struct KindEvent {
  const EventKindSpec* spec = nullptr;  // the spec it was parsed by (set by parse_kind)
  std::array<FieldValue, kMaxKindFields> values{};

  // Bit i set: field i was in the event (with a value or null). An upsert updates those only.
  [[nodiscard]] std::uint32_t carried() const noexcept {
    std::uint32_t bits = 0;
    for (std::size_t i = 0; spec != nullptr && i < spec->fields.size(); ++i) {
      if (values[i].state != FieldValue::State::kAbsent) bits |= std::uint32_t{1} << i;
    }
    return bits;
  }
};

}  // namespace mlops_ingest
