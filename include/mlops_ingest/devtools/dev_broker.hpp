#pragma once
// The embedded broker for local runs and tests: librdkafka's mock cluster, a real
// Kafka-protocol listener on 127.0.0.1 that any client (kcat, another process) can use.
// In memory only, and it keeps only about 5 MB per partition: use many
// partitions, or produce while the ingester consumes.
//
// Part of the dev-tools library (mlops_ingest_devtools), not of the product: the CLI's
// `dev-broker`, the tests and the bench link it. The namespace stays mlops_ingest::kafka.
// <librdkafka/rdkafka_mock.h> is included by the implementation only; a test that injects
// faults through cluster() includes it itself.
#include <string>
#include <vector>

#include "mlops_ingest/kafka/kafka_handles.hpp"

// The mock cluster's opaque handle, declared exactly as <librdkafka/rdkafka_mock.h> does.
typedef struct rd_kafka_mock_cluster_s rd_kafka_mock_cluster_t;

namespace mlops_ingest::kafka {

class DevBroker {
 public:
  DevBroker(const std::vector<std::string>& topics, int partitions, int brokers = 1);
  ~DevBroker();
  DevBroker(const DevBroker&) = delete;
  DevBroker& operator=(const DevBroker&) = delete;

  [[nodiscard]] std::string bootstrap_servers() const;
  void create_topic(const std::string& topic, int partitions);
  // Fault injection (used by the fault tests).
  void set_broker_down(int broker_id, bool down);
  [[nodiscard]] rd_kafka_mock_cluster_t* cluster() const noexcept { return cluster_; }

 private:
  KafkaHandle owner_;  // the mock cluster lives inside this client handle
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  int brokers_;
};

}  // namespace mlops_ingest::kafka
