#include "retry_backoff.hpp"

#include <algorithm>

namespace mlops_ingest {

RetryBackoff::RetryBackoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, std::uint64_t seed)
    : initial_(initial), max_(max), rng_(seed) {}

std::chrono::milliseconds RetryBackoff::next() {
  const auto cap = max_.count();
  const auto base = std::min<long long>(cap, initial_.count() << std::min(attempt_, 20));
  ++attempt_;
  std::uniform_int_distribution<long long> jitter(0, std::max<long long>(base / 2, 1));
  return std::chrono::milliseconds(base / 2 + jitter(rng_));
}

}  // namespace mlops_ingest
