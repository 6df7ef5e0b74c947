#pragma once
// Turns one Kafka message into the ring slot a writer reads: parses and validates the event,
// then encodes its binary COPY tuple straight into the slot (or, for an event the parser
// rejects, the dead-letter tuple), so nothing is copied again between Kafka and the socket.
// A new topic or event kind adds its branch to fill().
//
// Thread model: the consumer thread's; the parser's buffers are reused message after message.
#include <librdkafka/rdkafka.h>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/event/event_parser.hpp"
#include "mlops_ingest/pipeline/envelope.hpp"

namespace mlops_ingest {

class EnvelopeBuilder {
 public:
  explicit EnvelopeBuilder(const Config& config);

  // Overwrites every field of `env` that the writer reads for `msg` of `topic`.
  void fill(Envelope& env, const rd_kafka_message_t* msg, TopicKind topic);

 private:
  [[nodiscard]] const std::string& topic_name(TopicKind topic) const noexcept {
    return topic == TopicKind::kPredictions ? cfg_.predictions_topic : cfg_.labels_topic;
  }

  const Config& cfg_;
  EventParser parser_;
};

}  // namespace mlops_ingest
