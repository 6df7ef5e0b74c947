#pragma once
// A real PgBouncer (Debian's `pgbouncer`, 1.18) in transaction pooling mode in front of a test's
// own PostgreSQL (fault::PgCluster), for tests/integration/pgbouncer_pgtest.cpp and
// tests/fault/pgbouncer_faulttest.cpp. Started by scripts/pgbouncer-throwaway.sh (the bench uses
// the same script), so the configuration under test is the one written there; the tests can stop
// it (SIGTERM, SIGINT, SIGKILL), start it again and restart it online, and read its admin console.
//
// Also the session-state audit: with log_statement = all on the cluster, every statement the
// server ran is in its log, and nothing a pooler cannot carry from one transaction to the next
// may be among them.
//
// RAII: the destructor stops PgBouncer and deletes its directory, whatever the test did.
#include <sys/types.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "fault_env.hpp"

namespace mlops_ingest::pgbouncer {

// Server settings for a cluster whose statements are audited: every statement in the log, bind
// parameters left out (a batch's arrays would flood it).
inline constexpr const char* kAuditedServerOptions = "-c log_statement=all -c log_parameter_max_length=0";

class PgBouncer {
 public:
  // On the first free port at or after `preferred_port`; at most `pool_size` server connections to
  // each database (default_pool_size = max_db_connections), every database name passed through to
  // the same name on `pg`. Waits until it accepts connections.
  PgBouncer(const fault::PgCluster& pg, int preferred_port, int pool_size = 2);
  ~PgBouncer();
  PgBouncer(const PgBouncer&) = delete;
  PgBouncer& operator=(const PgBouncer&) = delete;

  [[nodiscard]] int port() const noexcept { return port_; }
  [[nodiscard]] int pool_size() const noexcept { return pool_size_; }
  [[nodiscard]] std::string dir() const;
  // The ingester's DSN through PgBouncer, to database `dbname` of the cluster.
  [[nodiscard]] std::string dsn(const std::string& dbname = "mlops") const;

  // Each waits until it has happened: the process gone, or a new one answering on the console.
  void terminate();  // SIGTERM: immediate shutdown, every client and server connection dropped
  void interrupt();  // SIGINT: safe shutdown, waits for transactions in flight, then exits
  void kill9();      // SIGKILL
  void start();      // the same configuration and port again, after one of the three above
  void reboot();     // online restart (pgbouncer -R): a new process takes the sockets over
  [[nodiscard]] pid_t pid() const;  // from its pidfile; -1 if none
  [[nodiscard]] bool running() const;

  // `SHOW <what>` on the admin console: one map (column name → value) per row.
  [[nodiscard]] std::vector<std::map<std::string, std::string>> show(const std::string& what) const;
  [[nodiscard]] std::string log() const;

 private:
  void script(const std::string& args) const;  // scripts/pgbouncer-throwaway.sh; throws with its output
  void signal_and_wait_gone(int sig);

  int port_ = 0;
  int pool_size_ = 0;
  bool running_ = false;
};

// The test's own direct connections to the cluster carry this application_name, so that counts of
// PostgreSQL's backends can leave them out (a closed connection's backend lingers a moment).
inline constexpr const char* kObserverName = "pgbouncer-test-observer";
inline std::string observer_dsn(const fault::PgCluster& pg) { return pg.dsn() + " application_name=" + kObserverName; }

// Connections to one database at one moment: clients PgBouncer holds, server connections it
// holds, and client backends PostgreSQL counts (the observer's left out).
struct PoolSample {
  int clients = 0, servers = 0, backends = 0;
};
PoolSample sample_pool(const PgBouncer& bouncer, const fault::PgCluster& pg, const std::string& database = "mlops");

// One statement PostgreSQL logged (log_statement = all).
struct LoggedStatement {
  pid_t backend = 0;
  std::string kind;  // "statement" (simple protocol) or "execute <name>" (extended protocol)
  std::string text;
};
std::vector<LoggedStatement> logged_statements(const std::string& server_log);

// The statements that leave state behind in a server session, which a transaction pooler would
// hand to the next client or lose: SET (not SET LOCAL) and RESET, set_config(…, false), named
// prepared statements (PREPARE, EXECUTE, protocol-level names), session advisory locks, temp
// tables, LISTEN, cursors WITH HOLD. PgBouncer's own parameter sync ("SET application_name='…';",
// its tracked parameters only, in its exact format) is not a finding. Each as "[pid] text".
std::vector<std::string> session_state_findings(const std::vector<LoggedStatement>& statements);

// The backends that ran a statement containing `needle`.
std::set<pid_t> backends_running(const std::vector<LoggedStatement>& statements, const std::string& needle);

}  // namespace mlops_ingest::pgbouncer
