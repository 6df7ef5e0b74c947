#pragma once
// Producing one message and waiting for room when the producer's queue is full: the load test,
// the event generator and the tests send far faster than a broker acknowledges, so a full queue
// is the normal state of a fast sender, not an error.
#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mlops_ingest::kafka {

// Where a message goes and what it carries besides its key and value; the defaults are
// librdkafka's (the partitioner picks the partition, the timestamp is the send time).
struct ProduceOptions {
  std::int32_t partition = RD_KAFKA_PARTITION_UA;
  std::int64_t timestamp_ms = 0;  // 0: now
  void* opaque = nullptr;         // handed back in the delivery report (msg->_private)
};

// Copies `key` (no key when nullopt) and `value` into a message on `topic`. While the queue is
// full it polls `rk`, which serves delivery reports and so makes room, and tries again; any
// other error throws KafkaError.
void produce(rd_kafka_t* rk, const std::string& topic, std::optional<std::string_view> key, std::string_view value,
             const ProduceOptions& options = {});

}  // namespace mlops_ingest::kafka
