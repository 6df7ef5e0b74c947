#pragma once
// Feeds each writer's lane: turns a message into its ring slot, keeps a stash per writer for
// what a full ring cannot take yet (order within a partition holds), and applies back-pressure
// when a writer stays behind.
//
// Routing: partition p of every topic goes to writer p % writers. The predictions and labels
// topics are both keyed by prediction_id, so a co-partitioned pair holds both halves of a
// prediction in one writer, which can then pair a label with its prediction in memory.
//
// Thread model: the consumer thread only (the lanes' producer side).
#include <poll.h>

#include <chrono>
#include <deque>
#include <vector>

#include "assigned_partitions.hpp"
#include "envelope_builder.hpp"
#include "held_message.hpp"
#include "mlops_ingest/handoff/lane.hpp"
#include "mlops_ingest/kafka/kafka_handles.hpp"

namespace mlops_ingest {

class WriterFeed {
 public:
  WriterFeed(const Config& config, IngestStats& stats, std::vector<Lane*> lanes, AssignedPartitions& partitions);

  [[nodiscard]] std::size_t writer_of(std::int32_t partition) const noexcept {
    return static_cast<std::size_t>(partition) % lanes_.size();
  }
  // Hands `msg` to its writer, or queues a copy of it behind that writer's stash (the stash
  // keeps no librdkafka message: held_message.hpp). False (and `msg` kept) only when the stash
  // already holds a poll batch: the caller holds on to it.
  bool deliver(kafka::KafkaMessage& msg, TopicKind topic);
  // The same for a message already copied out (a label the aligner held).
  bool deliver(HeldMessage& msg);
  // The same, queueing without bound: for messages the caller cannot hold (the stash stays
  // within one poll batch more, since the loop stops polling while a writer is blocked).
  void enqueue(kafka::KafkaMessage msg, TopicKind topic);
  // Hands stashed messages to writers whose rings have room, then wakes those writers.
  void drain_stashes();
  // Notifies the writers that were handed slots since the last call.
  void wake_writers();

  // True when a writer is momentarily full and no more messages should be taken now. A stall
  // that lasts pauses that writer's partitions instead.
  bool apply_backpressure();
  // After apply_backpressure() said so: sleeps until a blocked writer releases slots (or
  // fails), at most `timeout`. One wake-up per commit instead of one per poll of the ring.
  void wait_for_room(std::chrono::milliseconds timeout);
  // Stops fetching for every writer (a shutdown's drain; not counted as back-pressure).
  void pause_all();
  // A rebalance: stashed messages were never committed; the partitions' next owner reads them
  // again from the offsets in PostgreSQL. No writer is paused on a fresh assignment.
  void reset();

  [[nodiscard]] bool stashes_empty() const noexcept;
  [[nodiscard]] bool rings_empty() const noexcept;
  [[nodiscard]] bool any_failed() const noexcept;

 private:
  // Fills the message's slot in its writer's ring; false when the ring is full.
  bool hand_over(const rd_kafka_message_t& msg, TopicKind topic);
  bool hand_over(const HeldMessage& msg);
  // Commits the slot just filled and records the partition's position.
  bool published(std::int32_t partition, std::int64_t offset, TopicKind topic);
  void set_paused(std::size_t writer, bool paused);

  const Config& cfg_;
  IngestStats& stats_;
  std::vector<Lane*> lanes_;  // one per writer
  AssignedPartitions& partitions_;
  EnvelopeBuilder envelopes_;
  std::vector<std::deque<HeldMessage>> stash_;  // per writer, in arrival order
  std::vector<std::chrono::steady_clock::time_point> stalled_since_;  // per writer; {} if not
  std::vector<bool> writer_paused_;
  std::vector<bool> published_;  // per writer: handed slots since the last wake_writers()
  std::vector<pollfd> room_fds_;  // wait_for_room()'s, kept to not allocate per wait
};

}  // namespace mlops_ingest
