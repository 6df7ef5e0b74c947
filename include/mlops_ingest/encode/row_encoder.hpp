#pragma once
// Validated events → binary COPY tuples (consumer thread, hot path: appends to reused buffers).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mlops_ingest/event/events.hpp"
#include "mlops_ingest/event/reject_reason.hpp"
#include "mlops_ingest/handoff/envelope.hpp"

namespace mlops_ingest {

// kafka_timestamp stands in for an absent created_at.
void encode_prediction(const PredictionEvent& event, PgTimestamp kafka_timestamp,
                       std::string& tuple);
// kafka_timestamp stands in for an absent label_timestamp.
void encode_label(const LabelEvent& event, PgTimestamp kafka_timestamp, std::string& tuple);

// The same into a ring slot: its kind, its tuple and the digest of its prediction_id
// (envelope.hpp), which the batch plan relies on.
void encode_prediction(const PredictionEvent& event, PgTimestamp kafka_timestamp, Envelope& env);
void encode_label(const LabelEvent& event, PgTimestamp kafka_timestamp, Envelope& env);

// Any other kind, from its description (event.spec): one column per field of the spec, in
// order. An absent field of WhenAbsent::kKafkaTimestamp takes kafka_timestamp; other absent
// fields are NULL.
void encode_kind_row(const KindEvent& event, PgTimestamp kafka_timestamp, std::string& tuple);
// The same into a ring slot: kKindRow, its tuple and the fields the event carried (an upsert
// updates those only).
void encode_kind_row(const KindEvent& event, PgTimestamp kafka_timestamp, Envelope& env);

struct DeadLetter {
  std::string_view topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::optional<std::string_view> key;      // nullopt: no key
  std::optional<std::string_view> payload;  // nullopt: tombstone
  RejectReason reason = RejectReason::kNone;
  std::string_view message;
  std::optional<std::string_view> sqlstate;  // set when PostgreSQL refused the row
};
// The payload is capped at payload_cap bytes; payload_bytes records the original length.
void encode_dead_letter(const DeadLetter& letter, std::size_t payload_cap, std::string& tuple);

}  // namespace mlops_ingest
