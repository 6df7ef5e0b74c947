// The operations endpoint without servers: the histogram, the health decisions, the metrics
// text (checked by promtool), and the HTTP endpoint itself on a loopback port.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <atomic>
#include <cmath>
#include <thread>

#include "http_get.hpp"
#include "mlops_ingest/observe/endpoint.hpp"
#include "mlops_ingest/observe/health.hpp"
#include "mlops_ingest/observe/metrics.hpp"

namespace mlops_ingest {
namespace {

using namespace std::chrono_literals;
using testing::http_get;
using testing::promtool_check_metrics;
using testing::sample_value;

TEST(LatencyHistogram, BucketsAreUpperInclusiveAndBatchesMergeExactly) {
  EXPECT_EQ(latency_bucket(0.0), 0u);
  EXPECT_EQ(latency_bucket(0.001), 0u);  // "le": a value on a bound belongs to that bucket
  EXPECT_EQ(latency_bucket(0.0011), 1u);
  EXPECT_EQ(latency_bucket(3600.0), kLatencyBucketBounds.size() - 1);
  EXPECT_EQ(latency_bucket(3600.5), kLatencyBucketBounds.size());  // +Inf

  LatencyHistogram h;
  LatencyBatch batch;
  batch.observe(2ms);
  batch.observe(2ms);
  batch.observe(-5ms);  // a producer clock ahead of ours: counted as 0, not lost
  batch.observe(std::chrono::hours(48));
  h.merge(batch);
  h.observe(40ms);
  const LatencyHistogram::Snapshot s = h.snapshot();
  EXPECT_EQ(s.count(), 5u);
  EXPECT_EQ(s.counts[0], 1u);                              // the clamped one
  EXPECT_EQ(s.counts[latency_bucket(0.002)], 2u);
  EXPECT_EQ(s.counts[latency_bucket(0.04)], 1u);
  EXPECT_EQ(s.counts[kLatencyBuckets - 1], 1u);            // two days: +Inf
  EXPECT_NEAR(s.sum_seconds, 0.004 + 0.04 + 48 * 3600.0, 1e-6);
}

observe::LivenessInput live_input(std::int64_t now_ns, int writers) {
  observe::LivenessInput in;
  in.now_ns = now_ns;
  in.stall_limit = 60s;
  in.writers = writers;
  return in;
}

TEST(Health, LiveWhileHeartbeatsAreFreshStuckWhenOneIsStale) {
  IngestStats stats;
  const std::int64_t now = monotonic_ns();
  // Nothing reported yet (not started, or not wired): alive, and the body says so.
  observe::Verdict v = observe::check_liveness(stats, live_input(now, 2));
  EXPECT_TRUE(v.ok) << v.body;
  EXPECT_NE(v.body.find("consumer: not reported"), std::string::npos) << v.body;

  stats.consumer_heartbeat.beat();
  stats.writer_heartbeats[0].beat();
  stats.writer_heartbeats[1].beat();
  v = observe::check_liveness(stats, live_input(monotonic_ns(), 2));
  EXPECT_TRUE(v.ok) << v.body;
  EXPECT_EQ(v.body.rfind("ok\n", 0), 0u) << v.body;

  // 61 s later with no new beat: every thread is stuck.
  v = observe::check_liveness(stats, live_input(monotonic_ns() + std::chrono::nanoseconds(61s).count(), 2));
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.body.find("consumer: STUCK"), std::string::npos) << v.body;
  EXPECT_NE(v.body.find("writer 1: STUCK"), std::string::npos) << v.body;

  // A failed writer fails liveness even with fresh heartbeats...
  observe::LivenessInput failed = live_input(monotonic_ns(), 2);
  failed.failed_writers = 1;
  EXPECT_FALSE(observe::check_liveness(stats, failed).ok);
  // ...but a draining process is alive whatever its loops do.
  observe::LivenessInput stopping = live_input(monotonic_ns() + std::chrono::nanoseconds(600s).count(), 2);
  stopping.stopping = true;
  EXPECT_TRUE(observe::check_liveness(stats, stopping).ok);
}

TEST(Health, StallLimitStaysAbovePostgresIoTimeout) {
  EXPECT_EQ(observe::stall_limit(30000ms), 60s);
  EXPECT_EQ(observe::stall_limit(100000ms), 200s);
}

TEST(Health, ReadyOnlyWithPartitionsAndPostgres) {
  IngestStats stats;
  observe::ReadinessInput in;
  EXPECT_FALSE(observe::check_readiness(stats, in).ok);  // PostgreSQL not probed yet
  in.postgres.checked = true;
  in.postgres.reachable = true;
  observe::Verdict v = observe::check_readiness(stats, in);
  EXPECT_TRUE(v.ok) << v.body;  // partitions not reported by the consumer: not checked
  EXPECT_NE(v.body.find("partitions: not reported"), std::string::npos) << v.body;

  stats.partitions_assigned = 0;
  v = observe::check_readiness(stats, in);
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.body.find("partitions: NONE assigned"), std::string::npos) << v.body;
  stats.partitions_assigned = 8;
  EXPECT_TRUE(observe::check_readiness(stats, in).ok);

  stats.writers_waiting_for_pg = 1;
  v = observe::check_readiness(stats, in);
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.body.find("1 writer(s) are retrying"), std::string::npos) << v.body;
  stats.writers_waiting_for_pg = 0;

  in.postgres.reachable = false;
  in.postgres.error = "connection refused";
  v = observe::check_readiness(stats, in);
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.body.find("postgres: UNREACHABLE (connection refused)"), std::string::npos) << v.body;

  in.postgres.reachable = true;
  in.stopping = true;
  EXPECT_FALSE(observe::check_readiness(stats, in).ok);

  // Startup still waiting for PostgreSQL: not ready, and the body says why.
  in.stopping = false;
  in.starting = "startup: waiting for PostgreSQL, 2 attempt(s) failed";
  v = observe::check_readiness(stats, in);
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.body.find(in.starting), std::string::npos) << v.body;
}

// Every hook field filled in, as the consumer and writers will once they record them.
void fill(IngestStats& s) {
  s.predictions_inserted = 1000;
  s.prediction_duplicates = 7;
  s.labels_inserted = 500;
  s.labels_released = 20;
  s.labels_pended = 25;
  s.label_duplicates = 3;
  s.labels_paired = 400;  // of labels_inserted
  s.labels_recalled = 150;  // of labels_paired
  s.dead_letters = 4;
  s.dead_letters_by_reason[static_cast<std::size_t>(RejectReason::kInvalidJson)] = 3;
  s.dead_letters_by_reason[static_cast<std::size_t>(RejectReason::kDatabaseRejected)] = 1;
  s.messages_consumed_by_topic[0] = 1011;
  s.messages_consumed_by_topic[1] = 548;
  s.partition_lag.publish({{"predictions", 0, 12}, {"predictions", 1, 0}, {"labels", 0, 5}});
  s.partitions_paused = 2;
  s.batch_commit_seconds.observe(30ms);
  s.batch_commit_seconds.observe(70ms);
  LatencyBatch rows;
  for (int i = 0; i < 10; ++i) rows.observe(300ms);
  s.event_to_commit_seconds.merge(rows);
}

TEST(Metrics, ExpositionHasExactValuesAndPassesPromtool) {
  IngestStats stats;
  fill(stats);
  Config config;
  observe::MetricsExporter exporter(stats, config);
  observe::PostgresStatus pg;
  pg.checked = pg.reachable = true;
  pg.labels_pending = 25;
  pg.oldest_pending_label_seconds = 12.5;
  const std::string text = exporter.scrape(pg);

  EXPECT_EQ(promtool_check_metrics(text), "") << text;
  EXPECT_EQ(sample_value(text, "mlops_ingest_rows_written_total", R"(table="prediction_logs")"), 1000);
  EXPECT_EQ(sample_value(text, "mlops_ingest_rows_written_total", R"(table="label_store")"), 520);
  EXPECT_EQ(sample_value(text, "mlops_ingest_rows_written_total", R"(table="label_pending")"), 25);
  EXPECT_EQ(sample_value(text, "mlops_ingest_rows_written_total", R"(table="ingest_dead_letters")"), 4);
  EXPECT_EQ(sample_value(text, "mlops_ingest_duplicates_skipped_total", R"(table="prediction_logs")"), 7);
  EXPECT_EQ(sample_value(text, "mlops_ingest_duplicates_skipped_total", R"(table="label_store")"), 3);
  EXPECT_EQ(sample_value(text, "mlops_ingest_labels_paired_total"), 400);
  EXPECT_EQ(sample_value(text, "mlops_ingest_labels_recalled_total"), 150);
  EXPECT_EQ(sample_value(text, "mlops_ingest_dead_letters_total", R"(reason="invalid_json")"), 3);
  EXPECT_EQ(sample_value(text, "mlops_ingest_dead_letters_total", R"(reason="database_rejected")"), 1);
  EXPECT_EQ(sample_value(text, "mlops_ingest_dead_letters_total", R"(reason="tombstone")"), 0);
  EXPECT_EQ(sample_value(text, "mlops_ingest_messages_consumed_total", R"(topic="predictions")"), 1011);
  EXPECT_EQ(sample_value(text, "mlops_ingest_messages_consumed_total", R"(topic="labels")"), 548);
  EXPECT_EQ(sample_value(text, "mlops_ingest_consumer_lag_messages", R"(partition="0",topic="predictions")"), 12);
  EXPECT_EQ(sample_value(text, "mlops_ingest_consumer_lag_messages", R"(partition="0",topic="labels")"), 5);
  EXPECT_EQ(sample_value(text, "mlops_ingest_partitions_paused"), 2);
  EXPECT_EQ(sample_value(text, "mlops_ingest_labels_pending"), 25);
  EXPECT_EQ(sample_value(text, "mlops_ingest_labels_pending_oldest_seconds"), 12.5);
  EXPECT_EQ(sample_value(text, "mlops_ingest_postgres_up"), 1);
  {
    const std::size_t at = text.find("\nmlops_ingest_build_info{");
    ASSERT_NE(at, std::string::npos) << text;
    const std::string line = text.substr(at + 1, text.find('\n', at + 1) - at - 1);
    EXPECT_NE(line.find("version=\""), std::string::npos) << line;
    EXPECT_NE(line.find("commit=\""), std::string::npos) << line;
    EXPECT_EQ(line.find("version=\"\""), std::string::npos) << line;
    EXPECT_EQ(line.substr(line.rfind(' ') + 1), "1") << line;
  }
  EXPECT_GT(sample_value(text, "process_resident_memory_bytes"), 1e6);
  EXPECT_EQ(sample_value(text, "mlops_ingest_batch_commit_seconds_count"), 2);
  EXPECT_NEAR(sample_value(text, "mlops_ingest_batch_commit_seconds_sum"), 0.1, 1e-9);
  EXPECT_EQ(sample_value(text, "mlops_ingest_batch_commit_seconds_bucket", R"(le="0.025")"), 0);
  EXPECT_EQ(sample_value(text, "mlops_ingest_batch_commit_seconds_bucket", R"(le="0.05")"), 1);
  EXPECT_EQ(sample_value(text, "mlops_ingest_batch_commit_seconds_bucket", R"(le="0.1")"), 2);
  EXPECT_EQ(sample_value(text, "mlops_ingest_batch_commit_seconds_bucket", R"(le="+Inf")"), 2);
  EXPECT_EQ(sample_value(text, "mlops_ingest_event_to_commit_seconds_bucket", R"(le="0.25")"), 0);
  EXPECT_EQ(sample_value(text, "mlops_ingest_event_to_commit_seconds_bucket", R"(le="0.5")"), 10);
  EXPECT_NE(text.find("# TYPE mlops_ingest_event_to_commit_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find("# TYPE mlops_ingest_consumer_lag_messages gauge"), std::string::npos);

  // PostgreSQL unreachable: postgres_up 0, and no made-up pending figures.
  stats.partition_lag.publish({});  // a rebalance took every partition away
  pg.reachable = false;
  const std::string down = exporter.scrape(pg);
  EXPECT_EQ(promtool_check_metrics(down), "") << down;
  EXPECT_EQ(sample_value(down, "mlops_ingest_postgres_up"), 0);
  EXPECT_TRUE(std::isnan(sample_value(down, "mlops_ingest_labels_pending")));
  EXPECT_TRUE(std::isnan(sample_value(down, "mlops_ingest_consumer_lag_messages", R"(partition="0",topic="labels")")));
  // A writer retrying a batch also means PostgreSQL is not usable.
  pg.reachable = true;
  stats.writers_waiting_for_pg = 1;
  EXPECT_EQ(sample_value(exporter.scrape(pg), "mlops_ingest_postgres_up"), 0);
}

TEST(Config, HttpListenParsesAndRejectsBadAddresses) {
  EXPECT_EQ(load_config({}).http_listen, "127.0.0.1:8397");
  EXPECT_EQ(load_config({"--http-listen", ""}).http_listen, "");
  const HostPort any = split_host_port("http_listen", ":9000");
  EXPECT_EQ(any.host, "0.0.0.0");
  EXPECT_EQ(any.port, 9000);
  const HostPort v6 = split_host_port("http_listen", "[::1]:0");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, 0);
  EXPECT_THROW(load_config({"--http-listen", "localhost"}), ConfigError);
  EXPECT_THROW(load_config({"--http-listen", "127.0.0.1:70000"}), ConfigError);
  EXPECT_THROW(load_config({"--http-listen", "::1:80"}), ConfigError);
}

Config endpoint_config(std::uint16_t port) {
  Config c;
  c.http_listen = "127.0.0.1:" + std::to_string(port);
  // The probe needs a PostgreSQL; nothing listens here, so it reports "unreachable" at once.
  c.pg = "host=127.0.0.1 port=1 connect_timeout=1";
  return c;
}

TEST(Endpoint, ServesHealthOverHttpAndReportsAStuckWriter) {
  IngestStats stats;
  const Config config = endpoint_config(0);
  std::atomic<int> failed{0};  // read on the endpoint's thread
  observe::Endpoint endpoint(config, stats, {[&failed] { return failed.load(); }, [] { return false; }, {}});
  ASSERT_GT(endpoint.port(), 0);

  stats.consumer_heartbeat.beat();
  stats.writer_heartbeats[0].beat();
  stats.writer_heartbeats[1].beat();
  testing::HttpReply r = http_get("127.0.0.1", endpoint.port(), "/healthz");
  EXPECT_EQ(r.status, 200u) << r.body;

  failed = 1;
  r = http_get("127.0.0.1", endpoint.port(), "/healthz");
  EXPECT_EQ(r.status, 503u) << r.body;
  EXPECT_NE(r.body.find("FAILED"), std::string::npos) << r.body;

  // PostgreSQL unreachable: not ready, and the body says why (once the probe has run).
  for (int i = 0; i < 100; ++i) {
    r = http_get("127.0.0.1", endpoint.port(), "/readyz");
    if (r.body.find("not checked yet") == std::string::npos) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(r.status, 503u) << r.body;
  EXPECT_NE(r.body.find("postgres: UNREACHABLE"), std::string::npos) << r.body;

  r = http_get("127.0.0.1", endpoint.port(), "/metrics");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type, observe::kMetricsContentType);
  EXPECT_EQ(sample_value(r.body, "mlops_ingest_postgres_up"), 0);
  EXPECT_EQ(http_get("127.0.0.1", endpoint.port(), "/nothing").status, 404u);
}

TEST(Endpoint, APortInUseIsAConfigErrorNamingTheSetting) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor taken(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  IngestStats stats;
  try {
    observe::Endpoint endpoint(endpoint_config(taken.local_endpoint().port()), stats, {});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("http_listen"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mlops_ingest
