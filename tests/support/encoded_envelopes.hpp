#pragma once
// Ring slots as the consumer fills them, for the writer's planning tests (no PostgreSQL, no
// Kafka): an envelope at a partition and offset with its binary COPY tuple encoded.
#include <cstdint>
#include <optional>
#include <string>

#include "mlops_ingest/encode/row_encoder.hpp"
#include "mlops_ingest/handoff/envelope.hpp"
#include "mlops_ingest/pg/binary_params.hpp"
#include "big_endian.hpp"

namespace mlops_ingest::testing {

// An envelope of `topic` at a partition and offset, before its row is encoded.
inline Envelope envelope_at(TopicKind topic, std::int32_t partition, std::int64_t offset) {
  Envelope e;
  e.topic = topic;
  e.partition = partition;
  e.offset = offset;
  return e;
}

inline Envelope encoded_prediction(std::int32_t partition, std::int64_t offset, const std::string& id,
                                   std::int64_t created = 0) {
  Envelope e = envelope_at(TopicKind::kPredictions, partition, offset);
  PredictionEvent p;
  p.prediction_id = id;
  p.created_at = created;
  encode_prediction(p, 0, e);
  return e;
}

inline Envelope encoded_label(std::int32_t partition, std::int64_t offset, const std::string& id,
                              std::int64_t ts = 0, std::optional<std::int32_t> days = std::nullopt) {
  Envelope e = envelope_at(TopicKind::kLabels, partition, offset);
  LabelEvent l;
  l.prediction_id = id;
  l.true_label = 1;
  l.label_timestamp = ts;
  l.days_delayed = days;
  encode_label(l, 0, e);
  return e;
}

// A prediction tuple's created_at (its second field, kind_columns(kPredictions)) read from the
// tuple's bytes, nullopt when NULL: what the writer's copy in the slot (Envelope::created_at_us)
// must equal.
inline std::optional<std::int64_t> tuple_created_at(std::string_view prediction_tuple) {
  const std::string_view created = pg::tuple_field(prediction_tuple, 1);
  if (created.size() != 8 || created.data() == nullptr) return std::nullopt;
  return static_cast<std::int64_t>(be64(created.data()));
}

}  // namespace mlops_ingest::testing
