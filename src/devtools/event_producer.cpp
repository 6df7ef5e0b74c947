// produce_events(): sends the generator's events to Kafka, throttled to what the ingester has
// committed, and reports exactly what it sent.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>

#include "mlops_ingest/devtools/event_generator.hpp"
#include "mlops_ingest/kafka/kafka_handles.hpp"
#include "mlops_ingest/kafka/produce.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"
#include "mlops_ingest/pg/stored_offsets.hpp"
#include "synthetic_events.hpp"

namespace mlops_ingest::kafka {
namespace {

using synthesis::mix;
using synthesis::unit;

// Keyed by the topic handle (stable while the producer lives), not its name: a delivery report
// per message must not build a string.
struct DeliveryTracker {
  std::mutex mutex;
  std::map<std::pair<const rd_kafka_topic_t*, std::int32_t>, std::int64_t> next_offset;
  std::atomic<std::uint64_t> failed{0};
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* tracker = static_cast<DeliveryTracker*>(opaque);
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++tracker->failed;
    return;
  }
  std::lock_guard lock(tracker->mutex);
  auto& next = tracker->next_offset[{msg->rkt, msg->partition}];
  next = std::max(next, msg->offset + 1);
}

std::ofstream open_csv(const std::string& path) {
  std::ofstream out;
  if (path.empty()) return out;
  out.open(path);
  if (!out) throw KafkaError("cannot write " + path);
  return out;
}

// One run of produce_events: the producer, the optional CSV files and throttle, and the report.
class EventProducer {
 public:
  explicit EventProducer(const GeneratorOptions& o)
      : o_(o), csv_(open_csv(o.csv_path)), labels_csv_(open_csv(o.labels_csv_path)) {
    KafkaConf conf = make_conf({{"bootstrap.servers", o.brokers},
                                {"compression.codec", o.compression},
                                {"linger.ms", "20"},
                                {"batch.num.messages", "10000"},
                                {"queue.buffering.max.messages", "200000"},
                                {"enable.idempotence", "true"},
                                {"log_level", "4"}});
    rd_kafka_conf_set_dr_msg_cb(conf.get(), &on_delivery);
    rd_kafka_conf_set_opaque(conf.get(), &tracker_);
    rk_ = make_handle(RD_KAFKA_PRODUCER, std::move(conf));
    if (!o.throttle_pg.empty()) throttle_.emplace(o.throttle_pg);
    if (!o.models_topic.empty() || !o.alerts_topic.empty() || !o.retraining_topic.empty()) {
      lifecycle_.emplace(o.seed, o.predictions, o.model_every, o.alert_every, o.start_unix_seconds);
    }
  }

  GeneratorReport run() {
    const std::uint64_t check_every = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(o_.max_backlog) * 4);
    for (std::uint64_t i = 0; i < o_.predictions; ++i) {
      if (throttle_ && i % check_every == check_every - 1) wait_for_consumer();
      send_side_events(i);
      // A label produced ahead of its prediction (the labels topic may be consumed first).
      const std::uint64_t ahead = i + kEarlyLead;
      if (ahead < o_.predictions && labeled(ahead) && early(ahead)) {
        send_label(ahead);
        ++report_.early_labels;
      }
      send_prediction(i);
      const bool sent_early = i >= kEarlyLead && early(i);
      if (labeled(i) && !sent_early) late_.push_back(i);
      while (!late_.empty() && late_.front() + kLateLag <= i) {
        send_label(late_.front());
        late_.pop_front();
      }
    }
    while (!late_.empty()) {
      send_label(late_.front());
      late_.pop_front();
    }
    rd_kafka_flush(rk_.get(), 60000);
    if (rd_kafka_outq_len(rk_.get()) > 0 || tracker_.failed.load() > 0) {
      throw KafkaError("not every event was delivered to Kafka (" + std::to_string(tracker_.failed.load()) +
                       " failed)");
    }
    report_side_events();
    return report_;
  }

 private:
  static constexpr std::uint64_t kEarlyLead = 2000;  // how far ahead of its prediction an early label goes
  static constexpr std::uint64_t kLateLag = 3000;    // how far behind its prediction a late label comes

  bool labeled(std::uint64_t i) const { return unit(mix(o_.seed * 31 + i)) < o_.label_ratio; }
  bool early(std::uint64_t i) const { return unit(mix(o_.seed * 37 + i)) < o_.early_label_ratio; }

  void send(const std::string& topic, const std::string& key, const std::string& value) {
    produce(rk_.get(), topic, key, value);
    if (++since_poll_ == 256) {  // serve delivery reports in rounds, not per message
      since_poll_ = 0;
      rd_kafka_poll(rk_.get(), 0);
    }
  }

  // The prediction (from the version serving it when there is a lifecycle), sometimes again (a
  // producer retry: same key, same body), sometimes followed by a malformed event.
  void send_prediction(std::uint64_t i) {
    synthesis::Prediction p = synthesis::make_prediction(o_.seed, i, o_.start_unix_seconds, o_.uuid_ids);
    if (lifecycle_) std::tie(p.model_version, p.model_stage) = lifecycle_->serving(p.model_stage);
    const std::string json = synthesis::prediction_json(p);
    send(o_.predictions_topic, p.id, json);
    ++report_.predictions_sent;
    ++report_.unique_predictions;
    if (csv_.is_open()) csv_ << synthesis::prediction_csv(p);
    if (unit(mix(o_.seed * 43 + i)) < o_.duplicate_ratio) {
      send(o_.predictions_topic, p.id, json);
      ++report_.predictions_sent;
      ++report_.duplicate_predictions;
    }
    if (unit(mix(o_.seed * 47 + i)) < o_.invalid_ratio) {
      send(o_.predictions_topic, "bad", synthesis::invalid_json(o_.seed, invalid_seq_++));
      ++report_.predictions_sent;
      ++report_.invalid_events;
    }
  }

  void send_label(std::uint64_t i) {
    const std::string json = synthesis::label_json(o_.seed, i, o_.start_unix_seconds, o_.uuid_ids);
    const std::string key = synthetic_prediction_id(o_.seed, i, o_.uuid_ids);
    send(o_.labels_topic, key, json);
    ++report_.labels_sent;
    ++report_.unique_labels;
    if (labels_csv_.is_open()) labels_csv_ << synthesis::label_csv(o_.seed, i, o_.start_unix_seconds, o_.uuid_ids);
    if (unit(mix(o_.seed * 41 + i)) < o_.duplicate_ratio) {
      send(o_.labels_topic, key, json);
      ++report_.labels_sent;
      ++report_.duplicate_labels;
    }
  }

  // The lower-volume kinds due before prediction i, each to its topic (none when it is empty).
  void send_side_events(std::uint64_t i) {
    if (!lifecycle_) return;
    for (const SideEvent& e : lifecycle_->step(i)) {
      const std::string& topic = e.kind == SideKind::model   ? o_.models_topic
                                 : e.kind == SideKind::alert ? o_.alerts_topic
                                                             : o_.retraining_topic;
      if (!topic.empty()) send(topic, e.key, e.value);
    }
  }

  // Blocks until every partition's backlog (delivered, not yet committed in PostgreSQL) is at
  // most half of max_backlog.
  void wait_for_consumer() {
    for (;;) {
      rd_kafka_flush(rk_.get(), 10000);
      if (worst_backlog(committed_offsets()) <= o_.max_backlog / 2) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  std::map<std::pair<std::string, std::int32_t>, std::int64_t> committed_offsets() {
    std::map<std::pair<std::string, std::int32_t>, std::int64_t> stored;
    for (TopicOffset& row : read_group_offsets(*throttle_, o_.throttle_group)) {
      stored[{std::move(row.topic), row.partition}] = row.next_offset;
    }
    return stored;
  }

  std::int64_t worst_backlog(const std::map<std::pair<std::string, std::int32_t>, std::int64_t>& stored) {
    std::int64_t worst = 0;
    std::lock_guard lock(tracker_.mutex);
    for (const auto& [tp, next] : tracker_.next_offset) {
      // Only the predictions and labels topics can fill the broker; the lower-volume kinds (tens
      // of messages) are not waited for, whether or not an ingester consumes them.
      const std::string topic = rd_kafka_topic_name(tp.first);
      if (topic != o_.predictions_topic && topic != o_.labels_topic) continue;
      const auto it = stored.find({topic, tp.second});
      const std::int64_t done = it == stored.end() ? 0 : std::max<std::int64_t>(it->second, 0);
      worst = std::max(worst, next - done);
    }
    return worst;
  }

  // Only what was sent counts: a kind whose topic is empty ends with no rows.
  void report_side_events() {
    if (!lifecycle_) return;
    lifecycle_->fill(report_);
    if (o_.models_topic.empty()) {
      report_.model_events = report_.model_rows = report_.models_production = report_.models_staging = 0;
      report_.models_registered = report_.models_archived = report_.models_deployed = 0;
      report_.models.clear();
      report_.production_model.clear();
    }
    if (o_.alerts_topic.empty()) report_.alert_rows = report_.drift_alert_rows = 0;
    if (o_.retraining_topic.empty()) report_.retraining_rows = report_.promoted_rows = report_.gate_passed_rows = 0;
  }

  const GeneratorOptions& o_;
  DeliveryTracker tracker_;
  KafkaHandle rk_;  // after tracker_: its delivery reports write there until it is destroyed
  std::ofstream csv_, labels_csv_;
  std::optional<pg::BlockingConnection> throttle_;
  std::optional<synthesis::Lifecycle> lifecycle_;
  GeneratorReport report_;
  unsigned since_poll_ = 0;
  std::deque<std::uint64_t> late_;  // predictions whose label is due later
  std::uint64_t invalid_seq_ = 0;
};

}  // namespace

GeneratorReport produce_events(const GeneratorOptions& o) {
  const auto started = std::chrono::steady_clock::now();
  GeneratorReport report = EventProducer(o).run();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace mlops_ingest::kafka
