#include "label_alignment.hpp"

#include <limits>

#include "mlops_ingest/log/log.hpp"

namespace mlops_ingest {

using Clock = std::chrono::steady_clock;

LabelAlignment::LabelAlignment(rd_kafka_t* rk, const Config& config, IngestStats& stats,
                               AssignedPartitions& partitions)
    : rk_(rk),
      cfg_(config),
      stats_(stats),
      partitions_(partitions),
      aligner_(config.label_align_max_wait, config.label_align_buffer,
               config.label_align_total > 0 ? config.label_align_total : std::numeric_limits<std::size_t>::max()) {}

bool LabelAlignment::hold(kafka::KafkaMessage& msg, TopicKind topic) {
  const std::int32_t partition = msg->partition;
  if (!copartitioning_.copartitioned()) {
    aligner_.set_enabled(false);
  } else if (auto warning = copartitioning_.sample(topic, msg.get())) {
    log_warn(*warning);
    aligner_.set_enabled(false);
  }
  const std::int64_t ts = rd_kafka_message_timestamp(msg.get(), nullptr);
  if (topic == TopicKind::kPredictions) {
    aligner_.on_prediction(partition, ts);
    return false;
  }
  if (!aligner_.must_hold(partition, ts, [this](std::int32_t p) { return predictions_drained(p); })) return false;
  aligner_.push(HeldMessage::copy_of(*msg, topic), partition, ts, Clock::now());
  msg.reset();
  if (aligner_.full(partition)) set_held_back(partition, true);
  return true;
}

bool LabelAlignment::predictions_drained(std::int32_t partition) {
  const PartitionState* state = partitions_.find(TopicKind::kPredictions, partition);
  if (state == nullptr || state->window_end) return true;  // not ours, or a replay's end: nothing more comes
  std::int64_t lo = -1, hi = -1;
  rd_kafka_get_watermark_offsets(rk_, cfg_.topic_of(TopicKind::kPredictions).c_str(), partition, &lo, &hi);
  const std::int64_t position = state->position >= 0 ? state->position : lo;
  return hi >= 0 && position >= hi;
}

void LabelAlignment::release(WriterFeed& feed) {
  if (aligner_.held() == 0) return;
  aligner_.release(
      Clock::now(), [this](std::int32_t p) { return predictions_drained(p); },
      [&feed](HeldMessage& msg) { return feed.deliver(msg); });
  for (auto& [key, state] : partitions_.all()) {
    if (state.align_hold && aligner_.low(key.second)) set_held_back(key.second, false);
  }
}

void LabelAlignment::set_held_back(std::int32_t labels_partition, bool held_back) {
  PartitionState* state = partitions_.find(TopicKind::kLabels, labels_partition);
  if (state == nullptr || state->align_hold == held_back) return;
  state->align_hold = held_back;
  if (held_back) ++stats_.align_pauses;
  partitions_.apply();
}

void LabelAlignment::check_partition_counts() {
  if (counts_checked_ || partitions_.empty()) return;
  counts_checked_ = true;
  const std::string& predictions = cfg_.topic_of(TopicKind::kPredictions);
  const std::string& labels = cfg_.topic_of(TopicKind::kLabels);
  // Only the prediction/label pair is co-routed; with either kind off there is nothing to check.
  if (predictions.empty() || labels.empty()) return;
  auto partition_count = [this](const std::string& topic) {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_, topic.c_str(), nullptr);
    if (rkt == nullptr) return 0;
    const rd_kafka_metadata_t* md = nullptr;
    int count = 0;
    if (rd_kafka_metadata(rk_, 0, rkt, &md, 1000) == RD_KAFKA_RESP_ERR_NO_ERROR && md != nullptr) {
      if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) count = md->topics[0].partition_cnt;
      rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
    return count;
  };
  if (auto warning = copartitioning_.set_partition_counts(partition_count(predictions), partition_count(labels))) {
    log_warn(*warning);
    aligner_.set_enabled(false);
  }
}

void LabelAlignment::reset() {
  aligner_.clear();
  counts_checked_ = false;
}

}  // namespace mlops_ingest
