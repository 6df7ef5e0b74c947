#include "mlops_ingest/kafka/event_generator.hpp"

#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "mlops_ingest/kafka/kafka_handles.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"

namespace mlops_ingest::kafka {
namespace {

std::uint64_t mix(std::uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
double unit(std::uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; }

struct Prediction {
  std::string id;
  std::int64_t created_unix_us;
  int offset_minutes;  // how the producer wrote its local time
  const char* model_version;
  const char* model_stage;
  int prediction;
  double probability;
  int age;
  double debt_ratio;
  double monthly_income;
  int dependents;
  bool flat_features;
  bool dependents_null;
  const char* source;
  int response_ms;
};

Prediction make_prediction(std::uint64_t seed, std::uint64_t i, std::int64_t start_unix_seconds = kDefaultStartUnixSeconds) {
  const std::uint64_t h = mix(seed * 1000003 + i);
  Prediction p;
  p.id = synthetic_prediction_id(seed, i);
  p.created_unix_us = (start_unix_seconds + static_cast<std::int64_t>(i / 10)) * 1000000 +
                      static_cast<std::int64_t>(mix(h) % 1000) * 1000;
  static constexpr std::array<int, 4> kOffsets = {0, 0, 120, -330};
  p.offset_minutes = kOffsets[h % 4];
  static constexpr std::array<const char*, 3> kVersions = {"v10", "v11", "v12"};
  static constexpr std::array<const char*, 3> kStages = {"production", "shadow", "production"};
  const std::size_t v = (h >> 8) % 3;
  p.model_version = kVersions[v];
  p.model_stage = kStages[v];
  p.probability = static_cast<double>((h >> 16) % 1000000) / 1000000.0;
  p.prediction = p.probability >= 0.5 ? 1 : 0;
  p.age = 21 + static_cast<int>((h >> 24) % 60);
  p.debt_ratio = static_cast<double>((h >> 32) % 10000) / 10000.0;
  p.monthly_income = 1500.0 + static_cast<double>((h >> 40) % 12000);
  p.dependents = static_cast<int>((h >> 52) % 5);
  p.flat_features = (h >> 57) % 4 == 0;
  p.dependents_null = (h >> 59) % 16 == 0;
  static constexpr std::array<const char*, 3> kSources = {"api-gateway", "batch-scorer", "mobile-app"};
  p.source = kSources[(h >> 60) % 3];
  p.response_ms = 3 + static_cast<int>((h >> 20) % 40);
  return p;
}

std::string format_double(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

// "2026-01-05T12:00:00.123000+02:00" (local time at the offset) or "... Z".
std::string rfc3339(std::int64_t unix_us, int offset_minutes, bool iso) {
  const std::int64_t local_us = unix_us + std::int64_t{offset_minutes} * 60 * 1000000;
  std::int64_t secs = local_us / 1000000;
  const std::int64_t micros = local_us % 1000000;
  std::int64_t days = secs / 86400;
  std::int64_t rem = secs % 86400;
  // civil_from_days (Howard Hinnant)
  days += 719468;
  const std::int64_t era = days / 146097;
  const std::int64_t doe = days - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = yoe + era * 400;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lld%c%02lld:%02lld:%02lld.%06lld", static_cast<long long>(y),
                static_cast<long long>(m), static_cast<long long>(d), iso ? 'T' : ' ',
                static_cast<long long>(rem / 3600), static_cast<long long>(rem % 3600 / 60),
                static_cast<long long>(rem % 60), static_cast<long long>(micros));
  std::string out = buf;
  if (!iso) return out;
  if (offset_minutes == 0) return out + "Z";
  const int a = offset_minutes < 0 ? -offset_minutes : offset_minutes;
  std::snprintf(buf, sizeof buf, "%c%02d:%02d", offset_minutes < 0 ? '-' : '+', a / 60, a % 60);
  return out + buf;
}

std::string prediction_json(const Prediction& p) {
  std::string features = "\"age\":" + std::to_string(p.age) + ",\"debt_ratio\":" + format_double(p.debt_ratio) +
                         ",\"monthly_income\":" + format_double(p.monthly_income) + ",\"number_dependents\":" +
                         (p.dependents_null ? std::string("null") : std::to_string(p.dependents));
  std::string json = "{\"prediction_id\":\"" + p.id + "\",\"created_at\":\"" +
                     rfc3339(p.created_unix_us, p.offset_minutes, true) + "\",\"model_version\":\"" +
                     p.model_version + "\",\"model_stage\":\"" + p.model_stage +
                     "\",\"prediction\":" + std::to_string(p.prediction) +
                     ",\"probability\":" + format_double(p.probability) + ",";
  json += p.flat_features ? features : "\"features\":{" + features + "}";
  json += ",\"request_source\":\"" + std::string(p.source) + "\",\"response_time_ms\":" +
          std::to_string(p.response_ms) + "}";
  return json;
}

std::string prediction_csv(const Prediction& p) {
  return p.id + "," + rfc3339(p.created_unix_us, 0, false) + "," + p.model_version + "," + p.model_stage + "," +
         std::to_string(p.prediction) + "," + format_double(p.probability) + "," + std::to_string(p.age) + "," +
         format_double(p.debt_ratio) + "," + format_double(p.monthly_income) + "," +
         (p.dependents_null ? std::string() : std::to_string(p.dependents)) + "," + p.source + "," +
         std::to_string(p.response_ms) + "\n";
}

// Malformed variants the validator must dead-letter (one reason each).
std::string invalid_json(std::uint64_t seed, std::uint64_t i) {
  const std::string id = "bad-" + std::to_string(seed) + "-" + std::to_string(i);
  switch (i % 6) {
    case 0: return "{\"prediction_id\":\"" + id + "\",\"probability\":1.7}";
    case 1: return "{\"prediction_id\":\"" + id + "\",\"prediction\":2}";
    case 2: return "{\"prediction_id\":\"" + id + "\",\"created_at\":\"2026-13-45T00:00:00Z\"}";
    case 3: return "{\"prediction_id\":\"" + id + "\",\"probability\":\"0.5\"}";
    case 4: return "{\"prediction_id\":\"" + id + "\",\"model_version\":";
    default: return "{\"model_version\":\"v12\"}";
  }
}

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

}  // namespace

std::string synthetic_prediction_id(std::uint64_t seed, std::uint64_t i) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "pred-%llu-%010llu", static_cast<unsigned long long>(seed),
                static_cast<unsigned long long>(i));
  return buf;
}

std::string synthetic_prediction(std::uint64_t seed, std::uint64_t i, std::int64_t start_unix_seconds) {
  return prediction_json(make_prediction(seed, i, start_unix_seconds));
}

namespace {

struct Label {
  std::string id;
  int true_label;
  std::int64_t ts_us;
  int days;
  bool sends_days;  // half of the labels leave days_delayed for the ingester to compute
};

Label make_label(std::uint64_t seed, std::uint64_t i, std::int64_t start_unix_seconds) {
  const Prediction p = make_prediction(seed, i, start_unix_seconds);
  const std::uint64_t h = mix(mix(seed * 7919 + i));
  Label l;
  l.id = p.id;
  l.days = 1 + static_cast<int>(h % 60);
  l.true_label = (h >> 8) % 100 < 85 ? p.prediction : 1 - p.prediction;
  l.ts_us = p.created_unix_us + std::int64_t{l.days} * 86400 * 1000000 + 3600LL * 1000000;
  l.sends_days = (h >> 16) % 2 == 0;
  return l;
}

// The label_store row the ingester must end with (days_delayed always filled in).
std::string label_csv(const Label& l) {
  return l.id + "," + std::to_string(l.true_label) + "," + rfc3339(l.ts_us, 0, false) + ",collections," +
         std::to_string(l.days) + "\n";
}

}  // namespace

std::string synthetic_label(std::uint64_t seed, std::uint64_t i, std::int64_t start_unix_seconds) {
  const Label l = make_label(seed, i, start_unix_seconds);
  std::string json = "{\"prediction_id\":\"" + l.id + "\",\"true_label\":" + std::to_string(l.true_label) +
                     ",\"label_timestamp\":\"" + rfc3339(l.ts_us, 0, true) + "\",\"label_source\":\"collections\"";
  if (l.sends_days) json += ",\"days_delayed\":" + std::to_string(l.days);
  return json + "}";
}

GeneratorReport produce_events(const GeneratorOptions& o) {
  const auto started = std::chrono::steady_clock::now();
  DeliveryTracker tracker;
  KafkaConf conf = make_conf({{"bootstrap.servers", o.brokers},
                              {"compression.codec", o.compression},
                              {"linger.ms", "20"},
                              {"batch.num.messages", "10000"},
                              {"queue.buffering.max.messages", "200000"},
                              {"enable.idempotence", "true"},
                              {"log_level", "4"}});
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &on_delivery);
  rd_kafka_conf_set_opaque(conf.get(), &tracker);
  KafkaHandle rk = make_handle(RD_KAFKA_PRODUCER, std::move(conf));

  std::ofstream csv;
  if (!o.csv_path.empty()) {
    csv.open(o.csv_path);
    if (!csv) throw KafkaError("cannot write " + o.csv_path);
  }
  std::ofstream labels_csv;
  if (!o.labels_csv_path.empty()) {
    labels_csv.open(o.labels_csv_path);
    if (!labels_csv) throw KafkaError("cannot write " + o.labels_csv_path);
  }
  std::optional<pg::BlockingConnection> throttle;
  if (!o.throttle_pg.empty()) throttle.emplace(o.throttle_pg);

  GeneratorReport report;
  unsigned since_poll = 0;
  auto send = [&](const std::string& topic, const std::string& key, const std::string& value) {
    for (;;) {
      const rd_kafka_resp_err_t err =
          rd_kafka_producev(rk.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                            RD_KAFKA_V_KEY(key.data(), key.size()),
                            RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) throw KafkaError(std::string("produce: ") + rd_kafka_err2str(err));
      rd_kafka_poll(rk.get(), 10);
    }
    if (++since_poll == 256) {  // serve delivery reports in rounds, not per message
      since_poll = 0;
      rd_kafka_poll(rk.get(), 0);
    }
  };
  auto wait_for_consumer = [&] {
    if (!throttle) return;
    for (;;) {
      rd_kafka_flush(rk.get(), 10000);
      std::map<std::pair<std::string, std::int32_t>, std::int64_t> stored;
      pg::PgResult r = throttle->exec("SELECT topic, kafka_partition, next_offset FROM ingest_offsets WHERE consumer_group = " +
                                      throttle->escape_literal(o.throttle_group));
      for (int i = 0; i < PQntuples(r.get()); ++i) {
        stored[{PQgetvalue(r.get(), i, 0), std::stoi(PQgetvalue(r.get(), i, 1))}] = std::stoll(PQgetvalue(r.get(), i, 2));
      }
      std::int64_t worst = 0;
      {
        std::lock_guard lock(tracker.mutex);
        for (const auto& [tp, next] : tracker.next_offset) {
          const auto it = stored.find({rd_kafka_topic_name(tp.first), tp.second});
          const std::int64_t done = it == stored.end() ? 0 : std::max<std::int64_t>(it->second, 0);
          worst = std::max(worst, next - done);
        }
      }
      if (worst <= o.max_backlog / 2) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  };

  const std::uint64_t early_lead = 2000, late_lag = 3000;
  std::deque<std::uint64_t> late;  // predictions whose label is due later
  std::uint64_t invalid_seq = 0;
  auto labeled = [&](std::uint64_t i) { return unit(mix(o.seed * 31 + i)) < o.label_ratio; };
  auto early = [&](std::uint64_t i) { return unit(mix(o.seed * 37 + i)) < o.early_label_ratio; };
  auto send_label = [&](std::uint64_t i) {
    const std::string json = synthetic_label(o.seed, i, o.start_unix_seconds);
    const std::string key = synthetic_prediction_id(o.seed, i);
    send(o.labels_topic, key, json);
    ++report.labels_sent;
    ++report.unique_labels;
    if (labels_csv.is_open()) labels_csv << label_csv(make_label(o.seed, i, o.start_unix_seconds));
    if (unit(mix(o.seed * 41 + i)) < o.duplicate_ratio) {
      send(o.labels_topic, key, json);
      ++report.labels_sent;
      ++report.duplicate_labels;
    }
  };

  const std::uint64_t check_every = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(o.max_backlog) * 4);
  for (std::uint64_t i = 0; i < o.predictions; ++i) {
    if (throttle && i % check_every == check_every - 1) wait_for_consumer();
    // A label produced ahead of its prediction (the labels topic may be consumed first).
    const std::uint64_t ahead = i + early_lead;
    if (ahead < o.predictions && labeled(ahead) && early(ahead)) {
      send_label(ahead);
      ++report.early_labels;
    }
    const Prediction p = make_prediction(o.seed, i, o.start_unix_seconds);
    const std::string json = prediction_json(p);
    send(o.predictions_topic, p.id, json);
    ++report.predictions_sent;
    ++report.unique_predictions;
    if (csv.is_open()) csv << prediction_csv(p);
    if (unit(mix(o.seed * 43 + i)) < o.duplicate_ratio) {
      send(o.predictions_topic, p.id, json);  // a producer retry: same key, same body
      ++report.predictions_sent;
      ++report.duplicate_predictions;
    }
    if (unit(mix(o.seed * 47 + i)) < o.invalid_ratio) {
      const std::string bad = invalid_json(o.seed, invalid_seq++);
      send(o.predictions_topic, "bad", bad);
      ++report.predictions_sent;
      ++report.invalid_events;
    }
    const bool sent_early = i >= early_lead && early(i);
    if (labeled(i) && !sent_early) late.push_back(i);
    while (!late.empty() && late.front() + late_lag <= i) {
      send_label(late.front());
      late.pop_front();
    }
  }
  while (!late.empty()) {
    send_label(late.front());
    late.pop_front();
  }
  rd_kafka_flush(rk.get(), 60000);
  if (rd_kafka_outq_len(rk.get()) > 0 || tracker.failed.load() > 0) {
    throw KafkaError("not every event was delivered to Kafka (" + std::to_string(tracker.failed.load()) + " failed)");
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace mlops_ingest::kafka
