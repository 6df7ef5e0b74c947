#pragma once
// The label path of the consumer: event-time alignment of each labels partition to its
// predictions partition (EventTimeAligner), switched off when the two topics turn out not to be
// co-partitioned (CoPartitioning), and the pause of a labels partition whose held labels reach
// the aligner's cap.
//
// Thread model: the consumer thread only.
#include <librdkafka/rdkafka.h>

#include "assigned_partitions.hpp"
#include "copartitioning.hpp"
#include "held_message.hpp"
#include "mlops_ingest/consume/event_time_aligner.hpp"
#include "writer_feed.hpp"

namespace mlops_ingest {

class LabelAlignment {
 public:
  LabelAlignment(rd_kafka_t* rk, const Config& config, IngestStats& stats, AssignedPartitions& partitions);

  // A prediction or label message about to be delivered. True when the aligner took it (a
  // label whose predictions partition still has older messages to deliver): it keeps a copy
  // and `msg` is released.
  bool hold(kafka::KafkaMessage& msg, TopicKind topic);
  // Delivers the held labels that may go now; resumes labels partitions that drained.
  void release(WriterFeed& feed);
  // Compares the two topics' partition counts once per assignment (a metadata request).
  void check_partition_counts();
  // A rebalance: nothing held was committed; the next owner reads it again.
  void reset();
  [[nodiscard]] std::size_t held() const noexcept { return aligner_.held(); }

 private:
  // The predictions partition has nothing older to deliver (or is not ours).
  bool predictions_drained(std::int32_t partition);
  void set_held_back(std::int32_t labels_partition, bool held_back);

  rd_kafka_t* rk_;
  const Config& cfg_;
  IngestStats& stats_;
  AssignedPartitions& partitions_;
  BasicEventTimeAligner<HeldMessage> aligner_;
  CoPartitioning copartitioning_;
  bool counts_checked_ = false;
};

}  // namespace mlops_ingest
