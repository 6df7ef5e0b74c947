// ConsumerLoop: handing messages to the writers, and back-pressure when a writer is behind.
// A message a full ring cannot take waits in its writer's stash (order per partition holds);
// a stall that lasts pauses that writer's partitions (see apply_backpressure).
#include <algorithm>

#include "consumer_loop.hpp"

namespace mlops_ingest {

using Clock = std::chrono::steady_clock;
using kafka::KafkaMessage;
using kafka::PartitionList;

bool ConsumerLoop::hand_over(const rd_kafka_message_t* msg, TopicKind topic) {
  const std::size_t w = writer_of(topic, msg->partition);
  auto& ring = lanes_[w]->ring();
  Envelope* slot = ring.producer_slot();
  if (slot == nullptr) return false;
  envelopes_.fill(*slot, msg, topic);
  ring.producer_commit();
  published_[w] = true;
  auto it = assigned_.find({topic, msg->partition});
  if (it != assigned_.end()) it->second.position = msg->offset + 1;
  return true;
}

void ConsumerLoop::wake_writers() {
  // Only writers that were handed something: waking an idle writer for nothing costs it a
  // context switch per poll round.
  for (std::size_t w = 0; w < lanes_.size(); ++w) {
    if (!published_[w]) continue;
    published_[w] = false;
    lanes_[w]->signal().notify();
  }
}

void ConsumerLoop::drain_stashes() {
  for (std::size_t w = 0; w < stash_.size(); ++w) {
    auto& stash = stash_[w];
    while (!stash.empty()) {
      const rd_kafka_message_t* msg = stash.front().get();
      if (!hand_over(msg, *topic_kind(msg))) break;
      stash.pop_front();
    }
  }
  wake_writers();
}

bool ConsumerLoop::deliver(KafkaMessage& msg, TopicKind topic) {
  const std::size_t w = writer_of(topic, msg->partition);
  // Order within a partition must hold: once a writer has a stash, everything for it queues.
  if (!stash_[w].empty() || !hand_over(msg.get(), topic)) {
    if (stash_[w].size() >= cfg_.poll_batch) return false;  // the caller keeps it
    stash_[w].push_back(std::move(msg));
  }
  return true;
}

void ConsumerLoop::set_paused(std::size_t writer, bool paused) {
  if (writer_paused_[writer] == paused) return;
  PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(assigned_.size())));
  for (auto& [key, info] : assigned_) {
    if (writer_of(key.first, key.second) != writer) continue;
    info.paused = paused;
    if (!paused && (info.align_paused || replay_exhausted(key.first, key.second))) continue;  // aligner; replay's end
    rd_kafka_topic_partition_list_add(list.get(), topic_name(key.first).c_str(), key.second);
  }
  if (paused) {
    ++stats_.pauses;
    rd_kafka_pause_partitions(rk_.get(), list.get());
  } else {
    rd_kafka_resume_partitions(rk_.get(), list.get());
  }
  writer_paused_[writer] = paused;
  count_paused();
}

bool ConsumerLoop::apply_backpressure() {
  // Two speeds of back-pressure, both bounded:
  // - a short stall (a writer's ring full for less than kShortStall, the steady state when
  //   PostgreSQL is the bottleneck): stop taking messages from librdkafka and wait. Its own
  //   prefetch queue is bounded (queued.max.messages.kbytes), and nothing is thrown away.
  // - a long stall (PostgreSQL away): pause that writer's partitions and go on polling, so the
  //   group never sees this member as stuck however long the outage lasts. Pausing drops
  //   librdkafka's prefetched messages (they are fetched again on resume), which is why it is
  //   not used for the short, frequent stalls: measured, it cost up to half the throughput.
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
      if (writer_paused_[w] && lanes_[w]->ring().size() <= lanes_[w]->ring().capacity() / 2) {
        set_paused(w, false);
      }
    }
  }
  return blocked;
}

void ConsumerLoop::count_paused() {
  int paused = 0;
  for (const auto& [key, info] : assigned_) paused += (info.paused || info.align_paused) ? 1 : 0;
  stats_.partitions_paused = paused;
}

}  // namespace mlops_ingest
