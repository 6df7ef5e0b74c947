#pragma once
// A fixed-bucket histogram of durations that the pipeline threads record into and the metrics
// endpoint reads at scrape time (it becomes a Prometheus histogram there, see src/observe/).
//
// Thread model: observe() and merge() may be called from any thread at once (relaxed atomics,
// no lock); snapshot() from any thread. A snapshot taken while a merge is under way may see part
// of that merge: counts stay monotonic, which is all a Prometheus histogram needs.
//
// The hot path stays cheap: a writer fills a LatencyBatch (plain integers, no atomics) row by
// row and merges it once per committed batch, which is ~20 atomic additions whatever the batch
// size.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace mlops_ingest {

// Upper bounds of the buckets, in seconds; one more bucket (+Inf) follows. They span a fast
// batch commit (a few ms) to events that waited out a long PostgreSQL outage (an hour); older
// events (a backfill of last week's topic) land in +Inf.
inline constexpr std::array<double, 18> kLatencyBucketBounds = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600};
inline constexpr std::size_t kLatencyBuckets = kLatencyBucketBounds.size() + 1;

// The bucket a duration falls in (a bucket holds values <= its bound, as Prometheus' "le").
[[nodiscard]] inline std::size_t latency_bucket(double seconds) noexcept {
  return static_cast<std::size_t>(
      std::lower_bound(kLatencyBucketBounds.begin(), kLatencyBucketBounds.end(), seconds) - kLatencyBucketBounds.begin());
}

[[nodiscard]] inline double to_seconds(std::chrono::nanoseconds d) noexcept {
  // Negative durations (a producer clock ahead of ours) count as zero rather than vanish.
  return d.count() <= 0 ? 0.0 : static_cast<double>(d.count()) / 1e9;
}

// One thread's observations, to be merged into a LatencyHistogram in one go.
class LatencyBatch {
 public:
  void observe(std::chrono::nanoseconds d) noexcept {
    const double s = to_seconds(d);
    ++counts_[latency_bucket(s)];
    sum_seconds_ += s;
  }
  void clear() noexcept { *this = LatencyBatch{}; }
  [[nodiscard]] bool empty() const noexcept {
    return std::all_of(counts_.begin(), counts_.end(), [](std::uint64_t c) { return c == 0; });
  }

 private:
  friend class LatencyHistogram;
  std::array<std::uint64_t, kLatencyBuckets> counts_{};
  double sum_seconds_ = 0;
};

class LatencyHistogram {
 public:
  struct Snapshot {
    std::array<std::uint64_t, kLatencyBuckets> counts{};  // per bucket, not cumulative; last: +Inf
    double sum_seconds = 0;
    [[nodiscard]] std::uint64_t count() const noexcept {
      std::uint64_t n = 0;
      for (std::uint64_t c : counts) n += c;
      return n;
    }
  };

  void observe(std::chrono::nanoseconds d) noexcept {
    const double s = to_seconds(d);
    counts_[latency_bucket(s)].fetch_add(1, std::memory_order_relaxed);
    sum_seconds_.fetch_add(s, std::memory_order_relaxed);
  }

  void merge(const LatencyBatch& batch) noexcept {
    for (std::size_t i = 0; i < kLatencyBuckets; ++i) {
      if (batch.counts_[i] != 0) counts_[i].fetch_add(batch.counts_[i], std::memory_order_relaxed);
    }
    sum_seconds_.fetch_add(batch.sum_seconds_, std::memory_order_relaxed);
  }

  [[nodiscard]] Snapshot snapshot() const noexcept {
    Snapshot s;
    for (std::size_t i = 0; i < kLatencyBuckets; ++i) s.counts[i] = counts_[i].load(std::memory_order_relaxed);
    s.sum_seconds = sum_seconds_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  std::array<std::atomic<std::uint64_t>, kLatencyBuckets> counts_{};
  // A double, not integer nanoseconds: a backfill of week-old events would overflow 64 bits of ns.
  std::atomic<double> sum_seconds_{0};
};

}  // namespace mlops_ingest
