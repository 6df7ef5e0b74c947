// What a fault scenario ends with: the streams it sent, and the exact state PostgreSQL must
// hold for them (fault_env.hpp declares these with the rest of the tier's support).
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>
#include <thread>

#include "fault_env.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"

namespace mlops_ingest::fault {

std::ostream& operator<<(std::ostream& out, const Observed& o) {
  return out << "{predictions " << o.predictions << " (distinct " << o.distinct_predictions << "), labels "
             << o.labels << ", pending " << o.pending << ", dead letters " << o.dead_letters
             << ", offsets predictions " << o.prediction_offsets << " labels " << o.label_offsets << "}";
}

std::optional<Observed> observe(const PgCluster& pg, const std::string& group, bool distinct) {
  return observe_dsn(pg.dsn(), group, distinct);
}

std::optional<Observed> observe_dsn(const std::string& dsn, const std::string& group, bool distinct) {
  try {
    const std::string g = "'" + group + "'";
    const std::string sql =
        "SELECT (SELECT count(*) FROM prediction_logs), " +
        std::string(distinct ? "(SELECT count(DISTINCT prediction_id) FROM prediction_logs)" : "-1") +
        ", (SELECT count(*) FROM label_store), (SELECT count(*) FROM label_pending), "
        "(SELECT count(*) FROM ingest_dead_letters), "
        "(SELECT coalesce(sum(next_offset), 0) FROM ingest_offsets WHERE consumer_group = " + g +
        " AND topic = 'predictions'), "
        "(SELECT coalesce(sum(next_offset), 0) FROM ingest_offsets WHERE consumer_group = " + g +
        " AND topic = 'labels')";
    pg::BlockingConnection conn(dsn + " connect_timeout=5");
    pg::PgResult r = conn.exec(sql);
    auto at = [&](int col) { return std::stoll(PQgetvalue(r.get(), 0, col)); };
    Observed o;
    o.predictions = at(0);
    o.distinct_predictions = at(1);
    o.labels = at(2);
    o.pending = at(3);
    o.dead_letters = at(4);
    o.prediction_offsets = at(5);
    o.label_offsets = at(6);
    return o;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool complete(const Observed& o, const kafka::GeneratorReport& sent) {
  return o.predictions == static_cast<std::int64_t>(sent.unique_predictions) &&
         o.labels == static_cast<std::int64_t>(sent.unique_labels) && o.pending == 0 &&
         o.dead_letters == static_cast<std::int64_t>(sent.invalid_events) &&
         o.prediction_offsets == static_cast<std::int64_t>(sent.predictions_sent) &&
         o.label_offsets == static_cast<std::int64_t>(sent.labels_sent);
}

Observed wait_for_complete(const PgCluster& pg, const std::string& group, const kafka::GeneratorReport& sent,
                           std::chrono::milliseconds timeout) {
  Observed last;
  wait_until(
      [&] {
        if (auto o = observe(pg, group)) last = *o;
        return complete(last, sent);
      },
      timeout, 250ms);
  return last;
}

void expect_exact_outcome(const PgCluster& pg, const std::string& group, const kafka::GeneratorReport& sent) {
  expect_exact_outcome_dsn(pg.dsn(), group, sent);
}

void expect_exact_outcome_dsn(const std::string& dsn, const std::string& group, const kafka::GeneratorReport& sent) {
  const std::optional<Observed> seen = observe_dsn(dsn, group, true);
  ASSERT_TRUE(seen.has_value()) << "PostgreSQL unreachable for the final checks";
  const Observed& o = *seen;
  EXPECT_EQ(o.predictions, static_cast<std::int64_t>(sent.unique_predictions)) << "count(prediction_logs)";
  EXPECT_EQ(o.distinct_predictions, o.predictions) << "count(DISTINCT prediction_id) vs count(*)";
  EXPECT_EQ(o.labels, static_cast<std::int64_t>(sent.unique_labels)) << "count(label_store)";
  EXPECT_EQ(o.pending, 0) << "count(label_pending)";
  EXPECT_EQ(o.dead_letters, static_cast<std::int64_t>(sent.invalid_events)) << "count(ingest_dead_letters)";
  EXPECT_EQ(o.prediction_offsets, static_cast<std::int64_t>(sent.predictions_sent))
      << "sum(next_offset) of 'predictions' vs messages sent there";
  EXPECT_EQ(o.label_offsets, static_cast<std::int64_t>(sent.labels_sent))
      << "sum(next_offset) of 'labels' vs messages sent there";
}

kafka::GeneratorOptions stream(const std::string& brokers, std::uint64_t predictions, std::uint64_t seed,
                               double invalid_ratio) {
  kafka::GeneratorOptions o;  // the generator's label and early-label ratios (0.8, 0.05)
  o.brokers = brokers;
  o.predictions = predictions;
  o.seed = seed;
  o.duplicate_ratio = 0.02;  // twice its default: more duplicates for the exactly-once checks
  o.invalid_ratio = invalid_ratio;
  return o;
}

Producer::Producer(kafka::GeneratorOptions options)
    : done_(std::async(std::launch::async, [o = std::move(options)] { return kafka::produce_events(o); })) {}

Producer::~Producer() {
  if (done_.valid()) done_.wait();
}

kafka::GeneratorReport Producer::report() { return done_.get(); }

void finish_stream(const PgCluster& pg, const std::string& group, const kafka::GeneratorReport& sent,
                   ChildProcess& ingester, std::chrono::steady_clock::time_point started) {
  using namespace std::chrono_literals;
  const Observed last = wait_for_complete(pg, group, sent, 240s);
  EXPECT_TRUE(complete(last, sent)) << "last seen " << last;
  ingester.signal(SIGTERM);
  const std::optional<int> status = ingester.wait_exit(30s);
  ASSERT_TRUE(status.has_value()) << "no exit 30 s after SIGTERM";
  EXPECT_EQ(describe_status(*status), "exit 0");
  expect_exact_outcome(pg, group, sent);
  std::printf("[ events   ] %llu predictions sent (%llu unique, %llu invalid), %llu labels sent (%llu unique)\n",
              static_cast<unsigned long long>(sent.predictions_sent),
              static_cast<unsigned long long>(sent.unique_predictions),
              static_cast<unsigned long long>(sent.invalid_events),
              static_cast<unsigned long long>(sent.labels_sent), static_cast<unsigned long long>(sent.unique_labels));
  std::printf("[ time     ] %.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

kafka::GeneratorReport operator+(kafka::GeneratorReport a, const kafka::GeneratorReport& b) {
  a.predictions_sent += b.predictions_sent;
  a.labels_sent += b.labels_sent;
  a.unique_predictions += b.unique_predictions;
  a.unique_labels += b.unique_labels;
  a.duplicate_predictions += b.duplicate_predictions;
  a.duplicate_labels += b.duplicate_labels;
  a.early_labels += b.early_labels;
  a.invalid_events += b.invalid_events;
  return a;
}

}  // namespace mlops_ingest::fault
