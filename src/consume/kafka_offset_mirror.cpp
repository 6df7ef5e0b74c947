#include "kafka_offset_mirror.hpp"

#include "mlops_ingest/kafka/kafka_handles.hpp"
#include "mlops_ingest/log/log.hpp"

namespace mlops_ingest {

PartitionOffsets KafkaOffsetMirror::mirror(bool synchronous) {
  last_ = Clock::now();
  PartitionOffsets committed = ledger_.take();
  if (committed.empty()) return committed;
  kafka::PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(committed.size())));
  for (const auto& [key, next] : committed) {
    if (!partitions_.contains(key.first, key.second)) continue;
    rd_kafka_topic_partition_list_add(list.get(), cfg_.topic_of(key.first).c_str(), key.second)->offset = next;
  }
  if (list->cnt == 0) return committed;
  const rd_kafka_resp_err_t err = rd_kafka_commit(rk_, list.get(), synchronous ? 0 : 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
    ++stats_.kafka_errors;
    log_warn(std::string("mirroring offsets to Kafka failed: ") + rd_kafka_err2str(err));
  }
  return committed;
}

}  // namespace mlops_ingest
