#include "consumer_loop.hpp"

#include <algorithm>
#include <thread>

#include "consumer_client.hpp"
#include "mlops_ingest/log/log.hpp"

namespace mlops_ingest {

using Clock = std::chrono::steady_clock;
using kafka::KafkaMessage;
using kafka::PartitionList;

ConsumerLoop::ConsumerLoop(const Config& config, IngestStats& stats, OffsetLedger& ledger,
                           std::vector<Lane*> lanes, const ReplayWindow* replay)
    : cfg_(config),
      stats_(stats),
      ledger_(ledger),
      lanes_(std::move(lanes)),
      envelopes_(config),
      stash_(lanes_.size()),
      stalled_since_(lanes_.size()),
      writer_paused_(lanes_.size(), false),
      published_(lanes_.size(), false),
      aligner_(config.label_align_max_wait, config.label_align_buffer) {
  rk_ = open_consumer(cfg_, &ConsumerLoop::rebalance_trampoline, this);
  if (replay != nullptr) replay_.emplace(*replay);
  std::vector<const std::string*> topics;
  for (const EventKindSpec& spec : kEventKinds) {
    const std::string& topic = cfg_.topic_of(spec.kind);
    if (topic.empty()) continue;  // that kind is off
    if (!replay_ || replay_->window().covers(topic)) topics.push_back(&topic);  // a replay reads only its window's topics
  }
  subscribe(rk_.get(), topics);
}

ConsumerLoop::~ConsumerLoop() { close(); }

void ConsumerLoop::close() {
  if (closed_ || !rk_) return;
  commit_to_kafka(true);
  closed_ = true;  // the revoke that closing triggers must not wait for the rings
  rd_kafka_consumer_close(rk_.get());
}

std::size_t ConsumerLoop::writer_of(TopicKind, std::int32_t partition) const noexcept {
  // Co-routing: partition p of the labels topic goes to the writer of partition p of the
  // predictions topic. Both are keyed by prediction_id, so a co-partitioned pair holds both
  // halves of a prediction, and the writer can pair a label with its prediction in memory.
  return static_cast<std::size_t>(partition) % lanes_.size();
}

std::optional<TopicKind> ConsumerLoop::topic_kind(const rd_kafka_message_t* msg) const noexcept {
  return cfg_.kind_of_topic(rd_kafka_topic_name(msg->rkt));
}

const std::string& ConsumerLoop::topic_name(TopicKind topic) const noexcept {
  return cfg_.topic_of(topic);
}

void ConsumerLoop::dispatch(KafkaMessage msg, TopicKind topic) {
  const std::int32_t partition = msg->partition;
  if (topic != TopicKind::kPredictions && topic != TopicKind::kLabels) {
    // The other kinds are independent of each other and of the prediction/label pair: no
    // alignment, only their partition's order (kept by writer_of and the stash).
    if (!deliver(msg, topic)) stash_[writer_of(topic, partition)].push_back(std::move(msg));
    return;
  }
  if (!copartitioning_.copartitioned()) {
    aligner_.set_enabled(false);
  } else if (auto warning = copartitioning_.sample(topic, msg.get())) {
    log_warn(*warning);
    aligner_.set_enabled(false);
  }
  const std::int64_t ts = rd_kafka_message_timestamp(msg.get(), nullptr);
  if (topic == TopicKind::kPredictions) {
    aligner_.on_prediction(partition, ts);
  } else if (aligner_.hold(msg, partition, ts, [this](std::int32_t p) { return predictions_drained(p); },
                           Clock::now())) {
    if (aligner_.full(partition)) set_align_paused(partition, true);
    return;
  }
  if (!deliver(msg, topic)) stash_[writer_of(topic, partition)].push_back(std::move(msg));
}

bool ConsumerLoop::predictions_drained(std::int32_t partition) {
  if (replay_exhausted(TopicKind::kPredictions, partition)) return true;  // a replay's end: nothing more comes
  const auto it = assigned_.find({TopicKind::kPredictions, partition});
  if (it == assigned_.end()) return true;  // not ours: nothing to wait for here
  std::int64_t lo = -1, hi = -1;
  rd_kafka_get_watermark_offsets(rk_.get(), cfg_.topic_of(TopicKind::kPredictions).c_str(), partition, &lo, &hi);
  const std::int64_t position = it->second.position >= 0 ? it->second.position : lo;
  return hi >= 0 && position >= hi;
}

void ConsumerLoop::release_aligned_labels() {
  if (aligner_.held() == 0) return;
  aligner_.release(
      Clock::now(), [this](std::int32_t p) { return predictions_drained(p); },
      [this](KafkaMessage& msg) { return deliver(msg, TopicKind::kLabels); });
  for (auto& [key, info] : assigned_) {
    if (info.align_paused && aligner_.held(key.second) <= aligner_.cap() / 4) set_align_paused(key.second, false);
  }
}

void ConsumerLoop::set_align_paused(std::int32_t labels_partition, bool paused) {
  const auto it = assigned_.find({TopicKind::kLabels, labels_partition});
  if (it == assigned_.end() || it->second.align_paused == paused) return;
  it->second.align_paused = paused;
  // Back-pressure, or a replay's end, still holds it.
  if (!paused && (it->second.paused || replay_exhausted(TopicKind::kLabels, labels_partition))) {
    count_paused();
    return;
  }
  PartitionList list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), cfg_.topic_of(TopicKind::kLabels).c_str(), labels_partition);
  if (paused) {
    ++stats_.align_pauses;
    rd_kafka_pause_partitions(rk_.get(), list.get());
  } else {
    rd_kafka_resume_partitions(rk_.get(), list.get());
  }
  count_paused();
}

void ConsumerLoop::check_copartitioning() {
  copartitioning_checked_ = true;
  // Only the prediction/label pair is co-routed; with either kind off there is nothing to check.
  if (cfg_.topic_of(TopicKind::kPredictions).empty() || cfg_.topic_of(TopicKind::kLabels).empty()) return;
  auto partition_count = [this](const std::string& topic) {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_.get(), topic.c_str(), nullptr);
    if (rkt == nullptr) return 0;
    const rd_kafka_metadata_t* md = nullptr;
    int count = 0;
    if (rd_kafka_metadata(rk_.get(), 0, rkt, &md, 1000) == RD_KAFKA_RESP_ERR_NO_ERROR && md != nullptr) {
      if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) count = md->topics[0].partition_cnt;
      rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
    return count;
  };
  if (auto warning = copartitioning_.set_partition_counts(partition_count(cfg_.topic_of(TopicKind::kPredictions)),
                                                           partition_count(cfg_.topic_of(TopicKind::kLabels)))) {
    log_warn(*warning);
    aligner_.set_enabled(false);
  }
}

std::int64_t ConsumerLoop::compute_lag() {
  // Also publishes the lag of each partition whose lag is known (the /metrics gauge).
  std::int64_t lag = 0;
  bool known = true;
  std::vector<PartitionLag> lags;
  lags.reserve(assigned_.size());
  for (const auto& [key, info] : assigned_) {
    // The watermarks librdkafka cached from its last fetch response for the partition; unknown
    // (-1) until the first one arrives, shortly after assignment: the lag is then unknown too.
    // Never rd_kafka_query_watermark_offsets here: that is a synchronous broker round trip (up
    // to its timeout) per partition not fetched yet — every partition, right after an
    // assignment — on the thread that feeds the writers: with a remote or slow broker, a stall
    // after every rebalance.
    std::int64_t lo = -1, hi = -1;
    rd_kafka_get_watermark_offsets(rk_.get(), topic_name(key.first).c_str(), key.second, &lo, &hi);
    if (hi < 0) {
      known = false;
      continue;
    }
    const std::int64_t position = info.position >= 0 ? info.position : lo;
    if (position < 0) {
      known = false;
      continue;
    }
    const std::int64_t behind = std::max<std::int64_t>(0, hi - position);
    lags.push_back({topic_name(key.first), key.second, behind});
    lag += behind;
  }
  stats_.partition_lag.publish(std::move(lags));
  last_lag_check_ = Clock::now();
  return known ? lag : -1;
}

bool ConsumerLoop::caught_up_and_idle() {
  if (assigned_.empty() || Clock::now() - last_message_ < cfg_.idle_exit) return false;
  if (aligner_.held() > 0) return false;
  for (std::size_t w = 0; w < lanes_.size(); ++w) {
    if (!stash_[w].empty() || lanes_[w]->ring().size() != 0) return false;
  }
  return compute_lag() == 0;
}

void ConsumerLoop::progress_line() {
  const auto now = Clock::now();
  const double seconds = std::chrono::duration<double>(now - last_progress_).count();
  const std::uint64_t rows = stats_.rows_stored() + stats_.prediction_duplicates + stats_.label_duplicates;
  const double rate = seconds > 0 ? static_cast<double>(rows - progress_rows_) / seconds : 0;
  progress_rows_ = rows;
  last_progress_ = now;
  const std::int64_t lag = compute_lag();
  stats_.lag = lag;
  log_info(format_progress(stats_, rate, lag));
  if (replay_) log_info(replay_->line(now));
}

void ConsumerLoop::commit_to_kafka(bool synchronous) {
  last_kafka_commit_ = Clock::now();
  const auto committed = ledger_.take();
  if (replay_) replay_committed(committed);
  if (committed.empty()) return;
  PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(committed.size())));
  for (const auto& [key, next] : committed) {
    // Only partitions we still own: a revoked partition's offsets belong to its new owner.
    if (assigned_.count(key) == 0) continue;
    rd_kafka_topic_partition_list_add(list.get(), topic_name(key.first).c_str(), key.second)->offset = next;
  }
  if (list->cnt == 0) return;
  const rd_kafka_resp_err_t err = rd_kafka_commit(rk_.get(), list.get(), synchronous ? 0 : 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
    // Informational only (PostgreSQL holds the truth): log and carry on.
    ++stats_.kafka_errors;
    log_warn(std::string("mirroring offsets to Kafka failed: ") + rd_kafka_err2str(err));
  }
}

void ConsumerLoop::run(const std::atomic<bool>& stop) {
  stop_ = &stop;
  std::vector<KafkaMessage> batch;
  batch.reserve(cfg_.poll_batch);
  last_progress_ = last_kafka_commit_ = last_idle_check_ = last_message_ = Clock::now();
  while (!stop.load()) {
    stats_.consumer_heartbeat.beat();
    drain_stashes();
    if (apply_backpressure()) {
      // A writer is momentarily full: give it a moment instead of polling more.
      std::this_thread::sleep_for(std::chrono::microseconds(500));
      if (!housekeeping()) return;
      continue;
    }

    // Fill a batch: the first poll waits briefly, the rest take only what is already fetched.
    // rd_kafka_consumer_poll (not consume_batch_queue) so that every call counts towards
    // max.poll.interval.ms and serves rebalances.
    batch.clear();
    int timeout_ms = 250;  // an idle consumer wakes four times a second
    while (batch.size() < cfg_.poll_batch) {
      const std::uint64_t generation = assignment_generation_;
      rd_kafka_message_t* raw = rd_kafka_consumer_poll(rk_.get(), timeout_ms);
      // A rebalance ran inside this poll: what the batch holds was fetched under the previous
      // assignment. Were a partition assigned again, its old messages would reach the ring
      // ahead of the re-read from the stored offset, and the writer would store offsets past a
      // gap. They were never committed; the new assignment reads them again.
      if (assignment_generation_ != generation) batch.clear();
      if (raw == nullptr) break;
      timeout_ms = 0;
      batch.emplace_back(raw);
    }

    for (KafkaMessage& msg : batch) {
      if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
        const std::string text = rd_kafka_message_errstr(msg.get());
        if (msg->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || msg->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
          // A configured topic that does not exist (yet): not an error. The other kinds keep
          // flowing and the subscription picks it up once it exists. Said once per topic.
          const std::string topic = msg->rkt != nullptr ? rd_kafka_topic_name(msg->rkt) : text;
          if (missing_topics_warned_.insert(topic).second) {
            log_warn("topic '" + topic + "' does not exist (yet): its events are consumed once it is created; " +
                     "the other topics keep flowing (" + text + ")");
          }
          continue;
        }
        ++stats_.kafka_errors;
        if (kafka::is_transient(msg->err)) {
          log_warn("Kafka (retried by librdkafka): " + text);
        } else {
          log_error("Kafka: " + text);
        }
        continue;
      }
      const std::optional<TopicKind> topic = topic_kind(msg.get());
      if (!topic || assigned_.count({*topic, msg->partition}) == 0) continue;  // revoked meanwhile
      if (replay_ && !replay_admit(msg.get(), *topic)) continue;  // at or past the replay window's end
      ++stats_.messages_consumed;
      ++stats_.messages_consumed_by_topic[static_cast<std::size_t>(*topic)];
      if (stats_.first_message_ns.load() == 0) stats_.first_message_ns = monotonic_ns();
      dispatch(std::move(msg), *topic);
    }
    if (!batch.empty()) last_message_ = Clock::now();
    release_aligned_labels();
    wake_writers();

    if (!housekeeping()) return;
  }
}

bool ConsumerLoop::housekeeping() {
  for (const Lane* w : lanes_) {
    if (w->failed()) {
      log_error("a writer failed; stopping");
      return false;
    }
  }
  if (replay_ && replay_finished()) return false;  // every partition reached the window's end
  const auto now = Clock::now();
  if (!copartitioning_checked_ && !assigned_.empty()) check_copartitioning();
  // The per-partition lag gauge, on its own period (the progress line may be off).
  if (now - last_lag_check_ >= std::chrono::seconds(2)) stats_.lag = compute_lag();
  if (now - last_kafka_commit_ >= cfg_.kafka_commit_interval) commit_to_kafka(false);
  if (cfg_.progress_interval.count() > 0 && now - last_progress_ >= cfg_.progress_interval) progress_line();
  if (cfg_.idle_exit.count() > 0 && now - last_idle_check_ >= std::chrono::milliseconds(250)) {
    last_idle_check_ = now;
    if (caught_up_and_idle()) {
      log_info("caught up and idle: exiting (idle_exit_ms)");
      return false;
    }
  }
  return true;
}

void ConsumerLoop::finish(Clock::time_point deadline) {
  // Stop fetching, then give the writers what we already hold. (Not a back-pressure pause, so
  // not counted as one.)
  const std::uint64_t pauses = stats_.pauses.load();
  for (std::size_t w = 0; w < lanes_.size(); ++w) set_paused(w, true);
  stats_.pauses = pauses;
  for (;;) {
    drain_stashes();
    bool empty = true;
    for (const auto& s : stash_) empty = empty && s.empty();
    if (empty || Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace mlops_ingest
