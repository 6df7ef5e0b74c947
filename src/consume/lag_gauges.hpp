#pragma once
// The consumer lag, total and per partition (the /metrics gauges), from the watermarks
// librdkafka cached from its last fetch response for each partition.
//
// Never rd_kafka_query_watermark_offsets here: that is a synchronous broker round trip per
// partition not fetched yet — every partition, right after an assignment — on the thread that
// feeds the writers; with a remote or slow broker, a stall after every rebalance.
//
// Thread model: the consumer thread only.
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>

#include "assigned_partitions.hpp"

namespace mlops_ingest {

class LagGauges {
 public:
  using Clock = std::chrono::steady_clock;

  LagGauges(rd_kafka_t* rk, const Config& config, IngestStats& stats, const AssignedPartitions& partitions)
      : rk_(rk), cfg_(config), stats_(stats), partitions_(partitions) {}

  // Publishes the lag of each partition whose lag is known and the total; returns the total, or
  // -1 while some partition's is unknown (no fetch response yet).
  std::int64_t publish();
  // publish() on its own period (the progress line may be off).
  void publish_every(Clock::duration period, Clock::time_point now) {
    if (now - last_ >= period) publish();
  }
  // A revoke: no partition, no lag.
  void clear();

 private:
  rd_kafka_t* rk_;
  const Config& cfg_;
  IngestStats& stats_;
  const AssignedPartitions& partitions_;
  Clock::time_point last_{};
};

}  // namespace mlops_ingest
