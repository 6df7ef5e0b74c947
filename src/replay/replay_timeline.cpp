// PartitionTimeline with librdkafka: what resolving a replay window asks of Kafka (metadata,
// watermarks, offsets-for-times, and the timestamp of one message at a given offset).
#include <algorithm>
#include <thread>

#include "mlops_ingest/kafka/kafka_handles.hpp"
#include "mlops_ingest/replay/replay_window.hpp"

namespace mlops_ingest {
namespace {

constexpr int kTimeoutMs = 10000;

std::string where(const std::string& topic, std::int32_t partition) {
  return "'" + topic + "' partition " + std::to_string(partition);
}

class KafkaPartitionTimeline final : public PartitionTimeline {
 public:
  explicit KafkaPartitionTimeline(const Config& config) : brokers_(config.brokers) {
    // The group is needed by librdkafka for assign() + poll; this client never joins the group,
    // subscribes or commits, so the replay group's offsets are untouched by it.
    std::map<std::string, std::string> props =
        kafka::consumer_properties(config.brokers, config.group, "mlops-ingest-replay-window");
    props["enable.partition.eof"] = "true";  // message_at past the last message answers at once
    props["fetch.wait.max.ms"] = "100";
    props["log_level"] = "3";
    for (const auto& [k, v] : config.kafka_properties) {
      if (k != "group.id" && k != "enable.partition.eof") props[k] = v;  // TLS, SASL, timeouts
    }
    rk_ = kafka::make_handle(RD_KAFKA_CONSUMER, kafka::make_conf(props));
  }

  ~KafkaPartitionTimeline() override {
    if (rk_) rd_kafka_consumer_close(rk_.get());
  }

  std::vector<std::int32_t> partitions(const std::string& topic) override {
    rd_kafka_topic_t* handle = rd_kafka_topic_new(rk_.get(), topic.c_str(), nullptr);
    if (handle == nullptr) throw kafka::KafkaError("topic '" + topic + "': " + rd_kafka_err2str(rd_kafka_last_error()));
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk_.get(), 0, handle, &md, kTimeoutMs);
    rd_kafka_topic_destroy(handle);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && (md == nullptr || md->topic_cnt != 1)) {
      err = RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
    }
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) err = md->topics[0].err;
    std::vector<std::int32_t> out;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int i = 0; i < md->topics[0].partition_cnt; ++i) out.push_back(md->topics[0].partitions[i].id);
    }
    if (md != nullptr) rd_kafka_metadata_destroy(md);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw kafka::KafkaError("reading the partitions of topic '" + topic + "' from " + brokers_ + ": " +
                              rd_kafka_err2str(err) +
                              " (check --brokers, the topic names in --topics and the kafka.* settings)");
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  Watermarks watermarks(const std::string& topic, std::int32_t partition) override {
    Watermarks w;
    const rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk_.get(), topic.c_str(), partition, &w.low, &w.high, kTimeoutMs);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw kafka::KafkaError("reading the watermarks of " + where(topic, partition) + ": " + rd_kafka_err2str(err));
    }
    return w;
  }

  std::optional<std::int64_t> offset_for_time(const std::string& topic, std::int32_t partition,
                                              std::int64_t unix_ms) override {
    kafka::PartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset = unix_ms;
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk_.get(), list.get(), kTimeoutMs);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) err = list->elems[0].err;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw kafka::KafkaError("looking up the offset of time " + std::to_string(unix_ms) + " ms in " +
                              where(topic, partition) + ": " + rd_kafka_err2str(err));
    }
    const std::int64_t offset = list->elems[0].offset;
    if (offset < 0) return std::nullopt;
    return offset;
  }

  Message message_at(const std::string& topic, std::int32_t partition, std::int64_t offset,
                     std::int64_t high) override {
    kafka::PartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset = offset;
    if (const rd_kafka_resp_err_t err = rd_kafka_assign(rk_.get(), list.get())) {
      throw kafka::KafkaError("reading " + where(topic, partition) + ": assign: " + rd_kafka_err2str(err));
    }
    Message found;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTimeoutMs);
    for (;;) {
      if (std::chrono::steady_clock::now() >= deadline) {
        throw kafka::KafkaError("reading the message at offset " + std::to_string(offset) + " of " +
                                where(topic, partition) + ": no answer within " + std::to_string(kTimeoutMs / 1000) +
                                " s (is the broker reachable?)");
      }
      kafka::KafkaMessage m(rd_kafka_consumer_poll(rk_.get(), 200));
      if (!m || m->partition != partition || topic != rd_kafka_topic_name(m->rkt)) continue;
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) break;  // nothing at or after `offset`
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (kafka::is_transient(m->err)) continue;  // librdkafka retries these itself
        throw kafka::KafkaError("reading " + where(topic, partition) + " at offset " + std::to_string(offset) +
                                ": " + rd_kafka_message_errstr(m.get()));
      }
      if (m->offset < offset) continue;  // left over from an earlier position
      if (m->offset < high) found = {m->offset, rd_kafka_message_timestamp(m.get(), nullptr)};
      break;
    }
    rd_kafka_assign(rk_.get(), nullptr);
    return found;
  }

 private:
  std::string brokers_;
  kafka::KafkaHandle rk_;
};

}  // namespace

std::unique_ptr<PartitionTimeline> kafka_partition_timeline(const Config& config) {
  return std::make_unique<KafkaPartitionTimeline>(config);
}

}  // namespace mlops_ingest
