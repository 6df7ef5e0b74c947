#include "lag_gauges.hpp"

#include <algorithm>
#include <vector>

namespace mlops_ingest {

std::int64_t LagGauges::publish() {
  std::int64_t lag = 0;
  bool known = true;
  std::vector<PartitionLag> lags;
  lags.reserve(partitions_.size());
  for (const auto& [key, state] : partitions_.all()) {
    const std::string& topic = cfg_.topic_of(key.first);
    std::int64_t lo = -1, hi = -1;
    rd_kafka_get_watermark_offsets(rk_, topic.c_str(), key.second, &lo, &hi);
    const std::int64_t position = state.position >= 0 ? state.position : lo;
    if (hi < 0 || position < 0) {
      known = false;
      continue;
    }
    const std::int64_t behind = std::max<std::int64_t>(0, hi - position);
    lags.push_back({topic, key.second, behind});
    lag += behind;
  }
  stats_.partition_lag.publish(std::move(lags));
  last_ = Clock::now();
  stats_.lag = known ? lag : -1;
  return known ? lag : -1;
}

void LagGauges::clear() { stats_.partition_lag.publish({}); }

}  // namespace mlops_ingest
