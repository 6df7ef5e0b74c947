#include "writer_feed.hpp"

#include <poll.h>

#include <algorithm>

namespace mlops_ingest {

using Clock = std::chrono::steady_clock;
using kafka::KafkaMessage;

WriterFeed::WriterFeed(const Config& config, IngestStats& stats, std::vector<Lane*> lanes,
                       AssignedPartitions& partitions)
    : cfg_(config),
      stats_(stats),
      lanes_(std::move(lanes)),
      partitions_(partitions),
      envelopes_(config),
      stash_(lanes_.size()),
      stalled_since_(lanes_.size()),
      writer_paused_(lanes_.size(), false),
      published_(lanes_.size(), false) {}

bool WriterFeed::hand_over(const rd_kafka_message_t& msg, TopicKind topic) {
  Envelope* slot = lanes_[writer_of(msg.partition)]->ring().producer_slot();
  if (slot == nullptr) return false;
  envelopes_.fill(*slot, &msg, topic);
  return published(msg.partition, msg.offset, topic);
}

bool WriterFeed::hand_over(const HeldMessage& msg) {
  Envelope* slot = lanes_[writer_of(msg.partition)]->ring().producer_slot();
  if (slot == nullptr) return false;
  envelopes_.fill(*slot, msg.topic, msg.partition, msg.offset, msg.payload_data(), msg.payload_size(), msg.key_view(),
                  msg.kafka_ts_ms);
  return published(msg.partition, msg.offset, msg.topic);
}

bool WriterFeed::published(std::int32_t partition, std::int64_t offset, TopicKind topic) {
  const std::size_t w = writer_of(partition);
  lanes_[w]->ring().producer_commit();
  published_[w] = true;
  if (PartitionState* state = partitions_.find(topic, partition)) state->position = offset + 1;
  return true;
}

bool WriterFeed::deliver(KafkaMessage& msg, TopicKind topic) {
  auto& stash = stash_[writer_of(msg->partition)];
  // Order within a partition must hold: once a writer has a stash, everything for it queues.
  if (stash.empty() && hand_over(*msg, topic)) return true;
  if (stash.size() >= cfg_.poll_batch) return false;
  stash.push_back(HeldMessage::copy_of(*msg, topic));
  msg.reset();  // the copy lets go of librdkafka's buffer at once (held_message.hpp)
  return true;
}

bool WriterFeed::deliver(HeldMessage& msg) {
  auto& stash = stash_[writer_of(msg.partition)];
  if (stash.empty() && hand_over(msg)) return true;
  if (stash.size() >= cfg_.poll_batch) return false;
  stash.push_back(std::move(msg));
  return true;
}

void WriterFeed::enqueue(KafkaMessage msg, TopicKind topic) {
  if (!deliver(msg, topic)) {
    stash_[writer_of(msg->partition)].push_back(HeldMessage::copy_of(*msg, topic));
  }
}

void WriterFeed::wake_writers() {
  // Only writers that were handed something: waking an idle writer for nothing costs it a
  // context switch per poll round.
  for (std::size_t w = 0; w < lanes_.size(); ++w) {
    if (!published_[w]) continue;
    published_[w] = false;
    lanes_[w]->signal().notify();
  }
}

void WriterFeed::drain_stashes() {
  for (auto& stash : stash_) {
    while (!stash.empty()) {
      if (!hand_over(stash.front())) break;
      stash.pop_front();
    }
  }
  wake_writers();
}

void WriterFeed::set_paused(std::size_t writer, bool paused) {
  if (writer_paused_[writer] == paused) return;
  for (auto& [key, state] : partitions_.all()) {
    if (writer_of(key.second) == writer) state.backpressure = paused;
  }
  if (paused) ++stats_.pauses;
  writer_paused_[writer] = paused;
  partitions_.apply();
}

bool WriterFeed::apply_backpressure() {
  // Two speeds of back-pressure, both bounded:
  // - a short stall (a writer's ring full for less than kShortStall, the steady state when
  //   PostgreSQL is the bottleneck): stop taking messages from librdkafka and wait. Its own
  //   prefetch queue is bounded (queued.max.messages.kbytes), and nothing is thrown away.
  // - a long stall (PostgreSQL away): pause that writer's partitions and go on polling, so the
  //   group never sees this member as stuck however long the outage lasts. Pausing drops
  //   librdkafka's prefetched messages (they are fetched again on resume), which is why it is
  //   not used for the short, frequent stalls.
  constexpr auto kShortStall = std::chrono::milliseconds(1000);
  const auto now = Clock::now();
  bool blocked = false;
  for (std::size_t w = 0; w < lanes_.size(); ++w) {
    if (!stash_[w].empty()) {
      if (stalled_since_[w] == Clock::time_point{}) stalled_since_[w] = now;
      if (now - stalled_since_[w] >= kShortStall) {
        set_paused(w, true);
      } else {
        blocked = true;
      }
    } else {
      stalled_since_[w] = Clock::time_point{};
      const auto& ring = lanes_[w]->ring();
      if (writer_paused_[w] && ring.size() <= ring.capacity() / 2) set_paused(w, false);
    }
  }
  return blocked;
}

void WriterFeed::wait_for_room(std::chrono::milliseconds timeout) {
  // Announce the sleep, then look at the rings (RingSignal's Dekker pair): a release that
  // lands in between is either seen here or wakes the poll.
  room_fds_.clear();
  bool room = false;
  for (std::size_t w = 0; w < lanes_.size(); ++w) {
    if (stash_[w].empty()) continue;
    lanes_[w]->room().prepare_sleep();
    room_fds_.push_back({lanes_[w]->room().fd(), POLLIN, 0});
    const auto& ring = lanes_[w]->ring();
    room = room || ring.size() < ring.capacity() || lanes_[w]->failed();
  }
  if (!room && !room_fds_.empty()) {
    ::poll(room_fds_.data(), static_cast<nfds_t>(room_fds_.size()), static_cast<int>(timeout.count()));
  }
  for (std::size_t w = 0; w < lanes_.size(); ++w) {
    if (stash_[w].empty()) continue;
    lanes_[w]->room().cancel_sleep();
    lanes_[w]->room().drain();
  }
}

void WriterFeed::pause_all() {
  const std::uint64_t pauses = stats_.pauses.load();
  for (std::size_t w = 0; w < lanes_.size(); ++w) set_paused(w, true);
  stats_.pauses = pauses;
}

void WriterFeed::reset() {
  for (auto& stash : stash_) stash.clear();
  std::fill(writer_paused_.begin(), writer_paused_.end(), false);
}

bool WriterFeed::stashes_empty() const noexcept {
  return std::all_of(stash_.begin(), stash_.end(), [](const auto& s) { return s.empty(); });
}

bool WriterFeed::rings_empty() const noexcept {
  return std::all_of(lanes_.begin(), lanes_.end(), [](const Lane* l) { return l->ring().size() == 0; });
}

bool WriterFeed::any_failed() const noexcept {
  return std::any_of(lanes_.begin(), lanes_.end(), [](const Lane* l) { return l->failed(); });
}

}  // namespace mlops_ingest
