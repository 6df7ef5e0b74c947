#pragma once
// The bench tools' consumer-group membership: the ingester's own librdkafka consumer
// (open_consumer: its configuration, subscription and group protocol) with a rebalance callback
// that takes whatever the group assigns, eagerly or cooperatively as the protocol asks.
#include <librdkafka/rdkafka.h>

#include <string>
#include <vector>

#include "../src/consume/consumer_client.hpp"
#include "mlops_ingest/config/config.hpp"

namespace mlops_ingest::bench {

inline void take_assignment(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                            void*) {
  const bool cooperative = cooperative_assignment(rk);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, partitions)) rd_kafka_error_destroy(e);
    } else {
      rd_kafka_assign(rk, partitions);
    }
  } else if (cooperative) {
    if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, partitions)) rd_kafka_error_destroy(e);
  } else {
    rd_kafka_assign(rk, nullptr);
  }
}

// A consumer of every topic in `cfg`, subscribed as a member of cfg.group.
inline kafka::KafkaHandle join_group(const Config& cfg) {
  kafka::KafkaHandle rk = open_consumer(cfg, &take_assignment, nullptr);
  const std::vector<std::string> names = cfg.topics();
  std::vector<const std::string*> topics;
  for (const std::string& name : names) topics.push_back(&name);
  subscribe(rk.get(), topics);
  return rk;
}

}  // namespace mlops_ingest::bench
