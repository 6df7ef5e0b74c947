#include "mlops_ingest/kafka/dead_letter_publisher.hpp"

#include "mlops_ingest/log/log.hpp"

namespace mlops_ingest::kafka {

DeadLetterPublisher::DeadLetterPublisher(const std::string& brokers, std::string topic,
                                         const std::map<std::string, std::string>& extra_properties)
    : topic_(std::move(topic)) {
  std::map<std::string, std::string> props = extra_properties;
  props["bootstrap.servers"] = brokers;
  props["linger.ms"] = "50";
  props["log_level"] = "4";
  producer_ = make_handle(RD_KAFKA_PRODUCER, make_conf(props));
}

DeadLetterPublisher::~DeadLetterPublisher() {
  if (producer_ && rd_kafka_flush(producer_.get(), 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    log_warn("some dead letters were not mirrored to the dead-letter topic (they are in ingest_dead_letters)");
  }
}

void DeadLetterPublisher::publish(std::string_view source_topic, std::int32_t partition, std::int64_t offset,
                                  std::optional<std::string_view> key, std::optional<std::string_view> payload,
                                  std::string_view reason_code, std::string_view reason,
                                  std::string_view sqlstate) noexcept {
  const std::string partition_text = std::to_string(partition);
  const std::string offset_text = std::to_string(offset);
  rd_kafka_headers_t* headers = rd_kafka_headers_new(6);
  rd_kafka_header_add(headers, "reason_code", -1, reason_code.data(), static_cast<ssize_t>(reason_code.size()));
  rd_kafka_header_add(headers, "reason", -1, reason.data(), static_cast<ssize_t>(reason.size()));
  rd_kafka_header_add(headers, "source_topic", -1, source_topic.data(), static_cast<ssize_t>(source_topic.size()));
  rd_kafka_header_add(headers, "source_partition", -1, partition_text.data(), static_cast<ssize_t>(partition_text.size()));
  rd_kafka_header_add(headers, "source_offset", -1, offset_text.data(), static_cast<ssize_t>(offset_text.size()));
  if (!sqlstate.empty()) {
    rd_kafka_header_add(headers, "sqlstate", -1, sqlstate.data(), static_cast<ssize_t>(sqlstate.size()));
  }
  const void* key_data = key ? key->data() : nullptr;
  const std::size_t key_size = key ? key->size() : 0;
  void* value_data = payload ? const_cast<char*>(payload->data()) : nullptr;
  const std::size_t value_size = payload ? payload->size() : 0;
  const rd_kafka_resp_err_t err = rd_kafka_producev(
      producer_.get(), RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_KEY(key_data, key_size),
      RD_KAFKA_V_VALUE(value_data, value_size),
      RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_headers_destroy(headers);  // ownership passes only on success
    log_warn(std::string("mirroring a dead letter to Kafka failed: ") + rd_kafka_err2str(err));
  }
  rd_kafka_poll(producer_.get(), 0);
}

}  // namespace mlops_ingest::kafka
