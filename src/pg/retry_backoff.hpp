#pragma once
// The one retry policy for PostgreSQL outages: the writers' batch retries and the consumer's
// read of stored offsets on an assignment both wait this way between attempts.
//
// Exponential with "equal jitter" (half the delay fixed, half random): many writers and
// instances that lost the same server do not all come back in the same millisecond, yet none
// retries much sooner than the exponential step says.
//
// Thread model: a plain value; each retrying loop owns its own.
#include <chrono>
#include <cstdint>
#include <random>

namespace mlops_ingest {

class RetryBackoff {
 public:
  // initial, max: Config::retry_backoff_initial / retry_backoff_max.
  RetryBackoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, std::uint64_t seed);

  // The wait before the next attempt: base = min(max, initial << attempts) (the shift capped at
  // 20), returned as base/2 + uniform[0, max(base/2, 1)]. Counts one attempt.
  std::chrono::milliseconds next();
  // After a success: the next outage starts again from `initial`.
  void reset() noexcept { attempt_ = 0; }
  [[nodiscard]] int attempts() const noexcept { return attempt_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  std::mt19937_64 rng_;
  int attempt_ = 0;
};

}  // namespace mlops_ingest
