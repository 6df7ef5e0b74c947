// resolve_start_offsets against the embedded broker (a real Kafka-protocol listener, several
// brokers so that the partitions have different leaders): the logical start offsets of an
// assignment become the absolute offsets librdkafka would have looked up, what is already
// absolute stays, and whatever cannot be looked up keeps its logical offset for librdkafka.
// (No PostgreSQL needed; it lives in this tier for the broker.)
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>

#include "mlops_ingest/devtools/dev_broker.hpp"
#include "mlops_ingest/kafka/kafka_handles.hpp"
#include "consume/consumer_client.hpp"

namespace mlops_ingest {
namespace {

using std::chrono::milliseconds;

// Produces `count` small messages to one partition and waits for every acknowledgement.
void produce_to(const std::string& brokers, const std::string& topic, int partition, int count) {
  kafka::KafkaHandle producer =
      kafka::make_handle(RD_KAFKA_PRODUCER, kafka::make_conf({{"bootstrap.servers", brokers}}));
  for (int i = 0; i < count; ++i) {
    std::string value = "m" + std::to_string(i);
    ASSERT_EQ(rd_kafka_producev(producer.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                                RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  ASSERT_EQ(rd_kafka_flush(producer.get(), 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

kafka::KafkaHandle consumer_for(const std::string& brokers) {
  return kafka::make_handle(RD_KAFKA_CONSUMER, kafka::make_conf({{"bootstrap.servers", brokers},
                                                                 {"group.id", "start-offsets-test"},
                                                                 {"log_level", "0"}}));
}

TEST(StartOffsets, LogicalOffsetsBecomeTheAbsoluteOffsetsTheyStandFor) {
  kafka::DevBroker broker({"events"}, 4, /*brokers=*/3);
  const std::string brokers = broker.bootstrap_servers();
  produce_to(brokers, "events", 0, 3);
  produce_to(brokers, "events", 1, 5);
  produce_to(brokers, "events", 3, 2);  // partition 2 stays empty

  kafka::KafkaHandle rk = consumer_for(brokers);
  kafka::PartitionList list(rd_kafka_topic_partition_list_new(4));
  rd_kafka_topic_partition_list_add(list.get(), "events", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_topic_partition_list_add(list.get(), "events", 1)->offset = RD_KAFKA_OFFSET_END;
  rd_kafka_topic_partition_list_add(list.get(), "events", 2)->offset = RD_KAFKA_OFFSET_END;
  rd_kafka_topic_partition_list_add(list.get(), "events", 3)->offset = 1;  // stored: left alone

  EXPECT_EQ(resolve_start_offsets(rk.get(), list.get(), milliseconds(10000)), 3);
  std::map<int, std::int64_t> offsets;
  for (int i = 0; i < list->cnt; ++i) offsets[list->elems[i].partition] = list->elems[i].offset;
  EXPECT_EQ(offsets[0], 0);  // earliest
  EXPECT_EQ(offsets[1], 5);  // latest: the next offset to be written
  EXPECT_EQ(offsets[2], 0);  // latest of an empty partition
  EXPECT_EQ(offsets[3], 1);
}

TEST(StartOffsets, APartitionThatCannotBeLookedUpKeepsItsLogicalOffset) {
  kafka::DevBroker broker({"events"}, 2);
  const std::string brokers = broker.bootstrap_servers();
  produce_to(brokers, "events", 1, 4);

  kafka::KafkaHandle rk = consumer_for(brokers);
  kafka::PartitionList list(rd_kafka_topic_partition_list_new(2));
  rd_kafka_topic_partition_list_add(list.get(), "events", 1)->offset = RD_KAFKA_OFFSET_END;
  rd_kafka_topic_partition_list_add(list.get(), "events", 7)->offset = RD_KAFKA_OFFSET_BEGINNING;  // no such partition

  const int resolved = resolve_start_offsets(rk.get(), list.get(), milliseconds(3000));
  // librdkafka either answers the known partition and flags the unknown one, or refuses the
  // whole lookup; in neither case may the unknown partition get an absolute offset.
  EXPECT_LE(resolved, 1);
  EXPECT_EQ(list->elems[1].offset, RD_KAFKA_OFFSET_BEGINNING);
  EXPECT_EQ(list->elems[0].offset, resolved == 1 ? 4 : RD_KAFKA_OFFSET_END);
}

TEST(StartOffsets, AnUnreachableBrokerLeavesEveryOffsetToLibrdkafka) {
  // Port 9 (discard) on localhost: nothing listens there in the test environment.
  kafka::KafkaHandle rk = consumer_for("127.0.0.1:9");
  kafka::PartitionList list(rd_kafka_topic_partition_list_new(2));
  rd_kafka_topic_partition_list_add(list.get(), "events", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_topic_partition_list_add(list.get(), "events", 1)->offset = RD_KAFKA_OFFSET_END;

  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(resolve_start_offsets(rk.get(), list.get(), milliseconds(500)), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));  // bounded by the timeout
  EXPECT_EQ(list->elems[0].offset, RD_KAFKA_OFFSET_BEGINNING);
  EXPECT_EQ(list->elems[1].offset, RD_KAFKA_OFFSET_END);
}

}  // namespace
}  // namespace mlops_ingest
