#include "consumer_loop.hpp"

#include <thread>

#include "consumer_client.hpp"
#include "mlops_ingest/log/log.hpp"

namespace mlops_ingest {

using Clock = std::chrono::steady_clock;
using kafka::KafkaMessage;

namespace {
std::optional<ReplayTracker> make_replay(const ReplayWindow* window, rd_kafka_t* rk, const Config& config,
                                         AssignedPartitions& partitions) {
  if (window == nullptr) return std::nullopt;
  return std::optional<ReplayTracker>(std::in_place, *window, rk, config, partitions);
}
}  // namespace

ConsumerLoop::ConsumerLoop(const Config& config, IngestStats& stats, OffsetLedger& ledger, std::vector<Lane*> lanes,
                           const ReplayWindow* replay)
    : cfg_(config),
      stats_(stats),
      rk_(open_consumer(config, &ConsumerLoop::rebalance_trampoline, this)),
      partitions_(rk_.get(), config, stats),
      stored_offsets_(config, stats),
      replay_(make_replay(replay, rk_.get(), config, partitions_)),
      rebalancer_(rk_.get(), config, stats, partitions_, stored_offsets_, replay_ ? &*replay_ : nullptr),
      feed_(config, stats, std::move(lanes), partitions_),
      alignment_(rk_.get(), config, stats, partitions_),
      mirror_(rk_.get(), config, stats, ledger, partitions_),
      lag_(rk_.get(), config, stats, partitions_),
      progress_(config, stats, lag_, replay_ ? &*replay_ : nullptr) {
  std::vector<const std::string*> topics;
  for (const EventKindSpec& spec : kEventKinds) {
    const std::string& topic = cfg_.topic_of(spec.kind);
    if (topic.empty()) continue;  // that kind is off
    if (!replay_ || replay_->covers(topic)) topics.push_back(&topic);  // a replay reads only its window's topics
  }
  subscribe(rk_.get(), topics);
}

ConsumerLoop::~ConsumerLoop() { close(); }

void ConsumerLoop::close() {
  if (closed_ || !rk_) return;
  mirror_offsets(true);
  closed_ = true;  // the revoke that closing triggers must not wait for the rings
  rd_kafka_consumer_close(rk_.get());
}

void ConsumerLoop::rebalance_trampoline(rd_kafka_t*, rd_kafka_resp_err_t err,
                                        rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  static_cast<ConsumerLoop*>(opaque)->on_rebalance(err, partitions);
}

void ConsumerLoop::on_rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions) {
  try {
    const bool cooperative = rebalancer_.cooperative();
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      feed_.reset();
      alignment_.reset();
      if (cooperative) {
        rewind_kept();
        rebalancer_.assign_incremental(partitions);
      } else {
        rebalancer_.assign(partitions);
      }
    } else {
      on_revoke(cooperative ? partitions : nullptr);
    }
  } catch (const std::exception& e) {
    log_error(std::string("rebalance failed: ") + e.what());
    rebalancer_.revoke();
    lag_.clear();
  }
}

void ConsumerLoop::on_revoke(const rd_kafka_topic_partition_list_t* incremental) {
  // Messages waiting in stashes or held by the aligner were never committed: the partitions'
  // next owner reads them again from the offsets in PostgreSQL. Rows already in the rings may
  // still commit; the offset check in each batch transaction makes that safe whoever wins.
  feed_.reset();
  alignment_.reset();
  if (!closed_) {
    const auto deadline = Clock::now() + std::min<Clock::duration>(cfg_.shutdown_timeout, std::chrono::seconds(5));
    while (Clock::now() < deadline && !feed_.rings_empty()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    mirror_offsets(false);
  }
  lag_.clear();
  if (incremental == nullptr) {
    rebalancer_.revoke();
    log_info("partitions revoked");
    return;
  }
  rebalancer_.revoke_incremental(incremental);
  rewind_kept();
}

void ConsumerLoop::rewind_kept() {
  // The stashes, the aligner and the poll round under way (poll_batch drops it when the
  // assignment changes) held messages of partitions this member keeps: they were dropped, so
  // each kept partition is fetched again from the first offset not handed to its writer (a
  // seek also discards what librdkafka had prefetched past it).
  // A new generation: poll_batch drops the round under way, which may hold messages past them.
  AssignedPartitions::Map kept = partitions_.all();
  kafka::PartitionList seek(rd_kafka_topic_partition_list_new(static_cast<int>(kept.size())));
  for (auto& [key, state] : kept) {
    state.backpressure = state.align_hold = false;  // their owners (feed, aligner) were reset
    if (state.position < 0) continue;
    rd_kafka_topic_partition_list_add(seek.get(), cfg_.topic_of(key.first).c_str(), key.second)->offset = state.position;
  }
  partitions_.replace(std::move(kept));
  if (seek->cnt == 0) return;
  if (rd_kafka_error_t* error = rd_kafka_seek_partitions(rk_.get(), seek.get(), 0)) {
    const std::string text = rd_kafka_error_string(error);
    rd_kafka_error_destroy(error);
    throw kafka::KafkaError("seek: " + text);
  }
}

void ConsumerLoop::mirror_offsets(bool synchronous) {
  const PartitionOffsets committed = mirror_.mirror(synchronous);
  if (replay_) replay_->committed(committed);
}

void ConsumerLoop::run(const std::atomic<bool>& stop) {
  std::vector<KafkaMessage> batch;
  batch.reserve(cfg_.poll_batch);
  last_idle_check_ = last_message_ = Clock::now();
  progress_.start(last_message_);
  while (!stop.load()) {
    stats_.consumer_heartbeat.beat();
    feed_.drain_stashes();
    if (feed_.apply_backpressure()) {
      // A writer is momentarily full: wait for its next commit to free slots instead of
      // polling more; the bound keeps housekeeping (heartbeat, stop, long stalls) running.
      feed_.wait_for_room(std::chrono::milliseconds(50));
      if (!housekeeping()) return;
      continue;
    }
    poll_batch(batch);
    for (KafkaMessage& msg : batch) route(std::move(msg));
    if (!batch.empty()) last_message_ = Clock::now();
    alignment_.release(feed_);
    feed_.wake_writers();
    if (!housekeeping()) return;
  }
}

void ConsumerLoop::poll_batch(std::vector<KafkaMessage>& batch) {
  // The first poll waits briefly, the rest take only what is already fetched.
  // rd_kafka_consumer_poll (not consume_batch_queue) so that every call counts towards
  // max.poll.interval.ms and serves rebalances.
  batch.clear();
  int timeout_ms = 250;  // an idle consumer wakes four times a second
  while (batch.size() < cfg_.poll_batch) {
    const std::uint64_t generation = partitions_.generation();
    rd_kafka_message_t* raw = rd_kafka_consumer_poll(rk_.get(), timeout_ms);
    ++stats_.kafka_polls;
    // A rebalance ran inside this poll: what the batch holds was fetched under the previous
    // assignment. Were a partition assigned again, its old messages would reach the ring
    // ahead of the re-read from the stored offset, and the writer would store offsets past a
    // gap. They were never committed; the new assignment reads them again.
    if (partitions_.generation() != generation) batch.clear();
    if (raw == nullptr) break;
    timeout_ms = 0;
    batch.emplace_back(raw);
  }
}

void ConsumerLoop::route(KafkaMessage msg) {
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    report_error(msg.get());
    return;
  }
  const std::optional<TopicKind> topic = cfg_.kind_of_topic(rd_kafka_topic_name(msg->rkt));
  if (!topic || !partitions_.contains(*topic, msg->partition)) return;  // revoked meanwhile
  if (replay_ && !replay_->admit(msg.get(), *topic)) return;           // at or past the window's end
  ++stats_.messages_consumed;
  ++stats_.messages_consumed_by_topic[static_cast<std::size_t>(*topic)];
  if (stats_.first_message_ns.load() == 0) stats_.first_message_ns = monotonic_ns();
  // The other kinds are independent of each other and of the prediction/label pair: no
  // alignment, only their partition's order (kept by the feed's routing and stashes).
  const bool paired_kind = *topic == TopicKind::kPredictions || *topic == TopicKind::kLabels;
  if (paired_kind && alignment_.hold(msg, *topic)) return;
  feed_.enqueue(std::move(msg), *topic);
}

void ConsumerLoop::report_error(const rd_kafka_message_t* msg) {
  if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
  const std::string text = rd_kafka_message_errstr(msg);
  if (msg->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || msg->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
    // A configured topic that does not exist (yet): not an error. The other kinds keep flowing
    // and the subscription picks it up once it exists. Said once per topic.
    const std::string topic = msg->rkt != nullptr ? rd_kafka_topic_name(msg->rkt) : text;
    if (missing_topics_warned_.insert(topic).second) {
      log_warn("topic '" + topic + "' does not exist (yet): its events are consumed once it is created; " +
                   "the other topics keep flowing (" + text + ")",
               {{"topic", topic}});
    }
    return;
  }
  ++stats_.kafka_errors;
  // The topic and partition the error came with, when it came with one (a fetch error does).
  const std::string topic = msg->rkt != nullptr ? rd_kafka_topic_name(msg->rkt) : std::string();
  const LogFields fields{{"topic", topic}, {"partition", msg->partition}, {"kafka_error", rd_kafka_err2name(msg->err)}};
  if (kafka::is_transient(msg->err)) {
    log_warn("Kafka (retried by librdkafka): " + text, fields);
  } else {
    log_error("Kafka: " + text, fields);
  }
}

bool ConsumerLoop::housekeeping() {
  if (feed_.any_failed()) {
    log_error("a writer failed; stopping");
    return false;
  }
  const auto now = Clock::now();
  if (rebalancer_.pending()) stored_offsets_.request();
  if (replay_ && replay_->wants_stored_offsets(now)) stored_offsets_.request();
  if (const auto read = stored_offsets_.poll()) {
    if (rebalancer_.complete(*read)) feed_.reset();
    if (replay_) replay_->stored(read->offsets);
  }
  if (replay_ && replay_->finished(now, pipeline_empty())) {
    // The final progress line, then the summary `run` ends with (Ingester::run). Mirroring the
    // last commits to Kafka also brings them into the replay's progress.
    mirror_offsets(false);
    replay_->complete(now);
    return false;
  }
  alignment_.check_partition_counts();
  lag_.publish_every(std::chrono::seconds(2), now);
  if (mirror_.due(now)) mirror_offsets(false);
  progress_.maybe_write(now);
  if (cfg_.idle_exit.count() > 0 && now - last_idle_check_ >= std::chrono::milliseconds(250)) {
    last_idle_check_ = now;
    if (caught_up_and_idle(now)) {
      log_info("caught up and idle: exiting (idle_exit_ms)");
      return false;
    }
  }
  return true;
}

bool ConsumerLoop::caught_up_and_idle(Clock::time_point now) {
  if (partitions_.empty() || now - last_message_ < cfg_.idle_exit) return false;
  return pipeline_empty() && lag_.publish() == 0;
}

void ConsumerLoop::finish(Clock::time_point deadline) {
  // Stop fetching, then give the writers what we already hold.
  feed_.pause_all();
  for (;;) {
    feed_.drain_stashes();
    if (feed_.stashes_empty() || Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace mlops_ingest
