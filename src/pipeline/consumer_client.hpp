#pragma once
// The consumer's librdkafka client: its configuration (the properties the ingester's
// guarantees depend on, then the user's kafka.* overrides) and the topic subscription.
//
// Thread model: called from the consumer thread's owner while constructing the ConsumerLoop.
#include <string>
#include <vector>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/kafka/kafka_handles.hpp"

namespace mlops_ingest {

// A consumer handle for cfg's group, whose rebalances call `rebalance(…, opaque)`, with its
// main queue redirected to the consumer queue (rd_kafka_poll_set_consumer). Throws KafkaError
// for a configuration the ingester cannot honour (a cooperative assignment strategy).
kafka::KafkaHandle open_consumer(const Config& cfg,
                                 void (*rebalance)(rd_kafka_t*, rd_kafka_resp_err_t,
                                                   rd_kafka_topic_partition_list_t*, void*),
                                 void* opaque);

// Subscribes to `topics` (all their partitions, assigned by the group). Throws KafkaError.
void subscribe(rd_kafka_t* rk, const std::vector<const std::string*>& topics);

}  // namespace mlops_ingest
