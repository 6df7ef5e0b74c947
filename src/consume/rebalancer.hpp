#pragma once
// The group's rebalances, as this member sees them: every assigned partition resumes from the
// offset stored in PostgreSQL (the source of truth), or, with none stored, from an absolute
// start offset looked up before the assignment (consumer_client.hpp: resolve_start_offsets).
//
// While the stored offsets cannot be read (PostgreSQL away), an assignment is deferred rather
// than waited for: librdkafka is given an empty assignment, the consumer thread goes on
// polling, and the partitions are assigned as soon as a read succeeds — a read started after
// the assignment, so that it sees every batch committed before. The group sees a member that
// is alive and holds its partitions; nothing is fetched for them meanwhile.
//
// With a cooperative assignment strategy (cooperative-sticky) a rebalance adds or takes away
// only the partitions that move (rd_kafka_incremental_assign/unassign): the others keep being
// fetched. A deferred addition is an empty incremental assignment, completed the same way.
//
// Thread model: the consumer thread only (librdkafka calls the rebalance callback inside a poll).
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <optional>

#include "assigned_partitions.hpp"
#include "mlops_ingest/kafka/kafka_handles.hpp"
#include "replay_tracker.hpp"
#include "stored_offsets_reader.hpp"

namespace mlops_ingest {

class Rebalancer {
 public:
  using Clock = std::chrono::steady_clock;

  Rebalancer(rd_kafka_t* rk, const Config& config, IngestStats& stats, AssignedPartitions& partitions,
             StoredOffsetsReader& reader, ReplayTracker* replay);

  // An assignment from the group. Assigns at once when the stored offsets can be read within
  // a short wait; otherwise defers (pending()). Throws KafkaError when librdkafka refuses it.
  void assign(const rd_kafka_topic_partition_list_t* partitions);
  // A revocation: unassigns everything, a deferred assignment included.
  void revoke();
  // The cooperative protocol's two halves: `partitions` are added to (or taken from) what this
  // member holds; the other partitions stay. Throws KafkaError when librdkafka refuses it.
  void assign_incremental(const rd_kafka_topic_partition_list_t* partitions);
  void revoke_incremental(const rd_kafka_topic_partition_list_t* partitions);
  // The member's protocol, from its configuration (cooperative_assignment): eager rebalances
  // revoke and assign everything, cooperative ones add or take away some partitions.
  [[nodiscard]] bool cooperative() const noexcept { return cooperative_; }
  // A deferred assignment waits for a read of the stored offsets.
  [[nodiscard]] bool pending() const noexcept { return pending_ != nullptr; }
  // Completes a deferred assignment with `read` if it started after the assignment. Returns
  // whether the partitions were assigned.
  bool complete(const StoredOffsetsReader::Read& read);

 private:
  void assign_from(rd_kafka_topic_partition_list_t* partitions, const PartitionOffsets& stored);
  void defer(kafka::PartitionList partitions, Clock::time_point since);
  std::optional<StoredOffsetsReader::Read> read_stored(Clock::time_point since);
  [[nodiscard]] TopicKind kind_of(const char* topic) const;

  rd_kafka_t* rk_;
  const Config& cfg_;
  IngestStats& stats_;
  AssignedPartitions& partitions_;
  StoredOffsetsReader& reader_;
  ReplayTracker* replay_;
  const bool cooperative_;
  kafka::PartitionList pending_;  // a deferred assignment
  Clock::time_point pending_since_{};
  bool incremental_ = false;  // the pending assignment (and the last one) came from the cooperative protocol
};

}  // namespace mlops_ingest
