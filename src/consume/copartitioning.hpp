#pragma once
// Whether the predictions and labels topics are co-partitioned — the same partition count and
// the same key → partition function — checked from the messages themselves.
//
// Co-routing (labels partition p to the writer of predictions partition p) and event-time
// alignment only help when a prediction_id's two events share a partition number. A producer's
// partitioner decides that: librdkafka's default (CRC32) and the Java client's (murmur2) put
// the same key in different partitions. Correctness never depends on it (PostgreSQL decides
// every label that is not paired in memory); this only explains a slower label path in the log
// and turns alignment off where it would be noise.
//
// Thread model: the consumer thread only.
#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <optional>
#include <string>

#include "mlops_ingest/handoff/envelope.hpp"

namespace mlops_ingest {

class CoPartitioning {
 public:
  static constexpr int kSamples = 256;  // keyed messages per topic before a verdict

  // Partition counts from metadata; a difference is reported at once.
  std::optional<std::string> set_partition_counts(int predictions, int labels);
  // Samples one keyed message of `topic`; returns a warning, once, if the partitioners differ.
  std::optional<std::string> sample(TopicKind topic, const rd_kafka_message_t* msg);
  // False once a mismatch is known.
  [[nodiscard]] bool copartitioned() const noexcept { return !mismatch_; }

 private:
  struct TopicSample {
    int partition_count = 0;
    int samples = 0;
    unsigned matches = ~0u;  // bit per known partitioner that explained every sample so far
  };
  TopicSample topics_[2];
  bool mismatch_ = false;
  bool reported_ = false;
};

}  // namespace mlops_ingest
