#pragma once
// Optional mirror of ingest_dead_letters to a Kafka topic (setting dead_letter_topic), for teams
// that watch a dead-letter topic rather than a table. The table stays the record of truth: a
// dead letter is published only after the batch that stored it committed, so a crash between
// the two can lose a mirror message, never a table row.
//
// Thread model: publish() may be called from any writer thread (librdkafka producers are
// thread-safe); the destructor flushes.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "mlops_ingest/kafka/kafka_handles.hpp"

namespace mlops_ingest::kafka {

class DeadLetterPublisher {
 public:
  DeadLetterPublisher(const std::string& brokers, std::string topic,
                      const std::map<std::string, std::string>& extra_properties);
  ~DeadLetterPublisher();
  DeadLetterPublisher(const DeadLetterPublisher&) = delete;
  DeadLetterPublisher& operator=(const DeadLetterPublisher&) = delete;

  // The original key and value, with the reason and the source position as headers.
  void publish(std::string_view source_topic, std::int32_t partition, std::int64_t offset,
               std::optional<std::string_view> key, std::optional<std::string_view> payload,
               std::string_view reason_code, std::string_view reason, std::string_view sqlstate) noexcept;

 private:
  KafkaHandle producer_;
  std::string topic_;
};

}  // namespace mlops_ingest::kafka
