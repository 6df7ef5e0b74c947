#pragma once
// One writer's side of the hand-off: the ring the consumer fills, the signal that wakes the
// writer, and whether the writer has failed. The consumer sees only lanes, never the writers
// behind them, so consume/ and write/ do not depend on each other.
//
// Thread model: the ring's producer side, signal().notify() and room()'s sleep calls belong to
// the consumer thread; its consumer side, signal()'s sleep calls, room().notify() and
// mark_failed() to the writer's; failed() to any.
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
  // The other way round: the writer calls notify() on it after releasing slots, which wakes a
  // consumer that waits for room in a full ring instead of polling it.
  [[nodiscard]] RingSignal& room() noexcept { return room_; }
  [[nodiscard]] bool failed() const noexcept { return failed_.load(); }
  void mark_failed() noexcept {
    failed_ = true;
    room_.wake();  // a consumer waiting for room learns it at once
  }

 private:
  SpscRing<Envelope> ring_;
  RingSignal signal_;
  RingSignal room_;
  std::atomic<bool> failed_{false};
};

}  // namespace mlops_ingest
