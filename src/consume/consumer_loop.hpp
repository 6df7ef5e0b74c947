#pragma once
// The consumer thread: polls Kafka, parses and validates each message, encodes it into the ring
// slot of the writer that owns its partition, pauses partitions whose writer is behind, handles
// rebalances (resuming from the offsets stored in PostgreSQL) and mirrors committed offsets to
// Kafka. Private to the pipeline; see ingester.hpp for the picture.
//
// Its parts: consumer_client (librdkafka configuration and subscription), envelope_builder
// (parse + encode into a slot), consumer_loop_assignment.cpp (rebalances), consumer_loop_
// backpressure.cpp (hand-over, stashes, pausing), consumer_loop_replay.cpp (a replay window);
// this file keeps the poll loop, routing, alignment and housekeeping.
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/kafka/kafka_handles.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"
#include "mlops_ingest/handoff/lane.hpp"
#include "mlops_ingest/handoff/offset_ledger.hpp"
#include "mlops_ingest/stats/stats.hpp"
#include "mlops_ingest/consume/event_time_aligner.hpp"
#include "mlops_ingest/replay/replay_window.hpp"
#include "copartitioning.hpp"
#include "envelope_builder.hpp"

namespace mlops_ingest {

class ConsumerLoop {
 public:
  // With `replay`, consumes only that window of offsets (replay_window.hpp) and stops at its end.
  ConsumerLoop(const Config& config, IngestStats& stats, OffsetLedger& ledger,
               std::vector<Lane*> lanes, const ReplayWindow* replay = nullptr);
  ~ConsumerLoop();
  ConsumerLoop(const ConsumerLoop&) = delete;
  ConsumerLoop& operator=(const ConsumerLoop&) = delete;

  // Polls until `stop` is set, a writer fails, or (idle_exit) everything is caught up.
  void run(const std::atomic<bool>& stop);
  // After run(): pauses every partition (nothing more is fetched) and hands the stashed messages
  // to the writers, until the stashes are empty or `deadline`. Labels the aligner still holds
  // are not handed over (uncommitted, they are read again after a restart). It neither commits
  // offsets nor leaves the group: close() does both, once the writers have stopped.
  void finish(std::chrono::steady_clock::time_point deadline);
  void commit_to_kafka(bool synchronous);
  // Mirrors the last committed offsets to Kafka and leaves the group.
  void close();
  // A replay whose every partition reached the end of its window, with everything committed.
  [[nodiscard]] bool replay_complete() const noexcept { return replay_complete_; }

 private:
  using PartitionKey = std::pair<TopicKind, std::int32_t>;
  struct PartitionInfo {
    std::int64_t position = -1;  // next offset to read; -1 unknown (reset to earliest/latest)
    bool paused = false;        // back-pressure: its writer is behind
    bool align_paused = false;  // a labels partition holding event_time_aligner's cap
  };

  static void rebalance_trampoline(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                   rd_kafka_topic_partition_list_t* partitions, void* opaque);
  void on_rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  void on_assign(rd_kafka_topic_partition_list_t* partitions);
  void on_revoke();
  std::map<PartitionKey, std::int64_t> stored_offsets();

  [[nodiscard]] std::size_t writer_of(TopicKind topic, std::int32_t partition) const noexcept;
  [[nodiscard]] std::optional<TopicKind> topic_kind(const rd_kafka_message_t* msg) const noexcept;
  [[nodiscard]] const std::string& topic_name(TopicKind topic) const noexcept;
  // False when the writer's ring is full (the message must wait in the stash).
  bool hand_over(const rd_kafka_message_t* msg, TopicKind topic);
  void drain_stashes();
  void wake_writers();  // notifies the writers that were handed slots since the last call
  // Routes one polled message: to its writer's ring, its writer's stash, or (a label ahead of
  // its predictions partition) the aligner.
  void dispatch(kafka::KafkaMessage msg, TopicKind topic);
  // Hands a message to its writer or queues it in the writer's stash (order per partition).
  bool deliver(kafka::KafkaMessage& msg, TopicKind topic);
  // True when predictions partition p has nothing older to deliver (or is not ours).
  bool predictions_drained(std::int32_t partition);
  void release_aligned_labels();
  void set_align_paused(std::int32_t labels_partition, bool paused);
  void check_copartitioning();
  // True when a writer is momentarily full and no more messages should be taken now.
  bool apply_backpressure();
  // Failure check, Kafka offset mirroring, progress line, idle exit. False: stop the loop.
  bool housekeeping();
  void set_paused(std::size_t writer, bool paused);
  std::int64_t compute_lag();
  void count_paused();  // publishes stats_.partitions_paused
  bool caught_up_and_idle();
  void progress_line();

  const Config& cfg_;
  IngestStats& stats_;
  OffsetLedger& ledger_;
  std::vector<Lane*> lanes_;
  kafka::KafkaHandle rk_;
  EnvelopeBuilder envelopes_;
  std::optional<pg::BlockingConnection> offsets_conn_;
  std::map<PartitionKey, PartitionInfo> assigned_;
  std::vector<std::deque<kafka::KafkaMessage>> stash_;  // per writer, in arrival order
  std::vector<std::chrono::steady_clock::time_point> stalled_since_;  // per writer; {} if not
  std::vector<bool> writer_paused_;
  std::vector<bool> published_;  // per writer: handed slots since the last wake_writers()
  EventTimeAligner aligner_;
  CoPartitioning copartitioning_;
  bool copartitioning_checked_ = false;  // partition counts compared since the last assignment
  bool closed_ = false;
  std::set<std::string> missing_topics_warned_;  // configured topics reported as not existing
  std::chrono::steady_clock::time_point last_message_{};
  std::chrono::steady_clock::time_point last_progress_{};
  std::chrono::steady_clock::time_point last_kafka_commit_{};
  std::chrono::steady_clock::time_point last_idle_check_{};
  std::chrono::steady_clock::time_point last_lag_check_{};
  std::uint64_t progress_rows_ = 0;
  std::uint64_t assignment_generation_ = 0;  // bumped by every assign and revoke
  const std::atomic<bool>* stop_ = nullptr;   // run()'s stop flag, also seen by rebalance callbacks

  // --- Replay of a window (consumer_loop_replay.cpp); inactive unless constructed with one ---
  // Starts an assigned partition at the window's start or where this replay group stopped.
  void replay_assign(TopicKind topic, rd_kafka_topic_partition_t& tp, PartitionInfo& info, std::int64_t stored);
  void replay_pause_exhausted();  // after rd_kafka_assign: partitions with nothing left to read
  // False for a message at or past its partition's end: it is not handed over. Pauses the
  // partition once everything below its end has been handed over.
  bool replay_admit(const rd_kafka_message_t* msg, TopicKind topic);
  [[nodiscard]] bool replay_exhausted(TopicKind topic, std::int32_t partition) const;
  void replay_committed(const std::map<OffsetLedger::Key, std::int64_t>& committed);
  // True once every partition of the window has reached its end and everything handed over is
  // committed; checked from housekeeping().
  bool replay_finished();
  std::optional<ReplayProgress> replay_;
  bool replay_complete_ = false;
  std::chrono::steady_clock::time_point last_replay_check_{};
  std::chrono::steady_clock::time_point last_replay_db_check_{};
};

}  // namespace mlops_ingest
