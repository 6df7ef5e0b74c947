#include "test_env.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <future>
#include <stdexcept>

#include "mlops_ingest/devtools/event_generator.hpp"
#include "mlops_ingest/kafka/kafka_handles.hpp"
#include "mlops_ingest/kafka/produce.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"

namespace mlops_ingest::testing {

std::string admin_dsn() {
  const char* dsn = std::getenv("MLOPS_TEST_PG");
  if (dsn == nullptr || *dsn == '\0') {
    throw std::runtime_error("MLOPS_TEST_PG is not set: run the integration tier through ctest, which starts PostgreSQL");
  }
  return dsn;
}

TestDatabase::TestDatabase() {
  static std::atomic<int> counter{0};
  name_ = "mlops_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  pg::BlockingConnection admin(admin_dsn());
  admin.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  admin.exec("CREATE DATABASE " + name_);
  std::string base = admin_dsn();
  const auto pos = base.find("dbname=");
  dsn_ = base.substr(0, pos) + "dbname=" + name_;
  pg::apply_schema(dsn_);
}

TestDatabase::~TestDatabase() {
  try {
    pg::BlockingConnection admin(admin_dsn());
    admin.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (const std::exception& e) {
    ADD_FAILURE() << "dropping " << name_ << ": " << e.what();
  }
}

void TestDatabase::exec(const std::string& sql) const {
  pg::BlockingConnection conn(dsn_);
  conn.exec(sql);
}

std::string TestDatabase::value(const std::string& sql) const {
  pg::BlockingConnection conn(dsn_);
  return conn.query_value(sql);
}

std::int64_t TestDatabase::count(const std::string& sql) const { return std::stoll(value(sql)); }

Config test_config(const std::string& brokers, const std::string& pg, const std::string& group) {
  Config c;
  c.brokers = brokers;
  c.pg = pg;
  c.group = group;
  c.writers = 2;
  c.ring_capacity = 4096;
  c.batch_rows = 1000;
  c.batch_linger = std::chrono::milliseconds(50);
  c.poll_batch = 500;
  c.progress_interval = std::chrono::milliseconds(0);
  c.retry_backoff_initial = std::chrono::milliseconds(50);
  c.retry_backoff_max = std::chrono::milliseconds(1000);
  c.pending_sweep_interval = std::chrono::milliseconds(200);
  c.http_listen.clear();  // several ingesters run at once; the endpoint's tests turn it on
  c.kafka_properties["session.timeout.ms"] = "6000";
  c.kafka_properties["heartbeat.interval.ms"] = "500";
  c.kafka_properties["topic.metadata.refresh.interval.ms"] = "1000";
  validate(c);
  return c;
}

RunResult snapshot(const Ingester& ingester, int exit_code) {
  const IngestStats& s = ingester.stats();
  RunResult r;
  r.exit_code = exit_code;
  r.predictions = s.predictions_inserted;
  r.prediction_duplicates = s.prediction_duplicates;
  r.labels = s.labels_inserted;
  r.labels_paired = s.labels_paired;
  r.labels_recalled = s.labels_recalled;
  r.labels_pended = s.labels_pended;
  r.labels_released = s.labels_released;
  r.label_duplicates = s.label_duplicates;
  r.dead_letters = s.dead_letters;
  r.stale = s.stale_skipped;
  return r;
}

RunResult run_until_idle(Config config, std::chrono::seconds timeout) {
  if (config.idle_exit.count() == 0) config.idle_exit = std::chrono::milliseconds(1500);
  Ingester ingester(config);
  auto done = std::async(std::launch::async, [&] { return ingester.run(); });
  if (done.wait_for(timeout) != std::future_status::ready) {
    ADD_FAILURE() << "the ingester did not catch up within " << timeout.count() << " s";
    ingester.request_stop();
  }
  const int rc = done.get();
  return snapshot(ingester, rc);
}

void produce(const std::string& brokers, const std::string& topic, const Messages& messages) {
  kafka::KafkaHandle rk = kafka::make_handle(
      RD_KAFKA_PRODUCER, kafka::make_conf({{"bootstrap.servers", brokers}, {"linger.ms", "5"}, {"log_level", "3"}}));
  for (const auto& [key, value] : messages) {
    kafka::produce(rk.get(), topic, key.empty() ? std::nullopt : std::optional<std::string_view>(key), value);
  }
  if (rd_kafka_flush(rk.get(), 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) throw std::runtime_error("flush timed out");
}

Messages synthetic_predictions(std::uint64_t seed, std::uint64_t n) {
  Messages out;
  for (std::uint64_t i = 0; i < n; ++i) {
    out.emplace_back(kafka::synthetic_prediction_id(seed, i), kafka::synthetic_prediction(seed, i));
  }
  return out;
}

Messages synthetic_labels(std::uint64_t seed, std::uint64_t n) {
  Messages out;
  for (std::uint64_t i = 0; i < n; ++i) out.emplace_back(kafka::synthetic_prediction_id(seed, i), kafka::synthetic_label(seed, i));
  return out;
}

}  // namespace mlops_ingest::testing
