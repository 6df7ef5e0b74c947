#pragma once
// An instance's lease on its consumer group, a row of ingest_instances: written when `run` or
// `replay` starts consuming, renewed every kRenewEvery, valid for kLeaseFor, deleted at a clean
// stop. `mlops-ingest offsets reset --execute` refuses while a group has a valid lease.
//
// Rows and short transactions, not a session advisory lock held for the process's life: behind
// a transaction-pooling PgBouncer a session lock lands on whichever server connection ran it,
// and an open transaction would pin one server connection per instance (the documented pooler
// setup has two for many clients). The group's transaction-level advisory lock
// (advisory_lock::group_key_args) makes the first write and a reset exclude each other.
//
// Thread model: the constructor and destructor run on the caller's thread; renewal runs on a
// thread of its own with its own connection.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mlops_ingest/pg/blocking_connection.hpp"
#include "mlops_ingest/pg/stored_offsets.hpp"

namespace mlops_ingest::pg {

class GroupLease {
 public:
  static constexpr std::chrono::seconds kRenewEvery{2};
  static constexpr std::chrono::seconds kLeaseFor{15};

  // Writes the lease, waiting while a reset of the group executes; retries (every second, a
  // warning each time) while PostgreSQL cannot be reached, until `stop`. `on_reset` runs (on the
  // renewal thread, never after the destructor started) when a renewal finds that `offsets
  // reset --execute` moved the group's offsets under this lease (with --force, or after it
  // expired). A lease found gone (deleted by hand, a restored database) is written again.
  // `conn`, when given, is an open connection to `dsn` (the startup checks'): the lease takes it
  // over rather than opening one, one backend start less for PostgreSQL.
  GroupLease(std::string dsn, std::string group, const std::atomic<bool>& stop, std::function<void()> on_reset,
             std::unique_ptr<BlockingConnection> conn = nullptr);
  // Stops renewing and deletes the row, waiting at most 500 ms: a renewal or DELETE stuck on an
  // unresponsive server (a frozen PostgreSQL) is left behind rather than waited for, so the stop
  // is not held up, and the lease expires by itself.
  ~GroupLease();
  GroupLease(const GroupLease&) = delete;
  GroupLease& operator=(const GroupLease&) = delete;

  [[nodiscard]] bool held() const noexcept { return held_; }

  // The group's stored offsets (every topic), read in the transaction that wrote the lease,
  // under the group's shared lock: after any reset that executed meanwhile, as every later
  // read. Empty unless held().
  [[nodiscard]] const std::vector<TopicOffset>& offsets_at_lease() const noexcept { return offsets_at_lease_; }

  struct State;  // shared with the renewal thread (group_lease.cpp)

 private:
  std::shared_ptr<State> state_;
  bool held_ = false;
  std::vector<TopicOffset> offsets_at_lease_;
};

}  // namespace mlops_ingest::pg
