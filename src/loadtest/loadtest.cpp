#include "mlops_ingest/loadtest/loadtest.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

#include "mlops_ingest/kafka/kafka_handles.hpp"
#include "mlops_ingest/kafka/produce.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"
#include "visibility_watcher.hpp"

namespace mlops_ingest::loadtest {
namespace {

constexpr std::uint64_t kProbesPerSecond = 500;
// How often the watcher looks for the probes: what it adds to a probe's measured latency (at most
// this plus a query), against what the looking costs the database being measured.
constexpr auto kPollEvery = std::chrono::milliseconds(10);

std::string new_run_id() {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(rd()));
  return buf;
}

std::string prediction_json(const std::string& id, std::uint64_t seq) {
  // created_at is left out: the ingester takes the Kafka timestamp, i.e. the send time.
  char buf[384];
  std::snprintf(buf, sizeof buf,
                "{\"prediction_id\":\"%s\",\"model_version\":\"loadtest\",\"model_stage\":\"staging\","
                "\"prediction\":%d,\"probability\":0.%03d,\"features\":{\"age\":%d,\"debt_ratio\":0.35,"
                "\"monthly_income\":5400.0,\"number_dependents\":2},\"request_source\":\"mlops-ingest-loadtest\","
                "\"response_time_ms\":12}",
                id.c_str(), static_cast<int>(seq % 2), static_cast<int>(seq % 1000), 21 + static_cast<int>(seq % 60));
  return buf;
}

std::string label_json(const std::string& id, std::uint64_t seq) {
  return "{\"prediction_id\":\"" + id + "\",\"true_label\":" + std::to_string(seq % 2) +
         ",\"label_source\":\"mlops-ingest-loadtest\"}";
}

}  // namespace

double percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = p / 100.0 * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(rank));
  const auto hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (values[hi] - values[lo]) * (rank - static_cast<double>(lo));
}

namespace {

kafka::KafkaHandle make_producer(const Options& o) {
  std::map<std::string, std::string> props = {{"bootstrap.servers", o.brokers},
                                              {"linger.ms", "5"},
                                              {"enable.idempotence", "true"},
                                              {"queue.buffering.max.messages", "1000000"},
                                              {"log_level", "3"}};
  for (const auto& [k, v] : o.kafka_properties) props[k] = v;
  return kafka::make_handle(RD_KAFKA_PRODUCER, kafka::make_conf(props));
}

// What the sending thread shares with the watcher.
struct Progress {
  Probes probes;
  std::atomic<std::uint64_t> sent{0}, labels_sent{0};
  std::atomic<bool> producing{true};
  std::atomic<bool> measuring{false};
  Clock::time_point start = Clock::now();  // of the measured part; set before `measuring`
  std::string error;                        // why sending stopped early; read after the join
};

// Sends events 0..count-1 (send_one(seq)) paced by the clock from `start` at `rate` a second:
// what is due, then a millisecond's sleep.
template <typename SendOne>
void send_paced(rd_kafka_t* rk, std::uint64_t rate, std::uint64_t count, Clock::time_point start,
                const SendOne& send_one) {
  for (std::uint64_t seq = 0; seq < count;) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const auto due = std::min<std::uint64_t>(count, static_cast<std::uint64_t>(elapsed * static_cast<double>(rate)) + 1);
    for (; seq < due; ++seq) send_one(seq);
    rd_kafka_poll(rk, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// The sending thread: the warm-up, then the measured events (every `every`-th a probe), with
// their labels.
void send_events(const Options& o, const std::string& run_id, std::uint64_t every, rd_kafka_t* rk,
                 Progress& p) noexcept {
  try {
    // Warm-up events carry their own prefix ("lt-<run>w-"), outside the measured id range.
    const std::uint64_t warmup_total = o.rate * static_cast<std::uint64_t>(o.warmup.count());
    const std::string warmup_run = run_id + "w";
    send_paced(rk, o.rate, warmup_total, p.start, [&](std::uint64_t seq) {
      const std::string id = event_id(warmup_run, seq);
      kafka::produce(rk, o.predictions_topic, id, prediction_json(id, seq));
    });
    p.start = Clock::now();
    p.measuring = true;
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> unit(0, 1);
    const std::uint64_t total = o.rate * static_cast<std::uint64_t>(o.duration.count());
    send_paced(rk, o.rate, total, p.start, [&](std::uint64_t seq) {
      const std::string id = event_id(run_id, seq);
      if (seq % every == 0) {
        std::lock_guard lock(p.probes.mutex);
        p.probes.sent_at.push_back(Clock::now());
        p.probes.latency_ms.push_back(-1);
      }
      kafka::produce(rk, o.predictions_topic, id, prediction_json(id, seq));
      p.sent.store(seq + 1, std::memory_order_release);
      if (o.label_ratio > 0 && unit(rng) < o.label_ratio) {
        kafka::produce(rk, o.labels_topic, id, label_json(id, seq));
        ++p.labels_sent;
      }
    });
    rd_kafka_flush(rk, 30000);
  } catch (const std::exception& e) {
    p.error = e.what();
  }
  p.producing = false;
}

// What the watcher saw over the whole run.
struct Watched {
  std::vector<double> latencies;  // of every probe seen
  std::uint64_t visible = 0;
  Clock::time_point sending_done{}, last_row_at{};
};

Second summarise_second(int t, std::uint64_t sent, std::uint64_t visible, std::uint64_t last_visible,
                        std::vector<double>& latencies) {
  Second s;
  s.t = t;
  s.sent = sent;
  s.visible = visible;
  s.rows_per_s = visible - last_visible;
  if (!latencies.empty()) {
    s.max_ms = *std::max_element(latencies.begin(), latencies.end());
    s.p50_ms = percentile(latencies, 50);
    s.p99_ms = percentile(latencies, 99);
  }
  return s;
}

bool all_probes_seen(Probes& probes) {
  std::lock_guard lock(probes.mutex);
  return std::all_of(probes.latency_ms.begin(), probes.latency_ms.end(), [](double v) { return v >= 0; });
}

// Polls for the probes every kPollEvery and counts the visible rows once a second (a Second to
// `report.series` and on_second, once the count is in), until sending has ended and everything
// is visible, or drain_timeout after sending ended.
Watched watch(const Options& o, VisibilityWatcher& watcher, std::uint64_t every, Progress& p, Report& report,
              const std::function<void(const Second&)>& on_second) {
  Watched w;
  w.last_row_at = p.start;
  std::vector<double> second_latencies;
  std::uint64_t last_visible = 0;
  Clock::time_point next_second = p.start + std::chrono::seconds(1);
  int t = 0;
  Clock::time_point next_poll = Clock::now();
  for (;;) {
    std::vector<double> seen;
    watcher.poll_probes(p.probes, every, seen);
    second_latencies.insert(second_latencies.end(), seen.begin(), seen.end());
    w.latencies.insert(w.latencies.end(), seen.begin(), seen.end());
    auto now = Clock::now();
    const bool sending = p.producing.load();
    if (!sending && w.sending_done == Clock::time_point{}) w.sending_done = now;
    if (now >= next_second && !watcher.counting()) {
      watcher.start_count(p.sent.load(std::memory_order_acquire), !sending);
      next_second += std::chrono::seconds(1);
    }
    if (const std::optional<VisibilityWatcher::Count> c = watcher.take_count()) {
      now = Clock::now();
      w.visible = c->visible;
      if (w.visible > last_visible) w.last_row_at = now;
      const Second s = summarise_second(++t, c->sent, w.visible, last_visible, second_latencies);
      last_visible = w.visible;
      second_latencies.clear();
      report.series.push_back(s);
      on_second(s);
      if (c->after_sending && w.visible >= c->sent && all_probes_seen(p.probes)) break;
      if (c->after_sending && now - w.sending_done >= o.drain_timeout) break;
    }
    next_poll = std::max(next_poll + kPollEvery, Clock::now());  // a steady cadence, however long the query took
    std::this_thread::sleep_until(next_poll);
  }
  return w;
}

// Kept up: everything became visible, and the rows arrived at the rate they were sent (the last
// one visible within a second of the end of sending, give or take the p99).
void judge(const Options& o, double lag_at_end, Report& report) {
  report.kept_up = report.visible == report.sent && lag_at_end <= 1.0 + report.p99_ms / 1000.0;
  char verdict[256];
  if (report.kept_up) {
    std::snprintf(verdict, sizeof verdict, "KEPT UP with %llu events/s: every event visible, p99 %.0f ms",
                  static_cast<unsigned long long>(o.rate), report.p99_ms);
  } else if (report.visible < report.sent) {
    std::snprintf(verdict, sizeof verdict,
                  "DID NOT KEEP UP with %llu events/s: %llu of %llu events not visible %lld s after sending ended",
                  static_cast<unsigned long long>(o.rate),
                  static_cast<unsigned long long>(report.sent - report.visible),
                  static_cast<unsigned long long>(report.sent), static_cast<long long>(o.drain_timeout.count()));
  } else {
    std::snprintf(verdict, sizeof verdict,
                  "DID NOT KEEP UP with %llu events/s: the last rows became visible %.1f s after sending ended "
                  "(sustained %.0f rows/s)",
                  static_cast<unsigned long long>(o.rate), lag_at_end, report.sustained_rows_per_s);
  }
  report.verdict = verdict;
}

void summarise_run(const Options& o, Progress& p, Watched& w, Report& report) {
  report.sent = p.sent.load();
  report.labels_sent = p.labels_sent.load();
  report.visible = w.visible;
  report.send_seconds = std::chrono::duration<double>(w.sending_done - p.start).count();
  const double active = std::chrono::duration<double>(w.last_row_at - p.start).count();
  report.sustained_rows_per_s = active > 0 ? static_cast<double>(w.visible) / active : 0;
  {
    std::lock_guard lock(p.probes.mutex);
    report.probes = p.probes.sent_at.size();
  }
  report.probes_seen = w.latencies.size();
  report.max_ms = w.latencies.empty() ? 0 : *std::max_element(w.latencies.begin(), w.latencies.end());
  report.p50_ms = percentile(w.latencies, 50);
  report.p95_ms = percentile(w.latencies, 95);
  report.p99_ms = percentile(w.latencies, 99);
  judge(o, std::chrono::duration<double>(w.last_row_at - w.sending_done).count(), report);
}

}  // namespace

Report run(const Options& o, const std::function<void(const Second&)>& on_second) {
  if (o.rate == 0) throw std::invalid_argument("--rate must be at least 1 event per second");
  Report report;
  report.run_id = new_run_id();
  report.rate = o.rate;
  const std::uint64_t every = std::max<std::uint64_t>(1, o.rate / kProbesPerSecond);
  kafka::KafkaHandle producer = make_producer(o);
  VisibilityWatcher watcher(o.pg, report.run_id);  // before sending: PostgreSQL unreachable ends the run at once
  Progress progress;
  std::thread sender([&] { send_events(o, report.run_id, every, producer.get(), progress); });
  while (!progress.measuring && progress.producing) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  Watched watched;
  try {
    watched = watch(o, watcher, every, progress, report, on_second);
  } catch (...) {
    progress.producing = false;
    sender.join();
    throw;
  }
  sender.join();
  if (!progress.error.empty()) throw kafka::KafkaError(progress.error);
  summarise_run(o, progress, watched, report);
  return report;
}

std::uint64_t cleanup(const std::string& pg, const std::string& run_id) {
  pg::BlockingConnection conn(pg);
  // The measured events ("lt-<run>-…") and the warm-up ones ("lt-<run>w-…").
  const std::string range = "prediction_id >= " + conn.escape_literal(range_low(run_id)) +
                            " AND prediction_id < " + conn.escape_literal("lt-" + run_id + "x");
  conn.exec("BEGIN");
  conn.exec("DELETE FROM label_store WHERE " + range);
  conn.exec("DELETE FROM label_pending WHERE " + range);
  pg::PgResult r = conn.exec("DELETE FROM prediction_logs WHERE " + range);
  conn.exec("COMMIT");
  return pg::affected_rows(r.get());
}

}  // namespace mlops_ingest::loadtest
