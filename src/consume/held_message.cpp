#include "held_message.hpp"

#include <chrono>

namespace mlops_ingest {

std::int64_t kafka_timestamp_or_now(const rd_kafka_message_t& msg) {
  const std::int64_t ts_ms = rd_kafka_message_timestamp(&msg, nullptr);
  if (ts_ms >= 0) return ts_ms;
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

HeldMessage HeldMessage::copy_of(const rd_kafka_message_t& msg, TopicKind topic) {
  HeldMessage held;
  held.topic = topic;
  held.partition = msg.partition;
  held.offset = msg.offset;
  held.kafka_ts_ms = kafka_timestamp_or_now(msg);
  held.has_key = msg.key != nullptr;
  held.has_payload = msg.payload != nullptr;
  held.key_size = held.has_key ? static_cast<std::uint32_t>(msg.key_len) : 0;
  const std::size_t payload_size = held.has_payload ? msg.len : 0;
  held.bytes.reserve(held.key_size + payload_size);
  if (held.has_key) held.bytes.append(static_cast<const char*>(msg.key), held.key_size);
  if (held.has_payload) held.bytes.append(static_cast<const char*>(msg.payload), payload_size);
  return held;
}

}  // namespace mlops_ingest
