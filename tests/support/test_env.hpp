#pragma once
// Shared fixtures for the integration tier: a fresh database per test on the throwaway
// PostgreSQL that ctest starts (MLOPS_TEST_PG), the embedded broker, and an ingester run.
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/app/ingester.hpp"

namespace mlops_ingest::testing {

// The maintenance DSN of the test server; throws if the environment does not provide one.
std::string admin_dsn();

class TestDatabase {
 public:
  TestDatabase();   // CREATE DATABASE with a unique name, schema applied
  ~TestDatabase();  // DROP DATABASE ... WITH (FORCE)
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  [[nodiscard]] const std::string& dsn() const noexcept { return dsn_; }
  void exec(const std::string& sql) const;
  [[nodiscard]] std::string value(const std::string& sql) const;  // first column of first row
  [[nodiscard]] std::int64_t count(const std::string& sql) const;  // value() as a number

 private:
  std::string name_;
  std::string dsn_;
};

// A config for tests: small batches and linger so that tests exercise many batches.
Config test_config(const std::string& brokers, const std::string& pg, const std::string& group = "test-group");

struct RunResult {
  int exit_code = -1;
  std::uint64_t predictions = 0, prediction_duplicates = 0, labels = 0, labels_paired = 0, labels_pended = 0,
                labels_released = 0, label_duplicates = 0, dead_letters = 0, stale = 0, labels_recalled = 0;
};
// Runs an ingester until it is caught up and idle (config.idle_exit is set if zero), failing
// the test if that takes longer than `timeout`.
RunResult run_until_idle(Config config, std::chrono::seconds timeout = std::chrono::seconds(180));
RunResult snapshot(const Ingester& ingester, int exit_code);

// (key, value) pairs to produce; an empty key is a message without a key.
using Messages = std::vector<std::pair<std::string, std::string>>;

// Produces `messages` to a topic with librdkafka and waits for delivery.
void produce(const std::string& brokers, const std::string& topic, const Messages& messages);

// The first n synthetic predictions, or their labels, of `seed` (event_generator.hpp), keyed by
// prediction_id as produce_events keys them.
Messages synthetic_predictions(std::uint64_t seed, std::uint64_t n);
Messages synthetic_labels(std::uint64_t seed, std::uint64_t n);

}  // namespace mlops_ingest::testing
