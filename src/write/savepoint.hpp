#pragma once
// The one way a write in the batch transaction isolates a refusal: run it under a savepoint,
// and when PostgreSQL refuses it (a data error: SQLSTATE class 22/23, a rule, …) roll the
// transaction back to that savepoint so that the batch can go on another way (a staged path,
// a bisection, unpaired labels). An outage is not a refusal: it propagates, and the caller
// retries the whole transaction.
//
// Thread model: runs on its writer's io_context, like the connection it is given.
#include <optional>
#include <string>
#include <string_view>
#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/awaitable.hpp>

#include "mlops_ingest/pg/pg_connection.hpp"
#include "mlops_ingest/pg/pg_error.hpp"

namespace mlops_ingest {

// A named savepoint and its statements, built once (the writes that use it send them as is).
class Savepoint {
 public:
  explicit Savepoint(std::string_view name)
      : name_(name),
        open_("SAVEPOINT " + name_),
        release_("RELEASE SAVEPOINT " + name_),
        undo_("ROLLBACK TO SAVEPOINT " + name_ + "; RELEASE SAVEPOINT " + name_) {}

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] const std::string& open_sql() const noexcept { return open_; }
  [[nodiscard]] const std::string& release_sql() const noexcept { return release_; }
  [[nodiscard]] const std::string& undo_sql() const noexcept { return undo_; }

 private:
  std::string name_, open_, release_, undo_;
};

enum class SavepointMode {
  kOpen,         // opened here in a round trip of its own, released here on success
  kAlreadyOpen,  // opened by an earlier round trip, left for the COMMIT to release on success
};

// Runs `attempt()` (→ awaitable<void>) under `sp`. Returns nullopt when it succeeded, or the
// error PostgreSQL refused it with, after rolling back to `sp` and releasing it (one round trip).
// A retryable error propagates as it is.
template <typename Attempt>
boost::asio::awaitable<std::optional<pg::PgError>> try_under_savepoint(pg::PgConnection& conn, const Savepoint& sp,
                                                                       SavepointMode mode, Attempt attempt) {
  std::optional<pg::PgError> refused;  // handled below: co_await is not allowed inside a handler
  try {
    if (mode == SavepointMode::kOpen) co_await conn.exec(sp.open_sql());
    co_await attempt();
    if (mode == SavepointMode::kOpen) co_await conn.exec(sp.release_sql());
  } catch (const pg::PgError& e) {
    if (e.is_retryable()) throw;
    refused = e;
  }
  if (refused) co_await conn.exec(sp.undo_sql());
  co_return refused;
}

}  // namespace mlops_ingest
