#include "mlops_ingest/devtools/dev_broker.hpp"

#include <librdkafka/rdkafka_mock.h>

namespace mlops_ingest::kafka {

DevBroker::DevBroker(const std::vector<std::string>& topics, int partitions, int brokers)
    : owner_(make_handle(RD_KAFKA_PRODUCER, make_conf({{"log_level", "3"}}))), brokers_(brokers) {
  cluster_ = rd_kafka_mock_cluster_new(owner_.get(), brokers);
  if (cluster_ == nullptr) throw KafkaError("could not start the embedded Kafka broker");
  for (const std::string& topic : topics) create_topic(topic, partitions);
}

DevBroker::~DevBroker() {
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
}

std::string DevBroker::bootstrap_servers() const {
  return rd_kafka_mock_cluster_bootstraps(cluster_);
}

void DevBroker::create_topic(const std::string& topic, int partitions) {
  const rd_kafka_resp_err_t err =
      rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw KafkaError("creating topic '" + topic + "': " + rd_kafka_err2str(err));
  }
}

void DevBroker::set_broker_down(int broker_id, bool down) {
  if (down) {
    rd_kafka_mock_broker_set_down(cluster_, broker_id);
  } else {
    rd_kafka_mock_broker_set_up(cluster_, broker_id);
  }
}

}  // namespace mlops_ingest::kafka
