#pragma once
// Turns one Kafka message into the ring slot a writer reads: parses and validates the event,
// then encodes its binary COPY tuple straight into the slot (or, for an event the parser
// rejects, the dead-letter tuple), so nothing is copied again between Kafka and the socket.
// Kinds with a generic write mode (event_kinds.hpp) need no branch here.
//
// Thread model: the consumer thread's; the parser's buffers are reused message after message.
#include <librdkafka/rdkafka.h>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/event/event_parser.hpp"
#include "mlops_ingest/handoff/envelope.hpp"

namespace mlops_ingest {

class EnvelopeBuilder {
 public:
  explicit EnvelopeBuilder(const Config& config);

  // Overwrites every field of `env` that the writer reads for `msg` of `topic`.
  void fill(Envelope& env, const rd_kafka_message_t* msg, TopicKind topic);

 private:
  [[nodiscard]] const std::string& topic_name(TopicKind topic) const noexcept {
    return cfg_.topic_of(topic);
  }

  const Config& cfg_;
  EventParser parser_;
  KindEvent kind_event_;  // reused: the parse of the kinds described by data
};

}  // namespace mlops_ingest
