#pragma once
// The consumer thread: polls Kafka and routes each message to its writer's lane. Each of its
// other jobs is a unit of its own, which the loop only calls:
//   - Rebalancer: assignments and revocations, start offsets (stored, or looked up);
//   - StoredOffsetsReader: the offsets stored in PostgreSQL, read without blocking the loop;
//   - WriterFeed: encoding into the lanes, stashes, back-pressure;
//   - LabelAlignment: event-time alignment of labels, co-partitioning;
//   - KafkaOffsetMirror: committed offsets mirrored to Kafka;
//   - LagGauges and ProgressLine: what operators see;
//   - ReplayTracker: a replay's window (only with one);
//   - AssignedPartitions: the partitions, their positions, and why each is paused.
// See app/ingester.hpp for the whole picture.
//
// Thread model: constructed, run, finished and closed by the ingester's thread, which is the
// consumer thread; librdkafka calls the rebalance callback inside its polls.
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "assigned_partitions.hpp"
#include "kafka_offset_mirror.hpp"
#include "label_alignment.hpp"
#include "lag_gauges.hpp"
#include "mlops_ingest/handoff/lane.hpp"
#include "mlops_ingest/handoff/offset_ledger.hpp"
#include "mlops_ingest/kafka/kafka_handles.hpp"
#include "mlops_ingest/replay/replay_window.hpp"
#include "progress_line.hpp"
#include "rebalancer.hpp"
#include "replay_tracker.hpp"
#include "stored_offsets_reader.hpp"
#include "writer_feed.hpp"

namespace mlops_ingest {

class ConsumerLoop {
 public:
  // With `replay`, consumes only that window of offsets and stops at its end.
  ConsumerLoop(const Config& config, IngestStats& stats, OffsetLedger& ledger, std::vector<Lane*> lanes,
               const ReplayWindow* replay = nullptr);
  ~ConsumerLoop();
  ConsumerLoop(const ConsumerLoop&) = delete;
  ConsumerLoop& operator=(const ConsumerLoop&) = delete;

  // Polls until `stop` is set, a writer fails, a replay completes, or (idle_exit) everything
  // is caught up.
  void run(const std::atomic<bool>& stop);
  // After run(): pauses every partition and hands the stashed messages to the writers, until
  // the stashes are empty or `deadline`. Labels the aligner still holds are not handed over
  // (uncommitted, they are read again after a restart). It neither commits offsets nor leaves
  // the group: close() does both, once the writers have stopped.
  void finish(std::chrono::steady_clock::time_point deadline);
  // Mirrors the last committed offsets to Kafka and leaves the group.
  void close();
  // A replay whose every partition reached the end of its window, with everything committed.
  [[nodiscard]] bool replay_complete() const noexcept { return replay_ && replay_->complete(); }

 private:
  static void rebalance_trampoline(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                   rd_kafka_topic_partition_list_t* partitions, void* opaque);
  void on_rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  // Eager: everything is revoked (incremental == nullptr); cooperative: those partitions only.
  void on_revoke(const rd_kafka_topic_partition_list_t* incremental);
  void rewind_kept();

  // One round of rd_kafka_consumer_poll into `batch`.
  void poll_batch(std::vector<kafka::KafkaMessage>& batch);
  // Routes one polled message: to its writer's lane or stash, or (a label ahead of its
  // predictions partition) the aligner.
  void route(kafka::KafkaMessage msg);
  void report_error(const rd_kafka_message_t* msg);
  // Failure check, stored offsets, replay end, gauges, Kafka mirror, progress line, idle exit.
  // False: stop the loop.
  bool housekeeping();
  void mirror_offsets(bool synchronous);
  [[nodiscard]] bool pipeline_empty() const { return alignment_.held() == 0 && feed_.stashes_empty() && feed_.rings_empty(); }
  bool caught_up_and_idle(std::chrono::steady_clock::time_point now);

  const Config& cfg_;
  IngestStats& stats_;
  kafka::KafkaHandle rk_;
  AssignedPartitions partitions_;
  StoredOffsetsReader stored_offsets_;
  std::optional<ReplayTracker> replay_;
  Rebalancer rebalancer_;
  WriterFeed feed_;
  LabelAlignment alignment_;
  KafkaOffsetMirror mirror_;
  LagGauges lag_;
  ProgressLine progress_;
  bool closed_ = false;
  std::set<std::string> missing_topics_warned_;  // configured topics reported as not existing
  std::chrono::steady_clock::time_point last_message_{};
  std::chrono::steady_clock::time_point last_idle_check_{};
};

}  // namespace mlops_ingest
