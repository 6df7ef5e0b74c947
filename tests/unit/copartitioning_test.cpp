// CoPartitioning: a mismatch of partition counts or of partitioners between the two topics is
// found from the messages themselves and reported once.
#include <gtest/gtest.h>

#include <string>

#include "consume/copartitioning.hpp"

namespace mlops_ingest {
namespace {

rd_kafka_message_t keyed(const std::string& key, std::int32_t partition) {
  rd_kafka_message_t m{};
  m.key = const_cast<char*>(key.data());
  m.key_len = key.size();
  m.partition = partition;
  return m;
}

// The partitioners the consumer recognises, as a producer would apply them.
std::int32_t crc32_partition(const std::string& key, int n) {
  return rd_kafka_msg_partitioner_consistent(nullptr, key.data(), key.size(), n, nullptr, nullptr);
}
std::int32_t murmur2_partition(const std::string& key, int n) {
  return rd_kafka_msg_partitioner_murmur2(nullptr, key.data(), key.size(), n, nullptr, nullptr);
}

TEST(CoPartitioning, SamePartitionerOnBothTopicsIsFine) {
  CoPartitioning c;
  EXPECT_FALSE(c.set_partition_counts(16, 16));
  for (int i = 0; i < CoPartitioning::kSamples; ++i) {
    const std::string key = "pred-" + std::to_string(i);
    auto p = keyed(key, crc32_partition(key, 16));
    EXPECT_FALSE(c.sample(TopicKind::kPredictions, &p));
    auto l = keyed(key, crc32_partition(key, 16));
    EXPECT_FALSE(c.sample(TopicKind::kLabels, &l));
  }
  EXPECT_TRUE(c.copartitioned());
}

TEST(CoPartitioning, JavaAndLibrdkafkaDefaultsAreReportedOnce) {
  CoPartitioning c;
  EXPECT_FALSE(c.set_partition_counts(16, 16));
  std::optional<std::string> warning;
  int warnings = 0;
  for (int i = 0; i < CoPartitioning::kSamples + 10; ++i) {
    const std::string key = "pred-" + std::to_string(i);
    auto p = keyed(key, murmur2_partition(key, 16));
    if (auto w = c.sample(TopicKind::kPredictions, &p)) ++warnings, warning = w;
    auto l = keyed(key, crc32_partition(key, 16));
    if (auto w = c.sample(TopicKind::kLabels, &l)) ++warnings, warning = w;
  }
  EXPECT_EQ(warnings, 1);
  ASSERT_TRUE(warning);
  EXPECT_NE(warning->find("murmur2"), std::string::npos) << *warning;
  EXPECT_NE(warning->find("CRC32"), std::string::npos) << *warning;
  EXPECT_FALSE(c.copartitioned());
}

TEST(CoPartitioning, DifferentPartitionCountsAreReported) {
  CoPartitioning c;
  const auto warning = c.set_partition_counts(16, 32);
  ASSERT_TRUE(warning);
  EXPECT_NE(warning->find("16"), std::string::npos);
  EXPECT_NE(warning->find("32"), std::string::npos);
  EXPECT_FALSE(c.copartitioned());
}

}  // namespace
}  // namespace mlops_ingest
