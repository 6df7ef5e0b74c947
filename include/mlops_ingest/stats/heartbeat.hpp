#pragma once
// A thread's sign of life for the /healthz endpoint: the thread calls beat() every time round
// its loop (and while it waits out a retry), the endpoint reports the thread stuck when the last
// beat is older than the stall limit. One relaxed store of a clock reading: cheap enough for a
// loop that turns every few hundred microseconds.
#include <atomic>
#include <chrono>
#include <cstdint>

namespace mlops_ingest {

class Heartbeat {
 public:
  void beat() noexcept {
    // The same clock as monotonic_ns() (stats.hpp).
    last_ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::steady_clock::now().time_since_epoch()).count(),
                   std::memory_order_relaxed);
  }
  // monotonic_ns() of the last beat; 0 if the thread never beat (not started, or not wired).
  [[nodiscard]] std::int64_t last_ns() const noexcept { return last_ns_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> last_ns_{0};
};

}  // namespace mlops_ingest
