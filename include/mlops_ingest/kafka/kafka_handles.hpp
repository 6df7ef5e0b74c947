#pragma once
// librdkafka handles owned by RAII (modern-cpp-kafka's RdKafkaHelper habit): no rd_kafka_*
// pointer escapes without an owner.
#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <string>

namespace mlops_ingest::kafka {

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const noexcept { rd_kafka_destroy(rk); }
  void operator()(rd_kafka_conf_t* conf) const noexcept { rd_kafka_conf_destroy(conf); }
  void operator()(rd_kafka_topic_partition_list_t* list) const noexcept {
    rd_kafka_topic_partition_list_destroy(list);
  }
  void operator()(rd_kafka_message_t* msg) const noexcept { rd_kafka_message_destroy(msg); }
  void operator()(rd_kafka_queue_t* q) const noexcept { rd_kafka_queue_destroy(q); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using KafkaConf = std::unique_ptr<rd_kafka_conf_t, KafkaDeleter>;
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, KafkaDeleter>;
using KafkaMessage = std::unique_ptr<rd_kafka_message_t, KafkaDeleter>;
using KafkaQueue = std::unique_ptr<rd_kafka_queue_t, KafkaDeleter>;

class KafkaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Builds a configuration; throws KafkaError naming the property librdkafka refused.
KafkaConf make_conf(const std::map<std::string, std::string>& properties);
// What every consumer of the ingester starts from: its brokers, group and client id, and no
// offset committed or stored by librdkafka on its own (PostgreSQL holds the offsets; Kafka's
// copy is mirrored explicitly).
std::map<std::string, std::string> consumer_properties(const std::string& brokers, const std::string& group,
                                                       const std::string& client_id);

// Creates a producer or consumer from `conf` (ownership of conf passes to the handle).
KafkaHandle make_handle(rd_kafka_type_t type, KafkaConf conf);

// Kafka error classification, the counterpart of pg::classify_sqlstate: true when the error is
// the cluster being unwell (transport, broker down, timeouts, leader elections), which
// librdkafka retries by itself; false for errors an operator must fix (unknown topic,
// authorization, bad configuration).
bool is_transient(rd_kafka_resp_err_t err) noexcept;

}  // namespace mlops_ingest::kafka
