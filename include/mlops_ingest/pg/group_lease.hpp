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
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace mlops_ingest::pg {

class BlockingConnection;

class GroupLease {
 public:
  static constexpr std::chrono::seconds kRenewEvery{2};
  static constexpr std::chrono::seconds kLeaseFor{15};

  // Writes the lease, waiting while a reset of the group executes; retries (every second, a
  // warning each time) while PostgreSQL cannot be reached, until `stop`. `on_reset` runs (on the
  // renewal thread) when a renewal finds that `offsets reset --execute` moved the group's
  // offsets under this lease (with --force, or after it expired). A lease found gone (deleted by
  // hand, a restored database) is written again.
  GroupLease(std::string dsn, std::string group, const std::atomic<bool>& stop, std::function<void()> on_reset);
  ~GroupLease();  // stops renewing, deletes the row (best effort: an outage leaves it to expire)
  GroupLease(const GroupLease&) = delete;
  GroupLease& operator=(const GroupLease&) = delete;

  [[nodiscard]] bool held() const noexcept { return held_; }
  [[nodiscard]] const std::string& instance_id() const noexcept { return id_; }

 private:
  bool write_lease();  // the first write; false when PostgreSQL cannot be reached
  void renew_loop();
  enum class Renewal { kRenewed, kUnreachable, kOffsetsReset };
  Renewal renew();

  std::string dsn_, group_, id_;
  std::unique_ptr<BlockingConnection> renewal_conn_;  // the renewal thread's
  std::function<void()> on_reset_;
  bool held_ = false;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool quit_ = false;
  std::thread thread_;
};

}  // namespace mlops_ingest::pg
