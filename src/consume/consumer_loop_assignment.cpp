// ConsumerLoop: the rebalance handler. On an assignment every partition resumes from the
// offset stored in PostgreSQL (the source of truth, read through the offsets store's SQL); on
// a revoke what was never committed is dropped for the next owner to read again.
#include <algorithm>
#include <random>
#include <thread>

#include "consumer_client.hpp"
#include "consumer_loop.hpp"
#include "mlops_ingest/log/log.hpp"
#include "../pg/stored_offsets.hpp"
#include "../pg/retry_backoff.hpp"

namespace mlops_ingest {

using Clock = std::chrono::steady_clock;

namespace {
// One ListOffsets round trip per leader; past this librdkafka resolves them itself, as before.
constexpr std::chrono::milliseconds kStartOffsetsTimeout{2000};
}  // namespace

void ConsumerLoop::rebalance_trampoline(rd_kafka_t*, rd_kafka_resp_err_t err,
                                        rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  static_cast<ConsumerLoop*>(opaque)->on_rebalance(err, partitions);
}

void ConsumerLoop::on_rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions) {
  try {
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      on_assign(partitions);
    } else {
      on_revoke();
    }
  } catch (const std::exception& e) {
    log_error(std::string("rebalance failed: ") + e.what());
    rd_kafka_assign(rk_.get(), nullptr);
    assigned_.clear();
    stats_.partitions_assigned = 0;
    count_paused();
    stats_.partition_lag.publish({});
  }
}

std::map<ConsumerLoop::PartitionKey, std::int64_t> ConsumerLoop::stored_offsets() {
  // An outage here is retried like any other, with the writers' policy: without the stored
  // offsets we cannot resume exactly where the database stands.
  RetryBackoff backoff(cfg_.retry_backoff_initial, cfg_.retry_backoff_max, std::random_device{}());
  for (;;) {
    // A stop request during an outage abandons the assignment (on_rebalance unassigns): the
    // partitions are read again, from PostgreSQL's offsets, by whoever gets them next.
    if (stop_ != nullptr && stop_->load()) throw kafka::KafkaError("stopping while reading stored offsets");
    stats_.consumer_heartbeat.beat();  // retrying an outage is not being stuck
    try {
      if (!offsets_conn_) offsets_conn_.emplace(cfg_.pg);
      std::map<PartitionKey, std::int64_t> out;
      for (const StoredOffset& row : read_stored_offsets(*offsets_conn_, cfg_)) out[{row.topic, row.partition}] = row.next_offset;
      return out;
    } catch (const pg::PgError& e) {
      offsets_conn_.reset();
      ++stats_.pg_retries;
      log_warn(std::string("reading stored offsets failed, will retry: ") + e.what());
      std::this_thread::sleep_for(backoff.next());
    }
  }
}

void ConsumerLoop::on_assign(rd_kafka_topic_partition_list_t* partitions) {
  ++assignment_generation_;
  const auto stored = stored_offsets();
  assigned_.clear();
  aligner_.clear();
  copartitioning_checked_ = false;
  std::fill(writer_paused_.begin(), writer_paused_.end(), false);
  for (int i = 0; i < partitions->cnt; ++i) {
    rd_kafka_topic_partition_t& tp = partitions->elems[i];
    const TopicKind topic = cfg_.kind_of_topic(tp.topic).value_or(TopicKind::kPredictions);
    const auto it = stored.find({topic, tp.partition});
    PartitionInfo info;
    if (it != stored.end() && it->second >= 0) {
      tp.offset = it->second;
      info.position = it->second;
    } else {
      tp.offset = cfg_.auto_offset_reset == "earliest" ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
    }
    if (replay_) replay_assign(topic, tp, info, it != stored.end() ? it->second : -1);
    assigned_[{topic, tp.partition}] = info;
  }
  // Partitions with no stored offset start at absolute offsets looked up now, in one request
  // per leader, rather than at BEGINNING/END (see resolve_start_offsets: librdkafka's own
  // lookup can sit on a 500 ms timer).
  const int fresh = static_cast<int>(
      std::count_if(partitions->elems, partitions->elems + partitions->cnt,
                    [](const rd_kafka_topic_partition_t& tp) { return tp.offset < 0; }));
  const int resolved = fresh > 0 ? resolve_start_offsets(rk_.get(), partitions, kStartOffsetsTimeout) : 0;
  for (int i = 0; i < partitions->cnt && resolved > 0; ++i) {
    const rd_kafka_topic_partition_t& tp = partitions->elems[i];
    const TopicKind topic = cfg_.kind_of_topic(tp.topic).value_or(TopicKind::kPredictions);
    PartitionInfo& info = assigned_[{topic, tp.partition}];
    if (info.position < 0 && tp.offset >= 0) info.position = tp.offset;
  }
  if (const rd_kafka_resp_err_t err = rd_kafka_assign(rk_.get(), partitions)) {
    throw kafka::KafkaError(std::string("assign: ") + rd_kafka_err2str(err));
  }
  if (replay_) replay_pause_exhausted();
  stats_.partitions_assigned = partitions->cnt;
  count_paused();
  std::string fresh_note;
  if (fresh > 0) {
    fresh_note = "; " + std::to_string(fresh) + " without one start at the " +
                 (cfg_.auto_offset_reset == "earliest" ? "earliest" : "latest") + " offset (" +
                 std::to_string(resolved) + " looked up before the assignment)";
  }
  log_info("assigned " + std::to_string(partitions->cnt) +
           " partitions; resuming from the offsets stored in PostgreSQL" + fresh_note);
}

void ConsumerLoop::on_revoke() {
  ++assignment_generation_;
  // Messages waiting in stashes (or held by the aligner) were never committed: the partitions'
  // next owner reads them again from the offsets in PostgreSQL. Rows already in the rings may
  // still commit; the offset check in each batch transaction makes that safe whoever wins.
  for (auto& stash : stash_) stash.clear();
  aligner_.clear();
  if (!closed_) {
    const auto deadline = Clock::now() + std::min<Clock::duration>(cfg_.shutdown_timeout, std::chrono::seconds(5));
    while (Clock::now() < deadline) {
      bool empty = true;
      for (const Lane* w : lanes_) empty = empty && w->ring().size() == 0;
      if (empty) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    commit_to_kafka(false);
  }
  rd_kafka_assign(rk_.get(), nullptr);
  assigned_.clear();
  std::fill(writer_paused_.begin(), writer_paused_.end(), false);
  stats_.partitions_assigned = 0;
  count_paused();
  stats_.partition_lag.publish({});
  log_info("partitions revoked");
}

}  // namespace mlops_ingest
