#pragma once
// Bounded single-producer/single-consumer ring of persistent slots.
//
// Unlike a queue that moves values in and out, the slots live for the ring's lifetime: the
// producer fills a slot in place (its std::string members keep their capacity, so steady state
// allocates nothing) and the consumer reads slots in place and releases them only after the
// batch they belong to has committed. The ring is therefore also the writer's batch buffer:
// nothing is copied between "consumed from Kafka" and "sent to PostgreSQL", and a batch that
// must be retried after an outage is still there.
//
// Thread model: exactly one producer thread calls producer_*; exactly one consumer thread calls
// consumer_*. size() may be read from anywhere (it is an estimate).
#include <atomic>
#include <cassert>
#include <cstddef>
#include <memory>
#include <new>

namespace mlops_ingest {

template <typename T>
class SpscRing {
 public:
  explicit SpscRing(std::size_t capacity)
      : capacity_(capacity), slots_(std::make_unique<T[]>(capacity)) {
    assert(capacity >= 2);
  }
  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

  // Slots in use (filled and not yet released). Exact from either side's own thread for the
  // part it owns, an estimate otherwise.
  [[nodiscard]] std::size_t size() const noexcept {
    const std::size_t tail = tail_.load(std::memory_order_acquire);
    const std::size_t head = head_.load(std::memory_order_acquire);
    return tail - head;
  }

  // --- producer side ---
  // The slot to fill next, or nullptr when the ring is full (the caller pauses consumption).
  [[nodiscard]] T* producer_slot() noexcept {
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - cached_head_ == capacity_) {
      cached_head_ = head_.load(std::memory_order_acquire);
      if (tail - cached_head_ == capacity_) return nullptr;
    }
    return &slots_[tail % capacity_];
  }
  // Publishes the slot returned by producer_slot().
  void producer_commit() noexcept {
    tail_.store(tail_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }

  // --- consumer side ---
  // Number of filled slots the consumer may read (from its current head), from a fresh view of
  // the producer's index.
  [[nodiscard]] std::size_t consumer_refresh() noexcept {
    cached_tail_ = tail_.load(std::memory_order_acquire);
    return cached_tail_ - head_.load(std::memory_order_relaxed);
  }
  // The i-th filled slot from the head; i < the last consumer_refresh().
  [[nodiscard]] T& consumer_peek(std::size_t i) noexcept {
    return slots_[(head_.load(std::memory_order_relaxed) + i) % capacity_];
  }
  // Gives the first n filled slots back to the producer.
  void consumer_release(std::size_t n) noexcept {
    head_.store(head_.load(std::memory_order_relaxed) + n, std::memory_order_release);
  }

 private:
  // Align each index to its own cache line to avoid false sharing between the two threads;
  // each side keeps a cached copy of the other side's index so that it touches the other
  // cache line only when its cached view says full/empty (rigtorp's SPSCQueue trick).
  static constexpr std::size_t kCacheLine = 64;
  const std::size_t capacity_;
  std::unique_ptr<T[]> slots_;
  alignas(kCacheLine) std::atomic<std::size_t> tail_{0};  // written by the producer
  alignas(kCacheLine) std::size_t cached_head_{0};        // producer's view of head_
  alignas(kCacheLine) std::atomic<std::size_t> head_{0};  // written by the consumer
  alignas(kCacheLine) std::size_t cached_tail_{0};        // consumer's view of tail_
};

}  // namespace mlops_ingest
