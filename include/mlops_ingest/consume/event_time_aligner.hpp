#pragma once
// Event-time alignment of the labels topic to the predictions topic, per co-partitioned pair
// (labels partition p with predictions partition p), in the way Kafka Streams synchronises
// co-partitioned inputs (max.task.idle.ms).
//
// Why: the consumer reads the two topics in no relative order. In a backfill the labels topic
// (smaller messages) runs ahead, so a label produced long after its prediction often arrives
// first and must be parked in label_pending and moved later — twice the writes. Holding a
// label back while its predictions partition still has older messages to deliver makes almost
// every label find its prediction already stored (or in the same batch).
//
// A label with Kafka timestamp T is delivered at once when the predictions partition has
// delivered a message newer than T, or has nothing more to deliver (caught up), or is not ours;
// otherwise it is held, behind any label of its partition already held (order within a
// partition never changes). A held label waits at most `max_wait`, so a quiet or stuck
// predictions partition never stalls labels for long. Holding is bounded: at `per_partition_cap`
// held labels in a partition, or `total_cap` in all of them, the caller pauses the partition
// (full()) until it drains (low()).
//
// Thread model: the consumer thread only.
#include <chrono>
#include <cstdint>
#include <deque>
#include <limits>
#include <vector>

namespace mlops_ingest {

// Message: what is held (movable); a copy out of librdkafka's buffers in the consumer
// (consume/held_message.hpp).
template <typename Message>
class BasicEventTimeAligner {
 public:
  using Clock = std::chrono::steady_clock;

  BasicEventTimeAligner(std::chrono::milliseconds max_wait, std::size_t per_partition_cap,
                        std::size_t total_cap = std::numeric_limits<std::size_t>::max())
      : max_wait_(max_wait), cap_(per_partition_cap), total_cap_(total_cap) {}

  [[nodiscard]] bool enabled() const noexcept { return enabled_ && max_wait_.count() > 0; }
  // Off when the topics are not co-partitioned (alignment by partition pair would be noise).
  void set_enabled(bool on) noexcept { enabled_ = on; }

  // A prediction message of `partition` with Kafka timestamp `ts_ms` was delivered.
  void on_prediction(std::int32_t partition, std::int64_t ts_ms) {
    auto& f = at(frontier_, partition, kNone);
    if (ts_ms > f) f = ts_ms;
  }

  // True when a label of `partition` with Kafka timestamp `ts_ms` must wait: push() it then.
  // `drained(p)`: the predictions partition p has nothing older to deliver (caught up with its
  // high watermark, or not assigned to us).
  // Turned off (set_enabled(false)) while labels are held, it still holds a label behind them:
  // overtaking them would hand the writer a partition's offsets out of order, and it skips an
  // offset below one it has already written as stale (a lost label).
  template <typename Drained>
  bool must_hold(std::int32_t partition, std::int64_t ts_ms, Drained&& drained) const {
    if (held(partition) > 0) return true;
    if (!enabled()) return false;
    return !ready(partition, ts_ms) && !drained(partition);
  }

  void push(Message&& msg, std::int32_t partition, std::int64_t ts_ms, Clock::time_point now) {
    if (static_cast<std::size_t>(partition) >= held_.size()) held_.resize(static_cast<std::size_t>(partition) + 1);
    held_[static_cast<std::size_t>(partition)].push_back({std::move(msg), ts_ms, now});
    ++held_count_;
  }

  // must_hold() and push() in one: takes `msg` (left moved-from) if it must wait.
  template <typename Drained>
  bool hold(Message& msg, std::int32_t partition, std::int64_t ts_ms, Drained&& drained, Clock::time_point now) {
    if (!must_hold(partition, ts_ms, drained)) return false;
    push(std::move(msg), partition, ts_ms, now);
    return true;
  }

  // Delivers, in partition order, every held label that may go now; deliver(msg) returns false
  // when it cannot take more (its writer is full): the rest of that partition stays held.
  template <typename Drained, typename Deliver>
  void release(Clock::time_point now, Drained&& drained, Deliver&& deliver) {
    if (held_count_ == 0) return;
    for (std::size_t p = 0; p < held_.size(); ++p) {
      auto& queue = held_[p];
      const auto partition = static_cast<std::int32_t>(p);
      while (!queue.empty()) {
        Held& head = queue.front();
        if (enabled() && !ready(partition, head.ts_ms) && now - head.since < max_wait_ && !drained(partition)) break;
        if (!deliver(head.msg)) break;
        queue.pop_front();
        --held_count_;
      }
    }
  }

  [[nodiscard]] std::size_t held(std::int32_t partition) const noexcept {
    return static_cast<std::size_t>(partition) < held_.size() ? held_[static_cast<std::size_t>(partition)].size() : 0;
  }
  [[nodiscard]] std::size_t held() const noexcept { return held_count_; }
  // The partition should be paused: at its cap, or all partitions together at the total cap.
  [[nodiscard]] bool full(std::int32_t partition) const noexcept {
    return held(partition) >= cap_ || held_count_ >= total_cap_;
  }
  // A paused partition may resume: a quarter of its cap or less, and the total a quarter below
  // its cap (a gap, so that a partition does not flap between paused and resumed).
  [[nodiscard]] bool low(std::int32_t partition) const noexcept {
    return held(partition) <= cap_ / 4 && held_count_ <= total_cap_ - total_cap_ / 4;
  }
  [[nodiscard]] std::size_t cap() const noexcept { return cap_; }

  // Drops everything (a rebalance: nothing held was committed; it is read again).
  void clear() {
    held_.clear();
    frontier_.clear();
    held_count_ = 0;
  }

 private:
  static constexpr std::int64_t kNone = INT64_MIN;
  struct Held {
    Message msg;
    std::int64_t ts_ms;
    Clock::time_point since;
  };

  [[nodiscard]] bool ready(std::int32_t partition, std::int64_t ts_ms) const noexcept {
    const auto p = static_cast<std::size_t>(partition);
    return p < frontier_.size() && frontier_[p] > ts_ms;
  }

  template <typename T>
  static T& at(std::vector<T>& v, std::int32_t partition, const T& fill) {
    const auto p = static_cast<std::size_t>(partition);
    if (p >= v.size()) v.resize(p + 1, fill);
    return v[p];
  }

  std::chrono::milliseconds max_wait_;
  std::size_t cap_;
  std::size_t total_cap_;
  bool enabled_ = true;
  std::vector<std::int64_t> frontier_;   // per predictions partition: newest timestamp delivered
  std::vector<std::deque<Held>> held_;   // per labels partition
  std::size_t held_count_ = 0;
};

}  // namespace mlops_ingest
