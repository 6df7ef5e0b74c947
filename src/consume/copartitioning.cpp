#include "copartitioning.hpp"

namespace mlops_ingest {
namespace {

struct Partitioner {
  const char* name;
  int32_t (*fn)(const rd_kafka_topic_t*, const void*, size_t, int32_t, void*, void*);
};
// The key-hashing partitioners of librdkafka (which also implements the Java client's).
const Partitioner kPartitioners[] = {
    {"CRC32 (librdkafka's default, consistent_random)", &rd_kafka_msg_partitioner_consistent},
    {"murmur2 (the Java client's default)", &rd_kafka_msg_partitioner_murmur2},
    {"FNV-1a", &rd_kafka_msg_partitioner_fnv1a},
};

std::string describe(unsigned matches) {
  for (unsigned i = 0; i < std::size(kPartitioners); ++i) {
    if (matches & (1u << i)) return kPartitioners[i].name;
  }
  return "no known key hash (random or custom partitioning)";
}

}  // namespace

std::optional<std::string> CoPartitioning::set_partition_counts(int predictions, int labels) {
  topics_[0].partition_count = predictions;
  topics_[1].partition_count = labels;
  if (predictions > 0 && labels > 0 && predictions != labels && !reported_) {
    mismatch_ = reported_ = true;
    return "the predictions topic has " + std::to_string(predictions) + " partitions and the labels topic " +
           std::to_string(labels) +
           ": a prediction and its label land in unrelated partitions, so labels cannot be paired with their "
           "predictions in memory or aligned by event time (still exactly once; labels take the slower path "
           "through PostgreSQL). Give both topics the same partition count.";
  }
  return std::nullopt;
}

std::optional<std::string> CoPartitioning::sample(TopicKind topic, const rd_kafka_message_t* msg) {
  TopicSample& t = topics_[static_cast<int>(topic)];
  if (reported_ || t.samples >= kSamples || t.partition_count <= 0 || msg->key == nullptr || msg->key_len == 0) {
    return std::nullopt;
  }
  ++t.samples;
  for (unsigned i = 0; i < std::size(kPartitioners); ++i) {
    const int32_t p = kPartitioners[i].fn(msg->rkt, msg->key, msg->key_len, t.partition_count, nullptr, nullptr);
    if (p != msg->partition) t.matches &= ~(1u << i);
  }
  const TopicSample& pred = topics_[0];
  const TopicSample& lab = topics_[1];
  if (pred.samples < kSamples || lab.samples < kSamples) return std::nullopt;
  const unsigned known = (1u << std::size(kPartitioners)) - 1;
  if ((pred.matches & lab.matches & known) != 0) return std::nullopt;
  mismatch_ = reported_ = true;
  return "the predictions topic is partitioned by " + describe(pred.matches & known) + " and the labels topic by " +
         describe(lab.matches & known) +
         ": a prediction and its label land in different partitions, so labels cannot be paired with their "
         "predictions in memory or aligned by event time (still exactly once; labels take the slower path "
         "through PostgreSQL). Produce both topics keyed by prediction_id with the same partitioner.";
}

}  // namespace mlops_ingest
