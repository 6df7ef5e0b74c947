#pragma once
// The partitions this member is assigned, where each stands, and why it is not fetched.
//
// Several units stop a partition's fetching for reasons of their own — its writer is behind
// (WriterFeed), its labels are held for alignment (LabelAlignment), a replay reached the end of
// its window (ReplayTracker) — and one reason ending must not resume a partition another still
// holds. Each unit sets its own flag and calls apply(): a partition is fetched exactly when no
// flag holds.
//
// Thread model: the consumer thread only (the rebalance callback runs on it, inside a poll).
#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <map>
#include <utility>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/stats/stats.hpp"

namespace mlops_ingest {

using PartitionKey = std::pair<TopicKind, std::int32_t>;
// A next offset per partition: stored in PostgreSQL, or committed by the writers.
using PartitionOffsets = std::map<PartitionKey, std::int64_t>;

struct PartitionState {
  std::int64_t position = -1;  // next offset to hand over; -1 unknown (librdkafka resolves it)
  bool backpressure = false;   // its writer is behind
  bool align_hold = false;     // its held labels reached the aligner's cap
  bool window_end = false;     // a replay has read everything of its window
  bool fetch_paused = false;   // what librdkafka was last told

  [[nodiscard]] bool should_pause() const noexcept { return backpressure || align_hold || window_end; }
};

class AssignedPartitions {
 public:
  using Map = std::map<PartitionKey, PartitionState>;

  AssignedPartitions(rd_kafka_t* rk, const Config& config, IngestStats& stats)
      : rk_(rk), cfg_(config), stats_(stats) {}

  [[nodiscard]] PartitionState* find(TopicKind topic, std::int32_t partition) noexcept {
    const auto it = map_.find({topic, partition});
    return it != map_.end() ? &it->second : nullptr;
  }
  [[nodiscard]] bool contains(TopicKind topic, std::int32_t partition) const noexcept {
    return map_.count({topic, partition}) != 0;
  }
  [[nodiscard]] bool empty() const noexcept { return map_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return map_.size(); }
  [[nodiscard]] Map& all() noexcept { return map_; }
  [[nodiscard]] const Map& all() const noexcept { return map_; }

  // A new assignment (librdkafka fetches every assigned partition until told otherwise), or
  // none; either way the generation moves on.
  void replace(Map assigned);
  void clear() { replace({}); }
  // Bumped by every assignment and revocation: a poll that saw it change must not hand over
  // what it fetched under the previous assignment.
  [[nodiscard]] std::uint64_t generation() const noexcept { return generation_; }

  // Tells librdkafka to pause or resume every partition whose flags changed since the last call,
  // and publishes how many are held back.
  void apply();

 private:
  rd_kafka_t* rk_;
  const Config& cfg_;
  IngestStats& stats_;
  Map map_;
  std::uint64_t generation_ = 0;
};

}  // namespace mlops_ingest
