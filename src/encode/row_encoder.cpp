#include "mlops_ingest/encode/row_encoder.hpp"

#include <algorithm>
#include <cstring>

#include "mlops_ingest/pg/copy_encoder.hpp"
#include "mlops_ingest/handoff/envelope.hpp"

namespace mlops_ingest {

void encode_prediction(const PredictionEvent& event, PgTimestamp kafka_timestamp, Envelope& env) {
  env.kind = EnvelopeKind::kPrediction;
  encode_prediction(event, kafka_timestamp, env.tuple);
  env.id = IdDigest::of(event.prediction_id);
  env.created_at_us = event.created_at.value_or(kafka_timestamp);  // as encode_prediction writes it
}

void encode_label(const LabelEvent& event, PgTimestamp kafka_timestamp, Envelope& env) {
  env.kind = EnvelopeKind::kLabel;
  encode_label(event, kafka_timestamp, env.tuple);
  env.id = IdDigest::of(event.prediction_id);
}

void encode_kind_row(const KindEvent& event, PgTimestamp kafka_timestamp, Envelope& env) {
  env.kind = EnvelopeKind::kKindRow;
  env.carried = event.carried();
  encode_kind_row(event, kafka_timestamp, env.tuple);
}

namespace {

std::size_t text_size(const std::optional<std::string_view>& v) noexcept {
  return pg::BoundedTupleWriter::text_bytes(v ? v->size() : 0);
}

// Sizes `tuple` for at most `bound` bytes (growing only: a reused slot keeps its bytes, so the
// steady state neither allocates nor zero-fills), runs `write` on a BoundedTupleWriter over it,
// and trims it to what was written.
template <typename Write>
void encode_bounded(std::string& tuple, std::size_t bound, Write&& write) {
  if (tuple.size() < bound) tuple.resize(bound);
  pg::BoundedTupleWriter w(tuple.data());
  write(w);
  tuple.resize(static_cast<std::size_t>(w.position() - tuple.data()));
}

}  // namespace

void encode_prediction(const PredictionEvent& e, PgTimestamp kafka_timestamp, std::string& tuple) {
  using W = pg::BoundedTupleWriter;
  const std::size_t bound = 2 + W::text_bytes(e.prediction_id.size()) + W::kFixed8 + text_size(e.model_version) +
                            text_size(e.model_stage) + 5 * W::kFixed4 + 3 * W::kFixed8 + text_size(e.request_source);
  encode_bounded(tuple, bound, [&](W& w) {
    auto text = [&w](std::string_view v) { w.bytes(v); };
    auto int4 = [&w](std::int32_t v) { w.int4(v); };
    auto float8 = [&w](double v) { w.float8(v); };
    w.begin(12);
    w.bytes(e.prediction_id);
    w.timestamp(e.created_at.value_or(kafka_timestamp));
    w.optional(e.model_version, text);
    w.optional(e.model_stage, text);
    w.optional(e.prediction, int4);
    w.optional(e.probability, float8);
    w.optional(e.age, int4);
    w.optional(e.debt_ratio, float8);
    w.optional(e.monthly_income, float8);
    w.optional(e.number_dependents, int4);
    w.optional(e.request_source, text);
    w.optional(e.response_time_ms, int4);
  });
}

void encode_label(const LabelEvent& e, PgTimestamp kafka_timestamp, std::string& tuple) {
  using W = pg::BoundedTupleWriter;
  const std::size_t bound =
      2 + W::text_bytes(e.prediction_id.size()) + 2 * W::kFixed4 + W::kFixed8 + text_size(e.label_source);
  encode_bounded(tuple, bound, [&](W& w) {
    w.begin(5);
    w.bytes(e.prediction_id);
    w.int4(e.true_label);
    w.timestamp(e.label_timestamp.value_or(kafka_timestamp));
    w.optional(e.label_source, [&w](std::string_view v) { w.bytes(v); });
    w.optional(e.days_delayed, [&w](std::int32_t v) { w.int4(v); });
  });
}

void encode_kind_row(const KindEvent& e, PgTimestamp kafka_timestamp, std::string& tuple) {
  tuple.clear();
  pg::CopyTupleWriter w(tuple);
  const std::span<const FieldSpec> fields = e.spec->fields;
  w.begin(static_cast<std::int16_t>(fields.size()));
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const FieldSpec& f = fields[i];
    const FieldValue& v = e.values[i];
    if (v.state != FieldValue::State::kValue) {
      if (f.absent == WhenAbsent::kKafkaTimestamp) {
        w.timestamp(kafka_timestamp);
      } else {
        w.null();
      }
      continue;
    }
    switch (f.type) {
      case ColumnType::kText:
      case ColumnType::kTextArray:  // already in the binary array format
        w.bytes(v.bytes);
        break;
      case ColumnType::kInt4:
        w.int4(static_cast<std::int32_t>(v.integer));
        break;
      case ColumnType::kFloat8:
        w.float8(v.number);
        break;
      case ColumnType::kBoolean:
        w.boolean(v.integer != 0);
        break;
      case ColumnType::kTimestamp:
        w.timestamp(v.integer);
        break;
      case ColumnType::kJsonb:
        w.jsonb(v.bytes);
        break;
    }
  }
}

void encode_dead_letter(const DeadLetter& d, std::size_t payload_cap, std::string& tuple) {
  tuple.clear();
  pg::CopyTupleWriter w(tuple);
  auto text = [&w](std::string_view v) { w.bytes(v); };
  w.begin(9);
  w.bytes(d.topic);
  w.int4(d.partition);
  w.int8(d.offset);
  w.optional(d.key, text);
  if (d.payload) {
    w.bytes(d.payload->substr(0, payload_cap));
    w.int4(static_cast<std::int32_t>(d.payload->size()));
  } else {
    w.null();
    w.int4(0);
  }
  w.bytes(reason_code(d.reason));
  w.bytes(d.message);
  w.optional(d.sqlstate, text);
}

}  // namespace mlops_ingest
