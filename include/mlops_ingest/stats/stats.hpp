#pragma once
// Counters shared by the consumer and writer threads, read by the progress line and summary.
// Relaxed atomics: each is an independent tally, never used to synchronise data.
#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "mlops_ingest/event/event_kinds.hpp"
#include "mlops_ingest/event/reject_reason.hpp"
#include "mlops_ingest/pg/roles.hpp"
#include "mlops_ingest/stats/heartbeat.hpp"
#include "mlops_ingest/stats/latency_histogram.hpp"
#include "mlops_ingest/stats/partition_lag.hpp"

namespace mlops_ingest {

struct IngestStats {
  using Counter = std::atomic<std::uint64_t>;
  Counter messages_consumed{0};
  Counter predictions_inserted{0};
  Counter prediction_duplicates{0};  // already stored, or twice in one batch: skipped
  Counter labels_inserted{0};        // straight into label_store (including labels_paired)
  Counter labels_paired{0};          // of those: their prediction was in the same batch, or recalled
  Counter labels_recalled{0};        // of those: their prediction committed by this writer earlier
  Counter labels_pended{0};          // parked in label_pending (prediction not stored yet)
  Counter labels_released{0};        // moved from label_pending into label_store
  Counter label_duplicates{0};
  // The kinds written by their description (event_kinds.hpp), indexed by TopicKind: rows
  // inserted or updated (upserts) or appended, and appends skipped because their Kafka position
  // was recorded before (a replay through a new group).
  std::array<Counter, kTopicKindCount> kind_rows_written{};
  std::array<Counter, kTopicKindCount> kind_rows_replayed{};
  Counter stale_skipped{0};  // already committed by another instance (rebalance overlap)
  Counter dead_letters{0};
  std::array<Counter, kRejectReasonCount> dead_letters_by_reason{};
  Counter dead_letters_pruned{0};  // deleted by dead_letter_retention (RetentionPruner)
  Counter appended_pruned{0};      // ingest_appended rows deleted by appended_retention
  Counter batches_committed{0};
  Counter pg_retries{0};     // batch attempts that hit an outage and were retried
  Counter pg_reconnects{0};  // successful reconnections after an outage
  Counter kafka_errors{0};
  Counter kafka_polls{0};       // rd_kafka_consumer_poll calls: moves while the consumer thread serves the group
  Counter pauses{0};            // back-pressure: times a writer's partitions were paused
  Counter align_pauses{0};      // times a labels partition was paused, holding the aligner's cap
  Counter writer_commit_ns{0};  // time writers spent committing batches (all writers)
  std::atomic<int> writers_waiting_for_pg{0};  // > 0 while PostgreSQL is unreachable
  std::atomic<std::int64_t> lag{-1};           // messages behind the high watermark; -1 unknown
  std::atomic<std::int64_t> first_message_ns{0};
  std::atomic<std::int64_t> last_commit_ns{0};

  // --- Read by the metrics and health endpoint (src/observe/, docs/operations.md) -----------
  // Who records what, and when, is listed in docs/operations.md ("Hook points"); a field
  // nobody records keeps its initial value, which the endpoint reports as "not reported".
  static constexpr int kMaxWriters = 64;  // the upper bound of the `writers` setting
  // Messages taken from Kafka per topic, indexed by TopicKind.
  std::array<Counter, kTopicKindCount> messages_consumed_by_topic{};
  std::atomic<int> partitions_assigned{-1};  // this member's partitions; -1: not reported
  std::atomic<int> partitions_paused{0};     // partitions paused by back-pressure right now
  PartitionLagBoard partition_lag;           // per assigned partition, replaced on each lag check
  LatencyHistogram batch_commit_seconds;     // one observation per committed batch transaction
  LatencyHistogram event_to_commit_seconds;  // per row: Kafka message timestamp -> its COMMIT
  Heartbeat consumer_heartbeat;              // the consumer thread, each time round its loop
  std::array<Heartbeat, kMaxWriters> writer_heartbeats{};  // writer i, each time round its loop
  // Per table of pg::kIngestGrants (same index): the writers whose batch waits because the table
  // changed under them (src/write/table_outage.hpp); > 0: that table is out.
  std::array<std::atomic<int>, pg::kIngestGrants.size()> writers_with_table_out{};

  [[nodiscard]] std::uint64_t rows_stored() const noexcept {
    std::uint64_t kinds = 0;
    for (const Counter& c : kind_rows_written) kinds += c.load();
    return predictions_inserted.load() + labels_inserted.load() + labels_pended.load() + kinds;
  }
  // "models 4, alerts 12 (3 already appended)" for the kinds written by description; "" if none.
  [[nodiscard]] std::string kind_rows_text() const;
  [[nodiscard]] std::string dead_letter_breakdown() const;  // "invalid_json=3 out_of_range=1"
  // Labels parked in label_pending as a share of the labels decided ("4.8%").
  [[nodiscard]] std::string labels_parked_percent() const;
};

std::int64_t monotonic_ns() noexcept;

// The two log lines that report IngestStats, formatted here and nowhere else: the periodic
// progress line (rows_per_second since the last one; lag -1 when unknown) and the summary at exit.
std::string format_progress(const IngestStats& s, double rows_per_second, std::int64_t lag);
std::string format_summary(const IngestStats& s);

}  // namespace mlops_ingest
