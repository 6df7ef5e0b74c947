#pragma once
// Offsets already committed to PostgreSQL, handed from the writer threads to the consumer
// thread, which mirrors them to Kafka (for lag tools) — always after the database commit.
#include <cstdint>
#include <map>
#include <mutex>
#include <utility>

#include "mlops_ingest/handoff/envelope.hpp"

namespace mlops_ingest {

class OffsetLedger {
 public:
  using Key = std::pair<TopicKind, std::int32_t>;

  void record(TopicKind topic, std::int32_t partition, std::int64_t next_offset) {
    std::lock_guard lock(mutex_);
    std::int64_t& slot = pending_[{topic, partition}];
    if (next_offset > slot) slot = next_offset;
  }
  // Offsets recorded since the last call.
  std::map<Key, std::int64_t> take() {
    std::lock_guard lock(mutex_);
    return std::exchange(pending_, {});
  }

 private:
  std::mutex mutex_;
  std::map<Key, std::int64_t> pending_;
};

}  // namespace mlops_ingest
