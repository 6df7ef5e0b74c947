#pragma once
// Helpers shared by the security tests (tests/integration/{tls,roles,secrets}_pgtest.cpp): they
// drive the real mlops-ingest binary (fault_env's ChildProcess) and look at what it left behind
// in PostgreSQL and Kafka.
#include <chrono>
#include <string>
#include <vector>

namespace mlops_ingest::security {

struct ExitResult {
  int status = -1;     // wait status; -1 if it had to be killed at the timeout
  std::string output;  // stdout and stderr, interleaved
};

// Runs `argv` to completion, its output appended to `log_path`. Fails the test (and kills the
// child) if it takes longer than `timeout`.
ExitResult run_to_exit(const std::vector<std::string>& argv, const std::string& log_path,
                       std::chrono::seconds timeout = std::chrono::seconds(180));

// "exit N" / "signal N", as fault::describe_status.
std::string describe(const ExitResult& r);

// How many partitions of `topics` (0..partitions-1 each) the consumer group has offsets
// committed for in Kafka.
int kafka_committed_partitions(const std::string& brokers, const std::string& group,
                               const std::vector<std::string>& topics, int partitions);

// The SQLSTATE that `sql` fails with when run on `dsn`; "" if it succeeds.
std::string sqlstate_of(const std::string& dsn, const std::string& sql);

// The test's own DSN with a different user (libpq takes the last of repeated keywords).
inline std::string as_user(const std::string& dsn, const std::string& user) { return dsn + " user=" + user; }

}  // namespace mlops_ingest::security
