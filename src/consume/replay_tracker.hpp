#pragma once
// The consumer's replay mode (`mlops-ingest replay`, replay/replay_window.hpp): the same
// consumer, bounded to a window of offsets resolved once at the start.
//
// Exactly once within the window, and never past it:
//   - a partition starts at the window's start, or at the offset this replay group stored
//     (ReplayWindow::begin_offset);
//   - a message at or past its partition's end is never handed to a writer, so no writer can
//     store an offset beyond the end (a writer stores "last written offset + 1");
//   - once everything below the end has been handed over the partition stops fetching
//     (PartitionState::window_end, which back-pressure and alignment never lift);
//   - the replay is complete when every partition of the window has reached its end and the
//     pipeline holds nothing uncommitted (ring slots are released only after COMMIT).
// Partitions this member does not hold are judged by the offsets stored in PostgreSQL, read
// through the StoredOffsetsReader, so an outage delays the verdict and never the polling.
//
// Thread model: the consumer thread only.
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <map>
#include <optional>

#include "assigned_partitions.hpp"
#include "mlops_ingest/replay/replay_window.hpp"
#include "stored_offsets_reader.hpp"

namespace mlops_ingest {

class ReplayTracker {
 public:
  using Clock = std::chrono::steady_clock;

  ReplayTracker(const ReplayWindow& window, rd_kafka_t* rk, const Config& config, AssignedPartitions& partitions);

  // Only the window's topics are subscribed.
  [[nodiscard]] bool covers(const std::string& topic) const { return progress_.window().covers(topic); }
  // On assignment: where `tp` starts (the window's start, or where this replay group stopped,
  // `stored` >= 0), and whether it has anything left to read.
  void assign(TopicKind topic, rd_kafka_topic_partition_t& tp, PartitionState& state, std::int64_t stored);
  // After an assignment took effect: says how many partitions had nothing left to read.
  void report_assignment() const;
  // False for a message at or past its partition's end: it is not handed over. Marks the
  // partition finished once everything below its end has been handed over.
  bool admit(const rd_kafka_message_t* msg, TopicKind topic);
  void committed(const PartitionOffsets& committed);
  // Offsets stored in PostgreSQL for the replay group (a read the tracker asked for).
  void stored(const PartitionOffsets& offsets);
  // Whether a read of the stored offsets would help a verdict now (at most once a second).
  [[nodiscard]] bool wants_stored_offsets(Clock::time_point now);

  // True once every partition of the window has reached its end; `pipeline_empty`: nothing is
  // stashed, held or uncommitted in the rings. Checked at most every 250 ms.
  bool finished(Clock::time_point now, bool pipeline_empty);
  // After finished(): the last progress line and the summary line.
  void complete(Clock::time_point now);
  [[nodiscard]] bool complete() const noexcept { return complete_; }
  [[nodiscard]] std::string line(Clock::time_point now) { return progress_.line(now); }

 private:
  [[nodiscard]] const std::string& topic_name(TopicKind topic) const { return cfg_.topic_of(topic); }
  void mark_exhausted(const std::string& topic, std::int32_t partition, PartitionState* state);
  void check_positions();  // librdkafka's positions: a window may end on offsets holding no message

  rd_kafka_t* rk_;
  const Config& cfg_;
  AssignedPartitions& partitions_;
  ReplayProgress progress_;
  bool complete_ = false;
  bool others_pending_ = false;  // partitions not ours still below their end
  Clock::time_point last_check_{};
  Clock::time_point last_stored_request_{};
};

}  // namespace mlops_ingest
