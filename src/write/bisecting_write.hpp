#pragma once
// A staged write that isolates the rows PostgreSQL refuses.
//
// Rows a constraint refuses (SQLSTATE class 22/23, e.g. a CHECK a DBA added) must be
// dead-lettered one by one while the rest of the batch commits; an outage must not be
// dead-lettered at all. So the write of a range runs under a savepoint (savepoint.hpp); on a
// data error the range is rolled back to it and split in halves, down to the single rows that fail.
// Generic over what "write this sub-range" means (a statement over array parameters, a binary
// COPY of the sub-range, …), so that every write mode shares one bisection.
//
// Thread model: runs on its writer's io_context, like the connection it is given.
#include <cstddef>
#include <optional>
#include <span>
#include <string_view>
#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/awaitable.hpp>

#include "mlops_ingest/pg/pg_connection.hpp"
#include "mlops_ingest/pg/pg_error.hpp"
#include "savepoint.hpp"
#include "table_outage.hpp"

namespace mlops_ingest {

// The savepoint each write of a range runs under.
inline const Savepoint kRowsSavepoint{"rows"};

// Writes the positions [lo, hi) of some range:
//   write(lo, hi)               → awaitable<R>: sends the sub-range (called under kRowsSavepoint);
//   on_written(R&, lo, hi)      books what a successful write did;
//   on_refused(i, const PgError&) dead-letters position i, which PostgreSQL refused on its own.
// A retryable error (an outage) propagates: the caller retries the whole transaction.
// `tables`: what the write fills. When the first write of the range is refused, they are
// checked for drift (table_outage.hpp): TableOutageError if they changed under the ingester, so
// that no row is dead-lettered for a table's fault. The halves are not checked again.
template <typename Write, typename OnWritten, typename OnRefused>
boost::asio::awaitable<void> write_bisecting(pg::PgConnection& conn, std::size_t lo, std::size_t hi, Write& write,
                                             OnWritten& on_written, OnRefused& on_refused,
                                             std::span<const std::string_view> tables = {}) {
  if (lo >= hi) co_return;
  using Result = typename decltype(write(lo, hi))::value_type;
  std::optional<Result> result;
  auto attempt = [&]() -> boost::asio::awaitable<void> { result.emplace(co_await write(lo, hi)); };
  const std::optional<pg::PgError> refused =
      co_await try_under_savepoint(conn, kRowsSavepoint, SavepointMode::kOpen, attempt);
  if (refused) co_await check_refusal(conn, tables, *refused);
  if (!refused) {
    on_written(*result, lo, hi);
  } else if (hi - lo == 1) {
    on_refused(lo, *refused);
  } else {
    const std::size_t mid = lo + (hi - lo) / 2;
    co_await write_bisecting(conn, lo, mid, write, on_written, on_refused);
    co_await write_bisecting(conn, mid, hi, write, on_written, on_refused);
  }
}

}  // namespace mlops_ingest
