// `mlops-ingest replay` against the throwaway PostgreSQL and the embedded broker: the window's
// exact rows (by prediction_id), resumption after kill -9, `--until now` while events keep
// arriving, and the live group's offsets left alone. Events are produced with explicit Kafka
// timestamps, and each message's partition and offset are recorded from its delivery report, so
// every expectation is exact.
#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <future>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "fault_env.hpp"
#include "mlops_ingest/devtools/dev_broker.hpp"
#include "mlops_ingest/kafka/kafka_handles.hpp"
#include "mlops_ingest/kafka/produce.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"
#include "mlops_ingest/app/ingester.hpp"
#include "mlops_ingest/replay/replay_window.hpp"
#include "test_env.hpp"

namespace mlops_ingest::testing {
namespace {

using namespace std::chrono_literals;
using fault::ChildProcess;

constexpr int kPartitions = 4;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string rfc3339(std::int64_t unix_ms) {
  return ReplayBound{ReplayBound::Kind::kTime, unix_ms}.text();
}

// One produced message, completed by its delivery report.
struct Sent {
  std::string topic;
  std::string id;  // prediction_id (also the key)
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  std::int64_t timestamp_ms = 0;
};

// How a prediction and its label are spread over the partitions.
enum class Partitioning {
  kKeyed,     // by key with librdkafka's partitioner: co-partitioned, as the design expects
  kUnrelated  // by a hash the consumer does not know: the event-time aligner turns itself off
};

// A producer that records where each message landed. Predictions and labels of the same id go
// to the same partition number of both topics either way.
class RecordingProducer {
 public:
  RecordingProducer(const RecordingProducer&) = delete;  // the delivery callback holds `this`
  RecordingProducer& operator=(const RecordingProducer&) = delete;
  explicit RecordingProducer(const std::string& brokers, Partitioning partitioning = Partitioning::kKeyed)
      : partitioning_(partitioning) {
    kafka::KafkaConf conf = kafka::make_conf({{"bootstrap.servers", brokers}, {"linger.ms", "5"},
                                              {"log_level", "3"}, {"enable.idempotence", "true"}});
    rd_kafka_conf_set_dr_msg_cb(conf.get(), &RecordingProducer::delivered);
    rd_kafka_conf_set_opaque(conf.get(), this);
    rk_ = kafka::make_handle(RD_KAFKA_PRODUCER, std::move(conf));
  }

  // A prediction and its label for each id "<prefix>-<i>", i in [0, count); Kafka timestamps
  // ts_ms + i (distinct, increasing).
  void produce(const std::string& prefix, int count, std::int64_t ts_ms) {
    for (int i = 0; i < count; ++i) {
      const std::string id = prefix + "-" + std::to_string(i);
      const std::int32_t partition = partitioning_ == Partitioning::kKeyed
                                         ? RD_KAFKA_PARTITION_UA
                                         : static_cast<std::int32_t>(std::hash<std::string>{}(id) % kPartitions);
      send("predictions", id, partition, ts_ms + i,
           "{\"prediction_id\":\"" + id + "\",\"created_at\":\"2026-01-05T12:00:00Z\",\"model_version\":\"v1\","
           "\"prediction\":1,\"probability\":0.75}");
      send("labels", id, partition, ts_ms + i,
           "{\"prediction_id\":\"" + id + "\",\"true_label\":0,\"label_timestamp\":\"2026-02-05T12:00:00Z\"}");
    }
    flush();
  }

  void flush() {
    if (rd_kafka_flush(rk_.get(), 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) throw std::runtime_error("flush timed out");
    if (failed_.load()) throw std::runtime_error("a message was not delivered");
  }

  // Everything delivered so far (call after flush()).
  [[nodiscard]] const std::deque<Sent>& sent() const noexcept { return sent_; }

 private:
  void send(const std::string& topic, const std::string& id, std::int32_t partition, std::int64_t ts,
            const std::string& value) {
    Sent& s = sent_.emplace_back(Sent{topic, id, partition, -1, ts});
    kafka::produce(rk_.get(), topic, id, value, {partition, ts, &s});
  }

  static void delivered(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
    auto* s = static_cast<Sent*>(msg->_private);
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      static_cast<RecordingProducer*>(opaque)->failed_ = true;
      return;
    }
    s->partition = msg->partition;
    s->offset = msg->offset;
  }

  Partitioning partitioning_;
  kafka::KafkaHandle rk_;
  std::deque<Sent> sent_;  // stable addresses: the delivery reports write into them
  std::atomic<bool> failed_{false};
};

// First offset of each (topic, partition) among `messages` whose id starts with `prefix`.
std::map<std::pair<std::string, std::int32_t>, std::int64_t> first_offsets(const std::deque<Sent>& messages,
                                                                           const std::string& prefix) {
  std::map<std::pair<std::string, std::int32_t>, std::int64_t> out;
  for (const Sent& s : messages) {
    if (s.id.rfind(prefix, 0) != 0) continue;
    auto [it, inserted] = out.try_emplace({s.topic, s.partition}, s.offset);
    if (!inserted) it->second = std::min(it->second, s.offset);
  }
  return out;
}

std::set<std::string> ids(const std::deque<Sent>& messages, const std::string& topic, const std::string& prefix) {
  std::set<std::string> out;
  for (const Sent& s : messages) {
    if (s.topic == topic && s.id.rfind(prefix, 0) == 0) out.insert(s.id);
  }
  return out;
}

std::set<std::string> column(const TestDatabase& db, const std::string& sql) {
  pg::BlockingConnection conn(db.dsn());
  pg::PgResult r = conn.exec(sql);
  std::set<std::string> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) out.insert(PQgetvalue(r.get(), i, 0));
  return out;
}

// The database holds exactly the predictions and labels sent with ids starting with `prefix`,
// and no label waits for its prediction.
void expect_stored_exactly(const TestDatabase& db, const std::deque<Sent>& sent, const std::string& prefix) {
  EXPECT_EQ(column(db, "SELECT prediction_id FROM prediction_logs"), ids(sent, "predictions", prefix));
  EXPECT_EQ(column(db, "SELECT prediction_id FROM label_store"), ids(sent, "labels", prefix));
  EXPECT_EQ(db.count("SELECT count(*) FROM label_pending"), 0);
}

// "topic/partition=next" for every stored offset of `group`, ordered.
std::map<std::pair<std::string, std::int32_t>, std::int64_t> stored_offsets(const TestDatabase& db,
                                                                             const std::string& group) {
  pg::BlockingConnection conn(db.dsn());
  pg::PgResult r = conn.exec("SELECT topic, kafka_partition, next_offset FROM ingest_offsets WHERE consumer_group = " +
                             conn.escape_literal(group));
  std::map<std::pair<std::string, std::int32_t>, std::int64_t> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    out[{PQgetvalue(r.get(), i, 0), static_cast<std::int32_t>(std::stol(PQgetvalue(r.get(), i, 1)))}] =
        std::stoll(PQgetvalue(r.get(), i, 2));
  }
  return out;
}

// Everything about a group's rows, updated_at included: "unchanged" means byte for byte.
std::string group_rows(const TestDatabase& db, const std::string& group) {
  return db.value("SELECT COALESCE(string_agg(topic || '/' || kafka_partition || '=' || next_offset || '@' || "
                  "updated_at, ' ' ORDER BY topic, kafka_partition), '') FROM ingest_offsets WHERE consumer_group = '" +
                  group + "'");
}

std::vector<std::string> replay_argv(const std::string& brokers, const std::string& pg, std::vector<std::string> extra) {
  std::vector<std::string> argv = {MLOPS_BINARY, "replay", "--brokers", brokers, "--pg", pg,
                                   "--progress-interval-ms", "300", "--batch-rows", "200",
                                   "--retry-backoff-initial-ms", "50", "--retry-backoff-max-ms", "1000",
                                   "--kafka.session.timeout.ms", "6000", "--kafka.heartbeat.interval.ms", "500"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

int run_to_exit(ChildProcess& child, std::chrono::seconds timeout = 180s) {
  const std::optional<int> status = child.wait_exit(timeout);
  if (!status) {
    ADD_FAILURE() << "replay still running after " << timeout.count() << " s:\n" << child.log_tail();
    return -1;
  }
  return *status;
}

// A number from the summary line: "<label> N".
std::int64_t summary_figure(const std::string& log, const std::string& pattern) {
  const std::size_t at = log.rfind("summary: ");
  if (at == std::string::npos) return -1;
  std::smatch m;
  const std::string line = log.substr(at, log.find('\n', at) - at);
  if (!std::regex_search(line, m, std::regex(pattern + " ([0-9]+)"))) return -1;
  return std::stoll(m[1]);
}

TEST(ReplayPgTest, MiddleWindowStoresExactlyTheMiddleBatch) {
  TestDatabase db;
  fault::WorkDir dir("replay-middle");
  kafka::DevBroker broker({"predictions", "labels"}, kPartitions);
  RecordingProducer producer(broker.bootstrap_servers());
  const std::int64_t base = (now_ms() / 1000 - 3 * 3600) * 1000;  // three hours ago, whole seconds
  producer.produce("early", 300, base);
  producer.produce("middle", 300, base + 3600 * 1000);
  producer.produce("late", 300, base + 2 * 3600 * 1000);
  // The live ingester's offsets, which a replay must never move.
  db.exec("INSERT INTO ingest_offsets (consumer_group, topic, kafka_partition, next_offset) VALUES "
          "('mlops-ingest', 'predictions', 0, 5), ('mlops-ingest', 'labels', 1, 3)");
  const std::string live_before = group_rows(db, "mlops-ingest");

  const std::string from = rfc3339(base + 1800 * 1000), until = rfc3339(base + 5400 * 1000);
  ChildProcess replay(replay_argv(broker.bootstrap_servers(), db.dsn(), {"--from", from, "--until", until}),
                      dir.file("replay.log"));
  ASSERT_EQ(fault::describe_status(run_to_exit(replay)), "exit 0") << replay.log_tail();

  const std::deque<Sent>& sent = producer.sent();
  expect_stored_exactly(db, sent, "middle-");
  EXPECT_EQ(db.count("SELECT count(*) FROM ingest_dead_letters"), 0);
  // The replay group stopped exactly at the window's end: the first offset of the late batch.
  const std::string group = "mlops-ingest-replay-" + parse_replay_from(from).name() + "-" + parse_replay_until(until).name();
  EXPECT_EQ(stored_offsets(db, group), first_offsets(sent, "late-"));
  EXPECT_EQ(group_rows(db, "mlops-ingest"), live_before);
  EXPECT_EQ(db.count("SELECT count(DISTINCT consumer_group) FROM ingest_offsets"), 2);

  const std::string log = replay.log();
  EXPECT_EQ(summary_figure(log, "summary: messages"), 600) << log;
  EXPECT_EQ(summary_figure(log, "predictions inserted"), 300);
  EXPECT_NE(log.find("replay: 100.0% of the window (600 of 600 messages)"), std::string::npos) << log;
  EXPECT_TRUE(std::regex_search(log, std::regex("replay: [0-9.]+% of the window \\([0-9,]+ of 600 messages\\) \\| "
                                                "[0-9]+ msg/s \\| ETA ")))
      << log;
}

TEST(ReplayPgTest, KilledHalfwayAndRunAgainStoresEveryRowOfTheWindowOnce) {
  TestDatabase db;
  fault::WorkDir dir("replay-kill");
  kafka::DevBroker broker({"predictions", "labels"}, kPartitions);
  RecordingProducer producer(broker.bootstrap_servers());
  const std::int64_t base = (now_ms() / 1000 - 3 * 3600) * 1000;
  constexpr int kWindow = 20000;
  producer.produce("before", 500, base);
  producer.produce("window", kWindow, base + 3600 * 1000);
  producer.produce("after", 500, base + 2 * 3600 * 1000);
  const std::vector<std::string> argv =
      replay_argv(broker.bootstrap_servers(), db.dsn(),
                  {"--from", rfc3339(base + 1800 * 1000), "--until", rfc3339(base + 5400 * 1000), "--group", "backfill"});

  {
    ChildProcess first(argv, dir.file("first.log"));
    ASSERT_TRUE(fault::wait_until([&] { return db.count("SELECT count(*) FROM prediction_logs") > 0 || !first.running(); },
                                  120s, 5ms))
        << first.log_tail();
    first.kill9();
  }
  // Whatever the killed process's last COMMIT did, it is settled once its backends are gone.
  ASSERT_TRUE(fault::wait_until(
      [&] { return db.count("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
                            "pid <> pg_backend_pid() AND backend_type = 'client backend'") == 0; },
      30s));
  const std::int64_t stored_at_kill = db.count("SELECT count(*) FROM prediction_logs");
  ASSERT_GT(stored_at_kill, 0);
  ASSERT_LT(stored_at_kill, kWindow) << "the first run finished before it could be killed: nothing to resume";

  ChildProcess second(argv, dir.file("second.log"));
  ASSERT_EQ(fault::describe_status(run_to_exit(second)), "exit 0") << second.log_tail();

  const std::deque<Sent>& sent = producer.sent();
  expect_stored_exactly(db, sent, "window-");
  EXPECT_EQ(stored_offsets(db, "backfill"), first_offsets(sent, "after-"));
  // The second run resumed from the stored offsets instead of reading the window again: it met
  // none of the first run's rows, and inserted exactly the rest.
  const std::string log = second.log();
  EXPECT_EQ(summary_figure(log, "predictions inserted [0-9]+, duplicates skipped"), 0) << log;
  EXPECT_EQ(summary_figure(log, "released [0-9]+, duplicates skipped"), 0) << log;
  EXPECT_EQ(summary_figure(log, "predictions inserted"), kWindow - stored_at_kill) << log;
}

TEST(ReplayPgTest, UntilNowStopsAtTheEndOffsetsOfTheStartWhileEventsKeepArriving) {
  TestDatabase db;
  kafka::DevBroker broker({"predictions", "labels"}, kPartitions);
  // Unrelated partitioning: the co-partitioning check turns the aligner off while it may hold
  // labels (they must not be overtaken), and labels go the slower way through label_pending.
  RecordingProducer producer(broker.bootstrap_servers(), Partitioning::kUnrelated);
  producer.produce("first", 2000, now_ms());

  // More events all along: before the window is resolved, while the replay runs, after it ends.
  std::atomic<bool> stop{false};
  std::atomic<int> rounds{0};
  auto more = std::async(std::launch::async, [&] {
    for (int round = 0; !stop.load(); ++round) {
      producer.produce("more" + std::to_string(round), 50, now_ms());
      ++rounds;
      std::this_thread::sleep_for(20ms);
    }
  });
  ASSERT_TRUE(fault::wait_until([&] { return rounds.load() >= 3; }, 30s));

  Config config = test_config(broker.bootstrap_servers(), db.dsn(), "replay-now");
  config.progress_interval = std::chrono::milliseconds(500);
  ReplayWindow window = [&] {
    auto kafka = kafka_partition_timeline(config);
    return resolve_replay_window(*kafka, {"predictions", "labels"}, ReplayBound{ReplayBound::Kind::kEarliest, 0},
                                 ReplayBound{ReplayBound::Kind::kNow, 0});
  }();
  const std::int64_t window_messages = window.messages();
  const auto ranges = window.ranges();
  const int rounds_at_start = rounds.load();
  Ingester ingester(config, std::move(window));
  auto done = std::async(std::launch::async, [&] { return ingester.run(); });
  if (done.wait_for(120s) != std::future_status::ready) {
    ADD_FAILURE() << "the replay did not finish within 120 s";
    ingester.request_stop();
  }
  const int rc = done.get();
  const int rounds_at_end = rounds.load();
  stop = true;
  more.get();
  producer.flush();
  EXPECT_EQ(rc, 0);
  EXPECT_GT(rounds_at_end, rounds_at_start) << "no events arrived while the replay ran";

  // Exactly the messages below each partition's end as resolved at the start, nothing after.
  std::set<std::string> predictions, labels;
  std::int64_t beyond = 0;
  for (const Sent& s : producer.sent()) {
    const auto it = ranges.find({s.topic, s.partition});
    ASSERT_NE(it, ranges.end());
    if (s.offset >= it->second.end) {
      ++beyond;
    } else {
      (s.topic == "predictions" ? predictions : labels).insert(s.id);
    }
  }
  EXPECT_GT(beyond, 0);
  EXPECT_EQ(static_cast<std::int64_t>(predictions.size() + labels.size()), window_messages);
  EXPECT_EQ(ingester.stats().messages_consumed.load(), static_cast<std::uint64_t>(window_messages));
  EXPECT_EQ(column(db, "SELECT prediction_id FROM prediction_logs"), predictions);
  // A label whose prediction fell after its own partition's end waits in label_pending.
  EXPECT_EQ(column(db, "SELECT prediction_id FROM label_store UNION ALL SELECT prediction_id FROM label_pending"),
            labels);
  EXPECT_EQ(db.count("SELECT count(*) FROM label_store") + db.count("SELECT count(*) FROM label_pending"),
            static_cast<std::int64_t>(labels.size()));
  std::map<std::pair<std::string, std::int32_t>, std::int64_t> ends;
  for (const auto& [key, r] : ranges) {
    if (r.size() > 0) ends[key] = r.end;
  }
  EXPECT_EQ(stored_offsets(db, "replay-now"), ends);
}

TEST(ReplayPgTest, NeverMovesTheLiveGroupAndCountsStoredRowsAsDuplicates) {
  TestDatabase db;
  fault::WorkDir dir("replay-live");
  kafka::DevBroker broker({"predictions", "labels"}, kPartitions);
  RecordingProducer producer(broker.bootstrap_servers());
  producer.produce("live", 400, now_ms());
  const RunResult live = run_until_idle(test_config(broker.bootstrap_servers(), db.dsn(), "mlops-ingest"));
  ASSERT_EQ(live.exit_code, 0);
  ASSERT_EQ(db.count("SELECT count(*) FROM prediction_logs"), 400);
  const std::string live_before = group_rows(db, "mlops-ingest");
  ASSERT_FALSE(live_before.empty());
  producer.produce("later", 300, now_ms());

  // Asking for the live group is refused before anything is read.
  ChildProcess refused(replay_argv(broker.bootstrap_servers(), db.dsn(),
                                   {"--from", "earliest", "--until", "now", "--group", "mlops-ingest"}),
                       dir.file("refused.log"));
  EXPECT_EQ(fault::describe_status(run_to_exit(refused, 30s)), "exit 2");
  EXPECT_NE(refused.log().find("is the live group"), std::string::npos) << refused.log();

  ChildProcess replay(replay_argv(broker.bootstrap_servers(), db.dsn(), {"--from", "earliest", "--until", "now"}),
                      dir.file("replay.log"));
  ASSERT_EQ(fault::describe_status(run_to_exit(replay)), "exit 0") << replay.log_tail();

  EXPECT_EQ(group_rows(db, "mlops-ingest"), live_before);  // next_offset and updated_at alike
  std::map<std::pair<std::string, std::int32_t>, std::int64_t> high;  // what "now" was: all produced
  for (const Sent& s : producer.sent()) {
    std::int64_t& h = high[{s.topic, s.partition}];
    h = std::max(h, s.offset + 1);
  }
  EXPECT_EQ(stored_offsets(db, "mlops-ingest-replay-earliest-now"), high);
  EXPECT_EQ(column(db, "SELECT prediction_id FROM prediction_logs").size(), 700u);
  EXPECT_EQ(db.count("SELECT count(*) FROM label_store"), 700);
  const std::string log = replay.log();
  EXPECT_EQ(summary_figure(log, "predictions inserted"), 300) << log;
  EXPECT_EQ(summary_figure(log, "predictions inserted [0-9]+, duplicates skipped"), 400) << log;
  EXPECT_EQ(summary_figure(log, "released [0-9]+, duplicates skipped"), 400) << log;
}

}  // namespace
}  // namespace mlops_ingest::testing
