#pragma once
// A message the consumer keeps past its poll round — in a writer's stash, or a label held for
// event-time alignment — copied out of librdkafka's buffers.
//
// Why a copy: an rd_kafka_message_t points into the buffer it was fetched in (the whole fetch
// response, or for a compressed batch the whole decompressed batch), and keeps that buffer
// alive while it lives; and librdkafka's own bound (queued.max.messages.kbytes) no longer
// counts a message once it is polled. So one held label per labels partition would pin a whole
// batch per partition, outside every bound (docs/design.md, "The bound you set";
// tests/fault/memory_bound_faulttest.cpp). A copy costs what the message holds, which is what
// the memory plan budgets (config/memory_budget.hpp).
//
// Thread model: the consumer thread only.
#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mlops_ingest/config/config.hpp"

namespace mlops_ingest {

struct HeldMessage {
  TopicKind topic = TopicKind::kPredictions;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::int64_t kafka_ts_ms = 0;  // the message's timestamp, or the time it was copied if it had none
  bool has_key = false;
  bool has_payload = false;  // false: a tombstone
  std::uint32_t key_size = 0;
  std::string bytes;  // the key, then the payload: one allocation per held message, not two

  [[nodiscard]] static HeldMessage copy_of(const rd_kafka_message_t& msg, TopicKind topic);

  [[nodiscard]] std::optional<std::string_view> key_view() const noexcept {
    return has_key ? std::optional<std::string_view>({bytes.data(), key_size}) : std::nullopt;
  }
  [[nodiscard]] const char* payload_data() const noexcept { return has_payload ? bytes.data() + key_size : nullptr; }
  [[nodiscard]] std::size_t payload_size() const noexcept { return bytes.size() - key_size; }
};

// A message's Kafka timestamp in milliseconds, or now for one without.
[[nodiscard]] std::int64_t kafka_timestamp_or_now(const rd_kafka_message_t& msg);

}  // namespace mlops_ingest
