#pragma once
// Low and high watermarks of every partition of some topics, from a plain librdkafka client
// (no consumer group is joined). Private to src/observe/.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace mlops_ingest::observe {

struct Watermarks {
  std::int64_t low = 0;
  std::int64_t high = 0;
};

struct WatermarkReport {
  std::map<std::pair<std::string, std::int32_t>, Watermarks> watermarks;  // (topic, partition)
  std::string error;  // what could not be read, if anything
};

WatermarkReport query_watermarks(const std::string& brokers, const std::vector<std::string>& topics);

}  // namespace mlops_ingest::observe
