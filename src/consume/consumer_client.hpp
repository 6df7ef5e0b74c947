#pragma once
// The consumer's librdkafka client: its configuration (the properties the ingester's
// guarantees depend on, then the user's kafka.* overrides) and the topic subscription.
//
// Thread model: the consumer thread (open_consumer and subscribe while the ConsumerLoop is
// constructed, resolve_start_offsets from its rebalance callback).
#include <chrono>
#include <string>
#include <vector>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/kafka/kafka_handles.hpp"

namespace mlops_ingest {

// A consumer handle for cfg's group, whose rebalances call `rebalance(…, opaque)`, with its
// main queue redirected to the consumer queue (rd_kafka_poll_set_consumer); group.instance.id
// from cfg.group_instance_id. Any assignment strategy, eager or cooperative. Throws KafkaError.
kafka::KafkaHandle open_consumer(const Config& cfg,
                                 void (*rebalance)(rd_kafka_t*, rd_kafka_resp_err_t,
                                                   rd_kafka_topic_partition_list_t*, void*),
                                 void* opaque);

// Whether rk's assignment strategy is cooperative (cooperative-sticky): read from the handle's
// own configuration. librdkafka refuses a strategy list that mixes eager and cooperative
// assignors, so the configuration decides the protocol for the member's whole life.
//
// Why not rd_kafka_rebalance_protocol(): it asks the group thread, and from the rebalance
// callback that rd_kafka_consumer_close() runs it can wait forever (librdkafka #4041, not fixed
// in Debian 12's 2.0.2): an instance stopping during a rebalance then never exits.
bool cooperative_assignment(rd_kafka_t* rk);

// Subscribes to `topics` (all their partitions, assigned by the group). Throws KafkaError.
void subscribe(rd_kafka_t* rk, const std::vector<const std::string*>& topics);

// Replaces the logical start offsets of an assignment (RD_KAFKA_OFFSET_BEGINNING / _END, a
// partition with no offset stored in PostgreSQL) by the absolute offsets they stand for, looked
// up in one ListOffsets request per leader. Returns how many were resolved; a partition whose
// lookup failed or timed out keeps its logical offset, which librdkafka resolves itself.
//
// Why: librdkafka starts a partition assigned at a logical offset with an offset lookup of its
// own, and when that start reaches the partition before the partition has joined its leader's
// broker thread — a race inside librdkafka that a first assignment hits often — the lookup
// waits on a fixed 500 ms timer (rdkafka_offset.c, "no current leader for partition").
// An absolute offset starts fetching as soon as the partition joins.
int resolve_start_offsets(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* partitions,
                          std::chrono::milliseconds timeout);

}  // namespace mlops_ingest
