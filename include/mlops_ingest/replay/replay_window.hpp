#pragma once
// `mlops-ingest replay`: the pipeline of `run`, bounded to a window of Kafka offsets.
//
// The window is given in time (--from earliest|RFC3339, --until now|RFC3339) and resolved ONCE,
// when the replay starts, into a half-open offset range [start, end) per topic-partition:
//   - earliest       → the partition's low watermark;
//   - now            → its high watermark at that moment (later messages are not replayed);
//   - an RFC 3339 T  → the first offset whose message timestamp is at or after T (Kafka's
//                      offsets-for-times), or the high watermark when there is none.
// The consumer hands over no message at or past `end`, pauses a partition once it has handed
// over everything below `end`, and the replay exits when every partition of the window has
// reached its end and the writers have committed what they hold. Offsets are stored in
// ingest_offsets under the replay's own consumer group, so a replay killed and started again
// with the same group resumes where it stopped (docs/operations.md, "Replaying a window").
//
// This header is pure (no librdkafka): resolution runs against PartitionTimeline, so that the
// rules are unit-tested without a broker; replay_timeline.cpp implements it with librdkafka.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mlops_ingest/config/config.hpp"

namespace mlops_ingest {

// One end of the window as the user gave it.
struct ReplayBound {
  enum class Kind { kEarliest, kNow, kTime };
  Kind kind = Kind::kEarliest;
  std::int64_t unix_ms = 0;  // kTime: Kafka timestamps (ms) at or after this are at/after the bound
  [[nodiscard]] std::string text() const;  // "earliest", "now", "2026-01-05T12:00:00.000Z"
  [[nodiscard]] std::string name() const;  // for group names: "earliest", "now", "20260105T120000Z"
};

// --from takes earliest or an RFC 3339 time; --until takes now or an RFC 3339 time. Throw
// ConfigError naming the option and the accepted forms.
ReplayBound parse_replay_from(std::string_view text);
ReplayBound parse_replay_until(std::string_view text);

// The default replay group: "<live group>-replay-<from>-<until>". Never the live group, so a
// replay cannot move the live ingester's offsets; the same window gives the same group, so
// running the same command again resumes it.
std::string default_replay_group(const std::string& live_group, const ReplayBound& from, const ReplayBound& until);

struct OffsetRange {
  std::int64_t start = 0;  // first offset of the window
  std::int64_t end = 0;    // first offset after it (exclusive)
  [[nodiscard]] std::int64_t size() const noexcept { return end > start ? end - start : 0; }
};

class ReplayWindow {
 public:
  using Key = std::pair<std::string, std::int32_t>;  // topic, partition

  ReplayWindow(ReplayBound from, ReplayBound until) : from_(from), until_(until) {}

  void set_range(const std::string& topic, std::int32_t partition, OffsetRange range);
  [[nodiscard]] const ReplayBound& from() const noexcept { return from_; }
  [[nodiscard]] const ReplayBound& until() const noexcept { return until_; }
  [[nodiscard]] const std::map<Key, OffsetRange>& ranges() const noexcept { return ranges_; }
  [[nodiscard]] std::optional<OffsetRange> range(const std::string& topic, std::int32_t partition) const;
  [[nodiscard]] bool covers(const std::string& topic) const;
  [[nodiscard]] std::int64_t messages() const;  // offsets in the window, all partitions

  // Where consuming a partition begins. No stored offset: the window's start. A stored offset
  // (this replay group ran before): resume there (everything below it is committed), but
  // never before the window's start — a group reused for an earlier window does not drag
  // messages from before this window in. A stored offset at or past the end: nothing to read.
  // A partition outside the window (created after it was resolved) has nothing to read either;
  // the consumer pauses it at once and hands none of its messages over.
  [[nodiscard]] std::int64_t begin_offset(const std::string& topic, std::int32_t partition,
                                          std::optional<std::int64_t> stored) const;

  // "predictions: 16 partitions, 1,234 messages (p0 [0, 80) p1 [3, 77) …)", one line per topic.
  [[nodiscard]] std::vector<std::string> describe() const;

 private:
  ReplayBound from_, until_;
  std::map<Key, OffsetRange> ranges_;
};

// What resolving a window asks of Kafka. Offsets and timestamps as Kafka has them (ms).
class PartitionTimeline {
 public:
  struct Watermarks {
    std::int64_t low = 0, high = 0;
  };
  struct Message {
    std::int64_t offset = -1;        // -1: no message at or after the offset asked for, below high
    std::int64_t timestamp_ms = -1;
  };
  virtual ~PartitionTimeline() = default;
  virtual std::vector<std::int32_t> partitions(const std::string& topic) = 0;
  virtual Watermarks watermarks(const std::string& topic, std::int32_t partition) = 0;
  // Kafka's offsets-for-times: the first offset whose timestamp is >= unix_ms; nullopt when the
  // broker says there is none (-1).
  virtual std::optional<std::int64_t> offset_for_time(const std::string& topic, std::int32_t partition,
                                                      std::int64_t unix_ms) = 0;
  // The first message at or after `offset` (offsets may have gaps: compaction, transactions).
  virtual Message message_at(const std::string& topic, std::int32_t partition, std::int64_t offset,
                             std::int64_t high) = 0;
};

// Resolves the window for `topics` once. The broker's offsets-for-times answer is used as is,
// except "no message at or after T" when the partition's last message is at or after T: a
// broker that cannot look offsets up by time (librdkafka's mock cluster, the embedded broker,
// answers -1 to every such query) says that. Then the first offset at or after T is found by a
// binary search over message timestamps, which assumes they do not decrease within a partition
// (true with LogAppendTime, and with CreateTime from producers with sane clocks).
ReplayWindow resolve_replay_window(PartitionTimeline& kafka, const std::vector<std::string>& topics,
                                   const ReplayBound& from, const ReplayBound& until);

// The librdkafka PartitionTimeline (replay_timeline.cpp): a client of its own, outside any
// consumer group, with the config's brokers and kafka.* properties (TLS, SASL).
std::unique_ptr<PartitionTimeline> kafka_partition_timeline(const Config& config);

// Progress through the window, from the offsets committed in PostgreSQL (resumed or new), and
// the consumer's knowledge of which partitions have nothing more to hand over. Thread model:
// the consumer thread only.
class ReplayProgress {
 public:
  using Clock = std::chrono::steady_clock;
  explicit ReplayProgress(const ReplayWindow& window);

  [[nodiscard]] const ReplayWindow& window() const noexcept { return window_; }
  // The next offset stored for a partition: committed by this run, or found stored in
  // PostgreSQL (an earlier run of this replay, another member) — not counted in the rate.
  void committed(const std::string& topic, std::int32_t partition, std::int64_t next_offset);
  void resumed(const std::string& topic, std::int32_t partition, std::int64_t next_offset);
  // Everything of the partition below its end has been handed to the writers (or there is
  // nothing to hand over); set = false when the partition is assigned anew.
  void set_exhausted(const std::string& topic, std::int32_t partition, bool exhausted);
  [[nodiscard]] bool exhausted(const std::string& topic, std::int32_t partition) const;
  // True when every partition of the window is empty, committed up to its end, or exhausted
  // while `assigned(topic, partition)` says this member owns it (its rows may still be in the
  // writers' rings: the caller checks those).
  template <typename Assigned>
  [[nodiscard]] bool all_reached(Assigned&& assigned) const {
    for (const auto& [key, p] : partitions_) {
      if (p.range.size() == 0 || p.committed >= p.range.end) continue;
      if (!(p.exhausted && assigned(key.first, key.second))) return false;
    }
    return true;
  }
  // Every partition has reached its end: offsets below an end that hold no message
  // (transaction markers) count as done too.
  void mark_complete();
  [[nodiscard]] std::int64_t done() const;  // offsets of the window below the committed offsets
  // "replay: 41.2% of the window (5,080 of 12,340 messages) | 2,310 msg/s | ETA 3 s"; the rate
  // is over the time since the previous call (since construction for the first).
  [[nodiscard]] std::string line(Clock::time_point now);

 private:
  struct Partition {
    OffsetRange range;
    std::int64_t committed = -1;
    bool exhausted = false;
  };
  ReplayWindow window_;
  std::map<ReplayWindow::Key, Partition> partitions_;
  Clock::time_point last_line_;
  std::int64_t last_done_ = 0;
  std::int64_t resumed_since_line_ = 0;  // done() gained from stored offsets since the last line
};

// "1 h 02 min", "3 min 05 s", "12 s": an ETA a person reads at a glance.
std::string format_duration(double seconds);

}  // namespace mlops_ingest
