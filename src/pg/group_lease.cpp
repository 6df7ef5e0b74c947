#include "mlops_ingest/pg/group_lease.hpp"

#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "mlops_ingest/log/log.hpp"
#include "mlops_ingest/pg/advisory_locks.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"
#include "mlops_ingest/pg/pg_error.hpp"
#include "mlops_ingest/pg/stored_offsets.hpp"

namespace mlops_ingest::pg {

struct GroupLease::State {
  std::string dsn, group, id;
  std::function<void()> on_reset;
  std::mutex mutex;
  std::condition_variable wake;
  bool quit = false;                          // under mutex
  bool finished = false;                      // under mutex: the renewal thread returned
  std::unique_ptr<BlockingConnection> conn;   // the renewal thread's
};

namespace {

using State = GroupLease::State;

std::string make_instance_id() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return std::string(host) + ":" + std::to_string(::getpid()) + ":" + std::to_string(now);
}

std::string interval(std::chrono::seconds s) { return "interval '" + std::to_string(s.count()) + " seconds'"; }

// The first write (and a rewrite of a lease found gone); false when PostgreSQL cannot be reached.
// Its connection is kept for the renewals and the DELETE at stop, so that a stop costs one round
// trip, never a connection set-up that could outlast the destructor's bounded wait. With
// `offsets`, the group's stored offsets are read in the same transaction.
bool write_lease(State& s, std::vector<TopicOffset>* offsets = nullptr) {
  try {
    if (!s.conn) s.conn = std::make_unique<BlockingConnection>(s.dsn);
    BlockingConnection& conn = *s.conn;
    const std::string g = conn.escape_literal(s.group);
    // One transaction: the shared group lock waits for a reset that is executing, so the
    // lease (and every offset this instance reads after it) comes after that reset's commit.
    const std::string lease = "BEGIN; SELECT pg_advisory_xact_lock_shared(" + advisory_lock::group_key_args(g) +
                              "); INSERT INTO ingest_instances (consumer_group, instance_id, expires_at) VALUES (" +
                              g + ", " + conn.escape_literal(s.id) + ", now() + " + interval(GroupLease::kLeaseFor) +
                              "); DELETE FROM ingest_instances WHERE consumer_group = " + g +
                              " AND expires_at < now() - interval '1 day'";
    if (offsets == nullptr) {
      conn.exec(lease + "; COMMIT");
    } else {
      conn.exec(lease);
      *offsets = read_group_offsets(conn, s.group);
      conn.exec("COMMIT");
    }
    return true;
  } catch (const PgError& e) {
    s.conn.reset();  // mid-transaction, or broken: the next attempt starts on a new connection
    log_warn(std::string("cannot write this instance's lease on its group yet (retrying): ") + e.what(),
             {{"group", s.group}});
    return false;
  }
}

enum class Renewal { kRenewed, kUnreachable, kOffsetsReset };

Renewal renew(State& s) {
  try {
    // One connection kept for the renewals (idle between them: behind a transaction pooler it
    // holds no server connection), opened again after an outage.
    if (!s.conn) s.conn = std::make_unique<BlockingConnection>(s.dsn);
    PgResult r = s.conn->exec_params(
        "UPDATE ingest_instances SET renewed_at = now(), expires_at = now() + " + interval(GroupLease::kLeaseFor) +
            " WHERE consumer_group = $1 AND instance_id = $2 RETURNING offsets_reset_at IS NOT NULL",
        {s.group, s.id});
    if (PQntuples(r.get()) == 0) {
      // Deleted by hand, or a database restored from before this start: write it again (the
      // writers' own check stops this instance if the restore took its offsets back).
      log_warn("this instance's lease on its group was gone from ingest_instances: writing it again",
               {{"group", s.group}});
      return write_lease(s) ? Renewal::kRenewed : Renewal::kUnreachable;
    }
    return std::string(PQgetvalue(r.get(), 0, 0)) == "t" ? Renewal::kOffsetsReset : Renewal::kRenewed;
  } catch (const PgError&) {
    s.conn.reset();
    return Renewal::kUnreachable;  // an outage: the writers and the probe report it
  }
}

// At a stop: the row deleted on the renewal connection, so that a reset right after a clean
// stop is not refused. Best effort: an outage leaves the lease to expire.
void delete_lease(State& s) {
  try {
    if (!s.conn) s.conn = std::make_unique<BlockingConnection>(s.dsn);
    s.conn->exec_params("DELETE FROM ingest_instances WHERE consumer_group = $1 AND instance_id = $2", {s.group, s.id});
  } catch (const PgError& e) {
    log_warn(std::string("could not remove this instance's lease on its group (it expires by itself): ") + e.what(),
             {{"group", s.group}});
  }
}

void renew_loop(const std::shared_ptr<State>& s) {
  std::unique_lock lock(s->mutex);
  while (!s->wake.wait_for(lock, GroupLease::kRenewEvery, [&] { return s->quit; })) {
    lock.unlock();
    const Renewal r = renew(*s);
    lock.lock();
    if (r == Renewal::kOffsetsReset && !s->quit) {
      log_error("the offsets of this group were moved by `mlops-ingest offsets reset --execute` while this instance "
                "consumed it: stopping; a restart resumes from the reset offsets",
                {{"group", s->group}});
      if (s->on_reset) s->on_reset();  // under the mutex: never after the destructor set quit
      s->wake.wait(lock, [&] { return s->quit; });
    }
  }
  lock.unlock();
  delete_lease(*s);
  s->conn.reset();
  lock.lock();
  s->finished = true;
  s->wake.notify_all();
}

}  // namespace

GroupLease::GroupLease(std::string dsn, std::string group, const std::atomic<bool>& stop,
                       std::function<void()> on_reset, std::unique_ptr<BlockingConnection> conn)
    : state_(std::make_shared<State>()) {
  state_->dsn = std::move(dsn);
  state_->group = std::move(group);
  state_->id = make_instance_id();
  state_->on_reset = std::move(on_reset);
  state_->conn = std::move(conn);
  while (!stop.load()) {
    if (write_lease(*state_, &offsets_at_lease_)) {
      held_ = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  if (held_) {
    std::thread(renew_loop, state_).detach();  // the destructor waits for it (bounded) below
  } else {
    state_->finished = true;
  }
}

GroupLease::~GroupLease() {
  std::unique_lock lock(state_->mutex);
  state_->quit = true;
  state_->wake.notify_all();
  // The row's DELETE takes one round trip; a renewal or DELETE stuck longer is on an
  // unresponsive server (a frozen PostgreSQL): the thread is left to it and the lease expires.
  state_->wake.wait_for(lock, std::chrono::milliseconds(500), [this] { return state_->finished; });
}

}  // namespace mlops_ingest::pg
