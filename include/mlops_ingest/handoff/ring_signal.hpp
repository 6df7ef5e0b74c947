#pragma once
// Wakes a writer that sleeps on an empty ring, without the writer polling (and, as a lane's
// room(), a consumer that waits for room in a full ring: the roles swapped).
//
// The writer announces it is about to sleep (prepare_sleep), re-checks its ring, and only then
// waits on fd() (an eventfd, readable once signalled). The consumer publishes slots first and
// calls notify() after each round of hand-overs: it writes to the eventfd only when the writer
// said it sleeps, so a busy pipeline makes no system call for it. The two seq_cst fences make
// "publish, then look at the flag" and "raise the flag, then look at the ring" a Dekker pair:
// at least one side sees the other, so no wake-up is lost.
//
// Thread model: notify()/wake() from any thread; prepare_sleep/cancel_sleep/drain from the
// sleeping side's thread only.
#include <atomic>

namespace mlops_ingest {

class RingSignal {
 public:
  RingSignal();
  ~RingSignal();
  RingSignal(const RingSignal&) = delete;
  RingSignal& operator=(const RingSignal&) = delete;

  // Producer: after publishing slots.
  void notify() noexcept {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (sleeping_.load(std::memory_order_relaxed)) wake();
  }
  // Unconditionally makes fd() readable (stop and abort requests).
  void wake() noexcept;

  // Writer: before re-checking the ring and waiting on fd().
  void prepare_sleep() noexcept {
    sleeping_.store(true, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  void cancel_sleep() noexcept { sleeping_.store(false, std::memory_order_relaxed); }
  // Writer: after waking, resets fd() to not readable.
  void drain() noexcept;

  [[nodiscard]] int fd() const noexcept { return fd_; }

 private:
  int fd_ = -1;
  std::atomic<bool> sleeping_{false};
};

}  // namespace mlops_ingest
