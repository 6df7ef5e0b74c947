#pragma once
// One writer's side of the hand-off: the ring the consumer fills, the signal that wakes the
// writer, and whether the writer has failed. The consumer sees only lanes, never the writers
// behind them, so consume/ and write/ do not depend on each other.
//
// Thread model: the ring's producer side and notify() belong to the consumer thread; its
// consumer side, the signal's sleep calls and mark_failed() to the writer's; failed() to any.
#include <atomic>
#include <cstddef>

#include "mlops_ingest/handoff/envelope.hpp"
#include "mlops_ingest/handoff/ring_signal.hpp"
#include "mlops_ingest/handoff/spsc_ring.hpp"

namespace mlops_ingest {

class Lane {
 public:
  explicit Lane(std::size_t ring_capacity) : ring_(ring_capacity) {}
  Lane(const Lane&) = delete;
  Lane& operator=(const Lane&) = delete;

  [[nodiscard]] SpscRing<Envelope>& ring() noexcept { return ring_; }
  [[nodiscard]] const SpscRing<Envelope>& ring() const noexcept { return ring_; }
  // The producer calls notify() on it after publishing slots (wakes a sleeping writer).
  [[nodiscard]] RingSignal& signal() noexcept { return signal_; }
  [[nodiscard]] bool failed() const noexcept { return failed_.load(); }
  void mark_failed() noexcept { failed_ = true; }

 private:
  SpscRing<Envelope> ring_;
  RingSignal signal_;
  std::atomic<bool> failed_{false};
};

}  // namespace mlops_ingest
