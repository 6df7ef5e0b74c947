#include "consumer_client.hpp"

#include <map>
#include <string_view>
#include <vector>

namespace mlops_ingest {

kafka::KafkaHandle open_consumer(const Config& cfg,
                                 void (*rebalance)(rd_kafka_t*, rd_kafka_resp_err_t,
                                                   rd_kafka_topic_partition_list_t*, void*),
                                 void* opaque) {
  // PostgreSQL is the source of truth for offsets; Kafka commits mirror it, explicitly.
  std::map<std::string, std::string> props = kafka::consumer_properties(cfg.brokers, cfg.group, "mlops-ingest");
  props.insert({
      {"auto.offset.reset", cfg.auto_offset_reset},
      // librdkafka's prefetch queue, part of the documented memory bound. When it is full the
      // fetcher stops, and librdkafka (2.0) looks again only after up to a second
      // (fetch.queue.backoff.ms arrived in 2.1): a queue holding less than a second of what the
      // writers take runs dry first, leaving a gap in the fetches (docs/benchmarks.md).
      {"queued.max.messages.kbytes", "65536"},
      {"queued.min.messages", "200000"},
      // Freshness: a fetch that finds nothing new waits at most this long at the broker. A broker
      // that answers as soon as data arrives (Kafka) makes this only the idle re-fetch period;
      // one that holds the request for the full wait (librdkafka's mock cluster, the embedded
      // broker) would add up to 500 ms (the default) to every event's latency.
      {"fetch.wait.max.ms", "100"},
      // A configured topic that does not exist yet (a kind a deployment has not started to
      // publish) is picked up by the subscription at the next metadata refresh: 30 s, not the
      // default 5 minutes. Overridable with kafka.topic.metadata.refresh.interval.ms.
      {"topic.metadata.refresh.interval.ms", "30000"},
      {"log_level", "4"},
  });
  // Static membership: a restart within session.timeout.ms gets the same partitions back with
  // no rebalance. The offsets stay in PostgreSQL, so exactly-once does not depend on it.
  if (!cfg.group_instance_id.empty()) props["group.instance.id"] = cfg.group_instance_id;
  for (const auto& [k, v] : cfg.kafka_properties) props[k] = v;
  kafka::KafkaConf conf = kafka::make_conf(props);
  rd_kafka_conf_set_rebalance_cb(conf.get(), rebalance);
  rd_kafka_conf_set_opaque(conf.get(), opaque);
  kafka::KafkaHandle rk = kafka::make_handle(RD_KAFKA_CONSUMER, std::move(conf));
  rd_kafka_poll_set_consumer(rk.get());
  return rk;
}

bool cooperative_assignment(rd_kafka_t* rk) {
  char strategy[512];
  std::size_t size = sizeof(strategy);
  if (rd_kafka_conf_get(rd_kafka_conf(rk), "partition.assignment.strategy", strategy, &size) != RD_KAFKA_CONF_OK) {
    return false;
  }
  return std::string_view(strategy).find("cooperative") != std::string_view::npos;
}

void subscribe(rd_kafka_t* rk, const std::vector<const std::string*>& topics) {
  kafka::PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
  for (const std::string* topic : topics) {
    rd_kafka_topic_partition_list_add(list.get(), topic->c_str(), RD_KAFKA_PARTITION_UA);
  }
  if (const rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, list.get())) {
    throw kafka::KafkaError(std::string("subscribing: ") + rd_kafka_err2str(err));
  }
}

int resolve_start_offsets(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* partitions,
                          std::chrono::milliseconds timeout) {
  // ListOffsets reads the "timestamps" -2 and -1 as earliest and latest: the very lookups
  // librdkafka makes for BEGINNING and END, with the consumer's isolation level.
  kafka::PartitionList query(rd_kafka_topic_partition_list_new(partitions->cnt));
  for (int i = 0; i < partitions->cnt; ++i) {
    const rd_kafka_topic_partition_t& tp = partitions->elems[i];
    if (tp.offset == RD_KAFKA_OFFSET_BEGINNING || tp.offset == RD_KAFKA_OFFSET_END) {
      rd_kafka_topic_partition_list_add(query.get(), tp.topic, tp.partition)->offset = tp.offset;
    }
  }
  if (query->cnt == 0) return 0;
  if (rd_kafka_offsets_for_times(rk, query.get(), static_cast<int>(timeout.count())) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return 0;
  }
  int resolved = 0;
  for (int i = 0; i < partitions->cnt; ++i) {
    rd_kafka_topic_partition_t& tp = partitions->elems[i];
    if (tp.offset != RD_KAFKA_OFFSET_BEGINNING && tp.offset != RD_KAFKA_OFFSET_END) continue;
    const rd_kafka_topic_partition_t* answer = rd_kafka_topic_partition_list_find(query.get(), tp.topic, tp.partition);
    if (answer == nullptr || answer->err != RD_KAFKA_RESP_ERR_NO_ERROR || answer->offset < 0) continue;
    tp.offset = answer->offset;
    ++resolved;
  }
  return resolved;
}

}  // namespace mlops_ingest
