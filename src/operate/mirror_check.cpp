#include "mlops_ingest/operate/mirror_check.hpp"

#include <map>

#include "mlops_ingest/kafka/kafka_handles.hpp"
#include "mlops_ingest/log/log.hpp"
#include "mlops_ingest/pg/stored_offsets.hpp"

namespace mlops_ingest::operate {

std::int64_t mirror_window(const Config& config) { return static_cast<std::int64_t>(config.ring_capacity); }

std::string MirrorDisagreement::line() const {
  const std::int64_t d = committed - stored;
  return "'" + topic + "' partition " + std::to_string(partition) + ": Kafka's committed offset " +
         std::to_string(committed) + " is " + std::to_string(d > 0 ? d : -d) +
         (d > 0 ? " ahead of" : " behind") + " the stored offset " + std::to_string(stored) +
         " in PostgreSQL (ingest_offsets), which is the one the ingester resumes from";
}

std::vector<MirrorDisagreement> mirror_disagreements(const Config& config, const std::vector<TopicOffset>& stored,
                                                     std::chrono::milliseconds timeout) {
  std::vector<MirrorDisagreement> out;
  if (stored.empty()) return out;
  std::map<std::string, std::string> props = kafka::consumer_properties(config.brokers, config.group, "mlops-ingest-mirror-check");
  props["log_level"] = "3";
  for (const auto& [k, v] : config.kafka_properties) {
    if (k != "group.id") props[k] = v;  // TLS, SASL
  }
  kafka::KafkaHandle rk = kafka::make_handle(RD_KAFKA_CONSUMER, kafka::make_conf(props));
  kafka::PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(stored.size())));
  for (const TopicOffset& s : stored) rd_kafka_topic_partition_list_add(list.get(), s.topic.c_str(), s.partition);
  // OffsetFetch only: this client neither joins the group nor commits.
  const rd_kafka_resp_err_t err = rd_kafka_committed(rk.get(), list.get(), static_cast<int>(timeout.count()));
  rd_kafka_consumer_close(rk.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) throw kafka::KafkaError(std::string("committed offsets: ") + rd_kafka_err2str(err));
  const std::int64_t window = mirror_window(config);
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = list->elems[i];
    const TopicOffset& s = stored[static_cast<std::size_t>(i)];
    if (p.err != RD_KAFKA_RESP_ERR_NO_ERROR || p.offset < 0 || s.next_offset < 0) continue;
    const std::int64_t d = p.offset - s.next_offset;
    if (d > 0 || -d > window) out.push_back({s.topic, s.partition, s.next_offset, p.offset});
  }
  return out;
}

void warn_if_mirror_disagrees(const Config& config, const std::vector<TopicOffset>& stored) {
  try {
    for (const MirrorDisagreement& d : mirror_disagreements(config, stored, std::chrono::milliseconds(5000))) {
      log_warn("Kafka's committed offsets of the group disagree with PostgreSQL's beyond the in-flight window (" +
                   std::to_string(mirror_window(config)) + " messages): " + d.line() +
                   "; Kafka's tools (kafka-consumer-groups --reset-offsets) do not move the ingester's offsets, "
                   "`mlops-ingest offsets reset` does",
               {{"group", config.group}, {"topic", d.topic}, {"partition", d.partition}});
    }
  } catch (const std::exception& e) {
    log_info(std::string("could not compare Kafka's committed offsets with PostgreSQL's: ") + e.what(),
             {{"group", config.group}});
  }
}

}  // namespace mlops_ingest::operate
