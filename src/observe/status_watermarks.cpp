#include "status_watermarks.hpp"

#include "mlops_ingest/kafka/kafka_handles.hpp"

namespace mlops_ingest::observe {

namespace {
constexpr int kTimeoutMs = 5000;
}

WatermarkReport query_watermarks(const std::string& brokers, const std::vector<std::string>& topics) {
  WatermarkReport out;
  kafka::KafkaHandle rk;
  try {
    rk = kafka::make_handle(RD_KAFKA_PRODUCER,
                            kafka::make_conf({{"bootstrap.servers", brokers}, {"log_level", "3"},
                                              {"client.id", "mlops-ingest-status"},
                                              // Looking must not create: a producer would by default.
                                              {"allow.auto.create.topics", "false"}}));
  } catch (const std::exception& e) {
    out.error = e.what();
    return out;
  }
  for (const std::string& topic : topics) {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_topic_t* handle = rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr);
    const rd_kafka_resp_err_t err = rd_kafka_metadata(rk.get(), 0, handle, &md, kTimeoutMs);
    rd_kafka_topic_destroy(handle);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR || md == nullptr || md->topic_cnt != 1 || md->topics[0].err != 0) {
      const rd_kafka_resp_err_t why = err != RD_KAFKA_RESP_ERR_NO_ERROR || md == nullptr || md->topic_cnt != 1
                                          ? err
                                          : md->topics[0].err;
      if (!out.error.empty()) out.error += "; ";
      out.error += "topic '" + topic + "': " + rd_kafka_err2str(why);
      if (md != nullptr) rd_kafka_metadata_destroy(md);
      continue;
    }
    for (int i = 0; i < md->topics[0].partition_cnt; ++i) {
      const std::int32_t partition = md->topics[0].partitions[i].id;
      Watermarks w;
      const rd_kafka_resp_err_t werr =
          rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), partition, &w.low, &w.high, kTimeoutMs);
      if (werr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (!out.error.empty()) out.error += "; ";
        out.error += topic + "/" + std::to_string(partition) + ": " + rd_kafka_err2str(werr);
        continue;
      }
      out.watermarks[{topic, partition}] = w;
    }
    rd_kafka_metadata_destroy(md);
  }
  return out;
}

}  // namespace mlops_ingest::observe
