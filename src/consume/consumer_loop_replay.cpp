// ConsumerLoop's replay mode (`mlops-ingest replay`, replay_window.hpp): the same consumer,
// bounded to a window of offsets resolved once at the start. Kept apart from consumer_loop.cpp,
// which only calls these at a few hook points, each guarded by `if (replay_)`.
//
// Exactly once within the window, and never past it:
//   - a partition starts at the window's start, or at the offset this replay group stored
//     (ReplayWindow::begin_offset);
//   - a message at or past its partition's end is never handed to a writer, so no writer can
//     store an offset beyond the end (the writer stores "last written offset + 1");
//   - once everything below the end has been handed over the partition is paused (and stays
//     paused: back-pressure and the aligner do not resume it, see set_paused/set_align_paused);
//   - the loop ends when every partition of the window has reached its end and the stashes, the
//     aligner and the writers' rings are empty (ring slots are released only after COMMIT).
#include <chrono>

#include "consumer_loop.hpp"
#include "mlops_ingest/log/log.hpp"

namespace mlops_ingest {

using Clock = std::chrono::steady_clock;
using kafka::PartitionList;

void ConsumerLoop::replay_assign(TopicKind topic, rd_kafka_topic_partition_t& tp, PartitionInfo& info,
                                 std::int64_t stored) {
  const std::string& name = topic_name(topic);
  const std::optional<std::int64_t> resumed = stored >= 0 ? std::optional<std::int64_t>(stored) : std::nullopt;
  const std::int64_t begin = replay_->window().begin_offset(name, tp.partition, resumed);
  tp.offset = begin;
  info.position = begin;
  if (resumed) replay_->resumed(name, tp.partition, *resumed);
  const std::optional<OffsetRange> range = replay_->window().range(name, tp.partition);
  replay_->set_exhausted(name, tp.partition, !range || begin >= range->end);
}

void ConsumerLoop::replay_pause_exhausted() {
  PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(assigned_.size())));
  for (const auto& [key, info] : assigned_) {
    if (replay_exhausted(key.first, key.second)) {
      rd_kafka_topic_partition_list_add(list.get(), topic_name(key.first).c_str(), key.second);
    }
  }
  if (list->cnt == 0) return;
  rd_kafka_pause_partitions(rk_.get(), list.get());
  log_info("replay: " + std::to_string(list->cnt) + " of " + std::to_string(assigned_.size()) +
           " assigned partitions have nothing left to read in the window (paused)");
}

bool ConsumerLoop::replay_admit(const rd_kafka_message_t* msg, TopicKind topic) {
  const std::string& name = topic_name(topic);
  const std::optional<OffsetRange> range = replay_->window().range(name, msg->partition);
  const bool admitted = range && msg->offset < range->end;
  // The message at end - 1 completes the partition; a later one means the window's last
  // offsets held no message (transaction markers, compaction). Either way: nothing more to read.
  const bool at_end = !admitted || msg->offset + 1 >= range->end;
  if (at_end && !replay_->exhausted(name, msg->partition)) {
    replay_->set_exhausted(name, msg->partition, true);
    PartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), name.c_str(), msg->partition);
    rd_kafka_pause_partitions(rk_.get(), list.get());
  }
  return admitted;
}

bool ConsumerLoop::replay_exhausted(TopicKind topic, std::int32_t partition) const {
  return replay_ && replay_->exhausted(topic_name(topic), partition);
}

void ConsumerLoop::replay_committed(const std::map<OffsetLedger::Key, std::int64_t>& committed) {
  for (const auto& [key, next] : committed) replay_->committed(topic_name(key.first), key.second, next);
}

bool ConsumerLoop::replay_finished() {
  if (replay_complete_) return true;
  const auto now = Clock::now();
  if (now - last_replay_check_ < std::chrono::milliseconds(250)) return false;
  last_replay_check_ = now;

  // librdkafka's position also moves past offsets that hold no message (transaction markers):
  // a partition whose window ends with such offsets has reached its end without a message at
  // or past it.
  {
    PartitionList positions(rd_kafka_topic_partition_list_new(static_cast<int>(assigned_.size())));
    for (const auto& [key, info] : assigned_) {
      if (!replay_exhausted(key.first, key.second)) {
        rd_kafka_topic_partition_list_add(positions.get(), topic_name(key.first).c_str(), key.second);
      }
    }
    if (positions->cnt > 0 && rd_kafka_position(rk_.get(), positions.get()) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int i = 0; i < positions->cnt; ++i) {
        const rd_kafka_topic_partition_t& tp = positions->elems[i];
        const std::optional<OffsetRange> range = replay_->window().range(tp.topic, tp.partition);
        if (range && tp.offset >= range->end) replay_->set_exhausted(tp.topic, tp.partition, true);
      }
    }
  }

  // Our partitions first (cheap): all read to their end, nothing uncommitted left.
  for (const auto& [key, info] : assigned_) {
    if (!replay_exhausted(key.first, key.second)) return false;
  }
  if (aligner_.held() > 0) return false;
  for (std::size_t w = 0; w < lanes_.size(); ++w) {
    if (!stash_[w].empty() || lanes_[w]->ring().size() != 0) return false;
  }
  const auto ours = [this](const std::string& topic, std::int32_t partition) {
    const std::optional<TopicKind> kind = cfg_.kind_of_topic(topic);
    return kind && assigned_.count({*kind, partition}) > 0;
  };
  if (!replay_->all_reached(ours)) {
    // Partitions that are not ours (not assigned yet, another member's, or finished by an earlier
    // run of this replay): their offsets stored in PostgreSQL say whether they are done.
    if (now - last_replay_db_check_ < std::chrono::seconds(1) || (stop_ != nullptr && stop_->load())) return false;
    last_replay_db_check_ = now;
    try {
      for (const auto& [key, next] : stored_offsets()) replay_->resumed(topic_name(key.first), key.second, next);
    } catch (const std::exception& e) {
      log_warn(std::string("replay: reading stored offsets: ") + e.what());
      return false;
    }
    if (!replay_->all_reached(ours)) return false;
  }
  // The final progress line, then the summary `run` ends with (Ingester::run). Mirroring the
  // last commits to Kafka also brings them into the progress (commit_to_kafka's hook).
  commit_to_kafka(false);
  replay_->mark_complete();
  log_info(replay_->line(now));
  log_info("replay: every partition reached the end of the window " + replay_->window().from().text() + " .. " +
           replay_->window().until().text());
  replay_complete_ = true;
  return true;
}

}  // namespace mlops_ingest
