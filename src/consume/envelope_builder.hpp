#pragma once
// Turns one Kafka message into the ring slot a writer reads: parses and validates the event,
// then encodes its binary COPY tuple straight into the slot (or, for an event the parser
// rejects, the dead-letter tuple), so nothing is copied again between Kafka and the socket.
// Kinds with a generic write mode (event_kinds.hpp) need no branch here.
//
// Thread model: the consumer thread's; the parser's buffers are reused message after message.
#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <optional>
#include <string_view>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/event/event_parser.hpp"
#include "mlops_ingest/handoff/envelope.hpp"

namespace mlops_ingest {

class EnvelopeBuilder {
 public:
  explicit EnvelopeBuilder(const Config& config);

  // Overwrites every field of `env` that the writer reads for `msg` of `topic`.
  void fill(Envelope& env, const rd_kafka_message_t* msg, TopicKind topic);
  // The same from a message's parts (a held copy, held_message.hpp, or a dead letter re-driven
  // by `dead-letters requeue`): `payload` null for a tombstone, `key` null for no key.
  void fill(Envelope& env, TopicKind topic, std::int32_t partition, std::int64_t offset, const char* payload,
            std::size_t len, std::optional<std::string_view> key, std::int64_t kafka_ts_ms);

 private:
  [[nodiscard]] const std::string& topic_name(TopicKind topic) const noexcept {
    return cfg_.topic_of(topic);
  }

  const Config& cfg_;
  EventParser parser_;
  KindEvent kind_event_;  // reused: the parse of the kinds described by data
};

}  // namespace mlops_ingest
