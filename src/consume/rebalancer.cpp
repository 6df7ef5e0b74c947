#include "rebalancer.hpp"

#include <algorithm>

#include "consumer_client.hpp"
#include "mlops_ingest/log/log.hpp"

namespace mlops_ingest {

namespace {
// How long an assignment waits for the stored offsets before it is deferred: a read takes a
// round trip when PostgreSQL is up; past this it is away or frozen.
constexpr std::chrono::seconds kStoredOffsetsWait{3};
// One ListOffsets round trip per leader; past this librdkafka resolves the offsets itself.
constexpr std::chrono::milliseconds kStartOffsetsTimeout{2000};
}  // namespace

Rebalancer::Rebalancer(rd_kafka_t* rk, const Config& config, IngestStats& stats, AssignedPartitions& partitions,
                       StoredOffsetsReader& reader, ReplayTracker* replay)
    : rk_(rk),
      cfg_(config),
      stats_(stats),
      partitions_(partitions),
      reader_(reader),
      replay_(replay),
      cooperative_(cooperative_assignment(rk)) {}

TopicKind Rebalancer::kind_of(const char* topic) const {
  return cfg_.kind_of_topic(topic).value_or(TopicKind::kPredictions);
}

std::optional<StoredOffsetsReader::Read> Rebalancer::read_stored(Clock::time_point since) {
  const auto deadline = since + kStoredOffsetsWait;
  std::optional<StoredOffsetsReader::Read> read;
  do {
    read = reader_.read_until(deadline);
  } while (read && read->started < since && Clock::now() < deadline);
  if (read && read->started >= since) return read;
  return std::nullopt;
}

void Rebalancer::assign(const rd_kafka_topic_partition_list_t* partitions) {
  pending_.reset();
  incremental_ = false;
  const auto since = Clock::now();
  kafka::PartitionList copy(rd_kafka_topic_partition_list_copy(partitions));
  if (const std::optional<StoredOffsetsReader::Read> read = read_stored(since)) {
    assign_from(copy.get(), read->offsets);
    return;
  }
  // Deferred: an empty assignment completes this rebalance for the group.
  kafka::PartitionList none(rd_kafka_topic_partition_list_new(0));
  if (const rd_kafka_resp_err_t err = rd_kafka_assign(rk_, none.get())) {
    throw kafka::KafkaError(std::string("assign: ") + rd_kafka_err2str(err));
  }
  partitions_.clear();
  stats_.partitions_assigned = 0;
  defer(std::move(copy), since);
}

void Rebalancer::defer(kafka::PartitionList partitions, Clock::time_point since) {
  if (pending_) {  // a cooperative addition on top of one still waiting
    for (int i = 0; i < partitions->cnt; ++i) {
      rd_kafka_topic_partition_list_add(pending_.get(), partitions->elems[i].topic, partitions->elems[i].partition);
    }
  } else {
    pending_ = std::move(partitions);
  }
  pending_since_ = since;
  log_warn("assigned " + std::to_string(pending_->cnt) +
           " partitions, but the offsets stored in PostgreSQL cannot be read yet: they start once they can be "
           "(polling Kafka meanwhile)",
           {{"partitions", pending_->cnt}});
}

void Rebalancer::assign_incremental(const rd_kafka_topic_partition_list_t* partitions) {
  incremental_ = true;
  const auto since = Clock::now();
  kafka::PartitionList copy(rd_kafka_topic_partition_list_copy(partitions));
  if (!pending_) {
    if (const std::optional<StoredOffsetsReader::Read> read = read_stored(since)) {
      assign_from(copy.get(), read->offsets);
      return;
    }
  }
  // Deferred (or queued behind a deferred one): nothing is added for now; the rebalance
  // completes for the group, and complete() adds them once the stored offsets are read.
  kafka::PartitionList none(rd_kafka_topic_partition_list_new(0));
  if (rd_kafka_error_t* error = rd_kafka_incremental_assign(rk_, none.get())) {
    const std::string text = rd_kafka_error_string(error);
    rd_kafka_error_destroy(error);
    throw kafka::KafkaError("incremental assign: " + text);
  }
  defer(std::move(copy), since);
}

void Rebalancer::revoke_incremental(const rd_kafka_topic_partition_list_t* partitions) {
  kafka::PartitionList held(rd_kafka_topic_partition_list_new(partitions->cnt));
  AssignedPartitions::Map kept = partitions_.all();
  for (int i = 0; i < partitions->cnt; ++i) {
    const rd_kafka_topic_partition_t& tp = partitions->elems[i];
    if (pending_) rd_kafka_topic_partition_list_del(pending_.get(), tp.topic, tp.partition);
    if (kept.erase({kind_of(tp.topic), tp.partition}) != 0) {
      rd_kafka_topic_partition_list_add(held.get(), tp.topic, tp.partition);
    }
  }
  if (pending_ && pending_->cnt == 0) pending_.reset();
  if (held->cnt > 0) {
    if (rd_kafka_error_t* error = rd_kafka_incremental_unassign(rk_, held.get())) {
      const std::string text = rd_kafka_error_string(error);
      rd_kafka_error_destroy(error);
      throw kafka::KafkaError("incremental unassign: " + text);
    }
  }
  partitions_.replace(std::move(kept));
  stats_.partitions_assigned = static_cast<int>(partitions_.size());
  log_info("revoked " + std::to_string(partitions->cnt) + " partitions; keeping " +
           std::to_string(partitions_.size()),
           {{"revoked", partitions->cnt}, {"partitions", partitions_.size()}});
}

bool Rebalancer::complete(const StoredOffsetsReader::Read& read) {
  if (!pending_ || read.started < pending_since_) return false;
  kafka::PartitionList partitions = std::move(pending_);
  assign_from(partitions.get(), read.offsets);
  return true;
}

void Rebalancer::assign_from(rd_kafka_topic_partition_list_t* partitions, const PartitionOffsets& stored) {
  AssignedPartitions::Map assigned;
  for (int i = 0; i < partitions->cnt; ++i) {
    rd_kafka_topic_partition_t& tp = partitions->elems[i];
    const TopicKind topic = kind_of(tp.topic);
    const auto it = stored.find({topic, tp.partition});
    PartitionState state;
    if (it != stored.end() && it->second >= 0) {
      tp.offset = it->second;
      state.position = it->second;
    } else {
      tp.offset = cfg_.auto_offset_reset == "earliest" ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
    }
    if (replay_ != nullptr) replay_->assign(topic, tp, state, it != stored.end() ? it->second : -1);
    assigned[{topic, tp.partition}] = state;
  }
  // Partitions with no stored offset start at absolute offsets looked up now, in one request
  // per leader, rather than at BEGINNING/END (see resolve_start_offsets).
  const int fresh = static_cast<int>(std::count_if(partitions->elems, partitions->elems + partitions->cnt,
                                                   [](const rd_kafka_topic_partition_t& tp) { return tp.offset < 0; }));
  const int resolved = fresh > 0 ? resolve_start_offsets(rk_, partitions, kStartOffsetsTimeout) : 0;
  for (int i = 0; i < partitions->cnt && resolved > 0; ++i) {
    const rd_kafka_topic_partition_t& tp = partitions->elems[i];
    PartitionState& state = assigned[{kind_of(tp.topic), tp.partition}];
    if (state.position < 0 && tp.offset >= 0) state.position = tp.offset;
  }
  if (incremental_) {
    if (rd_kafka_error_t* error = rd_kafka_incremental_assign(rk_, partitions)) {
      const std::string text = rd_kafka_error_string(error);
      rd_kafka_error_destroy(error);
      throw kafka::KafkaError("incremental assign: " + text);
    }
    for (auto& [key, state] : partitions_.all()) assigned.emplace(key, state);  // the ones kept
  } else if (const rd_kafka_resp_err_t err = rd_kafka_assign(rk_, partitions)) {
    throw kafka::KafkaError(std::string("assign: ") + rd_kafka_err2str(err));
  }
  partitions_.replace(std::move(assigned));
  if (replay_ != nullptr) replay_->report_assignment();
  stats_.partitions_assigned = static_cast<int>(partitions_.size());
  std::string fresh_note;
  if (fresh > 0) {
    fresh_note = "; " + std::to_string(fresh) + " without one start at the " +
                 (cfg_.auto_offset_reset == "earliest" ? "earliest" : "latest") + " offset (" +
                 std::to_string(resolved) + " looked up before the assignment)";
  }
  if (incremental_ && partitions->cnt == 0) return;  // a cooperative rebalance that adds nothing here
  log_info("assigned " + std::to_string(partitions->cnt) + " partitions; resuming from the offsets stored in PostgreSQL" +
           fresh_note,
           {{"assigned", partitions->cnt}});
}

void Rebalancer::revoke() {
  pending_.reset();
  if (cooperative_) {
    rd_kafka_topic_partition_list_t* held = nullptr;
    if (rd_kafka_assignment(rk_, &held) == RD_KAFKA_RESP_ERR_NO_ERROR && held != nullptr) {
      kafka::PartitionList owned(held);
      if (rd_kafka_error_t* error = rd_kafka_incremental_unassign(rk_, owned.get())) rd_kafka_error_destroy(error);
    }
  } else {
    rd_kafka_assign(rk_, nullptr);
  }
  partitions_.clear();
  stats_.partitions_assigned = 0;
}

}  // namespace mlops_ingest
