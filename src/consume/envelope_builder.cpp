#include "envelope_builder.hpp"

#include <optional>
#include <string_view>

#include "held_message.hpp"
#include "mlops_ingest/event/timestamp.hpp"
#include "mlops_ingest/encode/row_encoder.hpp"

namespace mlops_ingest {

EnvelopeBuilder::EnvelopeBuilder(const Config& config)
    : cfg_(config), parser_(ParserLimits{config.max_message_bytes, 64}) {}

void EnvelopeBuilder::fill(Envelope& env, const rd_kafka_message_t* msg, TopicKind topic) {
  const std::int64_t ts_ms = kafka_timestamp_or_now(*msg);
  const std::optional<std::string_view> key =
      msg->key != nullptr ? std::optional<std::string_view>({static_cast<const char*>(msg->key), msg->key_len})
                          : std::nullopt;
  fill(env, topic, msg->partition, msg->offset, static_cast<const char*>(msg->payload), msg->len, key, ts_ms);
}

void EnvelopeBuilder::fill(Envelope& env, TopicKind topic, std::int32_t partition, std::int64_t offset,
                           const char* payload, std::size_t len, std::optional<std::string_view> key,
                           std::int64_t ts_ms) {
  env.topic = topic;
  env.partition = partition;
  env.offset = offset;
  env.kafka_ts_ms = ts_ms;
  const PgTimestamp kafka_ts = pg_timestamp_from_unix_ms(ts_ms);

  RejectReason reason;
  env.carried = 0;
  if (const EventKindSpec& spec = kind_spec(topic); written_by_description(spec.mode)) {
    // Every kind written by its description alone (event_kinds.hpp).
    reason = parser_.parse_kind(spec, payload, len, kind_event_);
    if (reason == RejectReason::kNone) encode_kind_row(kind_event_, kafka_ts, env);
  } else if (topic == TopicKind::kPredictions) {
    PredictionEvent event;
    reason = parser_.parse_prediction(payload, len, event);
    if (reason == RejectReason::kNone) {
      encode_prediction(event, kafka_ts, env);
    }
  } else {
    LabelEvent event;
    reason = parser_.parse_label(payload, len, event);
    if (reason == RejectReason::kNone) {
      encode_label(event, kafka_ts, env);
    }
  }
  if (reason == RejectReason::kNone) {
    // Kept in case PostgreSQL refuses the row and it must be dead-lettered as received.
    env.key.assign(key.value_or(std::string_view{}));
    env.payload.assign(payload, len);
    return;
  }
  env.kind = EnvelopeKind::kDeadLetter;
  env.reason = reason;
  env.key.assign(key.value_or(std::string_view{}));
  env.payload.assign(payload != nullptr ? payload : "", payload != nullptr ? len : 0);
  env.reason_text.assign(parser_.last_error());
  const std::optional<std::string_view> body =
      payload != nullptr ? std::optional<std::string_view>({payload, len}) : std::nullopt;
  encode_dead_letter({topic_name(topic), partition, offset, key, body, reason,
                      parser_.last_error(), std::nullopt},
                     cfg_.dead_letter_payload_max_bytes, env.tuple);
}

}  // namespace mlops_ingest
