#include "replay_tracker.hpp"

#include "mlops_ingest/kafka/kafka_handles.hpp"
#include "mlops_ingest/log/log.hpp"

namespace mlops_ingest {

ReplayTracker::ReplayTracker(const ReplayWindow& window, rd_kafka_t* rk, const Config& config,
                             AssignedPartitions& partitions)
    : rk_(rk), cfg_(config), partitions_(partitions), progress_(window) {}

void ReplayTracker::assign(TopicKind topic, rd_kafka_topic_partition_t& tp, PartitionState& state,
                           std::int64_t stored) {
  const std::string& name = topic_name(topic);
  const std::optional<std::int64_t> resumed = stored >= 0 ? std::optional<std::int64_t>(stored) : std::nullopt;
  const std::int64_t begin = progress_.window().begin_offset(name, tp.partition, resumed);
  tp.offset = begin;
  state.position = begin;
  if (resumed) progress_.resumed(name, tp.partition, *resumed);
  const std::optional<OffsetRange> range = progress_.window().range(name, tp.partition);
  const bool exhausted = !range || begin >= range->end;
  progress_.set_exhausted(name, tp.partition, exhausted);
  state.window_end = exhausted;
}

void ReplayTracker::report_assignment() const {
  int exhausted = 0;
  for (const auto& [key, state] : partitions_.all()) exhausted += state.window_end ? 1 : 0;
  if (exhausted == 0) return;
  log_info("replay: " + std::to_string(exhausted) + " of " + std::to_string(partitions_.size()) +
           " assigned partitions have nothing left to read in the window (paused)");
}

void ReplayTracker::mark_exhausted(const std::string& topic, std::int32_t partition, PartitionState* state) {
  progress_.set_exhausted(topic, partition, true);
  if (state != nullptr) state->window_end = true;
}

bool ReplayTracker::admit(const rd_kafka_message_t* msg, TopicKind topic) {
  const std::string& name = topic_name(topic);
  const std::optional<OffsetRange> range = progress_.window().range(name, msg->partition);
  const bool admitted = range && msg->offset < range->end;
  // The message at end - 1 completes the partition; a later one means the window's last
  // offsets held no message (transaction markers, compaction). Either way: nothing more to read.
  const bool at_end = !admitted || msg->offset + 1 >= range->end;
  if (at_end && !progress_.exhausted(name, msg->partition)) {
    mark_exhausted(name, msg->partition, partitions_.find(topic, msg->partition));
    partitions_.apply();
  }
  return admitted;
}

void ReplayTracker::committed(const PartitionOffsets& committed) {
  for (const auto& [key, next] : committed) progress_.committed(topic_name(key.first), key.second, next);
}

void ReplayTracker::stored(const PartitionOffsets& offsets) {
  for (const auto& [key, next] : offsets) progress_.resumed(topic_name(key.first), key.second, next);
}

bool ReplayTracker::wants_stored_offsets(Clock::time_point now) {
  if (!others_pending_ || now - last_stored_request_ < std::chrono::seconds(1)) return false;
  last_stored_request_ = now;
  return true;
}

void ReplayTracker::check_positions() {
  // librdkafka's position also moves past offsets that hold no message (transaction markers):
  // a partition whose window ends with such offsets has reached its end without a message at
  // or past it.
  kafka::PartitionList positions(rd_kafka_topic_partition_list_new(static_cast<int>(partitions_.size())));
  for (const auto& [key, state] : partitions_.all()) {
    if (!state.window_end) rd_kafka_topic_partition_list_add(positions.get(), topic_name(key.first).c_str(), key.second);
  }
  if (positions->cnt == 0 || rd_kafka_position(rk_, positions.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
  bool changed = false;
  for (int i = 0; i < positions->cnt; ++i) {
    const rd_kafka_topic_partition_t& tp = positions->elems[i];
    const std::optional<OffsetRange> range = progress_.window().range(tp.topic, tp.partition);
    if (!range || tp.offset < range->end) continue;
    const std::optional<TopicKind> kind = cfg_.kind_of_topic(tp.topic);
    mark_exhausted(tp.topic, tp.partition, kind ? partitions_.find(*kind, tp.partition) : nullptr);
    changed = true;
  }
  if (changed) partitions_.apply();
}

bool ReplayTracker::finished(Clock::time_point now, bool pipeline_empty) {
  if (complete_) return true;
  if (now - last_check_ < std::chrono::milliseconds(250)) return false;
  last_check_ = now;
  check_positions();
  // Our partitions first (cheap): all read to their end, nothing uncommitted left.
  for (const auto& [key, state] : partitions_.all()) {
    if (!state.window_end) return false;
  }
  if (!pipeline_empty) return false;
  // Partitions that are not ours (not assigned yet, another member's, or finished by an earlier
  // run of this replay) count by their offsets stored in PostgreSQL (stored()).
  others_pending_ = !progress_.all_reached(
      [this](const std::string& topic, std::int32_t partition) {
        const std::optional<TopicKind> kind = cfg_.kind_of_topic(topic);
        return kind && partitions_.contains(*kind, partition);
      });
  return !others_pending_;
}

void ReplayTracker::complete(Clock::time_point now) {
  progress_.mark_complete();
  log_info(progress_.line(now));
  log_info("replay: every partition reached the end of the window " + progress_.window().from().text() + " .. " +
           progress_.window().until().text());
  complete_ = true;
}

}  // namespace mlops_ingest
