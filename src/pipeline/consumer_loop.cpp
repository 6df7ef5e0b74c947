#include "consumer_loop.hpp"

#include <algorithm>
#include <cstdio>
#include <thread>

#include "mlops_ingest/event/timestamp.hpp"
#include "mlops_ingest/log.hpp"
#include "mlops_ingest/pipeline/row_encoder.hpp"

namespace mlops_ingest {

using Clock = std::chrono::steady_clock;
using kafka::KafkaMessage;
using kafka::PartitionList;


ConsumerLoop::ConsumerLoop(const Config& config, IngestStats& stats, OffsetLedger& ledger,
                           std::vector<std::unique_ptr<BatchWriter>>& writers, const ReplayWindow* replay)
    : cfg_(config),
      stats_(stats),
      ledger_(ledger),
      writers_(writers),
      parser_(ParserLimits{config.max_message_bytes, 64}),
      stash_(writers.size()),
      stalled_since_(writers.size()),
      writer_paused_(writers.size(), false),
      published_(writers.size(), false),
      aligner_(config.label_align_max_wait, config.label_align_buffer) {
  std::map<std::string, std::string> props = {
      {"bootstrap.servers", cfg_.brokers},
      {"group.id", cfg_.group},
      {"client.id", "mlops-ingest"},
      // PostgreSQL is the source of truth for offsets; Kafka commits mirror it, explicitly.
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", cfg_.auto_offset_reset},
      // Bound librdkafka's prefetch memory: part of the documented memory bound.
      {"queued.max.messages.kbytes", "32768"},
      // Freshness: a fetch that finds nothing new waits at most this long at the broker. A broker
      // that answers as soon as data arrives (Kafka) makes this only the idle re-fetch period;
      // one that holds the request for the full wait (librdkafka's mock cluster, the embedded
      // broker) would add up to 500 ms (the default) to every event's latency.
      {"fetch.wait.max.ms", "100"},
      {"log_level", "4"},
  };
  for (const auto& [k, v] : cfg_.kafka_properties) props[k] = v;
  // on_rebalance implements the eager protocol (rd_kafka_assign); with a cooperative strategy
  // librdkafka refuses every assign() and the ingester would consume nothing, silently.
  if (const auto it = props.find("partition.assignment.strategy");
      it != props.end() && it->second.find("cooperative") != std::string::npos) {
    throw kafka::KafkaError("kafka.partition.assignment.strategy '" + it->second +
                            "' is not supported: use range or roundrobin (eager rebalancing)");
  }
  kafka::KafkaConf conf = kafka::make_conf(props);
  rd_kafka_conf_set_rebalance_cb(conf.get(), &ConsumerLoop::rebalance_trampoline);
  rd_kafka_conf_set_opaque(conf.get(), this);
  rk_ = kafka::make_handle(RD_KAFKA_CONSUMER, std::move(conf));
  rd_kafka_poll_set_consumer(rk_.get());

  if (replay != nullptr) replay_.emplace(*replay);
  PartitionList topics(rd_kafka_topic_partition_list_new(2));
  for (const std::string* topic : {&cfg_.predictions_topic, &cfg_.labels_topic}) {
    if (!replay_ || replay_->window().covers(*topic)) {  // a replay reads only its window's topics
      rd_kafka_topic_partition_list_add(topics.get(), topic->c_str(), RD_KAFKA_PARTITION_UA);
    }
  }
  if (const rd_kafka_resp_err_t err = rd_kafka_subscribe(rk_.get(), topics.get())) {
    throw kafka::KafkaError(std::string("subscribing: ") + rd_kafka_err2str(err));
  }
}

ConsumerLoop::~ConsumerLoop() { close(); }

void ConsumerLoop::close() {
  if (closed_ || !rk_) return;
  commit_to_kafka(true);
  closed_ = true;  // the revoke that closing triggers must not wait for the rings
  rd_kafka_consumer_close(rk_.get());
}

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
  // An outage here is retried like any other: without the stored offsets we cannot resume
  // exactly where the database stands.
  std::chrono::milliseconds backoff = cfg_.retry_backoff_initial;
  for (;;) {
    // A stop request during an outage abandons the assignment (on_rebalance unassigns): the
    // partitions are read again, from PostgreSQL's offsets, by whoever gets them next.
    if (stop_ != nullptr && stop_->load()) throw kafka::KafkaError("stopping while reading stored offsets");
    stats_.consumer_heartbeat.beat();  // retrying an outage is not being stuck
    try {
      if (!offsets_conn_) offsets_conn_.emplace(cfg_.pg);
      std::map<PartitionKey, std::int64_t> out;
      pg::PgResult r = offsets_conn_->exec(
          "SELECT topic, kafka_partition, next_offset FROM ingest_offsets WHERE consumer_group = " +
          offsets_conn_->escape_literal(cfg_.group));
      for (int i = 0; i < PQntuples(r.get()); ++i) {
        const std::string topic = PQgetvalue(r.get(), i, 0);
        const auto partition = static_cast<std::int32_t>(std::stol(PQgetvalue(r.get(), i, 1)));
        const std::int64_t next = std::stoll(PQgetvalue(r.get(), i, 2));
        if (topic == cfg_.predictions_topic) out[{TopicKind::kPredictions, partition}] = next;
        if (topic == cfg_.labels_topic) out[{TopicKind::kLabels, partition}] = next;
      }
      return out;
    } catch (const pg::PgError& e) {
      offsets_conn_.reset();
      ++stats_.pg_retries;
      log_warn(std::string("reading stored offsets failed, will retry: ") + e.what());
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, cfg_.retry_backoff_max);
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
    const TopicKind topic =
        cfg_.predictions_topic == tp.topic ? TopicKind::kPredictions : TopicKind::kLabels;
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
  if (const rd_kafka_resp_err_t err = rd_kafka_assign(rk_.get(), partitions)) {
    throw kafka::KafkaError(std::string("assign: ") + rd_kafka_err2str(err));
  }
  if (replay_) replay_pause_exhausted();
  stats_.partitions_assigned = partitions->cnt;
  count_paused();
  log_info("assigned " + std::to_string(partitions->cnt) + " partitions; resuming from the offsets stored in PostgreSQL");
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
      for (auto& w : writers_) empty = empty && w->ring().size() == 0;
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

std::size_t ConsumerLoop::writer_of(TopicKind, std::int32_t partition) const noexcept {
  // Co-routing: partition p of the labels topic goes to the writer of partition p of the
  // predictions topic. Both are keyed by prediction_id, so a co-partitioned pair holds both
  // halves of a prediction, and the writer can pair a label with its prediction in memory.
  return static_cast<std::size_t>(partition) % writers_.size();
}

std::optional<TopicKind> ConsumerLoop::topic_kind(const rd_kafka_message_t* msg) const noexcept {
  const char* name = rd_kafka_topic_name(msg->rkt);
  if (cfg_.predictions_topic == name) return TopicKind::kPredictions;
  if (cfg_.labels_topic == name) return TopicKind::kLabels;
  return std::nullopt;
}

const std::string& ConsumerLoop::topic_name(TopicKind topic) const noexcept {
  return topic == TopicKind::kPredictions ? cfg_.predictions_topic : cfg_.labels_topic;
}

void ConsumerLoop::fill_slot(Envelope& env, const rd_kafka_message_t* msg, TopicKind topic) {
  env.topic = topic;
  env.partition = msg->partition;
  env.offset = msg->offset;
  const char* payload = static_cast<const char*>(msg->payload);
  const std::size_t len = msg->len;
  rd_kafka_timestamp_type_t ts_type;
  std::int64_t ts_ms = rd_kafka_message_timestamp(msg, &ts_type);
  if (ts_ms < 0) {
    ts_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch()).count();
  }
  env.kafka_ts_ms = ts_ms;
  const PgTimestamp kafka_ts = pg_timestamp_from_unix_ms(ts_ms);

  RejectReason reason;
  if (topic == TopicKind::kPredictions) {
    PredictionEvent event;
    reason = parser_.parse_prediction(payload, len, event);
    if (reason == RejectReason::kNone) {
      env.kind = EnvelopeKind::kPrediction;
      encode_prediction(event, kafka_ts, env.tuple);
    }
  } else {
    LabelEvent event;
    reason = parser_.parse_label(payload, len, event);
    if (reason == RejectReason::kNone) {
      env.kind = EnvelopeKind::kLabel;
      encode_label(event, kafka_ts, env.tuple);
    }
  }
  const std::optional<std::string_view> key =
      msg->key != nullptr ? std::optional<std::string_view>({static_cast<const char*>(msg->key), msg->key_len})
                          : std::nullopt;
  if (reason == RejectReason::kNone) {
    // Kept in case PostgreSQL refuses the row and it must be dead-lettered as received.
    env.key.assign(key.value_or(std::string_view{}));
    env.payload.assign(payload, len);
    return;
  }
  env.kind = EnvelopeKind::kDeadLetter;
  env.reason = reason;
  env.key.assign(key.value_or(std::string_view{}));
  env.payload.assign(payload != nullptr ? payload : "", payload != nullptr ? len : 0);
  env.reason_text.assign(parser_.last_error());
  const std::optional<std::string_view> body =
      payload != nullptr ? std::optional<std::string_view>({payload, len}) : std::nullopt;
  encode_dead_letter({topic_name(topic), msg->partition, msg->offset, key, body, reason,
                      parser_.last_error(), std::nullopt},
                     cfg_.dead_letter_payload_max_bytes, env.tuple);
}

bool ConsumerLoop::hand_over(const rd_kafka_message_t* msg, TopicKind topic) {
  const std::size_t w = writer_of(topic, msg->partition);
  auto& ring = writers_[w]->ring();
  Envelope* slot = ring.producer_slot();
  if (slot == nullptr) return false;
  fill_slot(*slot, msg, topic);
  ring.producer_commit();
  published_[w] = true;
  auto it = assigned_.find({topic, msg->partition});
  if (it != assigned_.end()) it->second.position = msg->offset + 1;
  return true;
}

void ConsumerLoop::wake_writers() {
  // Only writers that were handed something: waking an idle writer for nothing costs it a
  // context switch per poll round.
  for (std::size_t w = 0; w < writers_.size(); ++w) {
    if (!published_[w]) continue;
    published_[w] = false;
    writers_[w]->signal().notify();
  }
}

void ConsumerLoop::drain_stashes() {
  for (std::size_t w = 0; w < stash_.size(); ++w) {
    auto& stash = stash_[w];
    while (!stash.empty()) {
      const rd_kafka_message_t* msg = stash.front().get();
      if (!hand_over(msg, *topic_kind(msg))) break;
      stash.pop_front();
    }
  }
  wake_writers();
}

bool ConsumerLoop::deliver(KafkaMessage& msg, TopicKind topic) {
  const std::size_t w = writer_of(topic, msg->partition);
  // Order within a partition must hold: once a writer has a stash, everything for it queues.
  if (!stash_[w].empty() || !hand_over(msg.get(), topic)) {
    if (stash_[w].size() >= cfg_.poll_batch) return false;  // the caller keeps it
    stash_[w].push_back(std::move(msg));
  }
  return true;
}

void ConsumerLoop::dispatch(KafkaMessage msg, TopicKind topic) {
  if (!copartitioning_.copartitioned()) {
    aligner_.set_enabled(false);
  } else if (auto warning = copartitioning_.sample(topic, msg.get())) {
    log_warn(*warning);
    aligner_.set_enabled(false);
  }
  const std::int64_t ts = rd_kafka_message_timestamp(msg.get(), nullptr);
  const std::int32_t partition = msg->partition;
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
  rd_kafka_get_watermark_offsets(rk_.get(), cfg_.predictions_topic.c_str(), partition, &lo, &hi);
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
  rd_kafka_topic_partition_list_add(list.get(), cfg_.labels_topic.c_str(), labels_partition);
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
  if (auto warning = copartitioning_.set_partition_counts(partition_count(cfg_.predictions_topic),
                                                           partition_count(cfg_.labels_topic))) {
    log_warn(*warning);
    aligner_.set_enabled(false);
  }
}

void ConsumerLoop::set_paused(std::size_t writer, bool paused) {
  if (writer_paused_[writer] == paused) return;
  PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(assigned_.size())));
  for (auto& [key, info] : assigned_) {
    if (writer_of(key.first, key.second) != writer) continue;
    info.paused = paused;
    if (!paused && (info.align_paused || replay_exhausted(key.first, key.second))) continue;  // aligner; replay's end
    rd_kafka_topic_partition_list_add(list.get(), topic_name(key.first).c_str(), key.second);
  }
  if (paused) {
    ++stats_.pauses;
    rd_kafka_pause_partitions(rk_.get(), list.get());
  } else {
    rd_kafka_resume_partitions(rk_.get(), list.get());
  }
  writer_paused_[writer] = paused;
  count_paused();
}

bool ConsumerLoop::apply_backpressure() {
  // Two speeds of back-pressure, both bounded:
  // - a short stall (a writer's ring full for less than kShortStall, the steady state when
  //   PostgreSQL is the bottleneck): stop taking messages from librdkafka and wait. Its own
  //   prefetch queue is bounded (queued.max.messages.kbytes), and nothing is thrown away.
  // - a long stall (PostgreSQL away): pause that writer's partitions and go on polling, so the
  //   group never sees this member as stuck however long the outage lasts. Pausing drops
  //   librdkafka's prefetched messages (they are fetched again on resume), which is why it is
  //   not used for the short, frequent stalls: measured, it cost up to half the throughput.
  constexpr auto kShortStall = std::chrono::milliseconds(1000);
  const auto now = Clock::now();
  bool blocked = false;
  for (std::size_t w = 0; w < writers_.size(); ++w) {
    if (!stash_[w].empty()) {
      if (stalled_since_[w] == Clock::time_point{}) stalled_since_[w] = now;
      if (now - stalled_since_[w] >= kShortStall) {
        set_paused(w, true);
      } else {
        blocked = true;
      }
    } else {
      stalled_since_[w] = Clock::time_point{};
      if (writer_paused_[w] && writers_[w]->ring().size() <= writers_[w]->ring().capacity() / 2) {
        set_paused(w, false);
      }
    }
  }
  return blocked;
}

std::int64_t ConsumerLoop::compute_lag() {
  // Also publishes the lag of each partition whose lag is known (the /metrics gauge).
  std::int64_t lag = 0;
  bool known = true;
  std::vector<PartitionLag> lags;
  lags.reserve(assigned_.size());
  for (const auto& [key, info] : assigned_) {
    std::int64_t lo = -1, hi = -1;
    rd_kafka_get_watermark_offsets(rk_.get(), topic_name(key.first).c_str(), key.second, &lo, &hi);
    if (hi < 0 &&
        rd_kafka_query_watermark_offsets(rk_.get(), topic_name(key.first).c_str(), key.second, &lo, &hi, 200) !=
            RD_KAFKA_RESP_ERR_NO_ERROR) {
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

void ConsumerLoop::count_paused() {
  int paused = 0;
  for (const auto& [key, info] : assigned_) paused += (info.paused || info.align_paused) ? 1 : 0;
  stats_.partitions_paused = paused;
}

bool ConsumerLoop::caught_up_and_idle() {
  if (assigned_.empty() || Clock::now() - last_message_ < cfg_.idle_exit) return false;
  if (aligner_.held() > 0) return false;
  for (std::size_t w = 0; w < writers_.size(); ++w) {
    if (!stash_[w].empty() || writers_[w]->ring().size() != 0) return false;
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
  const int waiting = stats_.writers_waiting_for_pg.load();
  char rate_text[32];
  std::snprintf(rate_text, sizeof rate_text, "%.0f", rate);
  log_info("progress: " + std::string(rate_text) + " rows/s | predictions " +
           with_commas(stats_.predictions_inserted) + ", labels " + with_commas(stats_.labels_inserted) +
           " (" + with_commas(stats_.labels_paired) + " paired in memory, +" + with_commas(stats_.labels_released) +
           " released, " + with_commas(stats_.labels_pended) + " parked = " + stats_.labels_parked_percent() +
           ") | duplicates " +
           with_commas(stats_.prediction_duplicates + stats_.label_duplicates) + " | dead letters " +
           with_commas(stats_.dead_letters) + " (" + stats_.dead_letter_breakdown() + ") | lag " +
           (lag < 0 ? std::string("?") : with_commas(static_cast<std::uint64_t>(lag))) + " | postgres " +
           (waiting > 0 ? "UNREACHABLE (" + std::to_string(waiting) + " writers retrying)" : std::string("ok")) +
           ", retries " + with_commas(stats_.pg_retries) + ", reconnects " + with_commas(stats_.pg_reconnects));
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
        ++stats_.kafka_errors;
        const std::string text = rd_kafka_message_errstr(msg.get());
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
  for (const auto& w : writers_) {
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
  for (std::size_t w = 0; w < writers_.size(); ++w) set_paused(w, true);
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
