// `mlops-ingest loadtest` against a running ingester (in-process here), the embedded broker and
// the throwaway PostgreSQL: exact counts, latency probes, the report files, --cleanup, and a
// plain verdict when nothing ingests.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include "mlops_ingest/devtools/dev_broker.hpp"
#include "mlops_ingest/loadtest/loadtest.hpp"
#include "test_env.hpp"

namespace mlops_ingest::testing {
namespace {

using namespace std::chrono_literals;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(LoadtestPgTest, MeasuresARunningIngesterWritesItsReportAndCleansUpOnlyItsRows) {
  TestDatabase db;
  db.exec("INSERT INTO prediction_logs (prediction_id) VALUES ('not-from-the-loadtest')");
  kafka::DevBroker broker({"predictions", "labels"}, 4);
  Config config = test_config(broker.bootstrap_servers(), db.dsn());
  config.batch_linger = std::chrono::milliseconds(0);
  config.kafka_properties["fetch.wait.max.ms"] = "20";
  Ingester ingester(config);
  auto running = std::async(std::launch::async, [&] { return ingester.run(); });

  loadtest::Options o;
  o.brokers = broker.bootstrap_servers();
  o.pg = db.dsn();
  o.rate = 2000;
  o.duration = 3s;
  o.warmup = 2s;
  o.label_ratio = 0.5;
  o.drain_timeout = 60s;
  const std::string dir = ::testing::TempDir() + "loadtest-report-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  int seconds = 0;
  const loadtest::Report r = loadtest::run(o, [&](const loadtest::Second&) { ++seconds; });
  loadtest::write_report(r, dir);

  EXPECT_EQ(r.sent, 6000u);
  EXPECT_EQ(r.visible, r.sent);
  EXPECT_GT(r.labels_sent, 2000u);
  EXPECT_EQ(r.probes, 6000u / 4);  // every 4th event at 2,000/s (about 500 probes a second)
  EXPECT_EQ(r.probes_seen, r.probes);
  EXPECT_GT(r.p50_ms, 0);
  EXPECT_LE(r.p50_ms, r.p99_ms);
  EXPECT_LE(r.p99_ms, r.max_ms);
  EXPECT_TRUE(r.kept_up) << r.verdict;
  EXPECT_NE(r.verdict.find("KEPT UP"), std::string::npos) << r.verdict;
  EXPECT_GE(seconds, 3);
  ASSERT_EQ(static_cast<int>(r.series.size()), seconds);
  EXPECT_EQ(r.series.back().visible, r.sent);
  // The rows are this run's, measured and warm-up alike, and only they are deleted.
  const std::string like = "'lt-" + r.run_id + "%'";
  EXPECT_EQ(db.count("SELECT count(*) FROM prediction_logs WHERE prediction_id LIKE " + like), 6000 + 4000);

  const std::string csv = read_all(dir + "/loadtest.csv");
  EXPECT_EQ(csv.rfind("second,sent,visible,backlog,rows_per_s,p50_ms,p99_ms,max_ms\n", 0), 0u) << csv;
  EXPECT_EQ(static_cast<std::size_t>(std::count(csv.begin(), csv.end(), '\n')), r.series.size() + 1);
  const std::string png = read_all(dir + "/loadtest.png");
  ASSERT_GT(png.size(), 1000u);
  EXPECT_EQ(png.substr(0, 4), "\x89PNG");
  EXPECT_NE(read_all(dir + "/index.html").find(r.verdict), std::string::npos);

  // Labels may still be moving: wait until the pipeline is quiet before deleting.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline &&
         db.count("SELECT count(*) FROM label_store WHERE prediction_id LIKE " + like) <
             static_cast<std::int64_t>(r.labels_sent)) {
    std::this_thread::sleep_for(100ms);
  }
  ingester.request_stop();
  EXPECT_EQ(running.get(), 0);
  EXPECT_EQ(loadtest::cleanup(db.dsn(), r.run_id), 10000u);
  EXPECT_EQ(db.count("SELECT count(*) FROM prediction_logs WHERE prediction_id LIKE 'lt-%'"), 0);
  EXPECT_EQ(db.count("SELECT count(*) FROM label_store WHERE prediction_id LIKE 'lt-%'"), 0);
  EXPECT_EQ(db.count("SELECT count(*) FROM prediction_logs"), 1);
  std::filesystem::remove_all(dir);
}

TEST(LoadtestPgTest, SaysPlainlyWhenNothingKeepsUp) {
  TestDatabase db;
  kafka::DevBroker broker({"predictions", "labels"}, 2);
  loadtest::Options o;  // no ingester is running
  o.brokers = broker.bootstrap_servers();
  o.pg = db.dsn();
  o.rate = 500;
  o.duration = 1s;
  o.warmup = 0s;
  o.drain_timeout = 2s;
  const loadtest::Report r = loadtest::run(o, [](const loadtest::Second&) {});
  EXPECT_EQ(r.sent, 500u);
  EXPECT_EQ(r.visible, 0u);
  EXPECT_FALSE(r.kept_up);
  EXPECT_NE(r.verdict.find("DID NOT KEEP UP"), std::string::npos) << r.verdict;
  EXPECT_NE(r.verdict.find("500 of 500"), std::string::npos) << r.verdict;
}

}  // namespace
}  // namespace mlops_ingest::testing
