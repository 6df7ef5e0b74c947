#pragma once
// Shared helpers for the fault tier (tests/fault/*_faulttest.cpp): each test owns a private
// PostgreSQL cluster it can stop, start, restart and freeze, the embedded Kafka broker in-process,
// and the real mlops-ingest binary as child processes it can SIGKILL and restart.
//
// Everything here is RAII: a cluster is stopped and deleted, and a child is killed and reaped,
// when its owner goes out of scope, whatever the test did or failed to do.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "mlops_ingest/devtools/dev_broker.hpp"
#include "mlops_ingest/devtools/event_generator.hpp"

namespace mlops_ingest::fault {

using namespace std::chrono_literals;

// A scratch directory for one test's logs: /tmp/mlops-fault-<name>-<pid>. Deleted by the
// destructor if the test passed; kept (and its path printed) if it failed.
class WorkDir {
 public:
  explicit WorkDir(const std::string& name);
  ~WorkDir();
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  [[nodiscard]] std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// A private PostgreSQL cluster (scripts/pg-throwaway.sh) at /tmp/mlops-fault-pg-<port>, on the
// first free port at or after `preferred_port`, with a database `mlops` and the schema applied.
// Tests use ports from 25471 up: below the ephemeral range (32768-60999), so that no outgoing
// connection can take the port while the server is stopped mid-test.
struct PgClusterOptions {
  std::string extra_server_options;                // more `-c name=value` settings, e.g. ssl=on
  std::string dir_prefix = "/tmp/mlops-fault-pg-";  // the cluster lives in <prefix><port>
};

class PgCluster {
 public:
  explicit PgCluster(int preferred_port, PgClusterOptions options = {});
  ~PgCluster();  // thaws if frozen, then stops the server and deletes its directory
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  [[nodiscard]] int port() const noexcept { return port_; }
  [[nodiscard]] const std::string& dsn() const noexcept { return dsn_; }  // for the ingester
  [[nodiscard]] std::string dir() const;

  void stop();          // pg_ctl stop -m fast (waits until it is down)
  void start();         // pg_ctl start, same port and settings (waits until it accepts connections)
  void restart_fast();  // pg_ctl restart -m fast
  void reload();        // pg_ctl reload, e.g. after writing pg_hba.conf
  [[nodiscard]] std::string data_dir() const { return dir() + "/data"; }
  void crash();         // pg_ctl stop -m immediate: no checkpoint, crash recovery on the next start
  void freeze();        // SIGSTOP the postmaster and every child of it
  void thaw();          // SIGCONT them
  [[nodiscard]] bool frozen() const noexcept { return frozen_; }
  [[nodiscard]] pid_t postmaster_pid() const;

  // Queries on a fresh connection with a short connect_timeout; throw pg::PgError on failure.
  [[nodiscard]] std::string value(const std::string& sql) const;
  [[nodiscard]] std::int64_t count(const std::string& sql) const;

 private:
  void pg_ctl(const std::string& args) const;  // throws with the server log on failure
  void shut_down(const std::string& mode);      // pg_ctl stop -m <mode>
  void bring_up(const std::string& action);     // pg_ctl start or restart, with this cluster's settings
  [[nodiscard]] std::string server_options() const;

  PgClusterOptions options_;
  int port_ = 0;
  std::string dsn_;
  std::string query_dsn_;
  bool frozen_ = false;
  bool running_ = false;
  std::vector<pid_t> stopped_;
};

// A child process (posix_spawn) with stdout and stderr appended to `log_path`. SIGKILLed and
// reaped by the destructor if still running.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, std::string log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  [[nodiscard]] const std::string& log_path() const noexcept { return log_path_; }
  [[nodiscard]] bool running();  // reaps it if it has exited
  void signal(int sig) const;
  void kill9();  // SIGKILL and reap
  // Waits for the process to exit; its wait status, or nullopt if it is still running.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  [[nodiscard]] std::optional<int> exit_status() const noexcept { return status_; }
  [[nodiscard]] std::string log() const;           // the whole log
  [[nodiscard]] std::string log_tail(std::size_t lines = 40) const;

 private:
  pid_t pid_ = -1;
  std::string log_path_;
  std::optional<int> status_;
};

// Describes a wait status: "exit 0", "signal 9".
std::string describe_status(int status);

// Memory of a running process from /proc/<pid>/status, in bytes.
struct ProcessMemory {
  std::uint64_t rss = 0;  // VmRSS
  std::uint64_t hwm = 0;  // VmHWM: peak RSS since the process started
};
std::optional<ProcessMemory> process_memory(pid_t pid);

// The mlops-ingest binary of this build (MLOPS_BINARY, set on the tests' support library).
std::string ingester_binary();

// `mlops-ingest run` with settings sized for tests, plus `extra` (--setting value pairs, which
// override the defaults here since later ones win).
struct IngesterOptions {
  IngesterOptions(std::string brokers_, std::string pg_, std::string group_ = "fault-group",
                  std::vector<std::string> extra_ = {})
      : brokers(std::move(brokers_)), pg(std::move(pg_)), group(std::move(group_)), extra(std::move(extra_)) {}
  std::string brokers;
  std::string pg;
  std::string group;
  std::vector<std::string> extra;
};
std::vector<std::string> ingester_argv(const IngesterOptions& options);
std::unique_ptr<ChildProcess> spawn_ingester(const IngesterOptions& options, const std::string& log_path);

// The opening every fault scenario shares: its start time (finish_stream prints the wall time
// from it), a log directory, a private PostgreSQL cluster, the embedded broker with both topics,
// and a random seed for the fault timing, traced so that a failure names the seed to rerun with.
// Declared first in a test, it outlives the children and poolers the test starts after it.
struct Scenario {
  Scenario(const std::string& name, int pg_port, int partitions = 16, PgClusterOptions pg_options = {});
  Scenario(const Scenario&) = delete;
  Scenario& operator=(const Scenario&) = delete;

  [[nodiscard]] std::string brokers() const { return broker.bootstrap_servers(); }
  // Options for an ingester on this broker and cluster, in the default group.
  [[nodiscard]] IngesterOptions ingester(std::vector<std::string> extra = {}) const {
    return {brokers(), pg.dsn(), "fault-group", std::move(extra)};
  }
  // Sleeps a random time from 0 to `most` (drawn from rng), so that a fault lands anywhere in a
  // batch's transaction rather than always just after the state the test waited for.
  void pause_up_to(std::chrono::milliseconds most);

  const std::chrono::steady_clock::time_point started;
  WorkDir work;
  PgCluster pg;
  kafka::DevBroker broker;
  const unsigned seed;
  std::mt19937 rng;

 private:
  ::testing::ScopedTrace trace_;
};

// Polls `ready` every `period` until it is true (returns true) or `timeout` passes (false).
// Runs a shell command; returns its exit code (128 + signal if killed) and, if asked, its
// merged stdout and stderr.
int shell(const std::string& command, std::string* output = nullptr);

// True if nothing listens on 127.0.0.1:port (a bind succeeds).
bool port_is_free(int port);

bool wait_until(const std::function<bool()>& ready, std::chrono::milliseconds timeout,
                std::chrono::milliseconds period = 100ms);

// Waits until `child`'s log holds `needle` at or after byte `from` (pass the log's size taken
// before an action so that only lines written after it count). False after `timeout`, or as soon
// as the child has exited without writing it (its last lines are read once more first).
bool wait_for_log(ChildProcess& child, const std::string& needle, std::chrono::milliseconds timeout,
                  std::size_t from = 0);

// What the database holds, as far as the exactly-once checks are concerned.
struct Observed {
  std::int64_t predictions = -1, distinct_predictions = -1, labels = -1, pending = -1, dead_letters = -1;
  std::int64_t prediction_offsets = -1, label_offsets = -1;  // sum(next_offset) per topic
};
std::ostream& operator<<(std::ostream& out, const Observed& o);
// Reads it (distinct: also count(DISTINCT prediction_id), a full scan); nullopt if unreachable.
std::optional<Observed> observe(const PgCluster& pg, const std::string& group, bool distinct = false);
std::optional<Observed> observe_dsn(const std::string& dsn, const std::string& group, bool distinct = false);
// True when the database holds exactly what `sent` requires (offsets, rows, no pending label).
bool complete(const Observed& o, const kafka::GeneratorReport& sent);
// Waits until complete() (or `timeout`); returns the last observation.
Observed wait_for_complete(const PgCluster& pg, const std::string& group, const kafka::GeneratorReport& sent,
                           std::chrono::milliseconds timeout);
// The exact-outcome assertions every scenario ends with (gtest EXPECTs).
void expect_exact_outcome(const PgCluster& pg, const std::string& group, const kafka::GeneratorReport& sent);
void expect_exact_outcome_dsn(const std::string& dsn, const std::string& group, const kafka::GeneratorReport& sent);

// The end of a scenario: waits until everything `sent` is stored, stops `ingester` with SIGTERM
// (it must exit 0 within 30 s), checks the exact outcome, and prints the counts and wall time.
void finish_stream(const PgCluster& pg, const std::string& group, const kafka::GeneratorReport& sent,
                   ChildProcess& ingester, std::chrono::steady_clock::time_point started);

// The prediction and label counts of two streams sent one after the other (what stream() sends).
kafka::GeneratorReport operator+(kafka::GeneratorReport a, const kafka::GeneratorReport& b);

// Events with duplicates, early labels and (optionally) invalid ones, on `brokers`.
kafka::GeneratorOptions stream(const std::string& brokers, std::uint64_t predictions, std::uint64_t seed,
                               double invalid_ratio = 0);

// Background producer: runs kafka::produce_events on its own thread.
class Producer {
 public:
  explicit Producer(kafka::GeneratorOptions options);
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;
  // Waits for the producer to finish; rethrows its exception.
  kafka::GeneratorReport report();

 private:
  std::future<kafka::GeneratorReport> done_;
};

}  // namespace mlops_ingest::fault
