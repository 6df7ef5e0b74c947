#include "mlops_ingest/kafka/produce.hpp"

#include "mlops_ingest/kafka/kafka_handles.hpp"

namespace mlops_ingest::kafka {

void produce(rd_kafka_t* rk, const std::string& topic, std::optional<std::string_view> key, std::string_view value,
             const ProduceOptions& options) {
  const void* key_data = key ? key->data() : nullptr;
  const std::size_t key_size = key ? key->size() : 0;
  for (;;) {
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(options.partition),
        RD_KAFKA_V_KEY(key_data, key_size), RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(options.timestamp_ms),
        RD_KAFKA_V_OPAQUE(options.opaque), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      throw KafkaError("producing to " + topic + ": " + rd_kafka_err2str(err));
    }
    rd_kafka_poll(rk, 10);
  }
}

}  // namespace mlops_ingest::kafka
