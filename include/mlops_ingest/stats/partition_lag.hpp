#pragma once
// Per-partition consumer lag, published by the consumer thread whenever it computes lag and
// read by the metrics endpoint at scrape time. A mutex, not atomics: the set of partitions
// changes with every rebalance, and both sides touch it every few seconds at most.
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace mlops_ingest {

struct PartitionLag {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t lag = 0;  // messages between the position and the high watermark
};

class PartitionLagBoard {
 public:
  // Replaces the whole set: partitions revoked since the last call disappear from the metrics.
  void publish(std::vector<PartitionLag> lags) {
    std::lock_guard lock(mutex_);
    lags_ = std::move(lags);
  }
  [[nodiscard]] std::vector<PartitionLag> snapshot() const {
    std::lock_guard lock(mutex_);
    return lags_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<PartitionLag> lags_;
};

}  // namespace mlops_ingest
