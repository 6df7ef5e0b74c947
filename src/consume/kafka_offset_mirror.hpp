#pragma once
// Mirrors the offsets the writers committed to PostgreSQL into the group's offsets in Kafka.
//
// PostgreSQL holds the truth (the offsets commit in the rows' own transaction); Kafka's copy
// is for the tools that read a group's progress there (lag exporters, kafka-consumer-groups).
// A failed mirror is logged and counted, never retried: the next one carries newer offsets.
//
// Thread model: the consumer thread only; the ledger is filled by the writers.
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <map>

#include "assigned_partitions.hpp"
#include "mlops_ingest/handoff/offset_ledger.hpp"

namespace mlops_ingest {

class KafkaOffsetMirror {
 public:
  using Clock = std::chrono::steady_clock;

  KafkaOffsetMirror(rd_kafka_t* rk, const Config& config, IngestStats& stats, OffsetLedger& ledger,
                    const AssignedPartitions& partitions)
      : rk_(rk), cfg_(config), stats_(stats), ledger_(ledger), partitions_(partitions) {}

  // Takes what the writers committed since the last call and commits, to Kafka, the offsets of
  // the partitions this member still owns (a revoked partition's belong to its new owner).
  // Returns everything taken.
  PartitionOffsets mirror(bool synchronous);
  [[nodiscard]] bool due(Clock::time_point now) const { return now - last_ >= cfg_.kafka_commit_interval; }

 private:
  rd_kafka_t* rk_;
  const Config& cfg_;
  IngestStats& stats_;
  OffsetLedger& ledger_;
  const AssignedPartitions& partitions_;
  Clock::time_point last_ = Clock::now();
};

}  // namespace mlops_ingest
